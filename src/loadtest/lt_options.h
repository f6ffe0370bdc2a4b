/*
 * lt_options: the command line of `flashsale loadtest`, and the small value syntaxes it uses
 * (URLs, durations, rates, the request mix).
 *
 * Parsing is pure (no I/O), so every bad value is reported as one line before anything connects;
 * whether the URL answers, the sale exists and the admin key is right is checked later, by the run.
 * Strings in lt_options_t point into argv (or into the struct itself for the URL parts).
 */
#ifndef FLASHSALE_LT_OPTIONS_H
#define FLASHSALE_LT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LT_NS_PER_SECOND INT64_C(1000000000)

typedef struct {
    char host[256];      /* for getaddrinfo: a name, an IPv4 or an IPv6 address without brackets */
    char port[6];        /* decimal, default "80" */
    char authority[300]; /* the Host header: host[:port] as written */
} lt_url_t;

typedef struct {
    const char *url_text;
    lt_url_t url;
    const char *sku;       /* NULL with --create without --sku: a fresh one is made up */
    bool create;           /* create the sale through the admin API */
    int64_t stock;         /* --stock, with --create */
    const char *admin_key; /* NULL: the admin checks are skipped */
    int64_t buyers;        /* distinct buyers */
    int attempts;          /* purchase attempts per buyer, sent at once */
    int connections;       /* keep-alive connections over all threads */
    double rate;           /* requests per second; 0: closed loop */
    int64_t duration_ns;   /* 0: until every planned request is answered */
    int status_weight;     /* --mix: weights of status polls and purchases */
    int purchase_weight;
    int threads;                      /* client threads, each with its own event loop */
    int pipeline;                     /* requests in flight per connection */
    int64_t timeout_ns;               /* per request */
    const char *user_prefix;          /* NULL: made up at start */
    const char *jwt_secret;           /* HS256 */
    const char *jwt_private_key_file; /* RS256 or ES256, by the key's type */
    const char *jwt_issuer;
    const char *jwt_audience;
    bool verify;
    int64_t verify_timeout_ns;
    double max_error_rate; /* 0..1 */
    const char *report_path;
    const char *json_path;
    const char *svg_dir;
} lt_options_t;

typedef enum {
    LT_OPTIONS_OK,
    LT_OPTIONS_HELP,  /* --help: print lt_options_usage, exit 0 */
    LT_OPTIONS_ERROR, /* err holds one line */
} lt_options_result_t;

/* Parses `loadtest` arguments (argv[0] is "loadtest"). */
lt_options_result_t lt_options_parse(lt_options_t *options, int argc, char **argv, char *err,
                                     size_t err_size);

/* "http://HOST[:PORT][/]": 0, or -1 with err set. HOST may be [IPv6]. */
int lt_parse_url(const char *text, lt_url_t *url, char *err, size_t err_size);
/* "250ms", "10s", "1.5m", "1h", "30" (seconds), "0.5s": 0 and *ns, or -1. Must be > 0. */
int lt_parse_duration(const char *text, int64_t *ns);
/* "5000/s", "300/min", "120000/h", "5000" (per second): 0 and *per_second (> 0), or -1. */
int lt_parse_rate(const char *text, double *per_second);
/*
 * "status=80,purchase=20" in any order, each kind at most once, missing kinds weigh 0, the sum
 * must be > 0: 0, or -1 with err naming what is wrong.
 */
int lt_parse_mix(const char *text, int *status_weight, int *purchase_weight, char *err, size_t err_size);

extern const char lt_options_usage[];

#endif
