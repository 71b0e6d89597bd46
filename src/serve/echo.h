/* echo.h -- the echo service: every byte (stream) or datagram comes back.
 * A stream peer that half-closes gets everything still owed, then our FIN. */
#ifndef SK_SERVE_ECHO_H
#define SK_SERVE_ECHO_H

#include "core/server.h"

/* The echo service (stream and datagram); static, never freed. */
const sk_service_t *sk_echo_service(void);

#endif
