/* base/text.c: UTF-8 validation and error-message excerpts.
 *
 * Design. Several parts of base/ must decide what is valid UTF-8: label
 * values (Prometheus requires UTF-8), the JSON writer (which replaces bad
 * bytes), the log writer (which quotes them). They all use kb_utf8_seq,
 * which accepts exactly the well-formed sequences of Unicode's table 3-7:
 * no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF. A byte that does not start a well-formed sequence is invalid on
 * its own (length 0), which lets callers replace bad bytes one at a time, the
 * way Go does.
 *
 * kb_excerpt exists because error messages quote outside input ("bad
 * duration \"1x\"") and that input may be huge, contain newlines, or be
 * binary; the excerpt is short, printable and one line.
 *
 * Nothing here allocates.
 */
#include "base/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t kb_utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    uint8_t c = s[0];
    if (c < 0x80) {
        if (cp)
            *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0, C1 or F5..FF */
    }
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    v = (v << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (cp)
        *cp = v;
    return len;
}

bool kb_utf8_valid(const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = kb_utf8_seq(s + i, n - i, NULL);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

char *kb_excerpt(char *out, size_t size, const void *p, size_t n)
{
    const uint8_t *s = p;
    size_t o = 0;
    if (size < 8) {
        if (size)
            out[0] = '\0';
        return out;
    }
    size_t room = size - 4; /* keep space for "..." and the NUL */
    size_t i;
    for (i = 0; i < n; i++) {
        uint8_t c = s[i];
        size_t need = (c >= 0x20 && c < 0x7F) ? 1 : 4;
        if (o + need > room)
            break;
        if (need == 1)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, 5, "\\x%02X", c);
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

bool kb_size_parse(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},    {"B", 0},   {"KB", 10},
                 {"MB", 20}, {"GB", 30}, {"TB", 40}};
    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return false;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (v > (UINT64_MAX >> units[i].shift))
            return false;
        *out = (uint64_t)v << units[i].shift;
        return true;
    }
    return false;
}
