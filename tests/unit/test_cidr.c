/*
 * Unit tests of cidr and forwarded: addresses and networks of both families, IPv4-mapped peers,
 * lists, and which X-Forwarded-For entry is the client for a given set of trusted proxies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "core/cidr.h"
#include "core/forwarded.h"

static cidr_address_t address(const char *text)
{
    cidr_address_t out;
    if (cidr_parse_address(text, strlen(text), &out) != 0)
        fail_msg("not an address: %s", text);
    return out;
}

static cidr_t network(const char *text)
{
    const char *error = NULL;
    cidr_t out;
    if (cidr_parse(text, strlen(text), &out, &error) != 0)
        fail_msg("cidr_parse(%s): %s", text, error);
    return out;
}

static void assert_formats_as(const char *text, const char *expected)
{
    char out[CIDR_ADDRESS_TEXT_MAX];
    cidr_address_t parsed = address(text);
    cidr_format_address(&parsed, out);
    assert_string_equal(out, expected);
}

static void test_addresses(void **state)
{
    (void)state;
    cidr_address_t out;
    assert_formats_as("10.1.2.3", "10.1.2.3");
    assert_formats_as("2001:DB8:0:0::1", "2001:db8::1");
    assert_formats_as("::ffff:192.0.2.7", "192.0.2.7");
    cidr_address_t v4 = address("127.0.0.1"), v6 = address("::1");
    assert_true(cidr_address_is_ipv4(&v4));
    assert_false(cidr_address_is_ipv4(&v6));
    const char *bad[] = {"",         "1.2.3", "1.2.3.4.5", "256.1.1.1", "example.com",
                         "1.2.3.4 ", "::g",   "1.2.3.4/8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        assert_int_equal(cidr_parse_address(bad[i], strlen(bad[i]), &out), -1);
    /* a NUL inside the given length is not an address */
    assert_int_equal(cidr_parse_address("1.2.3.4\0x", 9, &out), -1);
}

static void test_sockaddr(void **state)
{
    (void)state;
    struct sockaddr_in ipv4 = {.sin_family = AF_INET};
    struct sockaddr_in6 ipv6 = {.sin6_family = AF_INET6};
    struct sockaddr unix_family = {.sa_family = AF_UNIX};
    cidr_address_t out;
    char text[CIDR_ADDRESS_TEXT_MAX];

    inet_pton(AF_INET, "203.0.113.9", &ipv4.sin_addr);
    assert_int_equal(cidr_address_from_sockaddr((struct sockaddr *)&ipv4, &out), 0);
    cidr_format_address(&out, text);
    assert_string_equal(text, "203.0.113.9");
    inet_pton(AF_INET6, "2001:db8::5", &ipv6.sin6_addr);
    assert_int_equal(cidr_address_from_sockaddr((struct sockaddr *)&ipv6, &out), 0);
    cidr_format_address(&out, text);
    assert_string_equal(text, "2001:db8::5");
    assert_int_equal(cidr_address_from_sockaddr(&unix_family, &out), -1);
}

static void test_ipv4_networks(void **state)
{
    (void)state;
    cidr_t private = network("10.0.0.0/8");
    cidr_address_t inside = address("10.255.1.2"), outside = address("11.0.0.1");
    assert_true(cidr_contains(&private, &inside));
    assert_false(cidr_contains(&private, &outside));
    /* a dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 */
    cidr_address_t mapped = address("::ffff:10.9.8.7");
    assert_true(cidr_contains(&private, &mapped));
    /* an IPv6 address is never inside an IPv4 network, not even ::10.9.8.7 */
    cidr_address_t compatible = address("::a09:807");
    assert_false(cidr_contains(&private, &compatible));

    cidr_t odd = network("192.168.4.0/22");
    cidr_address_t a = address("192.168.7.255"), b = address("192.168.8.0");
    assert_true(cidr_contains(&odd, &a));
    assert_false(cidr_contains(&odd, &b));

    cidr_t host = network("198.51.100.7");
    cidr_address_t same = address("198.51.100.7"), next = address("198.51.100.8");
    assert_int_equal(host.prefix, 128);
    assert_true(cidr_contains(&host, &same));
    assert_false(cidr_contains(&host, &next));

    cidr_t everything = network("0.0.0.0/0");
    cidr_address_t any = address("8.8.8.8"), v6 = address("2001:db8::1");
    assert_true(cidr_contains(&everything, &any));
    assert_false(cidr_contains(&everything, &v6));
}

static void test_ipv6_networks(void **state)
{
    (void)state;
    cidr_t doc = network("2001:db8::/32");
    cidr_address_t inside = address("2001:db8:ffff::1"), outside = address("2001:db9::1");
    assert_true(cidr_contains(&doc, &inside));
    assert_false(cidr_contains(&doc, &outside));
    cidr_t loopback = network("::1");
    cidr_address_t one = address("::1"), v4 = address("127.0.0.1");
    assert_true(cidr_contains(&loopback, &one));
    assert_false(cidr_contains(&loopback, &v4));
    cidr_t all = network("::/0");
    assert_true(cidr_contains(&all, &v4));
}

static void test_bad_networks(void **state)
{
    (void)state;
    const char *bad[] = {
        "10.0.0.1/8",     "10.0.0.0/33", "10.0.0.0/",    "10.0.0.0/x",    "10.0.0.0/-1", "2001:db8::/129",
        "2001:db8::1/32", "/8",          "10.0.0.0/8/8", "10.0.0.0/0008", "nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        const char *error = NULL;
        cidr_t out;
        if (cidr_parse(bad[i], strlen(bad[i]), &out, &error) == 0)
            fail_msg("cidr_parse accepted %s", bad[i]);
        assert_non_null(error);
    }
}

static void test_lists(void **state)
{
    (void)state;
    cidr_list_t list = {0};
    const char *error = NULL;
    assert_int_equal(cidr_list_add(&list, "10.0.0.0/8, 192.168.0.0/16", &error), 0);
    assert_int_equal(cidr_list_add(&list, "::1", &error), 0);
    assert_int_equal(list.count, 3);
    cidr_address_t a = address("192.168.3.3"), b = address("::1"), c = address("172.16.0.1");
    assert_true(cidr_list_contains(&list, &a));
    assert_true(cidr_list_contains(&list, &b));
    assert_false(cidr_list_contains(&list, &c));
    assert_int_equal(cidr_list_add(&list, "172.16.0.0/12,,", &error), -1);
    assert_int_equal(cidr_list_add(&list, "", &error), -1);
    cidr_list_t full = {0};
    for (int i = 0; i < CIDR_LIST_MAX; ++i)
        assert_int_equal(cidr_list_add(&full, "10.0.0.0/8", &error), 0);
    assert_int_equal(cidr_list_add(&full, "10.0.0.0/8", &error), -1);
}

/* The client for a peer and one X-Forwarded-For value (NULL for none), as text. */
static const char *client_of(const char *trusted, const char *peer, const char *xff)
{
    static char text[CIDR_ADDRESS_TEXT_MAX];
    cidr_list_t list = {0};
    const char *error;
    cidr_address_t peer_address = address(peer);
    forwarded_header_t header = {xff, xff == NULL ? 0 : strlen(xff)};

    if (trusted != NULL)
        assert_int_equal(cidr_list_add(&list, trusted, &error), 0);
    cidr_address_t client = forwarded_client(&list, &peer_address, &header, xff == NULL ? 0 : 1);
    cidr_format_address(&client, text);
    return text;
}

static void test_forwarded_for(void **state)
{
    (void)state;
    /* without trusted proxies the header is never believed */
    assert_string_equal(client_of(NULL, "203.0.113.1", "1.1.1.1"), "203.0.113.1");
    /* a peer that is not trusted: its header is ignored */
    assert_string_equal(client_of("10.0.0.0/8", "203.0.113.1", "1.1.1.1"), "203.0.113.1");
    /* a trusted peer: the rightmost untrusted entry */
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "1.1.1.1"), "1.1.1.1");
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "6.6.6.6, 2.2.2.2, 10.0.0.9"), "2.2.2.2");
    /* a spoofed entry to the left of the real client changes nothing */
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "10.0.0.1, 2.2.2.2"), "2.2.2.2");
    /* only trusted hops: the leftmost */
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "10.1.1.1,10.2.2.2"), "10.1.1.1");
    /* no header at all from a trusted peer: the peer */
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", NULL), "10.0.0.5");
    /* a malformed entry ends the walk at the last trusted hop */
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "2.2.2.2, bogus, 10.0.0.7"), "10.0.0.7");
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", ""), "10.0.0.5");
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "2.2.2.2,"), "10.0.0.5");
    /* ports and brackets, as some proxies write them */
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "2.2.2.2:4711"), "2.2.2.2");
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "[2001:db8::7]:443"), "2001:db8::7");
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "[2001:db8::8]"), "2001:db8::8");
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "[2001:db8::8]:"), "10.0.0.5");
    assert_string_equal(client_of("10.0.0.0/8", "10.0.0.5", "2.2.2.2:x"), "10.0.0.5");
    /* IPv6 proxies and clients */
    assert_string_equal(client_of("2001:db8::/32", "2001:db8::1", "2001:db8::2, 2a00::9"), "2a00::9");
    assert_string_equal(client_of("::1, 10.0.0.0/8", "::1", "3.3.3.3, 10.0.0.2"), "3.3.3.3");
    /* an IPv4-mapped peer matches an IPv4 network */
    assert_string_equal(client_of("127.0.0.1", "::ffff:127.0.0.1", "4.4.4.4"), "4.4.4.4");
}

static void test_forwarded_over_several_headers(void **state)
{
    (void)state;
    cidr_list_t list = {0};
    const char *error;
    assert_int_equal(cidr_list_add(&list, "10.0.0.0/8", &error), 0);
    cidr_address_t peer = address("10.0.0.1"), client;
    char text[CIDR_ADDRESS_TEXT_MAX];
    forwarded_header_t headers[] = {{"5.5.5.5, 7.7.7.7", 16}, {"10.0.0.3", 8}};

    client = forwarded_client(&list, &peer, headers, 2);
    cidr_format_address(&client, text);
    assert_string_equal(text, "7.7.7.7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses),     cmocka_unit_test(test_sockaddr),
        cmocka_unit_test(test_ipv4_networks), cmocka_unit_test(test_ipv6_networks),
        cmocka_unit_test(test_bad_networks),  cmocka_unit_test(test_lists),
        cmocka_unit_test(test_forwarded_for), cmocka_unit_test(test_forwarded_over_several_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
