/*
 * loadtest: `flashsale loadtest`, one command that storms a sale of a running server (this one or any
 * server speaking its API), shows the storm live, then proves through the API that the sale stayed
 * correct and writes the report.
 *
 * The steps: read the options; find or create the sale; mint the buyers' tokens (JWT mode); run the
 * storm (lt_driver) with a live line each second; verify (lt_verify); print the summary; write the
 * HTML, JSON and SVG files. Exit status 0 when every check passed, 1 when one failed or the error rate
 * was too high, 2 for bad input (a bad flag, an unreachable server, an unknown sale, a refused admin
 * key), each reported as one line. Its output (live line, summary) goes to stdout; warnings and
 * errors during the run through the logger.
 *
 * This room depends only on src/core and libraries, never on the server's own code, so that it
 * measures the server from the outside, as any client would.
 */
#ifndef FLASHSALE_LOADTEST_H
#define FLASHSALE_LOADTEST_H

#include <stddef.h>

/*
 * argv[0] is "loadtest"; returns the exit status. With 2 (bad input) err holds the one line to show
 * (without a newline); the command line prints it, as it prints its own usage errors.
 */
int loadtest_main(int argc, char **argv, char *err, size_t err_size);

#endif
