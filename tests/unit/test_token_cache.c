/*
 * Unit tests of token_cache: hits only for the very same token while it is valid, a fixed
 * capacity whatever the number of tokens, which entry a new token takes over, and per-cache keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "auth/token_cache.h"

#define NOW 1800000000LL

static token_claims_t claims_of(const char *sub, bool admin, int64_t expires_s)
{
    token_claims_t claims = {.admin = admin, .expires_s = expires_s};
    snprintf(claims.sub, sizeof(claims.sub), "%s", sub);
    return claims;
}

static void put(token_cache_t *cache, const char *token, const token_claims_t *claims)
{
    token_cache_key_t key;
    token_cache_key(cache, token, strlen(token), &key);
    token_cache_put(cache, &key, claims);
}

static const token_claims_t *find(token_cache_t *cache, const char *token, int64_t now_s)
{
    token_cache_key_t key;
    token_cache_key(cache, token, strlen(token), &key);
    return token_cache_find(cache, &key, now_s);
}

static void test_hit_only_for_the_same_token(void **state)
{
    (void)state;
    token_cache_t *cache = token_cache_create(64);
    token_claims_t alice = claims_of("alice", true, NOW + 60);

    assert_null(find(cache, "aaa.bbb.ccc", NOW));
    put(cache, "aaa.bbb.ccc", &alice);
    const token_claims_t *found = find(cache, "aaa.bbb.ccc", NOW);
    assert_non_null(found);
    assert_string_equal(found->sub, "alice");
    assert_true(found->admin);
    assert_null(find(cache, "aaa.bbb.ccd", NOW));
    assert_null(find(cache, "aaa.bbb.cc", NOW));
    token_cache_destroy(cache);
}

static void test_entries_answer_until_expiry_plus_leeway(void **state)
{
    (void)state;
    token_cache_t *cache = token_cache_create(64);
    token_claims_t claims = claims_of("bob", false, NOW + 60);

    put(cache, "t.o.k", &claims);
    assert_non_null(find(cache, "t.o.k", NOW + 60 + TOKEN_LEEWAY_S - 1));
    assert_null(find(cache, "t.o.k", NOW + 60 + TOKEN_LEEWAY_S));
    token_cache_destroy(cache);
}

static void test_capacity_is_fixed(void **state)
{
    (void)state;
    token_cache_t *cache = token_cache_create(100);
    size_t memory = token_cache_memory(cache);
    char token[32], last[32] = "";

    assert_int_equal(token_cache_capacity(cache), 128);
    for (int i = 0; i < 100000; ++i) {
        token_claims_t claims = claims_of("someone", false, NOW + 60 + i);
        snprintf(token, sizeof(token), "token-%d", i);
        put(cache, token, &claims);
        memcpy(last, token, sizeof(token));
    }
    assert_int_equal(token_cache_memory(cache), memory);
    assert_non_null(find(cache, last, NOW));
    size_t hits = 0;
    for (int i = 0; i < 100000; ++i) {
        snprintf(token, sizeof(token), "token-%d", i);
        hits += find(cache, token, NOW) != NULL;
    }
    assert_true(hits <= 128);
    printf("token_cache: %zu entries in %zu bytes\n", token_cache_capacity(cache), memory);
    token_cache_destroy(cache);
}

/* With one bucket of four, a fifth token takes the place of the one that expires soonest. */
static void test_replaces_the_soonest_to_expire(void **state)
{
    (void)state;
    token_cache_t *cache = token_cache_create(4);
    const char *tokens[] = {"a.a.a", "b.b.b", "c.c.c", "d.d.d"};
    int64_t expiries[] = {NOW + 300, NOW + 100, NOW + 400, NOW + 200};

    assert_int_equal(token_cache_capacity(cache), 4);
    for (int i = 0; i < 4; ++i) {
        token_claims_t claims = claims_of(tokens[i], false, expiries[i]);
        put(cache, tokens[i], &claims);
        /* storing a token again keeps one entry */
        put(cache, tokens[i], &claims);
    }
    for (int i = 0; i < 4; ++i)
        assert_non_null(find(cache, tokens[i], NOW));
    token_claims_t newcomer = claims_of("e", false, NOW + 500);
    put(cache, "e.e.e", &newcomer);
    assert_null(find(cache, "b.b.b", NOW));
    assert_non_null(find(cache, "a.a.a", NOW));
    assert_non_null(find(cache, "c.c.c", NOW));
    assert_non_null(find(cache, "d.d.d", NOW));
    assert_non_null(find(cache, "e.e.e", NOW));
    token_cache_destroy(cache);
}

static void test_each_cache_has_its_own_hash_key(void **state)
{
    (void)state;
    token_cache_t *one = token_cache_create(4), *two = token_cache_create(4);
    token_cache_key_t a, b;
    token_cache_key(one, "x.y.z", 5, &a);
    token_cache_key(two, "x.y.z", 5, &b);
    assert_memory_not_equal(&a, &b, sizeof(a));
    token_cache_destroy(one);
    token_cache_destroy(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_only_for_the_same_token),
        cmocka_unit_test(test_entries_answer_until_expiry_plus_leeway),
        cmocka_unit_test(test_capacity_is_fixed),
        cmocka_unit_test(test_replaces_the_soonest_to_expire),
        cmocka_unit_test(test_each_cache_has_its_own_hash_key),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
