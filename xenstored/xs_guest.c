/* A test program that runs inside a Bulkhead domain and uses the store over
 * its ring page (bhxs_open_domain): writes and reads a key, watches
 * control/shutdown, and reports each step on stdout for the test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xenstored/bhxs.h"

static int fail(const char *what, int rc)
{
	printf("FAIL %s: %s\n", what, strerror(-rc));
	fflush(stdout);
	return 1;
}

int main(void)
{
	struct bhxs *xs;
	char *v = NULL, *path = NULL, *token = NULL;
	size_t len;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = bhxs_open_domain(&xs)) < 0)
		return fail("open", rc);
	if ((rc = bhxs_write_str(xs, 0, "data/key", "hello")) < 0)
		return fail("write", rc);
	if ((rc = bhxs_read(xs, 0, "data/key", &v, &len)) < 0)
		return fail("read", rc);
	printf("READ %s\n", v);
	free(v);
	if ((rc = bhxs_read(xs, 0, "/tool", &v, &len)) != -EACCES)
		return fail("read of dom0's node not refused", rc);
	if ((rc = bhxs_watch(xs, "control/shutdown", "ctl")) < 0)
		return fail("watch", rc);
	if ((rc = bhxs_wait_watch(xs, 10000, &path, &token)) < 0)
		return fail("first event", rc);
	free(path);
	free(token);
	printf("READY\n");
	for (;;) {
		if ((rc = bhxs_wait_watch(xs, -1, &path, &token)) < 0)
			return fail("wait", rc);
		rc = bhxs_read(xs, 0, "control/shutdown", &v, &len);
		printf("EVENT %s %s %s\n", path, token, rc == 0 ? v : "-");
		if (rc == 0)
			free(v);
		free(path);
		free(token);
	}
}
