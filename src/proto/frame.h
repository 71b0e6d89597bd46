/* frame.h -- the length-prefixed frame codec: a 4-byte unsigned length in
 * network byte order, then that many payload bytes. Sans-I/O: the decoder
 * takes byte chunks of any size (one byte at a time works) and yields whole
 * frames; the encoder writes prefix and payload together, into a
 * connection's output queue or with one writev(2).
 *
 * A frame that sits whole in the caller's chunk is returned as a slice of
 * that chunk (no copy). Only a frame split across chunks is assembled in
 * the decoder's own buffer, allocated once at its exact size after the
 * prefix was checked against the maximum, so an oversized length costs no
 * memory at all.
 *
 * Usage (a server's input callback, or a client reading a socket):
 *
 *     sk_frame_decoder_t d;
 *     sk_frame_decoder_init(&d, SK_FRAME_MAX_DEFAULT);
 *     ...
 *     size_t off = 0;
 *     while (off < len) {
 *         size_t used;
 *         sk_str_t f;
 *         int rc = sk_frame_decode(&d, data + off, len - off, &used, &f);
 *         off += used;
 *         if (rc == SK_AGAIN)
 *             break;                       // all consumed, frame incomplete
 *         if (rc < 0)
 *             return rc;                   // SK_ETOOBIG (d.too_big) or -ENOMEM
 *         handle(f.ptr, f.len);            // valid until the next decode call
 *     }
 *     ...
 *     sk_frame_append(out, reply, reply_len); // prefix + payload, one chunk
 *     sk_frame_decoder_fini(&d);
 */
#ifndef SK_PROTO_FRAME_H
#define SK_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/outq.h"

/* Bytes of the length prefix. */
#define SK_FRAME_PREFIX 4
/* The design's default maximum payload (--max-frame): 64 MiB. */
#define SK_FRAME_MAX_DEFAULT ((size_t)64 << 20)
/* The largest payload the 32-bit prefix can describe. */
#define SK_FRAME_MAX_LIMIT ((size_t)UINT32_MAX)

typedef struct sk_frame_decoder {
    size_t max;           /* largest payload accepted */
    unsigned char hdr[4]; /* prefix bytes received so far */
    unsigned hdr_len;     /* 0..4 */
    bool in_payload;      /* the prefix is complete; payload arriving in buf */
    bool failed;          /* a sticky SK_ETOOBIG or -ENOMEM was returned */
    int error;            /* that error */
    bool release;         /* buf holds the frame returned last: free it next call */
    size_t need;          /* payload length of the frame being assembled */
    size_t have;          /* payload bytes in buf */
    char *buf;            /* owned; exactly need bytes */
    uint64_t too_big;     /* after SK_ETOOBIG: the length the prefix announced */
} sk_frame_decoder_t;

/* Initialises a decoder accepting payloads up to max bytes (capped at
 * SK_FRAME_MAX_LIMIT). Allocates nothing. */
void sk_frame_decoder_init(sk_frame_decoder_t *d, size_t max);

/* Frees the decoder's buffer; d may be reinitialised afterwards. */
void sk_frame_decoder_fini(sk_frame_decoder_t *d);

/* Consumes bytes from data[0, len) into *consumed and returns:
 *   1          a whole frame in *frame: a slice of data when the frame was
 *              whole there, else of the decoder's buffer; valid until the
 *              next call on d (and, for a slice of data, while data is);
 *   SK_AGAIN   every byte was consumed and no frame is complete yet;
 *   SK_ETOOBIG the prefix announced more than max (d->too_big holds it);
 *              the prefix is consumed, nothing is allocated;
 *   -ENOMEM    the buffer for a split frame could not be allocated.
 * Errors are sticky: later calls return the same error and consume
 * nothing, since a byte stream cannot be resynchronised. */
int sk_frame_decode(sk_frame_decoder_t *d, const char *data, size_t len, size_t *consumed,
                    sk_str_t *frame);

/* True when bytes of an unfinished frame are held (a prefix or part of a
 * payload), e.g. to tell a clean end of stream from a truncated one. */
bool sk_frame_decoder_partial(const sk_frame_decoder_t *d);

/* Writes the 4-byte big-endian prefix for a payload of len bytes. */
static inline void sk_frame_put_prefix(char out[SK_FRAME_PREFIX], uint32_t len)
{
    out[0] = (char)(len >> 24);
    out[1] = (char)(len >> 16);
    out[2] = (char)(len >> 8);
    out[3] = (char)len;
}

/* Reads a 4-byte big-endian prefix. */
static inline uint32_t sk_frame_get_prefix(const char in[SK_FRAME_PREFIX])
{
    const unsigned char *p = (const unsigned char *)in;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Appends prefix and payload to q as one contiguous run (one iovec when
 * written). len must not exceed SK_FRAME_MAX_LIMIT. Returns 0, -ENOMEM or
 * -EMSGSIZE. */
int sk_frame_append(sk_outq_t *q, const void *payload, size_t len);

/* Builds a frame in place: returns where up to room payload bytes may be
 * written (the prefix goes just before), or NULL on -ENOMEM. Finish with
 * sk_frame_commit; nothing is queued until then. */
char *sk_frame_reserve(sk_outq_t *q, size_t room);

/* Writes the prefix for the len payload bytes (len <= room) written at
 * payload, as returned by sk_frame_reserve, and queues the frame. */
void sk_frame_commit(sk_outq_t *q, char *payload, size_t len);

/* Writes one frame to a blocking descriptor: prefix and payload with one
 * writev, continued after partial writes and EINTR. Returns the bytes
 * written (len + 4), -EMSGSIZE, or a negative errno. */
ssize_t sk_frame_write(int fd, const void *payload, size_t len);

#endif
