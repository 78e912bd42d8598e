/* Fuzz target: one hypercall datagram, from a privileged or an
 * unprivileged domain (the first byte chooses), through hc_dispatch. The
 * test core cannot reach the host: images, device directories and the
 * runtime directory point nowhere, and its domains have no processes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core_testlib.h"

static struct {
	struct core *c;
	struct hc_conn conn[2];
	int peer[2];
	unsigned runs;
} fz;

static void fuzz_setup(void)
{
	fz.c = tcore_new();
	fz.c->log.max_level = BH_LOG_ERR;
	tdom_add(fz.c, 0, BH_ROLE_CONTROL, true);
	tdom_add(fz.c, 1, BH_ROLE_GUEST, false);
	tdom_add(fz.c, 2, BH_ROLE_DRIVER, false);
	tconn_open(fz.c, &fz.conn[0], 0, false, &fz.peer[0]);
	tconn_open(fz.c, &fz.conn[1], 1, false, &fz.peer[1]);
}

static void fuzz_teardown(void)
{
	for (int i = 0; i < 2; i++) {
		hc_conn_close(&fz.conn[i]);
		close(fz.peer[i]);
	}
	tcore_free(fz.c);
	memset(&fz, 0, sizeof(fz));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char reply[BH_HC_MAX_MSG];
	int fds[BH_MAX_FDS_PER_MSG];
	size_t nfds = 0;
	int who;

	if (size < 1)
		return 0;
	if (!fz.c)
		fuzz_setup();
	who = data[0] & 1;
	if (hc_dispatch(&fz.conn[who], data + 1, size - 1, NULL, 0) == 0 &&
	    bh_recv_fds(fz.peer[who], reply, sizeof(reply), fds, BH_MAX_FDS_PER_MSG, &nfds) > 0)
		bh_close_fds(fds, nfds);
	/* Start over now and then so state does not pile up across inputs. */
	if (++fz.runs % 512 == 0)
		fuzz_teardown();
	return 0;
}
