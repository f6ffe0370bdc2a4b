#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

_Atomic log_level_t log_threshold = LOG_INFO;

/* Padded to one width, so that the modules line up. */
static const char *const level_names[] = {
    [LOG_ERROR] = "error",
    [LOG_WARN] = "warn ",
    [LOG_INFO] = "info ",
    [LOG_DEBUG] = "debug",
};

void log_set_level(log_level_t level)
{
    atomic_store_explicit(&log_threshold, level, memory_order_relaxed);
}

int log_parse_level(const char *text, log_level_t *level)
{
    static const char *const names[] = {
        [LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info", [LOG_DEBUG] = "debug"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        if (strcmp(text, names[i]) == 0) {
            *level = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

void log_write(log_level_t level, const char *module, const char *format, ...)
{
    char line[LOG_LINE_MAX + 1];
    size_t len, start;
    va_list args;
    int written;

    clock_format_iso(line, clock_now_ms());
    len = CLOCK_ISO_LEN - 1;
    written = snprintf(line + len, sizeof(line) - len, " %s %s: ", level_names[level], module);
    len = written < 0 || (size_t)written >= sizeof(line) - len ? sizeof(line) - 1 : len + (size_t)written;
    start = len;
    va_start(args, format);
    written = vsnprintf(line + len, sizeof(line) - len, format, args);
    va_end(args);
    if (written > 0)
        len = (size_t)written >= sizeof(line) - len ? sizeof(line) - 1 : len + (size_t)written;
    /* One call, one line: whatever a message carries (a server's error text) stays on it. */
    for (size_t i = start; i < len; ++i)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    for (size_t done = 0; done < len;) {
        ssize_t n = write(STDERR_FILENO, line + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* nowhere left to report it */
        done += (size_t)n;
    }
}
