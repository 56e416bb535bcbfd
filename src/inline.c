/* inline.c - in-place inline command splitting (see inline.h). */
#include "inline.h"

#include "err.h"

static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the escape at line[*i] (the char after the backslash) inside double quotes. */
static char unescape(const char *line, size_t len, size_t *i)
{
    char c = line[*i];
    if (c == 'x' && *i + 2 < len && hexval(line[*i + 1]) >= 0 && hexval(line[*i + 2]) >= 0) {
        char v = (char)(hexval(line[*i + 1]) * 16 + hexval(line[*i + 2]));
        *i += 2;
        return v;
    }
    switch (c) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'b':
        return '\b';
    case 'a':
        return '\a';
    default:
        return c;
    }
}

/* Reads one word starting at line[*i] (not a separator), writing it at line[*w].
 * Returns 0, or INL_EQUOTES. */
static int read_word(char *line, size_t len, size_t *i, size_t *w)
{
    int inq = 0, insq = 0;
    for (; *i < len; (*i)++) {
        char c = line[*i];
        if (inq) {
            if (c == '\\' && *i + 1 < len) {
                (*i)++;
                line[(*w)++] = unescape(line, len, i);
            } else if (c == '"') {
                if (*i + 1 < len && !is_sep(line[*i + 1])) return INL_EQUOTES;
                inq = 0;
            } else {
                line[(*w)++] = c;
            }
        } else if (insq) {
            if (c == '\\' && *i + 1 < len && line[*i + 1] == '\'') {
                (*i)++;
                line[(*w)++] = '\'';
            } else if (c == '\'') {
                if (*i + 1 < len && !is_sep(line[*i + 1])) return INL_EQUOTES;
                insq = 0;
            } else {
                line[(*w)++] = c;
            }
        } else if (is_sep(c)) {
            break;
        } else if (c == '"') {
            inq = 1;
        } else if (c == '\'') {
            insq = 1;
        } else {
            line[(*w)++] = c;
        }
    }
    return inq || insq ? INL_EQUOTES : 0;
}

int inl_split(char *line, size_t len, size_t base, struct inl_arg *args, size_t max_args,
              size_t *argc)
{
    size_t i = 0, n = 0;
    *argc = 0;
    for (;;) {
        while (i < len && is_sep(line[i]))
            i++;
        if (i == len) break;
        if (n == max_args) return INL_EARGS;
        size_t start = i, w = i;
        int rc = read_word(line, len, &i, &w);
        if (rc != 0) return rc;
        kv_assert(w <= i);
        args[n].off = base + start;
        args[n].len = w - start;
        n++;
    }
    *argc = n;
    return INL_OK;
}
