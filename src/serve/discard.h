/* discard.h -- the discard service: read and drop (RFC 863), the sink for
 * throughput benchmarks. */
#ifndef SK_SERVE_DISCARD_H
#define SK_SERVE_DISCARD_H

#include "core/server.h"

/* The discard service (stream and datagram); static, never freed. */
const sk_service_t *sk_discard_service(void);

#endif
