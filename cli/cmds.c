/*
 * cmds.c — the command table from COMMAND DOCS, suggestions and syntax units. See cmds.h.
 */
#include "cmds.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A syntax string being built from Redis's argument descriptions; cut when full. */
struct syntax_buf {
    char text[CMDS_SYNTAX_BYTES_MAX];
    size_t len;
    int cut;
};

void cmds_init(struct cmds *t)
{
    memset(t, 0, sizeof(*t));
}

static void entry_free(struct cmds_entry *e)
{
    free(e->name);
    free(e->syntax);
    free(e->summary);
    free(e->group);
    free(e->since);
    memset(e, 0, sizeof(*e));
}

void cmds_deinit(struct cmds *t)
{
    for (size_t i = 0; i < t->n; i++)
        entry_free(&t->v[i]);
    free(t->v);
    cmds_init(t);
}

static int is_text(const struct rr_reply *r)
{
    return r != NULL && (r->type == RR_STRING || r->type == RR_STATUS || r->type == RR_VERBATIM);
}

static int is_pairs(const struct rr_reply *r)
{
    return r != NULL && (r->type == RR_MAP || r->type == RR_ARRAY) && r->count % 2 == 0;
}

/* The value under key in a map (or a flat key/value array), or NULL. */
static const struct rr_reply *field(const struct rr_reply *map, const char *key)
{
    size_t klen = strlen(key);

    if (!is_pairs(map)) return NULL;
    for (size_t i = 0; i + 1 < map->count; i += 2) {
        const struct rr_reply *k = &map->elements[i];

        if (is_text(k) && k->str_len == klen && memcmp(k->str, key, klen) == 0)
            return &map->elements[i + 1];
    }
    return NULL;
}

/* An owned NUL-terminated copy of a text field ("" when missing), or NULL without memory. */
static char *field_dup(const struct rr_reply *map, const char *key)
{
    const struct rr_reply *v = field(map, key);

    return strndup(is_text(v) ? v->str : "", is_text(v) ? v->str_len : 0);
}

static int field_is(const struct rr_reply *map, const char *key, const char *want)
{
    const struct rr_reply *v = field(map, key);

    return is_text(v) && v->str_len == strlen(want) && memcmp(v->str, want, v->str_len) == 0;
}

static int has_flag(const struct rr_reply *arg, const char *flag)
{
    const struct rr_reply *flags = field(arg, "flags");

    if (flags == NULL || (flags->type != RR_ARRAY && flags->type != RR_SET)) return 0;
    for (size_t i = 0; i < flags->count; i++) {
        const struct rr_reply *f = &flags->elements[i];

        if (is_text(f) && f->str_len == strlen(flag) && memcmp(f->str, flag, f->str_len) == 0)
            return 1;
    }
    return 0;
}

static void sb_add(struct syntax_buf *b, const char *s, size_t n)
{
    if (b->cut) return;
    if (b->len + n + 4 > sizeof(b->text)) { /* room is always kept for "...\0" */
        memcpy(b->text + b->len, "...", 4);
        b->len += 3;
        b->cut = 1;
        return;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}

static void sb_puts(struct syntax_buf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_field(struct syntax_buf *b, const struct rr_reply *arg, const char *key)
{
    const struct rr_reply *v = field(arg, key);

    if (is_text(v)) sb_add(b, v->str, v->str_len);
}

static void arg_syntax(struct syntax_buf *b, const struct rr_reply *arg, int depth);

/* One argument without its optional/multiple decoration. */
static void arg_core(struct syntax_buf *b, const struct rr_reply *arg, int depth)
{
    const struct rr_reply *kids = field(arg, "arguments");
    int oneof = field_is(arg, "type", "oneof");

    if (field_is(arg, "type", "pure-token")) {
        sb_field(b, arg, "token");
        return;
    }
    if (field(arg, "token") != NULL) {
        sb_field(b, arg, "token");
        sb_puts(b, " ");
    }
    if (kids == NULL || kids->type != RR_ARRAY) {
        sb_field(b, arg, "name");
        return;
    }
    for (size_t i = 0; i < kids->count; i++) {
        if (i > 0) sb_puts(b, oneof ? " | " : " ");
        arg_syntax(b, &kids->elements[i], depth + 1);
    }
}

/* One argument as redis-cli shows it: "[x]" when optional, "x [x ...]" when repeated. */
static void arg_syntax(struct syntax_buf *b, const struct rr_reply *arg, int depth)
{
    int optional = has_flag(arg, "optional"), group = field_is(arg, "type", "oneof");
    size_t start;

    if (depth >= CMDS_ARG_DEPTH_MAX) {
        sb_puts(b, "...");
        return;
    }
    sb_puts(b, optional ? "[" : group ? "<" : "");
    start = b->len;
    arg_core(b, arg, depth);
    if (has_flag(arg, "multiple") && !b->cut) {
        char once[CMDS_SYNTAX_BYTES_MAX];
        size_t n = b->len - start;

        memcpy(once, b->text + start, n);
        sb_puts(b, " [");
        sb_add(b, once, n);
        sb_puts(b, " ...]");
    }
    sb_puts(b, optional ? "]" : group ? ">" : "");
}

/* The syntax of one command: Panda's "syntax" string, or one built from "arguments". */
static char *docs_syntax(const struct rr_reply *docs)
{
    const struct rr_reply *args = field(docs, "arguments");
    struct syntax_buf b = {.len = 0};

    if (field(docs, "syntax") != NULL || args == NULL || args->type != RR_ARRAY)
        return field_dup(docs, "syntax");
    b.text[0] = '\0';
    for (size_t i = 0; i < args->count; i++) {
        if (i > 0) sb_puts(&b, " ");
        arg_syntax(&b, &args->elements[i], 0);
    }
    return strdup(b.text);
}

/* Fills e from one name and docs pair. 0, 1 to skip it, or -1 without memory. */
static int entry_load(struct cmds_entry *e, const struct rr_reply *name,
                      const struct rr_reply *docs)
{
    if (!is_text(name) || name->str_len == 0 || name->str_len >= CMDS_NAME_BYTES_MAX ||
        memchr(name->str, '|', name->str_len) != NULL || !is_pairs(docs))
        return 1;
    e->name = strndup(name->str, name->str_len);
    e->syntax = docs_syntax(docs);
    e->summary = field_dup(docs, "summary");
    e->group = field_dup(docs, "group");
    e->since = field_dup(docs, "since");
    if (!e->name || !e->syntax || !e->summary || !e->group || !e->since) return -1;
    for (char *p = e->name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

static int load_fail(struct cmds *t, struct cmds_err *err, int code, const char *msg)
{
    cmds_deinit(t);
    err->code = code;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return -1;
}

int cmds_load(struct cmds *t, const struct rr_reply *docs, struct cmds_err *err)
{
    size_t pairs;

    cmds_deinit(t);
    err->code = CMDS_OK;
    err->msg[0] = '\0';
    if (!is_pairs(docs)) return load_fail(t, err, CMDS_EPROTO, "not a COMMAND DOCS reply");
    pairs = docs->count / 2 < CMDS_MAX ? docs->count / 2 : CMDS_MAX;
    t->v = calloc(pairs ? pairs : 1, sizeof(*t->v));
    if (t->v == NULL) return load_fail(t, err, CMDS_ENOMEM, "out of memory");
    for (size_t i = 0; i < pairs; i++) {
        int rc = entry_load(&t->v[t->n], &docs->elements[2 * i], &docs->elements[2 * i + 1]);

        if (rc < 0) {
            t->n++; /* so that cmds_deinit() frees what it holds */
            return load_fail(t, err, CMDS_ENOMEM, "out of memory");
        }
        if (rc == 0) t->n++;
    }
    assert(t->n <= pairs);
    return 0;
}

const struct cmds_entry *cmds_find(const struct cmds *t, const char *name, size_t len)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(t->v[i].name) == len && strncasecmp(t->v[i].name, name, len) == 0)
            return &t->v[i];
    }
    return NULL;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;

    return m < c ? m : c;
}

size_t cmds_distance(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Three rows of the optimal-string-alignment table are enough. */
    size_t rows[3][CMDS_NAME_BYTES_MAX + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *tmp;

    if (alen >= CMDS_NAME_BYTES_MAX || blen >= CMDS_NAME_BYTES_MAX) return CMDS_NAME_BYTES_MAX;
    for (size_t j = 0; j <= blen; j++)
        prev[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);

            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb));
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        tmp = prev2;
        prev2 = prev;
        prev = cur;
        cur = tmp;
    }
    return prev[blen];
}

const struct cmds_entry *cmds_suggest(const struct cmds *t, const char *name, size_t len)
{
    size_t best = CMDS_NAME_BYTES_MAX, limit = len <= 4 ? 1 : 2;
    const struct cmds_entry *found = NULL;

    if (len == 0 || cmds_find(t, name, len) != NULL) return NULL;
    for (size_t i = 0; i < t->n; i++) {
        size_t d = cmds_distance(name, len, t->v[i].name, strlen(t->v[i].name));

        if (d < best) {
            best = d;
            found = &t->v[i];
        }
    }
    return best <= limit ? found : NULL;
}

/* Skips spaces, then returns the end of the unit starting there (a word or a group). */
static const char *unit_end(const char *s)
{
    int depth = 0;

    for (; *s != '\0' && (depth > 0 || *s != ' '); s++) {
        if (*s == '[' || *s == '<') depth++;
        if ((*s == ']' || *s == '>') && depth > 0) depth--;
    }
    return s;
}

static const char *skip_spaces(const char *s)
{
    while (*s == ' ')
        s++;
    return s;
}

const char *cmds_syntax_rest(const char *syntax, size_t nargs)
{
    const char *s = skip_spaces(syntax);

    for (size_t i = 0; i < nargs && *s != '\0' && *s != '[' && *s != '<'; i++)
        s = skip_spaces(unit_end(s));
    return s;
}

int cmds_arg_is_key(const char *syntax, size_t argno)
{
    const char *s, *end;

    if (argno == 0) return 0;
    s = cmds_syntax_rest(syntax, argno - 1);
    while (*s == '[' || *s == '<')
        s++;
    for (end = s; islower((unsigned char)*end) || *end == '-' || *end == '_'; end++)
        ;
    return end - s >= 3 && strncmp(end - 3, "key", 3) == 0;
}
