/* msg.h -- the framed JSON request/reply service (`sockkit serve msg`).
 *
 * Each frame (proto/frame.h) carries one JSON object {"op":..., "id":...};
 * each request gets one reply frame, in order: {"id":..., "ok":true, ...}
 * or {"id":..., "ok":false, "error":{"code":..., "message":...}}. Ops:
 * ping, echo (returns "data"), stats (the service's counters). Bad JSON and
 * unknown ops get an error reply and the connection stays usable; an
 * oversized length prefix gets a frame_too_large reply, then the
 * connection closes (the stream cannot be resynchronised). */
#ifndef SK_SERVE_MSG_H
#define SK_SERVE_MSG_H

#include <stddef.h>

#include "core/server.h"

typedef struct sk__msg_shared sk__msg_shared_t;

typedef struct sk_msg_config {
    size_t max_frame;        /* --max-frame: largest request payload */
    sk_service_t service;    /* filled by sk_msg_config_init */
    sk__msg_shared_t *state; /* owned: counters of every worker */
} sk_msg_config_t;

/* Prepares cfg->service for payloads up to max_frame bytes (capped at the
 * 32-bit limit of the prefix). Returns 0 or -ENOMEM. */
int sk_msg_config_init(sk_msg_config_t *cfg, size_t max_frame);

/* Releases what sk_msg_config_init acquired; call after the server is
 * freed. */
void sk_msg_config_fini(sk_msg_config_t *cfg);

/* The service's counters, summed over every worker: what the stats op
 * reports. */
typedef struct sk_msg_stats {
    uint64_t connections;       /* open now */
    uint64_t connections_total; /* accepted since start */
    uint64_t frames;            /* request frames received */
    uint64_t bytes_in;          /* request bytes, prefixes included */
    uint64_t bytes_out;         /* reply bytes queued, prefixes included */
    uint64_t errors;            /* error replies */
    uint64_t uptime_ms;
} sk_msg_stats_t;

/* Fills *st with the current totals (any thread). */
void sk_msg_stats(const sk_msg_config_t *cfg, sk_msg_stats_t *st);

#endif
