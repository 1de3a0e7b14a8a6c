/* base/md5.c: MD5 message digest, RFC 1321.
 *
 * Why. Prometheus' hashmod relabel action is md5(joined source values),
 * last 8 bytes read as a big-endian uint64, modulo `modulus`. Targets must
 * shard exactly as they do in Prometheus, so Kiln needs MD5 itself; none of
 * the linked libraries (zlib, PCRE2, jansson, libcurl, protobuf-c) exposes
 * one. Never use it where collisions matter.
 *
 * Design. The textbook algorithm: 64-byte blocks, four rounds of sixteen
 * steps over a 4-word state, little-endian words, then padding with 0x80,
 * zeros and the message length in bits (little-endian, 64 bits). Blocks are
 * read byte by byte, so the code is independent of host endianness and
 * alignment. tests/unit/test_base_md5.c checks the RFC 1321 appendix A.5
 * test suite and split updates.
 */
#include "base/md5.h"

#include <string.h>

static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

static const uint8_t S[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static uint32_t rotl(uint32_t x, unsigned c)
{
    return (x << c) | (x >> (32 - c));
}

static void transform(uint32_t st[4], const uint8_t blk[64])
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[4 * i] | (uint32_t)blk[4 * i + 1] << 8 |
               (uint32_t)blk[4 * i + 2] << 16 | (uint32_t)blk[4 * i + 3] << 24;
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rotl(a + f + K[i] + w[g], S[i]);
        a = t;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void kb_md5_init(struct kb_md5 *m)
{
    m->state[0] = 0x67452301;
    m->state[1] = 0xefcdab89;
    m->state[2] = 0x98badcfe;
    m->state[3] = 0x10325476;
    m->nbytes = 0;
    m->blen = 0;
}

void kb_md5_update(struct kb_md5 *m, const void *p, size_t n)
{
    const uint8_t *s = p;
    if (n == 0)
        return;
    m->nbytes += n;
    if (m->blen > 0) {
        size_t take = 64 - m->blen < n ? 64 - m->blen : n;
        memcpy(m->block + m->blen, s, take);
        m->blen += take;
        s += take;
        n -= take;
        if (m->blen < 64)
            return;
        transform(m->state, m->block);
        m->blen = 0;
    }
    for (; n >= 64; s += 64, n -= 64)
        transform(m->state, s);
    if (n > 0)
        memcpy(m->block, s, n);
    m->blen = n;
}

void kb_md5_final(struct kb_md5 *m, uint8_t out[KB_MD5_SIZE])
{
    uint64_t bits = m->nbytes * 8;
    m->block[m->blen++] = 0x80;
    if (m->blen > 56) {
        memset(m->block + m->blen, 0, 64 - m->blen);
        transform(m->state, m->block);
        m->blen = 0;
    }
    memset(m->block + m->blen, 0, 56 - m->blen);
    for (int i = 0; i < 8; i++)
        m->block[56 + i] = (uint8_t)(bits >> (8 * i));
    transform(m->state, m->block);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (uint8_t)(m->state[i] >> (8 * j));
}

void kb_md5(const void *p, size_t n, uint8_t out[KB_MD5_SIZE])
{
    struct kb_md5 m;
    kb_md5_init(&m);
    kb_md5_update(&m, p, n);
    kb_md5_final(&m, out);
}
