/*
 * pg_url: the check of a PostgreSQL URL at start, and the masked form that shows one in messages.
 *
 * libpq parses the URL (postgresql://[USER[:PASSWORD]@]HOST[:PORT][/DATABASE][?PARAM=VALUE...], or
 * libpq's KEY=VALUE pairs); flashsale hands it over as it is. This module asks libpq to parse it
 * once, before anything connects, so that a URL libpq cannot read ends the process at start with
 * one clear line instead of a connection error later, and so that every such line is free of the
 * password: libpq's own parse messages quote whole URLs and their pieces, so they are copied with
 * every quoted piece left out, beside the URL masked by pg_url_mask. No I/O, no connection.
 */
#ifndef FLASHSALE_PG_URL_H
#define FLASHSALE_PG_URL_H

#include <stddef.h>

/* For messages about a URL that does not parse. */
#define PG_URL_FORM "postgresql://[USER[:PASSWORD]@]HOST[:PORT][/DATABASE][?PARAM=VALUE...]"
/* The bytes of the masked URL in such a message, its terminator included (a longer one is cut). */
#define PG_URL_MASK_MAX 256

/*
 * Returns 0 when libpq reads url, or -1 with one line in err (the masked URL and what is wrong):
 * an empty URL, a control character, a scheme other than postgresql:// or postgres://, or what
 * libpq's parser refuses. err never holds the password.
 */
int pg_url_check(const char *url, char *err, size_t err_size);

/*
 * Writes url into out (always terminated, cut to out_size) for messages: a SCHEME:// URL with
 * its password replaced by *** (all of its user info up to the last '@' after the user name) and
 * its query by ?...; KEY=VALUE pairs, which may hold a password anywhere, as "(key=value pairs)".
 */
void pg_url_mask(const char *url, char *out, size_t out_size);

#endif
