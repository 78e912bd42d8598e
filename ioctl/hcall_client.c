#include "ioctl/hcall_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"

static int client_init(struct bh_hc_client *cl, int fd)
{
	cl->fd = fd;
	cl->seq = 0;
	return pthread_mutex_init(&cl->lock, NULL) == 0 ? 0 : -ENOMEM;
}

int bh_hc_open_domain(struct bh_hc_client *cl)
{
	const char *env = getenv("BULKHEAD_HCALL_FD");
	long fd = BH_HC_FD;
	int type = 0;
	socklen_t len = sizeof(type);

	if (env && bh_parse_int(env, 10, 0, 65535, &fd) < 0)
		return -EINVAL;
	if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		return -ENOTCONN; /* not running in a Bulkhead domain */
	bh_set_cloexec((int)fd, 1);
	return client_init(cl, (int)fd);
}

int bh_hc_open_admin(struct bh_hc_client *cl, const char *rundir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *env = getenv("BULKHEAD_RUNDIR");
	int fd, n;

	if (!rundir)
		rundir = env && *env ? env : "/run/bulkhead";
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/core.sock", rundir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return client_init(cl, fd);
}

void bh_hc_close(struct bh_hc_client *cl)
{
	bh_closep(&cl->fd);
	pthread_mutex_destroy(&cl->lock);
}

static int send_request(struct bh_hc_client *cl, uint32_t type, const void *req, size_t len,
                        uint32_t seq)
{
	unsigned char buf[BH_HC_MAX_MSG];
	struct bh_hc_hdr hdr = { .type = type, .len = (uint32_t)len, .seq = seq };
	ssize_t r;

	if (len > BH_HC_MAX_PAYLOAD)
		return -E2BIG;
	memcpy(buf, &hdr, sizeof(hdr));
	if (len)
		memcpy(buf + sizeof(hdr), req, len);
	r = bh_send_fds(cl->fd, buf, sizeof(hdr) + len, NULL, 0);
	return r < 0 ? (int)r : 0;
}

static int recv_reply(struct bh_hc_client *cl, uint32_t type, uint32_t seq,
                      struct bh_hc_result *res)
{
	unsigned char buf[BH_HC_MAX_MSG];
	int fds[BH_MAX_FDS_PER_MSG];
	struct bh_hc_hdr hdr;
	size_t nfds = 0, plen;
	ssize_t r;

	r = bh_recv_fds(cl->fd, buf, sizeof(buf), fds, BH_ARRAY_SIZE(fds), &nfds);
	if (r == 0)
		return -EPIPE;
	if (r < 0)
		return (int)r;
	if ((size_t)r < sizeof(hdr)) {
		bh_close_fds(fds, nfds);
		return -EPROTO;
	}
	memcpy(&hdr, buf, sizeof(hdr));
	plen = (size_t)r - sizeof(hdr);
	if (hdr.type != (type | BH_HC_RESP) || hdr.seq != seq || hdr.len != plen) {
		bh_close_fds(fds, nfds);
		return -EPROTO;
	}
	if ((res && (plen > res->resp_cap || nfds > res->max_fds)) || (!res && nfds)) {
		bh_close_fds(fds, nfds);
		return -EMSGSIZE;
	}
	if (res) {
		memcpy(res->resp, buf + sizeof(hdr), plen);
		res->resp_len = plen;
		if (nfds)
			memcpy(res->fds, fds, nfds * sizeof(int));
		res->nfds = nfds;
	}
	return hdr.status;
}

int bh_hc_call(struct bh_hc_client *cl, uint32_t type, const void *req, size_t len,
               struct bh_hc_result *res)
{
	int rc;
	uint32_t seq;

	if (res) {
		res->resp_len = 0;
		res->nfds = 0;
	}
	pthread_mutex_lock(&cl->lock);
	seq = ++cl->seq;
	rc = send_request(cl, type, req, len, seq);
	if (rc == 0)
		rc = recv_reply(cl, type, seq, res);
	pthread_mutex_unlock(&cl->lock);
	return rc;
}

int bh_hc_call_simple(struct bh_hc_client *cl, uint32_t type, const void *req, size_t len)
{
	unsigned char sink[BH_HC_MAX_PAYLOAD];
	struct bh_hc_result res = { .resp = sink, .resp_cap = sizeof(sink) };

	return bh_hc_call(cl, type, req, len, &res);
}
