#include "http/conn_limit.h"

#include <stdio.h>
#include <sys/resource.h>

/* The kernel's ceiling for any process' descriptor limit; RLIM_INFINITY is not accepted for it. */
static rlim_t nr_open(void)
{
    FILE *file = fopen("/proc/sys/fs/nr_open", "r");
    unsigned long long value = 0;

    if (file != NULL) {
        if (fscanf(file, "%llu", &value) != 1)
            value = 0;
        fclose(file);
    }
    return value > 0 ? (rlim_t)value : 1048576;
}

size_t conn_limit_raise_nofile(void)
{
    struct rlimit limit;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = {.rlim_cur = limit.rlim_max, .rlim_max = limit.rlim_max};
        if (raised.rlim_cur == RLIM_INFINITY)
            raised.rlim_cur = nr_open();
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_cur = raised.rlim_cur;
    }
    return limit.rlim_cur == RLIM_INFINITY ? (size_t)nr_open() : (size_t)limit.rlim_cur;
}

size_t conn_limit_default(size_t nofile, int threads)
{
    size_t reserve =
        CONN_LIMIT_RESERVE_BASE + CONN_LIMIT_RESERVE_PER_THREAD * (size_t)(threads > 0 ? threads : 1);

    /* under a tiny limit, half of it still serves and half is left to the store */
    if (nofile <= 2 * reserve)
        return nofile / 2 > 0 ? nofile / 2 : 1;
    return nofile - reserve;
}

void conn_limit_init(conn_limit_t *limit, size_t max)
{
    atomic_init(&limit->open, 0);
    limit->max = max;
}

bool conn_limit_acquire(conn_limit_t *limit)
{
    size_t open = atomic_load(&limit->open);

    do {
        if (open >= limit->max)
            return false;
    } while (!atomic_compare_exchange_weak(&limit->open, &open, open + 1));
    return true;
}

void conn_limit_release(conn_limit_t *limit)
{
    atomic_fetch_sub(&limit->open, 1);
}

bool conn_limit_has_room(conn_limit_t *limit)
{
    return atomic_load(&limit->open) < limit->max;
}
