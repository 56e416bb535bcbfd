/*
 * log.h - leveled logging to stderr.
 *
 * Every line is `YYYY-MM-DD HH:MM:SS.mmm [level] message`, written with one write(2) so lines
 * from different threads never interleave. Messages longer than LOG_LINE_MAX are truncated.
 * Thread-safe; the level is set once at start-up before threads exist.
 */
#ifndef PANDA_LOG_H
#define PANDA_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

#define LOG_LINE_MAX 2048 /* a line with a full kv_err message and its context */

void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns 0, or -1 if the name is unknown. */
int log_parse_level(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__);                               \
    } while (0)

#endif
