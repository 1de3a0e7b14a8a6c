/* tests/fuzz/check.h: what the fuzz targets assert about a profile.
 *
 * A fuzz target may only crash on a real bug, so every check here states a
 * promise of pprof/profile.h:
 *
 *   - fuzz_check_valid: a decoded (or parsed) profile keeps the model's
 *     invariants: strings[0] is "", every id is dense and in range, every
 *     string index is in range, every sample has one value per sample type.
 *   - fuzz_check_equal: two profiles are the same field by field; used on
 *     p and decode(encode(p)), which must be equal since encode writes the
 *     model as it is.
 *
 * A failed check prints what failed and calls abort(), which libFuzzer
 * reports as a crash and saves the input. The limits the targets decode
 * with are smaller than the defaults so that inputs of fuzzing size reach
 * the limit checks too, and so that nothing a limit allows can exhaust the
 * fuzzer's memory (-rss_limit_mb).
 */
#ifndef KILN_TESTS_FUZZ_CHECK_H
#define KILN_TESTS_FUZZ_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof/profile.h"

#define FUZZ_REQUIRE(cond)                                                     \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

static inline void fuzz_limits(struct pprof_limits *lim)
{
    pprof_limits_default(lim);
    lim->max_compressed = 1u << 20;
    lim->max_decompressed = 8u << 20;
    lim->max_samples = 100000;
    lim->max_stack_depth = 128;
    lim->max_locations = 100000;
    lim->max_functions = 100000;
    lim->max_mappings = 1024;
    lim->max_strings = 200000;
    lim->max_sample_types = 16;
    lim->max_labels = 64;
}

/* An error must say what it is: a status other than OK and a message. */
static inline void fuzz_check_error(enum kb_status st, const struct kb_err *err)
{
    FUZZ_REQUIRE(st != KB_OK);
    FUZZ_REQUIRE(err->status == st);
    FUZZ_REQUIRE(err->msg[0] != '\0');
    FUZZ_REQUIRE(memchr(err->msg, '\0', sizeof(err->msg)) != NULL);
    /* Outside input is never an internal error. */
    FUZZ_REQUIRE(st != KB_ERR_INTERNAL);
}

static inline void fuzz_check_str(const struct pprof_profile *p, uint32_t s)
{
    FUZZ_REQUIRE(s < p->n_strings);
}

static inline void fuzz_check_valid(const struct pprof_profile *p,
                                    const struct pprof_limits *lim)
{
    FUZZ_REQUIRE(p->n_strings >= 1);
    FUZZ_REQUIRE(p->strings[0] != NULL && p->strings[0][0] == '\0');
    FUZZ_REQUIRE(p->string_lens[0] == 0);
    for (size_t i = 0; i < p->n_strings; i++)
        FUZZ_REQUIRE(p->strings[i] != NULL);
    FUZZ_REQUIRE(p->n_samples <= lim->max_samples);
    FUZZ_REQUIRE(p->n_locations <= lim->max_locations);
    FUZZ_REQUIRE(p->n_functions <= lim->max_functions);
    FUZZ_REQUIRE(p->n_mappings <= lim->max_mappings);
    FUZZ_REQUIRE(p->n_strings <= lim->max_strings);
    FUZZ_REQUIRE(p->n_sample_types <= lim->max_sample_types);

    for (size_t i = 0; i < p->n_sample_types; i++) {
        fuzz_check_str(p, p->sample_types[i].type);
        fuzz_check_str(p, p->sample_types[i].unit);
    }
    fuzz_check_str(p, p->period_type.type);
    fuzz_check_str(p, p->period_type.unit);
    fuzz_check_str(p, p->drop_frames);
    fuzz_check_str(p, p->keep_frames);
    fuzz_check_str(p, p->default_sample_type);
    for (size_t i = 0; i < p->n_comments; i++)
        fuzz_check_str(p, p->comments[i]);
    for (size_t i = 0; i < p->n_mappings; i++) {
        fuzz_check_str(p, p->mappings[i].filename);
        fuzz_check_str(p, p->mappings[i].build_id);
    }
    for (size_t i = 0; i < p->n_functions; i++) {
        const struct pprof_function *f = &p->functions[i];
        fuzz_check_str(p, f->name);
        fuzz_check_str(p, f->system_name);
        fuzz_check_str(p, f->filename);
    }
    for (size_t i = 0; i < p->n_locations; i++) {
        const struct pprof_location *l = &p->locations[i];
        FUZZ_REQUIRE(l->mapping_id <= p->n_mappings);
        FUZZ_REQUIRE(l->n_lines <= lim->max_stack_depth);
        for (uint32_t j = 0; j < l->n_lines; j++) {
            FUZZ_REQUIRE(l->lines[j].function_id >= 1);
            FUZZ_REQUIRE(l->lines[j].function_id <= p->n_functions);
        }
    }
    for (size_t i = 0; i < p->n_samples; i++) {
        const struct pprof_sample *s = &p->samples[i];
        FUZZ_REQUIRE(s->n_locations <= lim->max_stack_depth);
        FUZZ_REQUIRE(s->n_labels <= lim->max_labels);
        for (uint32_t j = 0; j < s->n_locations; j++) {
            FUZZ_REQUIRE(s->location_ids[j] >= 1);
            FUZZ_REQUIRE(s->location_ids[j] <= p->n_locations);
        }
        if (p->n_sample_types > 0)
            FUZZ_REQUIRE(s->values != NULL);
        for (uint32_t j = 0; j < s->n_labels; j++) {
            fuzz_check_str(p, s->labels[j].key);
            fuzz_check_str(p, s->labels[j].str);
            fuzz_check_str(p, s->labels[j].num_unit);
        }
    }
    if (p->n_sample_types > 0)
        FUZZ_REQUIRE(pprof_default_sample_type(p) < p->n_sample_types);
}

static inline void fuzz_check_equal(const struct pprof_profile *a,
                                    const struct pprof_profile *b)
{
    FUZZ_REQUIRE(a->n_strings == b->n_strings);
    for (size_t i = 0; i < a->n_strings; i++) {
        FUZZ_REQUIRE(a->string_lens[i] == b->string_lens[i]);
        FUZZ_REQUIRE(memcmp(a->strings[i], b->strings[i], a->string_lens[i]) ==
                     0);
    }
    FUZZ_REQUIRE(a->n_sample_types == b->n_sample_types);
    for (size_t i = 0; i < a->n_sample_types; i++) {
        FUZZ_REQUIRE(a->sample_types[i].type == b->sample_types[i].type);
        FUZZ_REQUIRE(a->sample_types[i].unit == b->sample_types[i].unit);
    }
    FUZZ_REQUIRE(a->n_mappings == b->n_mappings);
    for (size_t i = 0; i < a->n_mappings; i++) {
        const struct pprof_mapping *x = &a->mappings[i], *y = &b->mappings[i];
        FUZZ_REQUIRE(x->memory_start == y->memory_start);
        FUZZ_REQUIRE(x->memory_limit == y->memory_limit);
        FUZZ_REQUIRE(x->file_offset == y->file_offset);
        FUZZ_REQUIRE(x->filename == y->filename);
        FUZZ_REQUIRE(x->build_id == y->build_id);
        FUZZ_REQUIRE(x->has_functions == y->has_functions);
        FUZZ_REQUIRE(x->has_filenames == y->has_filenames);
        FUZZ_REQUIRE(x->has_line_numbers == y->has_line_numbers);
        FUZZ_REQUIRE(x->has_inline_frames == y->has_inline_frames);
    }
    FUZZ_REQUIRE(a->n_functions == b->n_functions);
    for (size_t i = 0; i < a->n_functions; i++) {
        const struct pprof_function *x = &a->functions[i],
                                    *y = &b->functions[i];
        FUZZ_REQUIRE(x->name == y->name);
        FUZZ_REQUIRE(x->system_name == y->system_name);
        FUZZ_REQUIRE(x->filename == y->filename);
        FUZZ_REQUIRE(x->start_line == y->start_line);
    }
    FUZZ_REQUIRE(a->n_locations == b->n_locations);
    for (size_t i = 0; i < a->n_locations; i++) {
        const struct pprof_location *x = &a->locations[i],
                                    *y = &b->locations[i];
        FUZZ_REQUIRE(x->mapping_id == y->mapping_id);
        FUZZ_REQUIRE(x->address == y->address);
        FUZZ_REQUIRE(x->is_folded == y->is_folded);
        FUZZ_REQUIRE(x->n_lines == y->n_lines);
        for (uint32_t j = 0; j < x->n_lines; j++) {
            FUZZ_REQUIRE(x->lines[j].function_id == y->lines[j].function_id);
            FUZZ_REQUIRE(x->lines[j].line == y->lines[j].line);
        }
    }
    FUZZ_REQUIRE(a->n_samples == b->n_samples);
    for (size_t i = 0; i < a->n_samples; i++) {
        const struct pprof_sample *x = &a->samples[i], *y = &b->samples[i];
        FUZZ_REQUIRE(x->n_locations == y->n_locations);
        for (uint32_t j = 0; j < x->n_locations; j++)
            FUZZ_REQUIRE(x->location_ids[j] == y->location_ids[j]);
        for (size_t j = 0; j < a->n_sample_types; j++)
            FUZZ_REQUIRE(x->values[j] == y->values[j]);
        FUZZ_REQUIRE(x->n_labels == y->n_labels);
        for (uint32_t j = 0; j < x->n_labels; j++) {
            FUZZ_REQUIRE(x->labels[j].key == y->labels[j].key);
            FUZZ_REQUIRE(x->labels[j].str == y->labels[j].str);
            FUZZ_REQUIRE(x->labels[j].num == y->labels[j].num);
            FUZZ_REQUIRE(x->labels[j].num_unit == y->labels[j].num_unit);
        }
    }
    FUZZ_REQUIRE(a->drop_frames == b->drop_frames);
    FUZZ_REQUIRE(a->keep_frames == b->keep_frames);
    FUZZ_REQUIRE(a->time_nanos == b->time_nanos);
    FUZZ_REQUIRE(a->duration_nanos == b->duration_nanos);
    FUZZ_REQUIRE(a->period_type.type == b->period_type.type);
    FUZZ_REQUIRE(a->period_type.unit == b->period_type.unit);
    FUZZ_REQUIRE(a->period == b->period);
    FUZZ_REQUIRE(a->n_comments == b->n_comments);
    for (size_t i = 0; i < a->n_comments; i++)
        FUZZ_REQUIRE(a->comments[i] == b->comments[i]);
    FUZZ_REQUIRE(a->default_sample_type == b->default_sample_type);
}

/* Collapsed stacks of sample type `t`, into `out` (reset first). The limit
 * on `out` keeps a deep, wide profile from exhausting memory; reaching it is
 * an allowed, reported outcome. */
static inline enum kb_status fuzz_collapsed(const struct pprof_profile *p,
                                            size_t t, struct buf *out)
{
    struct kb_err err;
    kb_err_clear(&err);
    buf_reset(out);
    enum kb_status st = pprof_collapsed_write(p, t, out, &err);
    if (st != KB_OK) {
        fuzz_check_error(st, &err);
        FUZZ_REQUIRE(st == KB_ERR_LIMIT);
    }
    return st;
}

/* decode(encode(p)) must succeed and equal p; the collapsed stacks of the
 * two must be byte-identical (collapsed output is sorted, so deterministic). */
static inline void fuzz_check_roundtrip(const struct pprof_profile *p,
                                        const struct pprof_limits *lim)
{
    struct kb_err err;
    kb_err_clear(&err);
    struct buf enc;
    buf_init(&enc, BUF_NO_LIMIT);
    enum kb_status st = pprof_encode(p, &enc, &err);
    if (st != KB_OK)
        fprintf(stderr, "encode failed: %s\n", err.msg);
    FUZZ_REQUIRE(st == KB_OK);

    /* The re-encoded bytes may be larger than the input was: the count
     * limits stay, the byte limits may not apply. */
    struct pprof_limits lim2 = *lim, deflim;
    pprof_limits_default(&deflim);
    lim2.max_compressed = deflim.max_compressed;
    lim2.max_decompressed = deflim.max_decompressed;
    struct pprof_profile *q = NULL;
    st = pprof_decode(enc.data, enc.len, &lim2, &q, &err);
    if (st != KB_OK)
        fprintf(stderr, "decode of encode output failed: %s\n", err.msg);
    FUZZ_REQUIRE(st == KB_OK && q != NULL);
    fuzz_check_valid(q, &lim2);
    fuzz_check_equal(p, q);

    struct buf c1, c2;
    buf_init(&c1, 16u << 20);
    buf_init(&c2, 16u << 20);
    size_t nt = p->n_sample_types < 4 ? p->n_sample_types : 4;
    for (size_t t = 0; t < nt; t++) {
        enum kb_status s1 = fuzz_collapsed(p, t, &c1);
        enum kb_status s2 = fuzz_collapsed(q, t, &c2);
        FUZZ_REQUIRE(s1 == s2);
        if (s1 == KB_OK) {
            FUZZ_REQUIRE(c1.len == c2.len);
            FUZZ_REQUIRE(c1.len == 0 || memcmp(c1.data, c2.data, c1.len) == 0);
        }
    }
    buf_free(&c1);
    buf_free(&c2);
    pprof_free(q);
    buf_free(&enc);
}

#endif
