/* promql-like/lexer.h: the tokens of a Kiln query (PromQL's lexical
 * grammar) and the lexer the parser pulls them from. Internal to
 * promql-like/: the public entry point is pql_parse (parser.h). See
 * lexer.c. */
#ifndef KILN_PROMQL_LIKE_LEXER_H
#define KILN_PROMQL_LIKE_LEXER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/status.h"

enum pql_tok {
    PQL_T_EOF = 0,
    PQL_T_IDENT,    /* foo, job:rate5m (':' only outside [] and {}) */
    PQL_T_KEYWORD,  /* and, by, offset, sum, ... (see enum pql_kw) */
    PQL_T_NUMBER,   /* 1, 1.5e3, 0x1f, Inf, NaN */
    PQL_T_DURATION, /* 1h30m */
    PQL_T_STRING,   /* "a", 'a', `a` */
    PQL_T_LPAREN,
    PQL_T_RPAREN,
    PQL_T_LBRACE,
    PQL_T_RBRACE,
    PQL_T_LBRACKET,
    PQL_T_RBRACKET,
    PQL_T_COMMA,
    PQL_T_COLON, /* only inside [] */
    PQL_T_AT,
    PQL_T_ADD,
    PQL_T_SUB,
    PQL_T_MUL,
    PQL_T_DIV,
    PQL_T_MOD,
    PQL_T_POW,
    PQL_T_EQLC, /* == */
    PQL_T_NEQ,  /* != */
    PQL_T_GTR,
    PQL_T_LSS,
    PQL_T_GTE,
    PQL_T_LTE,
    PQL_T_ASSIGN,    /* = */
    PQL_T_EQL_REGEX, /* =~ */
    PQL_T_NEQ_REGEX, /* !~ */
};

/* Keywords, matched case-insensitively as Prometheus does (`SUM BY`). */
enum pql_kw {
    PQL_KW_NONE = 0,
    PQL_KW_AND,
    PQL_KW_OR,
    PQL_KW_UNLESS,
    PQL_KW_ATAN2,
    PQL_KW_BY,
    PQL_KW_WITHOUT,
    PQL_KW_ON,
    PQL_KW_IGNORING,
    PQL_KW_GROUP_LEFT,
    PQL_KW_GROUP_RIGHT,
    PQL_KW_BOOL,
    PQL_KW_OFFSET,
    PQL_KW_SUM, /* the aggregators, in enum pql_aggop's order */
    PQL_KW_AVG,
    PQL_KW_MIN,
    PQL_KW_MAX,
    PQL_KW_COUNT,
    PQL_KW_GROUP,
    PQL_KW_STDDEV,
    PQL_KW_STDVAR,
    PQL_KW_TOPK,
    PQL_KW_BOTTOMK,
    PQL_KW_QUANTILE,
    PQL_KW_COUNT_VALUES,
};

/* One token: its kind, where it is (text[pos, pos+len)) and its value. */
struct pql_token {
    enum pql_tok type;
    uint32_t pos;
    uint32_t len;
    enum pql_kw kw;  /* PQL_T_KEYWORD */
    double num;      /* PQL_T_NUMBER */
    int64_t ms;      /* PQL_T_DURATION: > 0 */
    const char *str; /* PQL_T_STRING: decoded, in the arena, no NUL bytes */
};

/* The lexer reads text[0..len) (which pql_parse has checked to be valid
 * UTF-8 and at most UINT32_MAX bytes); decoded strings go to `arena`. It
 * counts open brackets and braces, since ':' is a token inside [] and a
 * word is always a plain identifier inside {} (label names may be
 * keywords). */
struct pql_lexer {
    const char *text;
    size_t len;
    size_t pos;
    int brackets;
    int braces;
    size_t max_string;
    struct arena *arena;
};

void pql_lexer_init(struct pql_lexer *lx, const char *text, size_t len,
                    size_t max_string, struct arena *arena);

/* The next token into *tok. Errors (KB_ERR_INVALID, or KB_ERR_LIMIT for a
 * string past max_string) fill `err` with a positioned message. */
enum kb_status pql_lex(struct pql_lexer *lx, struct pql_token *tok,
                       struct kb_err *err);

/* Whether the token can be a label name: an identifier without ':', a
 * keyword, or the words Inf and NaN. */
bool pql_token_is_label(const struct pql_lexer *lx,
                        const struct pql_token *tok);

/* Write a description of `tok` for "unexpected ..." messages: `"}"`,
 * `"by"`, `identifier "foo"`, `number "1"`, `string "a"`, `end of input`. */
void pql_token_describe(const struct pql_lexer *lx, const struct pql_token *tok,
                        char *out, size_t size);

/* Fill `err` with `st` and "<line>:<col>: <message>" for byte offset `pos`
 * of `text`; returns `st`. */
enum kb_status pql_errat(struct kb_err *err, enum kb_status st,
                         const char *text, size_t len, size_t pos,
                         const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
enum kb_status pql_verrat(struct kb_err *err, enum kb_status st,
                          const char *text, size_t len, size_t pos,
                          const char *fmt, va_list ap);

#endif
