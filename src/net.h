/*
 * net.h - TCP socket helpers: listen, accept, socket options, address strings.
 *
 * All sockets are created non-blocking and close-on-exec. Errors fill struct kv_err and
 * return -1; net_accept returns -2 when no connection is waiting (EAGAIN).
 */
#ifndef PANDA_NET_H
#define PANDA_NET_H

#include <stddef.h>

#include "err.h"

#define NET_ADDR_MAX 64 /* "[ipv6]:port" */
#define NET_BACKLOG  511

/* Listens on addr:port (IPv4 or IPv6 literal, or a host name). Returns the fd or -1. */
int net_listen(const char *addr, int port, struct kv_err *err);
/* Accepts one connection; fills peer with "ip:port". Returns fd, -2 (none waiting) or -1. */
int net_accept(int lfd, char *peer, size_t peer_len, struct kv_err *err);
/* Writes the socket's local address as "ip:port". */
void net_local_addr(int fd, char *out, size_t len);

#endif
