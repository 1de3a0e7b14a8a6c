/* tsdb/enc.h: varint and fixed-width encoding onto a buf, and a bounds-checked
 * decoder with a sticky error flag. See enc.c. */
#ifndef KILN_TSDB_ENC_H
#define KILN_TSDB_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Encoders append to `b`; they return the buf's status (KB_ERR_LIMIT when
 * the buffer's limit is reached), which callers may check once at the end
 * through tsdb_enc_ok-style accumulation or ignore for unlimited buffers. */
enum kb_status tsdb_enc_uvarint(struct buf *b, uint64_t v);
/* Signed, zigzag-encoded (small negative numbers stay small). */
enum kb_status tsdb_enc_varint(struct buf *b, int64_t v);
enum kb_status tsdb_enc_u32(struct buf *b, uint32_t v); /* little endian */
enum kb_status tsdb_enc_u64(struct buf *b, uint64_t v); /* little endian */
enum kb_status tsdb_enc_f64(struct buf *b, double v);   /* IEEE 754, LE */
/* uvarint length, then the bytes. */
enum kb_status tsdb_enc_bytes(struct buf *b, const void *p, size_t n);

/* A decoder over [p, end). Every read past the end, or of a malformed
 * varint, sets `bad` and returns 0; later reads keep returning 0. Callers
 * check `bad` once after a group of reads. */
struct tsdb_dec {
    const uint8_t *p;
    const uint8_t *end;
    bool bad;
};

void tsdb_dec_init(struct tsdb_dec *d, const void *p, size_t n);
uint64_t tsdb_dec_uvarint(struct tsdb_dec *d);
int64_t tsdb_dec_varint(struct tsdb_dec *d);
uint32_t tsdb_dec_u32(struct tsdb_dec *d);
uint64_t tsdb_dec_u64(struct tsdb_dec *d);
double tsdb_dec_f64(struct tsdb_dec *d);
/* A uvarint length and that many bytes; returns a pointer into the input
 * and sets *n, or NULL (and bad) if they do not fit. */
const uint8_t *tsdb_dec_bytes(struct tsdb_dec *d, size_t *n);
/* A uvarint that must be <= max (a count about to size an allocation). */
uint64_t tsdb_dec_count(struct tsdb_dec *d, uint64_t max);
size_t tsdb_dec_left(const struct tsdb_dec *d);

#endif
