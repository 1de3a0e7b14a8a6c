/* base/log.c: logfmt logging.
 *
 * What. Every Kiln program logs the way Prometheus does: one logfmt line per
 * event with ts (RFC 3339 UTC, milliseconds), level, component, msg, then
 * the event's own key=value pairs. Operators grep these lines and feed them
 * to Loki; the fixed leading fields and the quoting rules are the contract.
 *
 * Quoting (the go-logfmt rules). A value is written bare unless it is
 * empty or holds a byte <= 0x20 (space, control), '=', '"', DEL, or bytes
 * that are not valid UTF-8; then it is written in double quotes with \\,
 * \", \n, \r and \t escaped, other control bytes as \u00XX, and each invalid
 * UTF-8 byte as \ufffd. Valid non-ASCII UTF-8 stays as it is. Values longer
 * than LOG_VALUE_MAX bytes are cut and end in "..." (inside quotes). Keys
 * come from code, not users; bytes that would break the format ('=', '"',
 * spaces, controls) are replaced by '_'.
 *
 * Threads. The minimum level and the clock are atomics, read without a
 * lock. Each event is formatted into its own buffer outside any lock, then
 * written with a single fwrite and flushed under one mutex, so lines from
 * different threads never interleave. The output stream is guarded by the
 * same mutex.
 *
 * Ownership: the logger owns nothing but its buffers for the duration of a
 * call; the output FILE belongs to whoever set it.
 */
#include "base/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/buf.h"
#include "base/text.h"
#include "base/timefmt.h"

typedef int64_t (*log_clock_fn)(void);

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_out; /* NULL = stderr; guarded by log_mu */
static atomic_int log_min = LOG_LEVEL_INFO;
static _Atomic(log_clock_fn) log_clock;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *log_level_str(enum log_level level)
{
    if ((unsigned)level > LOG_LEVEL_ERROR)
        return "unknown";
    return level_names[level];
}

enum kb_status log_level_parse(const char *s, enum log_level *out,
                               struct kb_err *err)
{
    for (int i = LOG_LEVEL_DEBUG; i <= LOG_LEVEL_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return KB_OK;
        }
    }
    char q[KB_EXCERPT_MAX];
    return kb_errf(err, KB_ERR_INVALID,
                   "unknown log level \"%s\" (want debug, info, warn or "
                   "error)",
                   kb_excerpt(q, sizeof(q), s, strlen(s)));
}

void log_set_level(enum log_level level)
{
    atomic_store(&log_min, (int)level);
}

enum log_level log_get_level(void)
{
    return (enum log_level)atomic_load(&log_min);
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load(&log_min);
}

void log_set_output(FILE *f)
{
    pthread_mutex_lock(&log_mu);
    log_out = f;
    pthread_mutex_unlock(&log_mu);
}

void log_set_clock(int64_t (*now_ms)(void))
{
    atomic_store(&log_clock, now_ms);
}

/* ------------------------------------------------------------ formatting */

static void put_key(struct buf *b, const char *k)
{
    if (*k == '\0') {
        buf_putc(b, '_');
        return;
    }
    for (; *k; k++) {
        unsigned char c = (unsigned char)*k;
        bool bad = c <= 0x20 || c == '=' || c == '"' || c == 0x7F;
        buf_putc(b, bad ? '_' : (char)c);
    }
}

static bool needs_quote(const uint8_t *s, size_t n)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c <= 0x20 || c == '=' || c == '"' || c == 0x7F)
            return true;
        if (c >= 0x80) {
            size_t k = kb_utf8_seq(s + i, n - i, NULL);
            if (k == 0)
                return true;
            i += k - 1;
        }
    }
    return false;
}

static void put_value(struct buf *b, const char *v)
{
    const uint8_t *s = (const uint8_t *)v;
    size_t n = strlen(v);
    bool cut = n > LOG_VALUE_MAX;
    if (cut)
        n = LOG_VALUE_MAX;
    if (!cut && !needs_quote(s, n)) {
        buf_append(b, s, n);
        return;
    }
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c == '\n') {
            buf_append(b, "\\n", 2);
        } else if (c == '\r') {
            buf_append(b, "\\r", 2);
        } else if (c == '\t') {
            buf_append(b, "\\t", 2);
        } else if (c < 0x20 || c == 0x7F) {
            buf_printf(b, "\\u%04x", c);
        } else if (c < 0x80) {
            buf_putc(b, (char)c);
        } else {
            size_t k = kb_utf8_seq(s + i, n - i, NULL);
            if (k == 0) {
                buf_append(b, "\\ufffd", 6);
            } else {
                buf_append(b, s + i, k);
                i += k - 1;
            }
        }
    }
    if (cut)
        buf_append(b, "...", 3);
    buf_putc(b, '"');
}

static void put_field(struct buf *b, const char *k, const char *v)
{
    buf_putc(b, ' ');
    put_key(b, k);
    buf_putc(b, '=');
    put_value(b, v);
}

static void emit(const struct buf *line)
{
    pthread_mutex_lock(&log_mu);
    FILE *f = log_out ? log_out : stderr;
    fwrite(line->data, 1, line->len, f);
    fflush(f);
    pthread_mutex_unlock(&log_mu);
}

/* Start a line: ts, level, component, msg. */
static void begin(struct buf *b, enum log_level level, const char *component,
                  const char *msg)
{
    log_clock_fn clock = atomic_load(&log_clock);
    char ts[KB_TIME_STR_MAX];
    kb_time_format(clock ? clock() : kb_now_ms(), ts);
    buf_puts(b, "ts=");
    buf_puts(b, ts);
    buf_puts(b, " level=");
    buf_puts(b, log_level_str(level));
    if (component)
        put_field(b, "component", component);
    put_field(b, "msg", msg ? msg : "");
}

void log_vkv(enum log_level level, const char *component, const char *msg,
             va_list ap)
{
    if (!log_enabled(level))
        return;
    struct buf b;
    buf_init(&b, BUF_NO_LIMIT);
    begin(&b, level, component, msg);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        if (v == NULL) {
            buf_putc(&b, ' ');
            put_key(&b, k);
            buf_puts(&b, "=(MISSING)");
            break;
        }
        put_field(&b, k, v);
    }
    buf_putc(&b, '\n');
    emit(&b);
    buf_free(&b);
}

void log_kv(enum log_level level, const char *component, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_vkv(level, component, msg, ap);
    va_end(ap);
}

#define LOG_AT(fn, level)                                                      \
    void fn(const char *component, const char *msg, ...)                       \
    {                                                                          \
        va_list ap;                                                            \
        va_start(ap, msg);                                                     \
        log_vkv(level, component, msg, ap);                                    \
        va_end(ap);                                                            \
    }

LOG_AT(log_debug, LOG_LEVEL_DEBUG)
LOG_AT(log_info, LOG_LEVEL_INFO)
LOG_AT(log_warn, LOG_LEVEL_WARN)
LOG_AT(log_error, LOG_LEVEL_ERROR)

void log_msgf(enum log_level level, const char *component, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    struct buf msg, b;
    buf_init(&msg, BUF_NO_LIMIT);
    buf_init(&b, BUF_NO_LIMIT);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    begin(&b, level, component, buf_cstr(&msg));
    buf_putc(&b, '\n');
    emit(&b);
    buf_free(&msg);
    buf_free(&b);
}
