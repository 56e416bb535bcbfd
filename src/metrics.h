/*
 * metrics.h - the server's state in the Prometheus text exposition format (version 0.0.4),
 * for GET /metrics.
 *
 * Every family has HELP and TYPE lines; counters end in _total, sizes are in bytes and times
 * in seconds (promtool check metrics accepts the output). Families: commands by name (calls,
 * error replies, a latency histogram per command), protocol errors, connections, keys,
 * memory, network bytes, the WAL (bytes, records, write errors, an fsync latency histogram),
 * snapshots (count, failures, durations, sizes), S3 (requests by kind, errors, backlog,
 * health), HTTP (requests by route and status, a latency histogram) and uptime. Commands
 * never called are left out.
 *
 * Threads: event-loop thread (it reads the S3 and WAL state under their locks).
 */
#ifndef PANDA_METRICS_H
#define PANDA_METRICS_H

#include "buf.h"

struct server;

/* Appends the whole exposition to out. */
void met_render(struct server *s, struct buf *out);

#endif
