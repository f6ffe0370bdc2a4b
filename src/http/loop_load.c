#include "http/loop_load.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static uint64_t cpu_time_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint64_t loop_load_demand_ns(void)
{
    /* "<ns on a cpu> <ns waiting on a run queue> <timeslices>" */
    char text[96];
    int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cpu_time_ns();
    ssize_t got = read(fd, text, sizeof(text) - 1);
    close(fd);
    uint64_t ran, waited;
    if (got <= 0)
        return cpu_time_ns();
    text[got] = '\0';
    if (sscanf(text, "%" SCNu64 " %" SCNu64, &ran, &waited) != 2)
        return cpu_time_ns();
    return ran + waited;
}
