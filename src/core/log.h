/*
 * log: the one logger — a level, a timestamp and the module on every line.
 *
 *   2026-11-25T18:13:36.539Z info  http: serving http://127.0.0.1:8080 with 2 threads
 *
 * Lines go to stderr, each in one write(2), so lines of concurrent threads never interleave; a
 * message is cut at LOG_LINE_MAX bytes and a newline inside it becomes a space, so one call is
 * always one line. The level is process-wide (--log-level, LOG_LEVEL); a disabled level costs one
 * relaxed load and formats nothing.
 *
 * What is logged is the caller's choice, and so is keeping secrets out: a password or a key never
 * goes into a message (a Redis URL is shown through redis_address_mask_url).
 */
#ifndef FLASHSALE_LOG_H
#define FLASHSALE_LOG_H

#include <stdatomic.h>
#include <stdbool.h>

#define LOG_LINE_MAX 1024

typedef enum {
    LOG_ERROR, /* something failed that an operator must look at */
    LOG_WARN,  /* something failed and is retried, or is configured unsafely */
    LOG_INFO,  /* the server's life: start, stop, connections made and lost */
    LOG_DEBUG, /* details for a developer */
} log_level_t;

extern _Atomic log_level_t log_threshold;

/* Lines of this level and more severe ones are written; the default is LOG_INFO. */
void log_set_level(log_level_t level);
/* "error", "warn", "info" or "debug"; returns 0 and sets *level, or -1 for anything else. */
int log_parse_level(const char *text, log_level_t *level);

static inline bool log_enabled(log_level_t level)
{
    return level <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

/* Writes one line; module is a short lower-case name ("http", "ledger", "redis"). */
void log_write(log_level_t level, const char *module, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_AT(level, module, ...)                                                                           \
    do {                                                                                                     \
        if (log_enabled(level))                                                                              \
            log_write(level, module, __VA_ARGS__);                                                           \
    } while (0)
#define log_error(module, ...) LOG_AT(LOG_ERROR, module, __VA_ARGS__)
#define log_warn(module, ...)  LOG_AT(LOG_WARN, module, __VA_ARGS__)
#define log_info(module, ...)  LOG_AT(LOG_INFO, module, __VA_ARGS__)
#define log_debug(module, ...) LOG_AT(LOG_DEBUG, module, __VA_ARGS__)

#endif
