/* log.h -- diagnostics on stderr with a timestamp.
 *
 * Levels: errors and warnings always print; info prints with -v (verbosity
 * 1), debug with -vv. Each call writes one line with one write(2) so lines
 * from several worker threads never interleave. */
#ifndef SK_CORE_LOG_H
#define SK_CORE_LOG_H

enum sk_log_level { SK_LOG_ERROR, SK_LOG_WARN, SK_LOG_INFO, SK_LOG_DEBUG };

/* Global verbosity: 0 default, 1 = -v, 2 = -vv. Set once at startup. */
extern int sk_log_verbosity;

/* Prefix each line with an ISO-8601 timestamp (servers) or not (clients,
 * whose stderr is read by people). Default off. */
extern int sk_log_timestamps;

void sk_log(enum sk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sk_log_error(...) sk_log(SK_LOG_ERROR, __VA_ARGS__)
#define sk_log_warn(...) sk_log(SK_LOG_WARN, __VA_ARGS__)
#define sk_log_info(...)                                                                           \
    do {                                                                                           \
        if (sk_log_verbosity >= 1)                                                                 \
            sk_log(SK_LOG_INFO, __VA_ARGS__);                                                      \
    } while (0)
#define sk_log_debug(...)                                                                          \
    do {                                                                                           \
        if (sk_log_verbosity >= 2)                                                                 \
            sk_log(SK_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
