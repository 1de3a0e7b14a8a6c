/* base/md5.h: MD5 (RFC 1321), for Prometheus-compatible hashmod
 * relabeling only. Not for security. See md5.c. */
#ifndef KILN_BASE_MD5_H
#define KILN_BASE_MD5_H

#include <stddef.h>
#include <stdint.h>

#define KB_MD5_SIZE 16 /* bytes in a digest */

/* A running MD5 computation: kb_md5_init, any number of kb_md5_update, then
 * kb_md5_final. Plain data; copy it to fork a computation. */
struct kb_md5 {
    uint32_t state[4];
    uint64_t nbytes;   /* bytes hashed so far */
    uint8_t block[64]; /* the partial block */
    size_t blen;       /* bytes in `block` */
};

void kb_md5_init(struct kb_md5 *m);
/* Hash `n` more bytes at `p` (p may be NULL when n is 0). */
void kb_md5_update(struct kb_md5 *m, const void *p, size_t n);
/* Finish and write the 16-byte digest to `out`. `m` must be re-initialized
 * before reuse. */
void kb_md5_final(struct kb_md5 *m, uint8_t out[KB_MD5_SIZE]);
/* The digest of `p[0..n)` in one call. */
void kb_md5(const void *p, size_t n, uint8_t out[KB_MD5_SIZE]);

#endif
