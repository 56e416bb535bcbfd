/*
 * multi.h - transactions: MULTI/EXEC queues and WATCH.
 *
 * A client in MULTI owns a queue of commands whose arguments are copied (the read buffer
 * they came from is reused). WATCH registers the client under each key in srv.watched;
 * the keyspace's on_touch hook (watch_touch) flags every watcher of a changed key
 * CONN_DIRTY_CAS, so EXEC can refuse. A flush touches every watcher.
 *
 * Limits: MULTI_QUEUE_MAX queued commands per transaction (then EXEC aborts), WATCH_KEYS_MAX
 * watched keys per client.
 * Threads: event-loop thread only.
 */
#ifndef PANDA_MULTI_H
#define PANDA_MULTI_H

#include <stddef.h>

struct conn;
struct server;
struct cmd_def;

#define MULTI_QUEUE_MAX (1024 * 1024)
#define WATCH_KEYS_MAX  (64 * 1024)

void watch_init(struct server *s);
void watch_deinit(struct server *s);
/* Keyspace hook: key changed (key NULL: every key changed). */
void watch_touch(void *server, const char *key, size_t klen);
/* Forgets every key c watches (UNWATCH, EXEC, DISCARD, disconnect). */
void watch_release_all(struct conn *c);

/* Copies c's current command into its MULTI queue. */
void multi_queue(struct conn *c, const struct cmd_def *def);
/* Drops the queue and leaves MULTI. */
void multi_reset(struct conn *c);

#endif
