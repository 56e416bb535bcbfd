/*
 * link.c — panda-cli's connection to the server. See link.h for the contract.
 */
#include "link.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void link_init(struct link *l)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    rr_reader_init(&l->reader);
}

void link_close(struct link *l)
{
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
    l->len = 0;
    rr_reader_init(&l->reader);
}

void link_deinit(struct link *l)
{
    link_close(l);
    free(l->buf);
    link_init(l);
}

/* Marks the link lost with a reason. Always returns -1. */
static int link_lost(struct link *l, const char *why)
{
    snprintf(l->err, sizeof(l->err), "%s", why);
    link_close(l);
    return -1;
}

static void set_timeouts(int fd, int timeout_ms)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int link_open(struct link *l, const char *host, int port, int timeout_ms)
{
    struct addrinfo hints, *res, *ai;
    char port_text[16];
    int rc, fd = -1, saved = 0, one = 1;

    assert(host != NULL && port > 0 && timeout_ms >= 0);
    link_close(l);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port_text, sizeof(port_text), "%d", port);
    rc = getaddrinfo(host, port_text, &hints, &res);
    if (rc != 0) {
        snprintf(l->err, sizeof(l->err), "%s", gai_strerror(rc));
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
        snprintf(l->err, sizeof(l->err), "%s", strerror(saved));
        return -1;
    }
    /* Commands are small and sent one at a time: do not let Nagle delay them. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (timeout_ms > 0) set_timeouts(fd, timeout_ms);
    l->fd = fd;
    return 0;
}

int link_peer_gone(struct link *l)
{
    struct pollfd p = {.fd = l->fd, .events = POLLIN | POLLRDHUP};
    char byte;
    ssize_t n;

    if (l->fd < 0 || poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) return link_lost(l, "closed") != 0;
    /* Readable: either the end of the stream or bytes the server pushed on its own. */
    n = recv(l->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return link_lost(l, "closed") != 0;
    return 0;
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

int link_send(struct link *l, size_t argc, char *const *argv, const size_t *lens)
{
    size_t total = 32, pos = 0;
    char *msg;
    int rc;

    assert(argc > 0 && l->fd >= 0);
    for (size_t i = 0; i < argc; i++)
        total += lens[i] + 32; /* "$<len>\r\n" + data + "\r\n" */
    msg = malloc(total);
    if (msg == NULL) return link_lost(l, "out of memory");
    pos += (size_t)snprintf(msg, total, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++) {
        pos += (size_t)snprintf(msg + pos, total - pos, "$%zu\r\n", lens[i]);
        memcpy(msg + pos, argv[i], lens[i]);
        pos += lens[i];
        memcpy(msg + pos, "\r\n", 2);
        pos += 2;
    }
    assert(pos <= total);
    rc = write_all(l->fd, msg, pos);
    free(msg);
    return rc == 0 ? 0 : link_lost(l, strerror(errno));
}

/* Reads more bytes from the server into l->buf. 0 or -1. */
static int link_fill(struct link *l)
{
    ssize_t n;

    if (l->len >= (size_t)LINK_REPLY_BYTES_MAX) return link_lost(l, "reply too large");
    if (l->cap - l->len < LINK_READ_CHUNK_BYTES) {
        size_t cap = l->cap == 0 ? LINK_READ_CHUNK_BYTES : l->cap * 2;
        char *buf = realloc(l->buf, cap);

        if (buf == NULL) return link_lost(l, "out of memory");
        l->buf = buf;
        l->cap = cap;
    }
    do {
        n = read(l->fd, l->buf + l->len, l->cap - l->len);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return link_lost(l, "Server closed the connection");
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return link_lost(l, "Timed out waiting for the server");
    if (n < 0) return link_lost(l, strerror(errno));
    l->len += (size_t)n;
    return 0;
}

ssize_t link_read(struct link *l, struct rr_reply *reply)
{
    if (l->fd < 0) return link_lost(l, "Not connected");
    for (;;) {
        ssize_t n = rr_parse(&l->reader, l->buf, l->len, reply);

        if (n > 0) return n;
        if (n == -1) return link_lost(l, l->reader.err.msg);
        if (link_fill(l) != 0) return -1;
    }
}

void link_consume(struct link *l, size_t n)
{
    assert(n <= l->len);
    memmove(l->buf, l->buf + n, l->len - n);
    l->len -= n;
}
