/* Unit tests for base/md5.c: the RFC 1321 appendix A.5 test suite, split
 * updates across block boundaries, and a million 'a's. */
#include <stdint.h>
#include <string.h>

#include "base/md5.h"
#include "tests/unit/unit.h"

static void hex(const uint8_t d[KB_MD5_SIZE], char out[2 * KB_MD5_SIZE + 1])
{
    for (int i = 0; i < KB_MD5_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static const char *md5_hex(const char *s)
{
    static char out[2 * KB_MD5_SIZE + 1];
    uint8_t d[KB_MD5_SIZE];
    kb_md5(s, strlen(s), d);
    hex(d, out);
    return out;
}

/* RFC 1321, appendix A.5. */
static void test_rfc1321_suite(void)
{
    CHECK_STR(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    CHECK_STR(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
    CHECK_STR(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
    CHECK_STR(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
    CHECK_STR(md5_hex("abcdefghijklmnopqrstuvwxyz"),
              "c3fcd3d76192e4007dfb496cca67e13b");
    CHECK_STR(md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789"),
              "d174ab98d277d9f5a5611c2c9f419d9f");
    CHECK_STR(md5_hex("1234567890123456789012345678901234567890123456789012"
                      "3456789012345678901234567890"),
              "57edf4a22be3c955ac49da2e2107b67a");
}

/* Lengths around the padding edge (55, 56, 63, 64, 65 bytes), computed with
 * `printf %0Nd 0 | md5sum` (N zeros). */
static void test_padding_edges(void)
{
    struct {
        size_t n;
        const char *want;
    } cases[] = {
        {55, "d7fe636bd28e2ee2ba4d6c5898318699"},
        {56, "ce992c2ad906967c63c3f9ab0c2294a9"},
        {63, "5703db92acb9d45e3975822c9206453f"},
        {64, "10eab6008d5642cf42abd2aa41f847cb"},
        {65, "f8c702aaa8c658413a4efb3a614d7707"},
    };
    char zeros[130], out[2 * KB_MD5_SIZE + 1];
    memset(zeros, '0', sizeof(zeros));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t d[KB_MD5_SIZE];
        kb_md5(zeros, cases[i].n, d);
        hex(d, out);
        CHECK_STR(out, cases[i].want);
    }
    /* Every split of a 129-byte message gives the one-shot digest. */
    uint8_t whole[KB_MD5_SIZE];
    kb_md5(zeros, 129, whole);
    for (size_t cut = 0; cut <= 129; cut++) {
        struct kb_md5 m;
        uint8_t d[KB_MD5_SIZE];
        kb_md5_init(&m);
        kb_md5_update(&m, zeros, cut);
        kb_md5_update(&m, NULL, 0);
        kb_md5_update(&m, zeros + cut, 129 - cut);
        kb_md5_final(&m, d);
        CHECK(memcmp(d, whole, KB_MD5_SIZE) == 0);
    }
}

static void test_million_a(void)
{
    struct kb_md5 m;
    uint8_t d[KB_MD5_SIZE];
    char out[2 * KB_MD5_SIZE + 1], chunk[1000];
    memset(chunk, 'a', sizeof(chunk));
    kb_md5_init(&m);
    for (int i = 0; i < 1000; i++)
        kb_md5_update(&m, chunk, sizeof(chunk));
    kb_md5_final(&m, d);
    hex(d, out);
    CHECK_STR(out, "7707d6ae4e027c70eea2a935c2296f21");
}

int main(void)
{
    RUN(test_rfc1321_suite);
    RUN(test_padding_edges);
    RUN(test_million_a);
    return unit_done();
}
