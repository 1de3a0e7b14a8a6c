/* exporter-kit/unwind.c: frame-pointer stack walks, safe in signal handlers.
 *
 * What. A stack is the chain of frame records that code built with
 * -fno-omit-frame-pointer keeps: at fp, the caller's fp; at fp + 8, the
 * return address (x86-64 and aarch64 alike). kx_unwind follows the chain
 * from a signal's ucontext (cpu.c); kx_unwind_here from the current frame
 * (heap and mutex hooks), dropping the frames of the hooks themselves (they
 * live in their own section, kx_hooks, so they are known by address).
 *
 * Design. A frame pointer can be garbage (code built without frame pointers
 * uses rbp as a general register), so every read is checked against the
 * thread's stack: fp must lie in [sp, hi - 16], be 8-aligned, and grow
 * strictly from frame to frame, so the walk ends and never faults. `hi` is
 * the end of the readable mapping that holds sp, found once per thread by
 * parsing /proc/self/maps with open/read (async-signal-safe, no malloc) and
 * cached in initial-exec TLS together with the mapping's start; a stack
 * pointer outside the cached range (a fiber, another stack) looks it up
 * again.
 *
 * Invariants. No allocation, no locks, no libc call besides open, read and
 * close; errno is saved around them. Caller frames are stored as return
 * address - 1 so that they symbolize to the call, not to the next line.
 *
 * Elsewhere: the signal handler (cpu.c) supplies pc, fp, sp.
 */
#include "exporter-kit/kx.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static KX_TLS uintptr_t stack_lo, stack_hi;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parse "start-end perms" at the head of a /proc/self/maps line. */
static bool parse_range(const char *s, const char *end, uintptr_t *lo,
                        uintptr_t *hi, bool *readable)
{
    uintptr_t a = 0, b = 0;
    int d;
    while (s < end && (d = hexval(*s)) >= 0) {
        a = a * 16 + (uintptr_t)d;
        s++;
    }
    if (s >= end || *s++ != '-')
        return false;
    while (s < end && (d = hexval(*s)) >= 0) {
        b = b * 16 + (uintptr_t)d;
        s++;
    }
    if (s + 1 >= end || *s++ != ' ')
        return false;
    *lo = a;
    *hi = b;
    *readable = *s == 'r';
    return true;
}

/* Find the readable mapping holding `sp`. */
static bool find_stack(uintptr_t sp, uintptr_t *lo, uintptr_t *hi)
{
    int saved = errno;
    bool found = false;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto out;
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            uintptr_t a, b;
            bool r;
            if (parse_range(buf + start, buf + i, &a, &b, &r)) {
                if (sp >= a && sp < b) {
                    found = r;
                    *lo = a;
                    *hi = b;
                    goto done;
                }
                if (a > sp)
                    goto done;
            }
            start = i + 1;
        }
        /* Keep the partial line; a line longer than the buffer is dropped. */
        if (start == 0)
            have = 0;
        else {
            for (size_t i = start; i < have; i++)
                buf[i - start] = buf[i];
            have -= start;
        }
    }
done:
    close(fd);
out:
    errno = saved;
    return found;
}

/* Not instrumented by AddressSanitizer: the walk reads the interrupted
 * thread's stack words wherever its frame pointers lead, always inside
 * that thread's stack mapping (checked above each read), and may so read
 * a redzone ASan put between another function's locals (code without
 * frame pointers leaves a stale or foreign value in the chain). */
__attribute__((no_sanitize("address"))) unsigned
kx_unwind(uintptr_t pc, uintptr_t fp, uintptr_t sp, uintptr_t *out,
          unsigned max)
{
    unsigned n = 0;
    if (max == 0)
        return 0;
    if (pc != 0)
        out[n++] = pc;
    if (sp < stack_lo || sp >= stack_hi) {
        uintptr_t lo, hi;
        if (!find_stack(sp, &lo, &hi))
            return n;
        stack_lo = lo;
        stack_hi = hi;
    }
    uintptr_t hi = stack_hi;
    while (n < max) {
        if (fp < sp || fp > hi - 2 * sizeof(uintptr_t) ||
            (fp & (sizeof(uintptr_t) - 1)) != 0)
            break;
        const uintptr_t *rec = (const uintptr_t *)fp;
        uintptr_t next = rec[0], ret = rec[1];
        if (ret < 2 * KX_PC_MAX_PSEUDO)
            break;
        out[n++] = ret - 1;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

static bool in_hooks(uintptr_t pc)
{
    return pc >= (uintptr_t)__start_kx_hooks && pc < (uintptr_t)__stop_kx_hooks;
}

__attribute__((noinline)) unsigned kx_unwind_here(uintptr_t *out, unsigned max)
{
    uintptr_t tmp[KX_MAX_DEPTH + 8];
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    /* The first record is our caller's (a hook's) return address: frames in
     * the hooks section are dropped, at most 8 of them. */
    unsigned n = kx_unwind(0, fp, (uintptr_t)&tmp[0], tmp, KX_MAX_DEPTH + 8);
    unsigned i = 0;
    while (i < n && i < 8 && in_hooks(tmp[i]))
        i++;
    unsigned k = 0;
    for (; i < n && k < max; i++)
        out[k++] = tmp[i];
    return k;
}
