/*
 * edit — panda-cli's line editor on a terminal, over libedit (emacs keys: arrows, Ctrl-A/E,
 * Ctrl-R incremental search back through history, Tab to complete), with a history kept in a
 * plain text file (one command a line, oldest first, as redis-cli keeps its own) and a grey
 * hint shown after the line while the editor waits for a key.
 *
 * Hints: libedit has no hint callback, so the editor reads the keys itself (EL_GETCFN). Before
 * it waits for a key, with no other key already pending, it draws the hint after the end of
 * the line and puts the cursor back; once the key arrives it erases the hint, so libedit's
 * picture of the screen is never wrong. A hint is drawn only when the prompt, the line and
 * the hint fit on one terminal row and every character of the line is one column wide.
 *
 * Thread model: one editor per process (libedit's signal handling is process-wide), used by
 * one thread.
 * Ownership: ed_new() returns an editor owned by the caller (ed_free()). Hooks are borrowed
 * and called only from inside ed_read(). Lines returned by ed_read() belong to the editor.
 * Errors: functions return -1 with errno set (ENOMEM, or the file system's error for the
 * history file); ed_read() returns NULL at end of input (Ctrl-D on an empty line) or on a
 * read error.
 * Limits: ED_HISTORY_MAX lines of history; lines longer than ED_LINE_BYTES_MAX in a history
 * file are skipped; at most ED_LIST_SHOW_MAX completions are listed.
 */
#ifndef PANDA_CLI_EDIT_H
#define PANDA_CLI_EDIT_H

#include <stddef.h>

#define ED_HISTORY_MAX      1000        /* lines kept in memory and in the file */
#define ED_LINE_BYTES_MAX   (64 * 1024) /* longest history line loaded */
#define ED_PROMPT_BYTES_MAX 300
#define ED_LIST_SHOW_MAX    200 /* completions listed under the line */

/* A list of owned strings. */
struct ed_list {
    char **items;
    size_t n;
    size_t cap;
};

void ed_list_init(struct ed_list *list);
void ed_list_deinit(struct ed_list *list);

/* Appends a NUL-terminated copy of s[0..n) unless it is already there. 0 or -1 (ENOMEM). */
int ed_list_add(struct ed_list *list, const char *s, size_t n);

struct ed_hooks {
    void *ctx; /* passed to every hook */
    /*
     * Text to show in grey after line[0..len), or NULL for none. The text is borrowed until
     * the next call of the hook.
     */
    const char *(*hint)(void *ctx, const char *line, size_t len);
    /*
     * Words that could replace line[*word_start..cursor), the word being typed (line is
     * NUL-terminated). Sets *word_start and adds the words to out. 0, or -1 for no completion.
     */
    int (*complete)(void *ctx, const char *line, size_t cursor, size_t *word_start,
                    struct ed_list *out);
};

struct ed;

/* A new editor on stdin/stdout, which must be terminals. NULL with errno set on failure. */
struct ed *ed_new(const struct ed_hooks *hooks);

void ed_free(struct ed *ed);

/* Sets the prompt (copied; cut to ED_PROMPT_BYTES_MAX - 1 bytes). */
void ed_set_prompt(struct ed *ed, const char *prompt);

/*
 * Reads one line, without its newline, into *len bytes. The line stays valid until the next
 * ed_read(). NULL at end of input or on error.
 */
const char *ed_read(struct ed *ed, size_t *len);

/* Adds line[0..len) to the history (blank lines and a repeat of the last one are not). */
int ed_history_add(struct ed *ed, const char *line, size_t len);

/* Adds the lines of the file at path to the history. A missing file is not an error. */
int ed_history_load(struct ed *ed, const char *path);

/* Writes the history to path (created with mode 0600), replacing it. */
int ed_history_save(struct ed *ed, const char *path);

#endif /* PANDA_CLI_EDIT_H */
