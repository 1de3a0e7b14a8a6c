/* tsdb/enc.c: the integer encodings of Kiln's on-disk formats.
 *
 * Design. Two encodings, documented in docs/format/: unsigned LEB128 varints
 * (7 bits a byte, low first, high bit = more), signed ones zigzag-mapped
 * first ((v << 1) ^ (v >> 63)), and fixed-width little-endian integers and
 * doubles. Decoding never trusts its input: every read is bounds checked and
 * a failure sets the decoder's sticky `bad` flag instead of returning an
 * error per call, which keeps record parsers short (read a group of fields,
 * then check once).
 */
#include "tsdb/enc.h"

#include <string.h>

enum kb_status tsdb_enc_uvarint(struct buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return buf_append(b, tmp, n);
}

enum kb_status tsdb_enc_varint(struct buf *b, int64_t v)
{
    return tsdb_enc_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

enum kb_status tsdb_enc_u32(struct buf *b, uint32_t v)
{
    uint8_t tmp[4];
    for (int i = 0; i < 4; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    return buf_append(b, tmp, 4);
}

enum kb_status tsdb_enc_u64(struct buf *b, uint64_t v)
{
    uint8_t tmp[8];
    for (int i = 0; i < 8; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    return buf_append(b, tmp, 8);
}

enum kb_status tsdb_enc_f64(struct buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return tsdb_enc_u64(b, u);
}

enum kb_status tsdb_enc_bytes(struct buf *b, const void *p, size_t n)
{
    enum kb_status st = tsdb_enc_uvarint(b, n);
    return st ? st : buf_append(b, p, n);
}

void tsdb_dec_init(struct tsdb_dec *d, const void *p, size_t n)
{
    d->p = p;
    d->end = d->p + n;
    d->bad = false;
}

uint64_t tsdb_dec_uvarint(struct tsdb_dec *d)
{
    /* Most numbers (deltas, ids, counts) fit one byte. */
    if (d->p < d->end && *d->p < 0x80 && !d->bad)
        return *d->p++;
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && !d->bad; shift += 7) {
        if (d->p >= d->end)
            break;
        uint8_t c = *d->p++;
        if (shift == 63 && c > 1)
            break; /* more than 64 bits */
        v |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0)
            return v;
    }
    d->bad = true;
    return 0;
}

int64_t tsdb_dec_varint(struct tsdb_dec *d)
{
    uint64_t u = tsdb_dec_uvarint(d);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static uint64_t dec_fixed(struct tsdb_dec *d, int n)
{
    if (d->bad || d->end - d->p < n) {
        d->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)d->p[i] << (8 * i);
    d->p += n;
    return v;
}

uint32_t tsdb_dec_u32(struct tsdb_dec *d)
{
    return (uint32_t)dec_fixed(d, 4);
}

uint64_t tsdb_dec_u64(struct tsdb_dec *d)
{
    return dec_fixed(d, 8);
}

double tsdb_dec_f64(struct tsdb_dec *d)
{
    uint64_t u = dec_fixed(d, 8);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

const uint8_t *tsdb_dec_bytes(struct tsdb_dec *d, size_t *n)
{
    uint64_t len = tsdb_dec_uvarint(d);
    if (d->bad || len > (uint64_t)(d->end - d->p)) {
        d->bad = true;
        *n = 0;
        return NULL;
    }
    const uint8_t *p = d->p;
    d->p += len;
    *n = (size_t)len;
    return p;
}

uint64_t tsdb_dec_count(struct tsdb_dec *d, uint64_t max)
{
    uint64_t v = tsdb_dec_uvarint(d);
    if (v > max) {
        d->bad = true;
        return 0;
    }
    return v;
}

size_t tsdb_dec_left(const struct tsdb_dec *d)
{
    return (size_t)(d->end - d->p);
}
