/*
 * nullsrv - the benchmark's ceiling: a RESP server that does no work.
 *
 * It answers "+OK" to every command it receives (it counts the "*<n>" headers that start
 * redis-benchmark's commands; it parses nothing else), and "+PONG" to a read holding no such
 * header (the harness's inline PING probe), so no real server can answer faster with the
 * same client on the same machine. With --fsync FILE it also appends one record per
 * loop iteration to FILE and fdatasyncs it before answering that iteration's commands: the
 * cheapest possible group commit, the ceiling for a server whose replies wait for the disk.
 *
 * Used by bench/run.sh only (built there with cc); not part of Panda.
 *
 * Usage: nullsrv PORT [--fsync FILE]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define NULL_EVENTS_MAX 1024
#define NULL_READ_BYTES 65536
#define NULL_FDS_MAX    65536
#define NULL_RECORD     64 /* bytes appended per loop iteration with --fsync */

static char in[NULL_READ_BYTES];
static char out[NULL_READ_BYTES / 2 * 5]; /* a command takes 2 bytes at least ("*\n") */
static unsigned owed[NULL_FDS_MAX];       /* +OK replies owed per fd */
static unsigned char pong[NULL_FDS_MAX];  /* an inline command is owed its +PONG */

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 511) != 0)
        return -1;
    return fd;
}

static void accept_one(int ep, int lfd)
{
    int one = 1, fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
    if (fd < 0) return;
    if (fd >= NULL_FDS_MAX) {
        close(fd);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Reads what fd sent and counts its commands; returns 1 if replies are owed. */
static int read_one(int fd)
{
    ssize_t n = read(fd, in, sizeof(in));
    if (n <= 0) {
        close(fd);
        owed[fd] = pong[fd] = 0;
        return 0;
    }
    unsigned before = owed[fd];
    for (ssize_t i = 0; i < n; i++)
        if (in[i] == '*' && (i == 0 || in[i - 1] == '\n')) owed[fd]++;
    if (owed[fd] == before && in[n - 1] == '\n') pong[fd] = 1;
    return owed[fd] > 0 || pong[fd];
}

static void reply(int fd)
{
    if (pong[fd]) {
        pong[fd] = 0;
        if (write(fd, "+PONG\r\n", 7) < 0) close(fd);
    }
    size_t n = owed[fd] < sizeof(out) / 5 ? owed[fd] : sizeof(out) / 5;
    for (size_t i = 0; i < n; i++)
        memcpy(out + 5 * i, "+OK\r\n", 5);
    if (write(fd, out, 5 * n) < 0) close(fd);
    owed[fd] -= (unsigned)n;
}

int main(int argc, char **argv)
{
    int log = -1, lfd = argc >= 2 ? listen_on(atoi(argv[1])) : -1;
    if (argc == 4 && strcmp(argv[2], "--fsync") == 0)
        log = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (lfd < 0 || (argc != 2 && log < 0)) {
        fprintf(stderr, "usage: nullsrv PORT [--fsync FILE] (or cannot listen/open)\n");
        return 2;
    }
    int ep = epoll_create1(0), ready[NULL_EVENTS_MAX];
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[NULL_EVENTS_MAX];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static const char record[NULL_RECORD];
    for (;;) {
        int n = epoll_wait(ep, evs, NULL_EVENTS_MAX, -1), nready = 0;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd)
                accept_one(ep, lfd);
            else if (read_one(fd))
                ready[nready++] = fd;
        }
        if (log >= 0 && nready > 0 &&
            (write(log, record, sizeof(record)) < 0 || fdatasync(log) != 0)) {
            perror("nullsrv: log");
            return 1;
        }
        for (int i = 0; i < nready; i++)
            reply(ready[i]);
    }
}
