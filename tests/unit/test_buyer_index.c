/*
 * Unit tests of buyer_index: lookups by exact user id, purchase order kept through growth, and
 * the table's load bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/buyer_index.h"

#define MANY_USERS 50000

static const buyer_entry_t *find(const buyer_index_t *index, const char *user_id)
{
    return buyer_index_find(index, user_id, strlen(user_id));
}

static const buyer_entry_t *add(buyer_index_t *index, const char *user_id, uint64_t sequence)
{
    const buyer_entry_t *entry =
        buyer_index_add(index, user_id, strlen(user_id), 1000 + (int64_t)sequence, sequence, 50 + sequence);
    assert_non_null(entry);
    return entry;
}

static void assert_table_bounds(const buyer_index_t *index)
{
    assert_int_equal(index->slot_count & (index->slot_count - 1), 0);
    assert_true(index->count * 2 <= index->slot_count);
    assert_true(index->count <= index->capacity);
}

static void test_empty_index_finds_nothing(void **state)
{
    (void)state;
    buyer_index_t index;
    buyer_index_init(&index);
    assert_null(find(&index, "alice"));
    assert_int_equal(index.count, 0);
    buyer_index_dispose(&index);
}

static void test_add_then_find(void **state)
{
    (void)state;
    buyer_index_t index;
    buyer_index_init(&index);
    const buyer_entry_t *added = buyer_index_add(&index, "alice", 5, 1771149600123LL, 7, 99);
    assert_non_null(added);
    assert_string_equal(added->user_id, "alice");
    assert_int_equal(added->purchased_ms, 1771149600123LL);
    assert_int_equal(added->sequence, 7);
    assert_int_equal(added->ledger_sequence, 99);

    const buyer_entry_t *found = find(&index, "alice");
    assert_ptr_equal(found, added);
    assert_null(find(&index, "bob"));
    assert_int_equal(index.count, 1);
    buyer_index_dispose(&index);
}

static void test_user_id_is_copied(void **state)
{
    (void)state;
    buyer_index_t index;
    buyer_index_init(&index);
    char buffer[] = "carol-and-more";
    const buyer_entry_t *entry = buyer_index_add(&index, buffer, 5, 1, 1, 1);
    assert_non_null(entry);
    memset(buffer, 'x', sizeof(buffer) - 1);
    assert_string_equal(find(&index, "carol")->user_id, "carol");
    assert_null(find(&index, "carol-and-more"));
    buyer_index_dispose(&index);
}

static void test_match_is_exact_and_case_sensitive(void **state)
{
    (void)state;
    buyer_index_t index;
    buyer_index_init(&index);
    add(&index, "alice", 1);
    assert_null(find(&index, "alic"));
    assert_null(find(&index, "alice2"));
    assert_null(find(&index, "Alice"));
    assert_null(find(&index, ""));
    /* A longer query that shares the stored id and its terminator must not read past it. */
    assert_null(buyer_index_find(&index, "alice\0xyz", 9));
    assert_non_null(buyer_index_find(&index, "alice-and-more", 5));
    buyer_index_dispose(&index);
}

static void test_ids_that_prefix_each_other_stay_distinct(void **state)
{
    (void)state;
    buyer_index_t index;
    buyer_index_init(&index);
    char user_id[SALE_USER_ID_MAX + 1];
    for (size_t len = 1; len <= SALE_USER_ID_MAX; len++) {
        memset(user_id, 'u', len);
        user_id[len] = '\0';
        add(&index, user_id, len);
    }
    for (size_t len = 1; len <= SALE_USER_ID_MAX; len++) {
        const buyer_entry_t *entry = buyer_index_find(&index, user_id, len);
        assert_non_null(entry);
        assert_int_equal(strlen(entry->user_id), len);
        assert_int_equal(entry->sequence, len);
    }
    buyer_index_dispose(&index);
}

static void test_growth_keeps_every_buyer_and_their_order(void **state)
{
    (void)state;
    buyer_index_t index;
    buyer_index_init(&index);
    char user_id[32];
    for (uint64_t i = 1; i <= MANY_USERS; i++) {
        snprintf(user_id, sizeof(user_id), "user-%llu", (unsigned long long)i);
        add(&index, user_id, i);
        assert_table_bounds(&index);
    }
    assert_int_equal(index.count, MANY_USERS);
    for (uint64_t i = 1; i <= MANY_USERS; i++) {
        snprintf(user_id, sizeof(user_id), "user-%llu", (unsigned long long)i);
        const buyer_entry_t *entry = find(&index, user_id);
        assert_non_null(entry);
        assert_ptr_equal(entry, &index.entries[i - 1]);
        assert_string_equal(entry->user_id, user_id);
        assert_int_equal(entry->sequence, i);
        assert_int_equal(entry->purchased_ms, 1000 + (int64_t)i);
        assert_int_equal(entry->ledger_sequence, 50 + i);
    }
    for (uint64_t i = MANY_USERS + 1; i <= 2 * MANY_USERS; i++) {
        snprintf(user_id, sizeof(user_id), "user-%llu", (unsigned long long)i);
        assert_null(find(&index, user_id));
    }
    buyer_index_dispose(&index);
}

static void test_dispose_leaves_an_empty_reusable_index(void **state)
{
    (void)state;
    buyer_index_t index;
    buyer_index_init(&index);
    add(&index, "alice", 1);
    add(&index, "bob", 2);
    buyer_index_dispose(&index);
    assert_int_equal(index.count, 0);
    assert_null(find(&index, "alice"));
    add(&index, "alice", 1);
    assert_non_null(find(&index, "alice"));
    assert_null(find(&index, "bob"));
    buyer_index_dispose(&index);
    buyer_index_dispose(&index);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_index_finds_nothing),
        cmocka_unit_test(test_add_then_find),
        cmocka_unit_test(test_user_id_is_copied),
        cmocka_unit_test(test_match_is_exact_and_case_sensitive),
        cmocka_unit_test(test_ids_that_prefix_each_other_stay_distinct),
        cmocka_unit_test(test_growth_keeps_every_buyer_and_their_order),
        cmocka_unit_test(test_dispose_leaves_an_empty_reusable_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
