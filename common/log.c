#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void bh_log_init(struct bh_log *lg, const char *prefix)
{
	memset(lg, 0, sizeof(*lg));
	snprintf(lg->prefix, sizeof(lg->prefix), "%s", prefix);
	lg->max_level = BH_LOG_INFO;
	lg->to_stderr = 1;
}

void bh_log_set_prefix(struct bh_log *lg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lg->prefix, sizeof(lg->prefix), fmt, ap);
	va_end(ap);
}

void bh_logv(const struct bh_log *lg, enum bh_log_level level, const char *fmt, va_list ap)
{
	char msg[1024], line[1200];
	struct timespec ts;
	struct tm tm;

	if (level > lg->max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s: %s%s%s",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         ts.tv_nsec / 1000, lg->prefix, level <= BH_LOG_WARN ? level_names[level] : "",
	         level <= BH_LOG_WARN ? ": " : "", msg);
	if (lg->to_stderr)
		fprintf(stderr, "%s\n", line);
	if (lg->sink)
		lg->sink(lg->sink_arg, level, line);
}

void bh_log(const struct bh_log *lg, enum bh_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bh_logv(lg, level, fmt, ap);
	va_end(ap);
}
