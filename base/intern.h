/* base/intern.h: string interning: each distinct string gets a dense
 * uint32 id (0, 1, 2, ... in insertion order), and ids map back to the
 * strings. See intern.c. */
#ifndef KILN_BASE_INTERN_H
#define KILN_BASE_INTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/status.h"

/* The most strings a table may ever hold, whatever limit is asked for. */
#define INTERN_MAX_COUNT (UINT32_MAX - 1)

struct intern;

/* A new, empty table that refuses to grow past `max_count` strings or
 * `max_bytes` bytes of string data (0 for either means "no limit of that
 * kind"; INTERN_MAX_COUNT still applies). */
struct intern *intern_new(uint32_t max_count, size_t max_bytes);
/* Free the table and every string in it; NULL is allowed. */
void intern_free(struct intern *in);

/* The id of `s[0..n)` (any bytes, NUL included), adding the string when it
 * is new; *added (when not NULL) says whether it was. Fails with
 * KB_ERR_LIMIT, leaving the table as it was, when a new string would pass a
 * limit. */
enum kb_status intern_put(struct intern *in, const char *s, size_t n,
                          uint32_t *id, bool *added, struct kb_err *err);
/* The id of `s[0..n)` if present; never adds. */
bool intern_get(const struct intern *in, const char *s, size_t n, uint32_t *id);
/* The string of `id` (< intern_count): a NUL-terminated pointer valid for
 * the table's lifetime, and its length in *n when `n` is not NULL. Returns
 * NULL for an id that was never given out. */
const char *intern_str(const struct intern *in, uint32_t id, size_t *n);

uint32_t intern_count(const struct intern *in);
/* Bytes of string data held (sum of lengths, without NULs). */
size_t intern_bytes(const struct intern *in);

#endif
