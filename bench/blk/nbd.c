/* What a user would otherwise pick for a process-isolated block backend:
 * qemu-storage-daemon serving the image over NBD on a unix socket (file
 * driver with aio=io_uring; cache.direct=on for the O_DIRECT runs), and a
 * libnbd client keeping the same number of commands in flight. */
#include <errno.h>
#include <libnbd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/blk/paths.h"

extern char **environ;

struct nbdt;
struct nbd_slot {
	struct nbdt *t;
	int slot;
};

struct nbdt {
	struct nbd_handle *h;
	pid_t qsd;
	char sock[300];
	struct nbd_slot ctx[BB_MAX_DEPTH];
	int done[BB_MAX_DEPTH], ndone;
	uint64_t failed;
};

static int on_done(void *user_data, int *error)
{
	struct nbd_slot *c = user_data;

	if (*error)
		c->t->failed++;
	c->t->done[c->t->ndone++] = c->slot;
	return 1; /* retire the command */
}

static int n_submit(void *p, int slot, bool write, uint64_t off, void *buf, uint32_t len)
{
	struct nbdt *t = p;
	nbd_completion_callback cb = { .callback = on_done, .user_data = &t->ctx[slot] };
	int64_t c = write ? nbd_aio_pwrite(t->h, buf, len, off, cb, 0)
	                  : nbd_aio_pread(t->h, buf, len, off, cb, 0);

	return c < 0 ? -EIO : 0;
}

static int n_wait(void *p, int *slots, int max, uint64_t *errors)
{
	struct nbdt *t = p;
	int n;

	while (t->ndone == 0)
		if (nbd_poll(t->h, 5000) <= 0)
			return -ETIMEDOUT;
	n = BH_MIN(max, t->ndone);
	memcpy(slots, t->done, (size_t)n * sizeof(int));
	memmove(t->done, t->done + n, (size_t)(t->ndone - n) * sizeof(int));
	t->ndone -= n;
	*errors += t->failed;
	t->failed = 0;
	return n;
}

int bb_nbd_open(const char *image, bool direct, struct bb_target *out)
{
	struct nbdt *t = calloc(1, sizeof(*t));
	char blockdev[700], server[400];
	int rc = -EIO;

	if (!t)
		return -ENOMEM;
	*out = (struct bb_target){ .p = t, .submit = n_submit, .wait = n_wait };
	for (int i = 0; i < BB_MAX_DEPTH; i++)
		t->ctx[i] = (struct nbd_slot){ t, i };
	snprintf(t->sock, sizeof(t->sock), "%s.nbd.sock", image);
	unlink(t->sock);
	snprintf(blockdev, sizeof(blockdev),
	         "driver=file,node-name=disk,filename=%s,cache.direct=%s,aio=%s", image,
	         direct ? "on" : "off",
	         getenv("BLKBENCH_QSD_AIO") ? getenv("BLKBENCH_QSD_AIO") : "io_uring");
	snprintf(server, sizeof(server), "addr.type=unix,addr.path=%s", t->sock);
	char *argv[] = { "qemu-storage-daemon",
		         "--blockdev",
		         blockdev,
		         "--nbd-server",
		         server,
		         "--export",
		         "type=nbd,id=exp0,node-name=disk,name=disk,writable=on",
		         NULL };
	if (posix_spawnp(&t->qsd, argv[0], NULL, NULL, argv, environ) != 0) {
		t->qsd = 0;
		fprintf(stderr, "blkbench: cannot run qemu-storage-daemon (apt-get install "
		                "qemu-system-common)\n");
		goto fail;
	}
	if (!(t->h = nbd_create()) || nbd_set_export_name(t->h, "disk") < 0)
		goto fail;
	/* The socket appears once the daemon is up. */
	for (int i = 0; i < 200; i++) {
		if (access(t->sock, F_OK) == 0 && nbd_connect_unix(t->h, t->sock) == 0)
			return 0;
		if (access(t->sock, F_OK) == 0) {
			nbd_close(t->h);
			if (!(t->h = nbd_create()) || nbd_set_export_name(t->h, "disk") < 0)
				goto fail;
		}
		usleep(50000);
	}
	fprintf(stderr, "blkbench: NBD: %s\n", nbd_get_error() ? nbd_get_error() : "no socket");
fail:
	bb_nbd_close(out);
	return rc;
}

void bb_nbd_close(struct bb_target *tg)
{
	struct nbdt *t = tg->p;

	if (!t)
		return;
	if (t->h) {
		nbd_shutdown(t->h, 0);
		nbd_close(t->h);
	}
	if (t->qsd > 0) {
		kill(t->qsd, SIGTERM);
		waitpid(t->qsd, NULL, 0);
	}
	unlink(t->sock);
	free(t);
	tg->p = NULL;
}
