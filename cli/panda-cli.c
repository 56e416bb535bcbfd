/*
 * panda-cli — command-line client for panda-server (and any RESP server), after redis-cli.
 *
 * Tour: main() parses options, connects, and either sends the command given on the command
 * line (one_shot) or reads commands from stdin one line at a time (line_loop). Each command
 * goes out as a RESP array of bulk strings (conn_send); the reply is read incrementally with
 * resp_reader (conn_read_reply) and formatted by print. This file is the only one that
 * prints; the modules return errors.
 *
 * Exit status: 0 when every command succeeded, 1 after an error reply, an unparsable line or
 * a connection problem, 2 for bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "print.h"
#include "resp_reader.h"
#include "split.h"

#define CLI_VERSION      "0.1.0"
#define CLI_HOST_DEFAULT "127.0.0.1"
#define CLI_PORT_DEFAULT 8080

#define CLI_READ_CHUNK_BYTES (64 * 1024)                /* one read() from the server */
#define CLI_REPLY_BYTES_MAX  (2LL * 1024 * 1024 * 1024) /* bytes buffered for one reply */
#define CLI_ERR_BYTES        256

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
};

/* Outcome of one command. */
enum cli_rc {
    CLI_RC_OK = 0,    /* a non-error reply */
    CLI_RC_ERROR = 1, /* an error reply */
    CLI_RC_LOST = -1, /* the connection broke; conn is closed and conn.err says why */
};

struct cli_opts {
    const char *host;
    int port;      /* 0 until set */
    int mode;      /* enum pr_mode, or -1 to choose from isatty(stdout) */
    int first_arg; /* index in argv of the command, argc when there is none */
};

/* One connection and the bytes received but not yet consumed. */
struct conn {
    int fd; /* -1 when closed */
    char *buf;
    size_t len;
    size_t cap;
    struct rr_reader reader;
    char err[CLI_ERR_BYTES];
};

/* Everything the command loop needs. */
struct cli {
    struct cli_opts opts;
    enum pr_mode mode;
    struct conn conn;
    struct pr_buf out;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: panda-cli [OPTIONS] [COMMAND [ARG ...]]\n"
            "\n"
            "Sends COMMAND to a Panda server and prints the reply. Without a COMMAND, reads\n"
            "commands from standard input, one per line (with a prompt on a terminal).\n"
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
            "Lines are split like redis-cli: words on spaces, \"double quotes\" with the escapes\n"
            "\\n \\r \\t \\b \\a \\\\ \\\" \\xHH, 'single quotes' with \\'. quit or exit leaves.\n"
            "\n"
            "Exit status:\n"
            "  0  every command got a non-error reply\n"
            "  1  a command got an error reply, a line could not be split, or the server\n"
            "     could not be reached or closed the connection\n"
            "  2  bad usage (unknown option or bad value)\n",
            CLI_HOST_DEFAULT, CLI_PORT_DEFAULT);
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

static void conn_init(struct conn *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    rr_reader_init(&c->reader);
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->len = 0;
    rr_reader_init(&c->reader);
}

static void conn_deinit(struct conn *c)
{
    conn_close(c);
    free(c->buf);
    conn_init(c);
}

/* Connects to host:port (any address getaddrinfo gives). 0 or -1 with c->err set. */
static int conn_open(struct conn *c, const char *host, int port)
{
    struct addrinfo hints, *res, *ai;
    char port_text[16];
    int rc, fd = -1, saved = 0, one = 1;

    conn_close(c);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port_text, sizeof(port_text), "%d", port);
    rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0) {
        snprintf(c->err, sizeof(c->err), "%s", gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        saved = errno;
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(c->err, sizeof(c->err), "%s", strerror(saved));
        return -1;
    }
    /* Commands are small and sent one at a time: do not let Nagle delay them. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    return 0;
}

/* Marks the connection lost with a reason. Always returns CLI_RC_LOST. */
static int conn_lost(struct conn *c, const char *why)
{
    snprintf(c->err, sizeof(c->err), "%s", why);
    conn_close(c);
    return CLI_RC_LOST;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends args as a RESP array of bulk strings. CLI_RC_OK or CLI_RC_LOST. */
static int conn_send(struct conn *c, const struct split_args *args)
{
    size_t total = 32, pos = 0;
    char *msg;
    int rc;

    for (size_t i = 0; i < args->argc; i++)
        total += args->lens[i] + 32; /* "$<len>\r\n" + data + "\r\n" */
    msg = malloc(total);
    if (msg == NULL) return conn_lost(c, "out of memory");
    pos += (size_t)snprintf(msg, total, "*%zu\r\n", args->argc);
    for (size_t i = 0; i < args->argc; i++) {
        pos += (size_t)snprintf(msg + pos, total - pos, "$%zu\r\n", args->lens[i]);
        memcpy(msg + pos, args->argv[i], args->lens[i]);
        pos += args->lens[i];
        memcpy(msg + pos, "\r\n", 2);
        pos += 2;
    }
    rc = write_all(c->fd, msg, pos);
    free(msg);
    return rc == 0 ? CLI_RC_OK : conn_lost(c, strerror(errno));
}

/* Reads more bytes from the server into c->buf. CLI_RC_OK or CLI_RC_LOST. */
static int conn_fill(struct conn *c)
{
    ssize_t n;

    if (c->len >= (size_t)CLI_REPLY_BYTES_MAX) return conn_lost(c, "reply too large");
    if (c->cap - c->len < CLI_READ_CHUNK_BYTES) {
        size_t cap = c->cap == 0 ? CLI_READ_CHUNK_BYTES : c->cap * 2;
        char *buf = realloc(c->buf, cap);

        if (buf == NULL) return conn_lost(c, "out of memory");
        c->buf = buf;
        c->cap = cap;
    }
    do {
        n = read(c->fd, c->buf + c->len, c->cap - c->len);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return conn_lost(c, "Server closed the connection");
    if (n < 0) return conn_lost(c, strerror(errno));
    c->len += (size_t)n;
    return CLI_RC_OK;
}

/*
 * Reads one reply. Returns the bytes it uses at the front of c->buf (drop them with
 * conn_consume() after using *reply, which borrows them), or CLI_RC_LOST.
 */
static ssize_t conn_read_reply(struct conn *c, struct rr_reply *reply)
{
    for (;;) {
        ssize_t n = rr_parse(&c->reader, c->buf, c->len, reply);

        if (n > 0) return n;
        if (n == -1) return conn_lost(c, c->reader.err.msg);
        if (conn_fill(c) != CLI_RC_OK) return CLI_RC_LOST;
    }
}

static void conn_consume(struct conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
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

/* Commands whose bulk reply is a document, which redis-cli prints bare even on a terminal. */
static enum pr_mode command_mode(const struct cli *cli, const struct split_args *args)
{
    static const char *const text_commands[] = {"info", "help", "stats", "lolwut"};

    for (size_t i = 0; i < sizeof(text_commands) / sizeof(text_commands[0]); i++) {
        if (strcasecmp(args->argv[0], text_commands[i]) == 0) return PR_MODE_TEXT;
    }
    return cli->mode;
}

/* Sends one command and prints its reply. Returns enum cli_rc. */
static int run_command(struct cli *cli, const struct split_args *args)
{
    int is_shutdown = strcasecmp(args->argv[0], "shutdown") == 0;
    struct rr_reply reply;
    enum rr_type type;
    ssize_t n;

    if (conn_send(&cli->conn, args) != CLI_RC_OK) return CLI_RC_LOST;
    do {
        n = conn_read_reply(&cli->conn, &reply);
        /* A server that shuts down as asked closes without a reply: that is success. */
        if (n < 0) return is_shutdown ? CLI_RC_OK : CLI_RC_LOST;
        type = reply.type;
        if (show_reply(cli, &reply, command_mode(cli, args)) != 0) type = RR_ERROR;
        rr_reply_deinit(&reply);
        conn_consume(&cli->conn, (size_t)n);
    } while (type == RR_PUSH); /* out-of-band messages come before the reply proper */
    return type == RR_ERROR ? CLI_RC_ERROR : CLI_RC_OK;
}

static int connect_or_complain(struct cli *cli)
{
    if (conn_open(&cli->conn, cli->opts.host, cli->opts.port) == 0) return 0;
    fprintf(stderr, "Could not connect to %s:%d: %s\n", cli->opts.host, cli->opts.port,
            cli->conn.err);
    fprintf(stderr, "Is panda-server running? Start one with: bin/panda-server --port %d\n",
            cli->opts.port);
    return -1;
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
    rc = run_command(cli, &args);
    if (rc == CLI_RC_LOST) fprintf(stderr, "Error: %s\n", cli->conn.err);
    free(args.lens); /* argv belongs to main */
    return rc == CLI_RC_OK ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Outcome of one input line. */
enum cli_line {
    CLI_LINE_OK,
    CLI_LINE_FAILED, /* error reply, bad quoting or a lost connection */
    CLI_LINE_DOWN,   /* the one reconnect attempt failed: stop reading */
    CLI_LINE_QUIT,   /* quit or exit */
};

static int is_quit(const struct split_args *args)
{
    return strcasecmp(args->argv[0], "quit") == 0 || strcasecmp(args->argv[0], "exit") == 0;
}

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
    } else if (args.argc > 0 && is_quit(&args)) {
        rc = CLI_LINE_QUIT;
    } else if (args.argc > 0 && cli->conn.fd < 0 && connect_or_complain(cli) != 0) {
        /* After a lost connection we try once to reconnect, here, before the next command. */
        rc = CLI_LINE_DOWN;
    } else if (args.argc > 0) {
        int cmd = run_command(cli, &args);

        if (cmd == CLI_RC_LOST) fprintf(stderr, "Error: %s\n", cli->conn.err);
        rc = cmd == CLI_RC_OK ? CLI_LINE_OK : CLI_LINE_FAILED;
    }
    split_args_deinit(&args);
    return rc;
}

/* Reads commands from stdin until EOF, quit or exit. Returns an exit status. */
static int line_loop(struct cli *cli)
{
    int prompt = isatty(STDIN_FILENO), status = CLI_EXIT_OK, rc = CLI_LINE_OK;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    while (rc != CLI_LINE_QUIT && rc != CLI_LINE_DOWN) {
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
    return status;
}

int main(int argc, char **argv)
{
    struct cli cli;
    int status;

    memset(&cli, 0, sizeof(cli));
    status = parse_opts(argc, argv, &cli.opts);
    if (status >= 0) return status;
    cli.mode = cli.opts.mode >= 0 ? (enum pr_mode)cli.opts.mode
                                  : (isatty(STDOUT_FILENO) ? PR_MODE_TTY : PR_MODE_RAW);
    signal(SIGPIPE, SIG_IGN);
    conn_init(&cli.conn);
    pr_buf_init(&cli.out);
    if (connect_or_complain(&cli) != 0) {
        status = CLI_EXIT_FAIL;
        goto out_free;
    }
    if (cli.opts.first_arg < argc)
        status = one_shot(&cli, argc - cli.opts.first_arg, argv + cli.opts.first_arg);
    else
        status = line_loop(&cli);
out_free:
    conn_deinit(&cli.conn);
    pr_buf_deinit(&cli.out);
    return status;
}
