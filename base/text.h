/* base/text.h: small text helpers shared by base/: UTF-8 validation and
 * quoting outside input safely inside error messages. See text.c. */
#ifndef KILN_BASE_TEXT_H
#define KILN_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The length (1 to 4) of the well-formed UTF-8 sequence at the start of
 * `s[0..n)`, or 0 if it does not start with one (n == 0, a stray
 * continuation byte, an overlong form, a surrogate, a code point above
 * U+10FFFF, or a sequence cut short by n). When `cp` is not NULL and the
 * result is nonzero, *cp is the code point. */
size_t kb_utf8_seq(const uint8_t *s, size_t n, uint32_t *cp);

/* Whether `s[0..n)` is entirely well-formed UTF-8 (the empty string is). */
bool kb_utf8_valid(const void *s, size_t n);

/* Parse a size as Prometheus writes them: a decimal byte count with an
 * optional unit B, KB, MB, GB or TB (powers of 1024), e.g. "512MB". false
 * for anything else or an overflow. */
bool kb_size_parse(const char *s, uint64_t *out);

/* Write into `out` (of `size` bytes, at least 8) a one-line excerpt of
 * `s[0..n)` for an error message: printable ASCII is kept, every other byte
 * becomes \xNN, and the excerpt is cut to fit with "..." at its end. Always
 * NUL-terminates; returns `out` so that it can go straight into a printf.
 * Typical use: kb_errf(err, ..., "bad value \"%s\"", kb_excerpt(tmp,
 * sizeof(tmp), p, n)). */
char *kb_excerpt(char *out, size_t size, const void *s, size_t n);

/* A good size for kb_excerpt's `out` in error messages. */
#define KB_EXCERPT_MAX 72

#endif
