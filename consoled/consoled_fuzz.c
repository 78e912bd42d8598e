/* Fuzz target: a hostile guest and a hostile client against the daemon.
 *
 * The input is a script of steps run against one served console (an
 * in-process page and eventfds, as in consoled_test.c), the daemon's loop
 * turning after each step:
 *   0 LEN BYTES   the guest writes BYTES into `out` at out_prod (raw, no checks)
 *   1 U32         the guest sets out_prod
 *   2 U32         the guest sets in_cons
 *   3 LEN BYTES   a client sends BYTES on the control socket (one connection)
 *   4             the guest notifies
 *   5             the guest reads its `in` ring properly
 * Whatever happens, the daemon must not crash, must stop (never read past)
 * a console with corrupt indices, and must give back the page and the port
 * when the domain is removed. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/consring.h"
#include "common/util.h"
#include "consoled/consoled.h"

struct fz {
	struct bh_cons_intf *page;
	int to_daemon;
	bool mapped, bound;
};

static int f_map(void *arg, uint16_t domid, void **page_out)
{
	struct fz *f = arg;

	if (domid != 1) /* one page: "add" of any other domain fails */
		return -ESRCH;
	f->mapped = true;
	*page_out = f->page;
	return 0;
}

static void f_unmap(void *arg, uint16_t domid, void *page)
{
	struct fz *f = arg;

	(void)domid;
	(void)page;
	f->mapped = false;
}

static int f_bind(void *arg, uint16_t domid, uint32_t port, uint32_t *local, int *fd)
{
	struct fz *f = arg;

	(void)domid;
	(void)port;
	f->bound = true;
	*local = 1;
	*fd = dup(f->to_daemon);
	return *fd < 0 ? -errno : 0;
}

static void f_ack(void *arg, uint32_t local, int fd)
{
	uint64_t v;

	(void)arg;
	(void)local;
	(void)!read(fd, &v, sizeof(v));
}

static int f_notify(void *arg, uint32_t local, int fd)
{
	(void)arg;
	(void)local;
	(void)fd;
	return 0;
}

static void f_unbind(void *arg, uint32_t local, int fd)
{
	struct fz *f = arg;

	(void)local;
	f->bound = false;
	close(fd);
}

static char work[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_work(void)
{
	nftw(work, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* One scratch directory per process, removed at exit. */
static const char *workdir(void)
{
	if (!work[0]) {
		snprintf(work, sizeof(work), "/tmp/bh-consoled-fuzz-XXXXXX");
		if (!mkdtemp(work))
			abort();
		atexit(rm_work);
		signal(SIGPIPE, SIG_IGN); /* as every embedder must */
	}
	return work;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	bh_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static uint32_t take_u32(const uint8_t **p, const uint8_t *end)
{
	uint32_t v = 0;

	for (int i = 0; i < 4 && *p < end; i++)
		v |= (uint32_t) * (*p)++ << (8 * i);
	return v;
}

static void step(struct fz *f, int *client, const char *sock, const uint8_t **p, const uint8_t *end)
{
	uint8_t op = *(*p)++ % 6, len;
	char drain[4096];

	switch (op) {
	case 0:
		len = *p < end ? *(*p)++ : 0;
		for (uint8_t i = 0; i < len && *p < end; i++)
			f->page->out[f->page->out_prod++ & (BH_CONS_OUT_SIZE - 1)] = (char)*(*p)++;
		break;
	case 1:
		f->page->out_prod = take_u32(p, end);
		break;
	case 2:
		f->page->in_cons = take_u32(p, end);
		break;
	case 3:
		len = *p < end ? *(*p)++ : 0;
		len = (uint8_t)BH_MIN((size_t)len, (size_t)(end - *p));
		if (*client < 0)
			*client = dial(sock);
		if (*client >= 0 && len)
			(void)!send(*client, *p, len, MSG_NOSIGNAL);
		*p += len;
		break;
	case 4:
		eventfd_write(f->to_daemon, 1);
		break;
	case 5:
		bh_cons_guest_read(f->page, drain, sizeof(drain));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { 0 };
	struct consoled_ops ops = { f_map, f_unmap, f_bind, f_ack, f_notify, f_unbind, &f };
	char logdir[128], sock[128], sink[4096];
	struct event_base *base = event_base_new();
	struct consoled *cd;
	const uint8_t *p = data, *end = data + size;
	int client = -1;

	snprintf(logdir, sizeof(logdir), "%s/logs", workdir());
	snprintf(sock, sizeof(sock), "%s/sock", workdir());
	struct consoled_opts o = { .logdir = logdir,
		                   .sock_path = sock,
		                   .ops = &ops,
		                   .allow_control = true,
		                   .log_max_bytes = 65536,
		                   .log_keep = 0 };
	f.page = aligned_alloc(4096, 4096);
	memset(f.page, 0, 4096);
	f.to_daemon = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!base || consoled_create_opts(base, &o, &cd) < 0 ||
	    consoled_add_domain(cd, 1, "fuzz", 1) < 0)
		abort();
	for (int n = 0; p < end && n < 256; n++) {
		step(&f, &client, sock, &p, end);
		event_base_loop(base, EVLOOP_NONBLOCK);
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (client >= 0)
			while (read(client, sink, sizeof(sink)) > 0)
				;
		/* a stopped console has let go of the guest's page */
		if (consoled_domain_state(cd, 1) == CONSOLED_BROKEN && (f.mapped || f.bound))
			abort();
	}
	/* the control verbs may have removed it already */
	consoled_remove_domain(cd, 1, "fuzz over");
	if (f.mapped || f.bound)
		abort();
	consoled_free(cd);
	event_base_free(base);
	if (client >= 0)
		close(client);
	close(f.to_daemon);
	free(f.page);
	return 0;
}
