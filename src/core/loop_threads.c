/* loop_threads.c -- the "threads" backend: a marker, not a multiplexer.
 *
 * With it the server engine runs one thread per connection on blocking
 * sockets, as a baseline to compare the event-driven backends against. No
 * sk_loop is ever created on it, so every op stays NULL. */
#include "core/internal.h"

const struct sk_backend sk_backend_threads = {
    .name = "threads",
    .thread_per_conn = true,
};
