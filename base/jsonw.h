/* base/jsonw.h: a streaming JSON writer onto a struct buf, with automatic
 * commas, a bounded nesting depth and sticky errors. See jsonw.c. */
#ifndef KILN_BASE_JSONW_H
#define KILN_BASE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/status.h"

/* Deepest nesting of objects and arrays: room for a flame-graph tree about
 * 1,000 frames deep (two levels per frame, plus an envelope), at 2 bytes
 * of writer state per level; no deeper than jansson (2048) and so most
 * JSON readers parse. */
#define JSONW_MAX_DEPTH 2000
/* Room for any number jsonw_fmt_double writes, NUL included. */
#define JSONW_DOUBLE_STR_MAX 32

/* A writer. It lives wherever the caller puts it (usually the stack); its
 * fields are private: use only the functions below. */
struct jsonw {
    struct buf *out;
    enum kb_status st;              /* first error, sticky */
    char msg[64];                   /* what the first error was */
    int depth;                      /* open containers */
    bool done;                      /* the top-level value is complete */
    bool want_value;                /* a key was written, its value is due */
    uint8_t kind[JSONW_MAX_DEPTH];  /* per open container: object, array */
    bool nonempty[JSONW_MAX_DEPTH]; /* per open container: has members */
};

/* Start writing one JSON value (usually an object) at the end of `out`. */
void jsonw_init(struct jsonw *w, struct buf *out);

/* Every function below appends to the buffer, inserting commas and colons
 * where JSON needs them. The first error (the buffer's limit reached, depth
 * past JSONW_MAX_DEPTH, or a call that breaks JSON's grammar, such as a
 * value in an object without a key) is remembered, every later call does
 * nothing, and jsonw_finish reports it; the buffer then holds partial
 * output, to be discarded. */
void jsonw_object_begin(struct jsonw *w);
void jsonw_object_end(struct jsonw *w);
void jsonw_array_begin(struct jsonw *w);
void jsonw_array_end(struct jsonw *w);
/* A key inside an object; the next call must write its value. */
void jsonw_key(struct jsonw *w, const char *key);
void jsonw_keyn(struct jsonw *w, const char *key, size_t n);
/* Strings are escaped: " and \ as \" and \\, control characters as \b \f
 * \n \r \t or \u00XX; every byte that is not part of well-formed UTF-8 is
 * replaced by U+FFFD (written as the raw UTF-8 bytes EF BF BD), so the
 * output is always valid UTF-8 JSON. NUL bytes (in jsonw_stringn) become
 * \u0000. */
void jsonw_string(struct jsonw *w, const char *s);
void jsonw_stringn(struct jsonw *w, const char *s, size_t n);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
/* A finite double as the shortest decimal that reads back as the same
 * double (see jsonw_fmt_double); NaN and infinities as null. */
void jsonw_double(struct jsonw *w, double v);
/* A double as a JSON string, the way Prometheus writes sample values:
 * "1.5", "1e+21", "NaN", "+Inf", "-Inf". */
void jsonw_double_string(struct jsonw *w, double v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);

/* KB_OK if exactly one complete value was written, else the first error
 * (KB_ERR_LIMIT for the buffer or depth, KB_ERR_INTERNAL for misuse,
 * including unclosed containers), with a message in `err`. */
enum kb_status jsonw_finish(struct jsonw *w, struct kb_err *err);

/* Format a double the way JavaScript and Prometheus do: the shortest
 * digits that round-trip, in plain notation when 1e-6 <= |v| < 1e21 ("0.5",
 * "1700000000", "-0"), else in exponent notation ("1e+21", "1.5e-07"); NaN,
 * +Inf and -Inf as "NaN", "+Inf", "-Inf". Returns `out`. */
char *jsonw_fmt_double(double v, char out[JSONW_DOUBLE_STR_MAX]);

#endif
