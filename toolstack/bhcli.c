#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "toolstack/bhcli.h"

int bhcli_open(struct bhcli *c, const char *rundir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!rundir)
		rundir = getenv("BULKHEAD_RUNDIR");
	if (!rundir || !*rundir)
		rundir = "/run/bulkhead";
	snprintf(c->path, sizeof(c->path), "%s/dom0/api.sock", rundir);
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	bh_strlcpy(sa.sun_path, c->path, sizeof(sa.sun_path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		bh_closep(&c->fd);
		return e;
	}
	return 0;
}

void bhcli_close(struct bhcli *c)
{
	bh_closep(&c->fd);
}

int bhcli_call(struct bhcli *c, yajl_gen g, yajl_val *reply)
{
	const unsigned char *buf;
	size_t len, cap = 65536, have = 0;
	char *in = NULL, *nl = NULL, err[256];
	int rc;

	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		return -EINVAL;
	if ((rc = bh_write_full(c->fd, buf, len)) < 0 || (rc = bh_write_full(c->fd, "\n", 1)) < 0)
		return rc;
	if (!(in = malloc(cap)))
		return -ENOMEM;
	while (!nl) {
		ssize_t n;
		if (cap - have < 4096) {
			char *nb = realloc(in, cap *= 2);
			if (!nb) {
				free(in);
				return -ENOMEM;
			}
			in = nb;
		}
		n = read(c->fd, in + have, cap - have - 1);
		if (n <= 0) {
			free(in);
			return n < 0 ? -errno : -EPIPE;
		}
		in[have + (size_t)n] = 0;
		nl = memchr(in + have, '\n', (size_t)n);
		have += (size_t)n;
	}
	*nl = 0;
	*reply = yajl_tree_parse(in, err, sizeof(err));
	free(in);
	return *reply ? 0 : -EPROTO;
}
