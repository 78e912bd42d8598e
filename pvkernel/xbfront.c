#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "pvkernel/xbfront.h"
#include "xenstored/bhxs.h"

void pvk_fe_say(void (*log)(void *, const char *), void *arg, const char *fmt, ...)
{
	char buf[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log)
		log(arg, buf);
}

int pvk_fe_wait_state(struct bhxs *xs, const char *dir, unsigned want, int timeout_ms)
{
	char p[256], *path, *tok;
	unsigned long long st;
	uint64_t end = bh_now_ns() + (uint64_t)timeout_ms * 1000000;
	int rc;

	snprintf(p, sizeof(p), "%s/state", dir);
	if ((rc = bhxs_watch(xs, p, "fe-state")) < 0)
		return rc;
	for (;;) {
		if (bhxs_read_uint(xs, 0, p, &st) == 0) {
			if (st == want || (want < XB_CONNECTED && st == XB_CONNECTED))
				break;
			if (st >= XB_CLOSING) {
				rc = -ECONNRESET;
				goto out;
			}
		}
		int left = (int)((int64_t)(end - bh_now_ns()) / 1000000);
		if (left <= 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
		if (bhxs_wait_watch(xs, BH_MIN(left, 200), &path, &tok) == 0) {
			free(path);
			free(tok);
		}
	}
	rc = 0;
out:
	bhxs_unwatch(xs, p, "fe-state");
	return rc;
}
