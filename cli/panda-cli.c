/*
 * panda-cli — command-line client for panda-server (and any RESP server), after redis-cli.
 *
 * Tour: main() parses options, connects (link), and either sends the command given on the
 * command line (one_shot), reads commands from a person at a terminal with line editing
 * (edit_loop: edit for libedit, history, hints and completion; assist for what those ask the
 * server), or reads piped commands one a line (line_loop). Each reply is formatted by print.
 * This file is the only one that prints; the modules return errors.
 *
 * Exit status: 0 when every command succeeded, 1 after an error reply, an unparsable line or
 * a connection problem, 2 for bad usage. An interactive session exits 0: its errors were
 * shown to the person as they happened.
 */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "assist.h"
#include "edit.h"
#include "link.h"
#include "print.h"
#include "resp_reader.h"
#include "split.h"

#define CLI_VERSION       "0.2.0"
#define CLI_HOST_DEFAULT  "127.0.0.1"
#define CLI_PORT_DEFAULT  8080
#define CLI_HISTFILE_NAME ".panda_history"
#define CLI_NAME_SHOW_MAX 64 /* bytes of a command name echoed in a message */

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
};

/* Outcome of one command. */
enum cli_rc {
    CLI_RC_OK = 0,    /* a non-error reply */
    CLI_RC_ERROR = 1, /* an error reply */
    CLI_RC_LOST = -1, /* the connection broke; it is closed and conn.err says why */
    CLI_RC_DOWN = -2, /* the server could not be reached (the person was told) */
    CLI_RC_PASS = 2,  /* not answered in the client: ask the server */
};

struct cli_opts {
    const char *host;
    int port;      /* 0 until set */
    int mode;      /* enum pr_mode, or -1 to choose from isatty(stdout) */
    int first_arg; /* index in argv of the command, argc when there is none */
};

/* Everything the command loop needs. */
struct cli {
    struct cli_opts opts;
    enum pr_mode mode;
    int interactive; /* a person at a terminal: carry on when the server is down */
    struct link conn;
    struct assist as;
    struct pr_buf out;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: panda-cli [OPTIONS] [COMMAND [ARG ...]]\n"
            "\n"
            "Sends COMMAND to a Panda server and prints the reply. Without a COMMAND, reads\n"
            "commands from standard input, one per line. On a terminal that is a prompt with\n"
            "line editing: arrows and Ctrl-R search the history, Ctrl-A/Ctrl-E go to the\n"
            "start/end, Tab completes command and key names, a grey hint shows the syntax.\n"
            "HELP lists the commands, HELP COMMAND shows one; QUIT, EXIT or Ctrl-D leaves.\n"
            "\n"
            "Options:\n"
            "  -h, --host HOST  server host (default %s, or env PANDA_HOST)\n"
            "  -p, --port PORT  server port (default %d, or env PANDA_PORT)\n"
            "      --raw        print bare replies (the default when stdout is not a terminal)\n"
            "      --no-raw     format replies for people even when stdout is not a terminal\n"
            "      --help       print this help and exit\n"
            "      --version    print the version and exit\n"
            "Options take --name value or --name=value; flags win over the environment.\n"
            "Note: -h is the host, as in redis-cli; help is --help.\n"
            "\n"
            "Environment: PANDA_HOST, PANDA_PORT; PANDA_HISTFILE is the history file\n"
            "(default ~/%s; empty: keep no history).\n"
            "\n"
            "Lines are split like redis-cli: words on spaces, \"double quotes\" with the escapes\n"
            "\\n \\r \\t \\b \\a \\\\ \\\" \\xHH, 'single quotes' with \\'.\n"
            "\n"
            "Exit status:\n"
            "  0  every command got a non-error reply\n"
            "  1  a command got an error reply, a line could not be split, or the server\n"
            "     could not be reached or closed the connection\n"
            "  2  bad usage (unknown option or bad value)\n"
            "An interactive session (a terminal, no COMMAND) exits 0: it shows errors as they\n"
            "happen, keeps going while the server is down and reconnects by itself.\n",
            CLI_HOST_DEFAULT, CLI_PORT_DEFAULT, CLI_HISTFILE_NAME);
}

/* Parses a TCP port 1..65535. 0 or -1. */
static int parse_port(const char *s, int *port)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 65535) return -1;
    *port = (int)v;
    return 0;
}

/* Returns the value of option argv[*i] ("--opt=v" or "--opt v"), or NULL if missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq != NULL) return eq + 1;
    if (*i + 1 >= argc) return NULL;
    *i += 1;
    return argv[*i];
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "panda-cli: %s '%s' (see panda-cli --help)\n", what, arg);
    return CLI_EXIT_USAGE;
}

/* Handles one option at argv[*i]. Returns -1 to go on, or an exit status to stop with. */
static int parse_opt(int argc, char **argv, int *i, struct cli_opts *o)
{
    const char *a = argv[*i], *eq = strchr(a, '=');
    size_t name_len = eq != NULL && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
    const char *v;

    if (eq != NULL && a[1] != '-') eq = NULL; /* "-h=x" is not a form we take */
#define IS(name) (name_len == strlen(name) && strncmp(a, name, name_len) == 0)
    if (IS("--help") && eq == NULL) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (IS("--version") && eq == NULL) {
        printf("panda-cli %s\n", CLI_VERSION);
        return CLI_EXIT_OK;
    }
    if ((IS("--raw") || IS("--no-raw")) && eq == NULL) {
        o->mode = IS("--raw") ? PR_MODE_RAW : PR_MODE_TTY;
        return -1;
    }
    if (IS("-h") || IS("--host") || IS("-p") || IS("--port")) {
        v = opt_value(argc, argv, i, eq);
        if (v == NULL) return usage_error("missing value for option", a);
        if (IS("-h") || IS("--host")) {
            if (*v == '\0') return usage_error("empty host for option", a);
            o->host = v;
        } else if (parse_port(v, &o->port) != 0) {
            return usage_error("invalid port", v);
        }
        return -1;
    }
#undef IS
    return usage_error("unknown option", a);
}

/* Fills o from argv and then the environment. Returns -1 to go on, or an exit status. */
static int parse_opts(int argc, char **argv, struct cli_opts *o)
{
    const char *env;
    int i, rc;

    memset(o, 0, sizeof(*o));
    o->mode = -1;
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        rc = parse_opt(argc, argv, &i, o);
        if (rc >= 0) return rc;
    }
    o->first_arg = i;
    env = getenv("PANDA_HOST");
    if (o->host == NULL) o->host = env != NULL && *env != '\0' ? env : CLI_HOST_DEFAULT;
    env = getenv("PANDA_PORT");
    if (o->port == 0 && env != NULL && *env != '\0' && parse_port(env, &o->port) != 0)
        return usage_error("invalid PANDA_PORT", env);
    if (o->port == 0) o->port = CLI_PORT_DEFAULT;
    return -1;
}

/* Writes the formatted text of reply to stdout. 0 or -1 (message printed). */
static int show_reply(struct cli *cli, const struct rr_reply *reply, enum pr_mode mode)
{
    int rc;

    pr_buf_reset(&cli->out);
    if (pr_format(&cli->out, reply, mode) != 0) {
        fprintf(stderr, "Error: cannot format reply: %s\n", strerror(cli->out.err));
        return -1;
    }
    rc = fwrite(cli->out.data, 1, cli->out.len, stdout) == cli->out.len ? 0 : -1;
    if (fflush(stdout) != 0) rc = -1;
    return rc;
}

static int is_word(const struct split_args *args, size_t i, const char *word)
{
    return i < args->argc && strcasecmp(args->argv[i], word) == 0;
}

/* Commands whose bulk reply is a document, which redis-cli prints bare even on a terminal;
 * STATS's one line is shown one field a line to a person. */
static enum pr_mode command_mode(const struct cli *cli, const struct split_args *args)
{
    static const char *const text_commands[] = {"info", "help", "stats", "lolwut"};

    if (is_word(args, 0, "stats") && cli->mode == PR_MODE_TTY) return PR_MODE_FIELDS;
    for (size_t i = 0; i < sizeof(text_commands) / sizeof(text_commands[0]); i++) {
        if (is_word(args, 0, text_commands[i])) return PR_MODE_TEXT;
    }
    return cli->mode;
}

static void print_upper(FILE *f, const char *s)
{
    for (; *s != '\0'; s++)
        fputc(toupper((unsigned char)*s), f);
}

/* Names the command closest to name[0..len) on f, if one is close. */
static void suggest(FILE *f, const struct cmds *t, const char *name, size_t len)
{
    const struct cmds_entry *e = t != NULL ? cmds_suggest(t, name, len) : NULL;

    if (e == NULL) return;
    fputs("Did you mean ", f);
    print_upper(f, e->name);
    fputs("?\n", f);
}

static int is_unknown_command(const struct rr_reply *r)
{
    static const char prefix[] = "ERR unknown command";

    return r->type == RR_ERROR && r->str_len >= sizeof(prefix) - 1 &&
           memcmp(r->str, prefix, sizeof(prefix) - 1) == 0;
}

/* Sends one command and prints its reply. Returns enum cli_rc. */
static int run_command(struct cli *cli, const struct split_args *args)
{
    int is_shutdown = is_word(args, 0, "shutdown"), unknown = 0;
    struct rr_reply reply;
    enum rr_type type;
    ssize_t n;

    if (link_send(&cli->conn, args->argc, args->argv, args->lens) != 0) return CLI_RC_LOST;
    do {
        n = link_read(&cli->conn, &reply);
        /* A server that shuts down as asked closes without a reply: that is success. */
        if (n < 0) return is_shutdown ? CLI_RC_OK : CLI_RC_LOST;
        type = reply.type;
        unknown = is_unknown_command(&reply);
        if (show_reply(cli, &reply, command_mode(cli, args)) != 0) type = RR_ERROR;
        rr_reply_deinit(&reply);
        link_consume(&cli->conn, (size_t)n);
    } while (type == RR_PUSH); /* out-of-band messages come before the reply proper */
    if (unknown) suggest(stderr, as_table(&cli->as), args->argv[0], args->lens[0]);
    return type == RR_ERROR ? CLI_RC_ERROR : CLI_RC_OK;
}

static void print_command_line(const struct cmds_entry *e)
{
    char usage[CMDS_NAME_BYTES_MAX + CMDS_SYNTAX_BYTES_MAX + 2];
    int n = snprintf(usage, sizeof(usage), "%s%s%s", e->name, *e->syntax ? " " : "", e->syntax);

    for (size_t i = 0; i < strlen(e->name); i++)
        usage[i] = (char)toupper((unsigned char)usage[i]);
    if (n > 40)
        printf("%s\n%-40s %s\n", usage, "", e->summary); /* long syntax: summary below */
    else
        printf("%-40s %s\n", usage, e->summary);
}

/* HELP and HELP <command>, from the server's command table. Returns enum cli_rc, or
 * CLI_RC_PASS when the table cannot be had (then the server's own HELP is asked). */
static int client_help(struct cli *cli, const struct split_args *args)
{
    const struct cmds *t = as_table(&cli->as);
    const struct cmds_entry *e;

    if (t == NULL) return CLI_RC_PASS;
    if (args->argc == 1) {
        printf("panda-cli %s. Type a command and its arguments; Tab completes command and key\n"
               "names, the grey hint shows what is left to type. HELP <command> shows one.\n\n",
               CLI_VERSION);
        for (size_t i = 0; i < t->n; i++)
            print_command_line(&t->v[i]);
        return CLI_RC_OK;
    }
    e = cmds_find(t, args->argv[1], args->lens[1]);
    if (e == NULL) {
        printf("No command named '%.*s'.\n", CLI_NAME_SHOW_MAX, args->argv[1]);
        suggest(stdout, t, args->argv[1], args->lens[1]);
        return CLI_RC_ERROR;
    }
    fputs("\n  ", stdout);
    print_upper(stdout, e->name);
    printf("%s%s\n  summary: %s\n  since: %s\n  group: %s\n\n", *e->syntax ? " " : "", e->syntax,
           e->summary, e->since, e->group);
    return CLI_RC_OK;
}

static int connect_or_complain(struct cli *cli)
{
    if (link_open(&cli->conn, cli->opts.host, cli->opts.port, 0) == 0) {
        as_retry(&cli->as); /* the server may have changed: its table may load now */
        return 0;
    }
    fprintf(stderr, "Could not connect to %s:%d: %s\n", cli->opts.host, cli->opts.port,
            cli->conn.err);
    fprintf(stderr, "Is panda-server running? Start one with: bin/panda-server --port %d\n",
            cli->opts.port);
    return -1;
}

/*
 * Connects when not connected. A connection the server closed while we were idle (it was
 * restarted) is replaced before the command goes out, so nothing is sent twice.
 */
static int ensure_connected(struct cli *cli)
{
    (void)link_peer_gone(&cli->conn);
    return cli->conn.fd >= 0 ? 0 : connect_or_complain(cli);
}

/* Runs one command: HELP in the client when it can, everything else on the server. */
static int run_args(struct cli *cli, const struct split_args *args)
{
    int rc;

    if (is_word(args, 0, "help") && args->argc <= 2) {
        rc = client_help(cli, args);
        fflush(stdout);
        if (rc != CLI_RC_PASS) return rc;
    }
    if (ensure_connected(cli) != 0) return CLI_RC_DOWN;
    rc = run_command(cli, args);
    if (rc == CLI_RC_LOST) fprintf(stderr, "Error: %s\n", cli->conn.err);
    return rc;
}

/* Runs the command given on the command line. Returns an exit status. */
static int one_shot(struct cli *cli, int argc, char **argv)
{
    struct split_args args;
    int rc;

    split_args_init(&args);
    args.argc = (size_t)argc;
    args.argv = argv;
    args.lens = calloc((size_t)argc, sizeof(*args.lens));
    if (args.lens == NULL) {
        fprintf(stderr, "Error: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    for (int i = 0; i < argc; i++)
        args.lens[i] = strlen(argv[i]);
    rc = run_args(cli, &args);
    free(args.lens); /* argv belongs to main */
    return rc == CLI_RC_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Outcome of one input line. */
enum cli_line {
    CLI_LINE_OK,
    CLI_LINE_FAILED, /* error reply, bad quoting or a lost connection */
    CLI_LINE_DOWN,   /* the server could not be reached */
    CLI_LINE_QUIT,   /* quit or exit */
};

/* Splits and runs one input line. Returns enum cli_line. */
static int run_line(struct cli *cli, const char *line, size_t len)
{
    struct split_args args;
    struct split_err err;
    int rc = CLI_LINE_OK;

    split_args_init(&args);
    if (split_line(line, len, &args, &err) != 0) {
        fprintf(stderr, "Invalid argument(s): %s\n", err.msg);
        rc = CLI_LINE_FAILED;
    } else if (is_word(&args, 0, "quit") || is_word(&args, 0, "exit")) {
        rc = CLI_LINE_QUIT;
    } else if (args.argc > 0) {
        int cmd = run_args(cli, &args);

        rc = cmd == CLI_RC_OK ? CLI_LINE_OK : cmd == CLI_RC_DOWN ? CLI_LINE_DOWN : CLI_LINE_FAILED;
    }
    split_args_deinit(&args);
    return rc;
}

/* Reads piped commands (or typed ones without line editing) until EOF, quit or exit; stops
 * when the server cannot be reached, unless a person is typing. Returns an exit status. */
static int line_loop(struct cli *cli)
{
    int prompt = isatty(STDIN_FILENO), status = CLI_EXIT_OK, rc = CLI_LINE_OK;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    while (rc != CLI_LINE_QUIT && (rc != CLI_LINE_DOWN || cli->interactive)) {
        if (prompt) {
            printf("%s:%d> ", cli->opts.host, cli->opts.port);
            fflush(stdout);
        }
        len = getline(&line, &cap, stdin);
        if (len < 0) {
            if (prompt) putchar('\n');
            break;
        }
        rc = run_line(cli, line, (size_t)len);
        if (rc == CLI_LINE_FAILED || rc == CLI_LINE_DOWN) status = CLI_EXIT_FAIL;
    }
    free(line);
    return cli->interactive ? CLI_EXIT_OK : status;
}

/* The history file: $PANDA_HISTFILE, else ~/.panda_history. Owned; NULL for none. */
static char *history_path(void)
{
    const char *env = getenv("PANDA_HISTFILE"), *home = getenv("HOME");
    struct passwd *pw;
    char *path = NULL;

    if (env != NULL) return *env != '\0' ? strdup(env) : NULL;
    if ((home == NULL || *home == '\0') && (pw = getpwuid(getuid())) != NULL) home = pw->pw_dir;
    if (home == NULL || asprintf(&path, "%s/%s", home, CLI_HISTFILE_NAME) < 0) return NULL;
    return path;
}

static void set_prompt(struct cli *cli, struct ed *ed)
{
    char prompt[ED_PROMPT_BYTES_MAX];

    if (cli->conn.fd >= 0)
        snprintf(prompt, sizeof(prompt), "%s:%d> ", cli->opts.host, cli->opts.port);
    else
        snprintf(prompt, sizeof(prompt), "not connected> ");
    ed_set_prompt(ed, prompt);
}

/* The interactive session with line editing. Returns an exit status. */
static int edit_loop(struct cli *cli, struct ed *ed)
{
    char *hist = history_path();
    int warned = 0;
    const char *line;
    size_t len;

    if (hist != NULL && ed_history_load(ed, hist) != 0)
        fprintf(stderr, "Warning: cannot read history %s: %s\n", hist, strerror(errno));
    for (;;) {
        set_prompt(cli, ed);
        line = ed_read(ed, &len);
        if (line == NULL) {
            putchar('\n'); /* Ctrl-D: leave the shell's prompt on a line of its own */
            break;
        }
        if (ed_history_add(ed, line, len) != 0 ||
            (hist != NULL && ed_history_save(ed, hist) != 0)) {
            if (!warned) fprintf(stderr, "Warning: cannot save history: %s\n", strerror(errno));
            warned = 1;
        }
        if (run_line(cli, line, len) == CLI_LINE_QUIT) break;
    }
    free(hist);
    return CLI_EXIT_OK;
}

/* Line editing needs a terminal on both sides that can move the cursor. */
static int can_edit(void)
{
    const char *term = getenv("TERM");

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) return 0;
    return term == NULL ||
           (strcmp(term, "dumb") != 0 && strcmp(term, "cons25") != 0 && strcmp(term, "emacs") != 0);
}

/* Reads commands from stdin, with line editing when a person types them. */
static int read_commands(struct cli *cli)
{
    struct ed_hooks hooks = {.ctx = &cli->as, .hint = as_hint, .complete = as_complete};
    struct ed *ed = can_edit() ? ed_new(&hooks) : NULL;
    int status;

    if (ed == NULL) return line_loop(cli);
    status = edit_loop(cli, ed);
    ed_free(ed);
    return status;
}

int main(int argc, char **argv)
{
    struct cli cli;
    int status;

    memset(&cli, 0, sizeof(cli));
    status = parse_opts(argc, argv, &cli.opts);
    if (status >= 0) return status;
    setlocale(LC_CTYPE, ""); /* the line editor reads UTF-8 per the locale */
    cli.mode = cli.opts.mode >= 0 ? (enum pr_mode)cli.opts.mode
                                  : (isatty(STDOUT_FILENO) ? PR_MODE_TTY : PR_MODE_RAW);
    cli.interactive = cli.opts.first_arg == argc && isatty(STDIN_FILENO);
    signal(SIGPIPE, SIG_IGN);
    link_init(&cli.conn);
    as_init(&cli.as, cli.opts.host, cli.opts.port);
    pr_buf_init(&cli.out);
    if (connect_or_complain(&cli) != 0 && !cli.interactive) {
        status = CLI_EXIT_FAIL;
        goto out_free;
    }
    if (cli.opts.first_arg < argc)
        status = one_shot(&cli, argc - cli.opts.first_arg, argv + cli.opts.first_arg);
    else
        status = read_commands(&cli);
out_free:
    link_deinit(&cli.conn);
    as_deinit(&cli.as);
    pr_buf_deinit(&cli.out);
    return status;
}
