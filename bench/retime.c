/* bench/retime.c: replay real pprof files at new times, for bench/tsdb.
 *
 *     retime [-m K] [-s SEED] [-p] OUT T0_NS STEP_NS COUNT IN...
 *
 * writes COUNT profiles, profile k with time_nanos = T0_NS + k * STEP_NS,
 * encoded with pprof_encode: as files OUT%06d.pb.gz (OUT is a path
 * prefix), or with -p one after the other into the single file OUT (a
 * "pack": the gzip'd profiles concatenated, located by the offsets
 * printed; many small files are slow to create and delete). So a pool of
 * real profiles becomes a series scraped every STEP_NS for as long as the
 * benchmark wants, which fetching would take hours to give.
 *
 * Inputs whose samples (location addresses and values) equal an earlier
 * input's are dropped first (a note on stderr gives the count left), so
 * the pool holds distinct profiles only ("retime: N distinct profiles of M
 * inputs" on stderr). Then, with SEED (default 1)
 * seeding the choices:
 *   -m 1 (default)  file k is the pool's profile perm[k % N] for a random
 *                   permutation perm of the N inputs: no profile repeats
 *                   within any N consecutive files;
 *   -m K (K > 1)    file k is the merge (pprof_merger) of K distinct
 *                   inputs drawn at random: for CPU profiles, ten real
 *                   1 s profiles make one 10 s profile (duration_nanos is
 *                   their sum, as go tool pprof merges it), and the
 *                   files of a series do not repeat.
 * time_nanos is the only field set here; everything else is what the
 * inputs held (or their merge).
 *
 * Prints one line per profile written, tab-separated, for the benchmark's
 * bookkeeping: path, time in ms, bytes of the input file it came from (as
 * served; 0 for a merge), bytes written (re-encoded), sample types,
 * samples, and the offset of its bytes in the file (0 without -p).
 *
 * Built by bench/tsdb with cc against a build tree's libraries; not part
 * of the build, never run by make check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "pprof/profile.h"

static long long file_bytes(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *v = x;
    return 0;
}

/* splitmix64: a small seeded generator, so runs are reproducible. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

static void shuffle(size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0x100000001b3ull;
}

/* A hash of the samples: each one's location addresses and values. */
static uint64_t samples_hash(const struct pprof_profile *p)
{
    uint64_t h = mix(0, p->n_samples);
    for (size_t i = 0; i < p->n_samples; i++) {
        const struct pprof_sample *s = &p->samples[i];
        h = mix(h, s->n_locations);
        for (uint32_t k = 0; k < s->n_locations; k++)
            h = mix(h, p->locations[s->location_ids[k] - 1].address);
        for (size_t k = 0; k < p->n_sample_types; k++)
            h = mix(h, (uint64_t)s->values[k]);
    }
    return h;
}

int main(int argc, char **argv)
{
    int64_t t0, step, count, merge = 1, seed = 1;
    bool pack = false;
    int c;
    while ((c = getopt(argc, argv, "m:s:p")) != -1) {
        if (c == 'm' && parse_i64(optarg, &merge) == 0 && merge >= 1)
            continue;
        if (c == 's' && parse_i64(optarg, &seed) == 0)
            continue;
        if (c == 'p') {
            pack = true;
            continue;
        }
        optind = argc + 1;
        break;
    }
    if (optind + 5 > argc || parse_i64(argv[optind + 1], &t0) ||
        parse_i64(argv[optind + 2], &step) ||
        parse_i64(argv[optind + 3], &count) || count < 0) {
        fprintf(stderr, "usage: retime [-m K] [-s SEED] [-p] OUT T0_NS "
                        "STEP_NS COUNT IN...\n");
        return 2;
    }
    const char *outname = argv[optind];
    char **in = argv + optind + 4;
    size_t nin = (size_t)(argc - optind - 4), n = 0;
    FILE *packf = NULL;
    long long offset = 0;
    struct buf enc;
    buf_init(&enc, BUF_NO_LIMIT);
    struct pprof_profile **p = calloc(nin, sizeof(*p));
    long long *in_bytes = calloc(nin, sizeof(*in_bytes));
    uint64_t *hashes = calloc(nin, sizeof(*hashes));
    size_t *order = calloc(nin, sizeof(*order));
    struct pprof_profile *merged = NULL;
    int rc = 1;
    rng_state = (uint64_t)seed;
    if (!p || !in_bytes || !hashes || !order) {
        fprintf(stderr, "retime: out of memory\n");
        goto done;
    }
    if (pack && (packf = fopen(outname, "wb")) == NULL) {
        fprintf(stderr, "retime: %s: %s\n", outname, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < nin; i++) {
        struct kb_err err = {0};
        struct pprof_profile *q = NULL;
        if (pprof_read_file(in[i], NULL, &q, &err) != KB_OK) {
            fprintf(stderr, "retime: %s\n", err.msg);
            goto done;
        }
        uint64_t h = samples_hash(q);
        size_t k = 0;
        while (k < n && hashes[k] != h)
            k++;
        if (k < n) {
            pprof_free(q);
            continue;
        }
        hashes[n] = h;
        in_bytes[n] = file_bytes(in[i]);
        p[n++] = q;
    }
    if ((size_t)merge > n) {
        fprintf(stderr,
                "retime: -m %lld needs as many distinct inputs, "
                "there are %zu\n",
                (long long)merge, n);
        goto done;
    }
    fprintf(stderr, "retime: %zu distinct profiles of %zu inputs\n", n, nin);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    shuffle(order, n);
    for (int64_t k = 0; k < count; k++) {
        struct kb_err err = {0};
        struct pprof_profile *out;
        long long bytes = 0;
        if (merge == 1) {
            size_t i = order[(size_t)k % n];
            out = p[i];
            bytes = in_bytes[i];
        } else {
            /* K distinct inputs: the first K of a partial shuffle. */
            for (size_t i = 0; i < (size_t)merge; i++) {
                size_t j = i + rng_below(n - i), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            struct pprof_merger *m = pprof_merger_new();
            for (size_t i = 0; i < (size_t)merge; i++) {
                if (pprof_merger_add(m, p[order[i]], &err) != KB_OK) {
                    fprintf(stderr, "retime: merge: %s\n", err.msg);
                    pprof_merger_free(m);
                    goto done;
                }
            }
            pprof_free(merged);
            merged = out = pprof_merger_finish(m);
        }
        char path[4096];
        long long bytes_out;
        out->time_nanos = t0 + k * step;
        if (pack) {
            snprintf(path, sizeof(path), "%s", outname);
            buf_reset(&enc);
            if (pprof_encode(out, &enc, &err) != KB_OK) {
                fprintf(stderr, "retime: %s\n", err.msg);
                goto done;
            }
            if (fwrite(enc.data, 1, enc.len, packf) != enc.len) {
                fprintf(stderr, "retime: %s: %s\n", outname, strerror(errno));
                goto done;
            }
            bytes_out = (long long)enc.len;
        } else {
            snprintf(path, sizeof(path), "%s%06" PRId64 ".pb.gz", outname, k);
            if (pprof_write_file(out, path, &err) != KB_OK) {
                fprintf(stderr, "retime: %s\n", err.msg);
                goto done;
            }
            bytes_out = file_bytes(path);
        }
        printf("%s\t%" PRId64 "\t%lld\t%lld\t%zu\t%zu\t%lld\n", path,
               out->time_nanos / 1000000, bytes, bytes_out, out->n_sample_types,
               out->n_samples, pack ? offset : 0);
        offset += bytes_out;
    }
    rc = 0;
done:
    for (size_t i = 0; p && i < n; i++)
        pprof_free(p[i]);
    pprof_free(merged);
    free(p);
    free(in_bytes);
    free(hashes);
    free(order);
    buf_free(&enc);
    if (packf && fclose(packf) != 0) {
        perror("retime: pack");
        rc = 1;
    }
    if (fflush(stdout) != 0) {
        perror("retime: stdout");
        rc = 1;
    }
    return rc;
}
