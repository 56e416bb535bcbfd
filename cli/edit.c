/*
 * edit.c — libedit glue: prompt, history file, completion and hints. See edit.h.
 */
#include "edit.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#define ED_HINT_COLOR "\033[90m" /* bright black: grey on most terminals, as redis-cli */
#define ED_ESC_BYTES  32         /* one escape sequence we write */
#define ED_CTRL_D     4          /* on an empty line: end of input */

struct ed {
    EditLine *el;
    History *hist;
    struct ed_hooks hooks;
    char prompt[ED_PROMPT_BYTES_MAX];
};

void ed_list_init(struct ed_list *list)
{
    memset(list, 0, sizeof(*list));
}

void ed_list_deinit(struct ed_list *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    ed_list_init(list);
}

int ed_list_add(struct ed_list *list, const char *s, size_t n)
{
    for (size_t i = 0; i < list->n; i++) {
        if (strlen(list->items[i]) == n && memcmp(list->items[i], s, n) == 0) return 0;
    }
    if (list->n == list->cap) {
        size_t cap = list->cap == 0 ? 16 : list->cap * 2;
        char **items = realloc(list->items, cap * sizeof(*items));

        if (items == NULL) return -1;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n] = strndup(s, n);
    if (list->items[list->n] == NULL) return -1;
    list->n++;
    return 0;
}

static struct ed *ed_of(EditLine *el)
{
    void *ed = NULL;

    el_get(el, EL_CLIENTDATA, &ed);
    assert(ed != NULL);
    return ed;
}

static char *prompt_fn(EditLine *el)
{
    return ed_of(el)->prompt;
}

static void term_write(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);

        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the screen is best effort */
        s += w;
        n -= (size_t)w;
    }
}

/* Columns from the cursor to the end of the line, or -1 when some character is not one
 * column wide (then the hint's place is not known). *line_cols gets the whole line's. */
static int tail_columns(EditLine *el, int *line_cols)
{
    const LineInfoW *li = el_wline(el);
    int tail = 0, all = 0;

    for (const wchar_t *p = li->buffer; p < li->lastchar; p++) {
        if (wcwidth(*p) != 1) return -1;
        all++;
        tail += p >= li->cursor;
    }
    *line_cols = all;
    return tail;
}

/* Moves the cursor right by n columns (nothing for 0: "\033[0C" moves one). */
static void move_right(int n)
{
    char esc[ED_ESC_BYTES];

    if (n > 0) term_write(esc, (size_t)snprintf(esc, sizeof(esc), "\033[%dC", n));
}

/* Draws the hint after the line and puts the cursor back. Returns 1 if it drew one. */
static int hint_draw(struct ed *ed)
{
    const LineInfo *li = el_line(ed->el);
    int cols = 0, line_cols = 0, tail = tail_columns(ed->el, &line_cols), room;
    const char *hint;
    size_t n;

    if (tail < 0 || el_get(ed->el, EL_GETTC, "co", &cols) != 0) return 0;
    hint = ed->hooks.hint(ed->hooks.ctx, li->buffer, (size_t)(li->lastchar - li->buffer));
    room = cols - (int)strlen(ed->prompt) - line_cols - 1; /* never reach the last column */
    if (hint == NULL || *hint == '\0' || room <= 0) return 0;
    n = strlen(hint) < (size_t)room ? strlen(hint) : (size_t)room;
    assert(n > 0 && (int)n <= room);
    term_write("\0337", 2); /* save the cursor */
    move_right(tail);
    term_write(ED_HINT_COLOR, strlen(ED_HINT_COLOR));
    term_write(hint, n);
    term_write("\033[0m\0338", 6); /* plain colour, restore the cursor */
    return 1;
}

static void hint_erase(struct ed *ed)
{
    int line_cols, tail = tail_columns(ed->el, &line_cols);

    term_write("\0337", 2);
    move_right(tail < 0 ? 0 : tail);
    term_write("\033[K\0338", 5); /* erase to the end of the row, restore */
}

/* Reads one character (UTF-8 per the locale). 1, 0 at end of input, -1 on error. */
static int read_wchar(wchar_t *wc)
{
    char bytes[MB_LEN_MAX];
    size_t have = 0;

    for (;;) {
        mbstate_t st;
        ssize_t n = read(STDIN_FILENO, bytes + have, 1);

        if (n < 0 && errno == EINTR) continue; /* libedit's handlers already ran */
        if (n <= 0) return (int)n;
        have++;
        memset(&st, 0, sizeof(st));
        switch (mbrtowc(wc, bytes, have, &st)) {
        case (size_t)-2: /* incomplete: read on */
            if (have < sizeof(bytes)) continue;
            /* FALLTHROUGH */
        case (size_t)-1: /* invalid: drop what we have */
            have = 0;
            continue;
        default:
            return 1;
        }
    }
}

static int input_pending(void)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

    return poll(&p, 1, 0) > 0;
}

static int line_empty(EditLine *el)
{
    const LineInfo *li = el_line(el);

    return li->lastchar == li->buffer;
}

/* libedit's character source: the hint is on screen only while we wait here. */
static int getc_fn(EditLine *el, wchar_t *wc)
{
    struct ed *ed = ed_of(el);
    int drawn = 0, rc;

    if (ed->hooks.hint != NULL && !input_pending()) drawn = hint_draw(ed);
    rc = read_wchar(wc);
    if (drawn) hint_erase(ed);
    if (rc == 1 && *wc == ED_CTRL_D && line_empty(el)) return 0; /* EOF, without libedit's "^D" */
    return rc;
}

/* Characters (not bytes) in s[0..n), per the locale. */
static int mb_chars(const char *s, size_t n)
{
    mbstate_t st;
    int chars = 0;

    memset(&st, 0, sizeof(st));
    while (n > 0) {
        size_t k = mbrlen(s, n, &st);

        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) k = 1;
        s += k;
        n -= k;
        chars++;
    }
    return chars;
}

/* Replaces the word before the cursor (word_bytes long) with text and an optional space. */
static void replace_word(EditLine *el, const char *word, size_t word_bytes, const char *text,
                         size_t text_bytes, int add_space)
{
    char *ins = malloc(text_bytes + 2);

    if (ins == NULL) return;
    memcpy(ins, text, text_bytes);
    ins[text_bytes] = ' ';
    ins[text_bytes + (add_space ? 1 : 0)] = '\0';
    el_deletestr(el, mb_chars(word, word_bytes));
    el_insertstr(el, ins);
    free(ins);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t common_prefix(const struct ed_list *list)
{
    size_t n = strlen(list->items[0]);

    for (size_t i = 1; i < list->n; i++) {
        size_t k = 0;

        while (k < n && list->items[i][k] == list->items[0][k])
            k++;
        n = k;
    }
    return n;
}

/* Prints the candidates under the line in columns. */
static void list_show(EditLine *el, const struct ed_list *list)
{
    size_t width = 0, shown = list->n < ED_LIST_SHOW_MAX ? list->n : ED_LIST_SHOW_MAX;
    int cols = 80;
    size_t per_row;

    (void)el_get(el, EL_GETTC, "co", &cols);
    for (size_t i = 0; i < shown; i++)
        width = strlen(list->items[i]) > width ? strlen(list->items[i]) : width;
    width += 2;
    per_row = cols > 0 && (size_t)cols > width ? (size_t)cols / width : 1;
    fputc('\n', stdout);
    for (size_t i = 0; i < shown; i++) {
        int last = (i + 1) % per_row == 0 || i + 1 == shown;

        fprintf(stdout, "%-*s", last ? 0 : (int)width, list->items[i]);
        if (last) fputc('\n', stdout);
    }
    if (shown < list->n) fprintf(stdout, "(%zu more)\n", list->n - shown);
    fflush(stdout);
}

/* Tab: completes the word before the cursor, or lists the choices when it cannot. */
static unsigned char complete_fn(EditLine *el, int ch)
{
    struct ed *ed = ed_of(el);
    const LineInfo *li = el_line(el);
    size_t cursor = (size_t)(li->cursor - li->buffer), start = 0, common, wlen;
    char *line = strndup(li->buffer, (size_t)(li->lastchar - li->buffer));
    struct ed_list list;
    unsigned char rc = CC_REFRESH;

    (void)ch;
    ed_list_init(&list);
    if (line == NULL || ed->hooks.complete == NULL ||
        ed->hooks.complete(ed->hooks.ctx, line, cursor, &start, &list) != 0 || list.n == 0) {
        rc = CC_REFRESH_BEEP;
        goto out_free;
    }
    assert(start <= cursor);
    qsort(list.items, list.n, sizeof(list.items[0]), cmp_str);
    wlen = cursor - start;
    common = common_prefix(&list);
    if (list.n == 1)
        replace_word(el, line + start, wlen, list.items[0], common, 1);
    else if (common > wlen)
        replace_word(el, line + start, wlen, list.items[0], common, 0);
    else {
        list_show(el, &list);
        rc = CC_REDISPLAY;
    }
out_free:
    ed_list_deinit(&list);
    free(line);
    return rc;
}

struct ed *ed_new(const struct ed_hooks *hooks)
{
    struct ed *ed = calloc(1, sizeof(*ed));
    HistEvent ev;

    if (ed == NULL) return NULL;
    ed->hooks = *hooks;
    ed->el = el_init("panda-cli", stdin, stdout, stderr);
    ed->hist = history_init();
    if (ed->el == NULL || ed->hist == NULL) {
        ed_free(ed);
        errno = ENOMEM;
        return NULL;
    }
    history(ed->hist, &ev, H_SETSIZE, ED_HISTORY_MAX);
    history(ed->hist, &ev, H_SETUNIQUE, 1);
    el_set(ed->el, EL_CLIENTDATA, ed);
    el_set(ed->el, EL_EDITOR, "emacs");
    el_set(ed->el, EL_SIGNAL, 1);
    el_set(ed->el, EL_PROMPT, prompt_fn);
    el_set(ed->el, EL_HIST, history, ed->hist);
    el_set(ed->el, EL_GETCFN, getc_fn);
    /* The wide form keeps our (static) strings; el_set() would leak converted copies. */
    el_wset(ed->el, EL_ADDFN, L"panda-complete", L"Complete a command or key name", complete_fn);
    el_set(ed->el, EL_BIND, "^I", "panda-complete", NULL);
    el_set(ed->el, EL_BIND, "^R", "em-inc-search-prev", NULL);
    return ed;
}

void ed_free(struct ed *ed)
{
    if (ed == NULL) return;
    if (ed->el != NULL) el_end(ed->el);
    if (ed->hist != NULL) history_end(ed->hist);
    free(ed);
}

void ed_set_prompt(struct ed *ed, const char *prompt)
{
    snprintf(ed->prompt, sizeof(ed->prompt), "%s", prompt);
}

const char *ed_read(struct ed *ed, size_t *len)
{
    int count = 0;
    const char *s = el_gets(ed->el, &count);

    if (s == NULL || count <= 0) return NULL;
    *len = (size_t)count;
    while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
        (*len)--;
    return s;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t') return 0;
    }
    return 1;
}

int ed_history_add(struct ed *ed, const char *line, size_t len)
{
    HistEvent ev;
    char *copy;

    assert(ed->hist != NULL);
    if (is_blank(line, len) || memchr(line, '\n', len) != NULL) return 0;
    copy = strndup(line, len);
    if (copy == NULL) return -1;
    history(ed->hist, &ev, H_ENTER, copy);
    free(copy);
    return 0;
}

int ed_history_load(struct ed *ed, const char *path)
{
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    if (f == NULL) return errno == ENOENT ? 0 : -1;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n <= ED_LINE_BYTES_MAX && ed_history_add(ed, line, (size_t)n) != 0) rc = -1;
    }
    if (ferror(f)) rc = -1;
    free(line);
    fclose(f);
    return rc;
}

int ed_history_save(struct ed *ed, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), saved;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    HistEvent ev;

    if (f == NULL) {
        saved = errno;
        if (fd >= 0) close(fd);
        errno = saved;
        return -1;
    }
    /* H_LAST is the oldest line and H_PREV steps toward the newest. */
    for (int rc = history(ed->hist, &ev, H_LAST); rc >= 0; rc = history(ed->hist, &ev, H_PREV))
        fprintf(f, "%s\n", ev.str);
    if (ferror(f)) {
        saved = errno;
        fclose(f);
        errno = saved;
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}
