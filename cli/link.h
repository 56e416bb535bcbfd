/*
 * link — one connection from panda-cli to a RESP server: connect, send a command as a RESP
 * array of bulk strings, read one reply incrementally (resp_reader), tell whether an idle
 * connection was closed by the server.
 *
 * Thread model: none. A link belongs to one thread.
 * Ownership: the caller owns struct link (link_init / link_deinit). A reply from link_read()
 * borrows the link's buffer: use it, then rr_reply_deinit() it and link_consume() its bytes
 * before the next link call.
 * Errors: fallible calls return -1 and fill l->err with a sentence for people ("Connection
 * refused", "Server closed the connection"). After any error but a failed link_open() the
 * connection is closed (l->fd == -1); link_open() may be called again at any time.
 * Limits: one reply may use at most LINK_REPLY_BYTES_MAX bytes of buffer.
 */
#ifndef PANDA_CLI_LINK_H
#define PANDA_CLI_LINK_H

#include <stddef.h>
#include <sys/types.h>

#include "resp_reader.h"

#define LINK_READ_CHUNK_BYTES (64 * 1024)                /* one read() from the server */
#define LINK_REPLY_BYTES_MAX  (2LL * 1024 * 1024 * 1024) /* bytes buffered for one reply */
#define LINK_ERR_BYTES        256

struct link {
    int fd; /* -1 when closed */
    char *buf;
    size_t len;
    size_t cap;
    struct rr_reader reader;
    char err[LINK_ERR_BYTES];
};

/* Makes l closed and empty without allocating. Never fails. */
void link_init(struct link *l);

/* Closes the socket and drops unread bytes; keeps the buffer's memory. Never fails. */
void link_close(struct link *l);

/* Closes and frees everything, and re-initializes l. */
void link_deinit(struct link *l);

/*
 * Connects to host:port (any address getaddrinfo gives), closing an earlier connection.
 * timeout_ms > 0 makes every later read and write give up after that long (0: wait forever).
 * Returns 0, or -1 with l->err set (the getaddrinfo or connect error).
 */
int link_open(struct link *l, const char *host, int port, int timeout_ms);

/*
 * True when l is open but the server has closed it (or reset it) while no command was in
 * flight, which is how a server restart looks to an idle client. Then the link is closed.
 * Never blocks.
 */
int link_peer_gone(struct link *l);

/* Sends argv[0..argc) (lens[i] bytes each) as one command. 0, or -1 (link closed). */
int link_send(struct link *l, size_t argc, char *const *argv, const size_t *lens);

/*
 * Reads one reply into *reply. Returns the bytes it uses at the front of the buffer (> 0),
 * or -1 (link closed, l->err says why; *reply untouched).
 */
ssize_t link_read(struct link *l, struct rr_reply *reply);

/* Drops the first n bytes (a reply returned by link_read()) from the buffer. */
void link_consume(struct link *l, size_t n);

#endif /* PANDA_CLI_LINK_H */
