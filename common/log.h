/* Logging with a per-process prefix ("core", "blkback/dom3/xvda").
 *
 * Log once, where an error is handled. A struct bh_log is passed explicitly;
 * there is no global logger. A sink lets the core keep its own log ring (the
 * `bh dmesg` buffer) in addition to stderr. */
#ifndef BH_LOG_H
#define BH_LOG_H

#include <stdarg.h>

enum bh_log_level {
	BH_LOG_ERR = 0,
	BH_LOG_WARN = 1,
	BH_LOG_INFO = 2,
	BH_LOG_DEBUG = 3,
};

typedef void (*bh_log_sink_fn)(void *arg, enum bh_log_level level, const char *line);

struct bh_log {
	char prefix[96];
	enum bh_log_level max_level; /* messages above this level are dropped */
	int to_stderr;               /* also write to stderr */
	bh_log_sink_fn sink;         /* optional extra destination */
	void *sink_arg;
};

void bh_log_init(struct bh_log *lg, const char *prefix);
void bh_log_set_prefix(struct bh_log *lg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bh_logv(const struct bh_log *lg, enum bh_log_level level, const char *fmt, va_list ap);
void bh_log(const struct bh_log *lg, enum bh_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define bh_err(lg, ...)   bh_log((lg), BH_LOG_ERR, __VA_ARGS__)
#define bh_warn(lg, ...)  bh_log((lg), BH_LOG_WARN, __VA_ARGS__)
#define bh_info(lg, ...)  bh_log((lg), BH_LOG_INFO, __VA_ARGS__)
#define bh_debug(lg, ...) bh_log((lg), BH_LOG_DEBUG, __VA_ARGS__)

#endif
