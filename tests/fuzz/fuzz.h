/*
 * fuzz: the entry point every libFuzzer target defines, shared with the corpus replayer.
 *
 * Each target feeds its bytes to one parser of untrusted input and checks what must hold for any
 * input (no crash, no read outside the input, and the target's own invariants, checked with
 * FUZZ_CHECK so that a violation is a crash libFuzzer records). The same target is linked with
 * libFuzzer (build-fuzz, clang) and with replay.c (the ordinary build), which runs every input of
 * the target's corpus once, so that each crash ever found stays a regression test.
 */
#ifndef FLASHSALE_FUZZ_H
#define FLASHSALE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(condition)                                                                                \
    do {                                                                                                     \
        if (!(condition)) {                                                                                  \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition);                \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

#endif
