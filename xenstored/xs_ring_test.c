/* The ring transport, both ends in one process: the store serves a domain
 * over an in-memory page (the ops the daemon backs with gntdev/evtchn),
 * bhxs_open_ring is the domain's client, eventfds are the event channel. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bulkhead/xs_wire.h"
#include "common/bhtest.h"
#include "common/util.h"
#include "xenstored/bhxs.h"
#include "xenstored/ring.h"
#include "xenstored/xs_testlib.h"

struct rig {
	struct xsd *s;
	struct xsd_rings *rs;
	struct peer d0;
	struct xenstore_domain_interface *page;
	int to_server, to_client, stop;
	int mapped, bound;
	unsigned long kicks, notifies; /* client -> daemon, daemon -> client */
	pthread_t th;
};

static int r_map(void *arg, unsigned domid, long long gfn, void **out)
{
	struct rig *r = arg;

	r->mapped++;
	*out = r->page;
	return 0;
}

static void r_unmap(void *arg, void *page)
{
	((struct rig *)arg)->mapped--;
}

static int r_bind(void *arg, unsigned domid, unsigned port, unsigned *local)
{
	((struct rig *)arg)->bound++;
	*local = port + 100;
	return 0;
}

static void r_unbind(void *arg, unsigned port)
{
	((struct rig *)arg)->bound--;
}

static void r_notify(void *arg, unsigned port)
{
	uint64_t one = 1;

	__atomic_add_fetch(&((struct rig *)arg)->notifies, 1, __ATOMIC_RELAXED);
	if (write(((struct rig *)arg)->to_client, &one, sizeof(one)) < 0) {
	}
}

static void *server(void *arg)
{
	struct rig *r = arg;
	struct pollfd p[2] = { { .fd = r->to_server, .events = POLLIN },
		               { .fd = r->stop, .events = POLLIN } };
	uint64_t v;

	while (poll(p, 2, -1) >= 0 && !(p[1].revents & POLLIN)) {
		if (read(r->to_server, &v, sizeof(v)) > 0) {
			__atomic_add_fetch(&r->kicks, v, __ATOMIC_RELAXED);
			xsd_rings_port_fired(r->rs, 101);
		}
	}
	return NULL;
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct xsd_ring_ops ops = { r_map, r_unmap, r_bind, r_unbind, r_notify, r };
	struct xsd_host_ops host;

	r->page = aligned_alloc(4096, 4096);
	memset(r->page, 0, 4096);
	r->to_server = eventfd(0, EFD_NONBLOCK);
	r->to_client = eventfd(0, EFD_NONBLOCK);
	r->stop = eventfd(0, EFD_NONBLOCK);
	r->rs = xsd_rings_new(&ops);
	xsd_rings_fill_host(r->rs, &host);
	r->s = xsd_new(NULL, &host);
	xsd_rings_set_store(r->rs, r->s);
	peer_init(&r->d0, r->s, 0, true);
	assert_int_equal(peer_callv(&r->d0, XS_MKDIR, 0, 1, "/local/domain/5"), 0);
	assert_int_equal(peer_callv(&r->d0, XS_SET_PERMS, 0, 2, "/local/domain/5", "n5"), 0);
	assert_int_equal(peer_callv(&r->d0, XS_INTRODUCE, 0, 3, "5", "0", "1"), 0);
	assert_int_equal(r->mapped, 1);
	assert_int_equal(r->bound, 1);
	pthread_create(&r->th, NULL, server, r);
	return r;
}

static void rig_stop(struct rig *r)
{
	uint64_t one = 1;

	if (write(r->stop, &one, sizeof(one)) < 0) {
	}
	pthread_join(r->th, NULL);
}

static void rig_free(struct rig *r)
{
	xsd_rings_free(r->rs);
	xsd_free(r->s);
	close(r->to_server);
	close(r->to_client);
	close(r->stop);
	free(r->page);
	free(r);
}

static void test_ring_ops_and_wrap(void **state)
{
	struct rig *r = rig_new();
	struct bhxs *xs;
	char big[2001], *v = NULL, *path, *token;
	size_t len;

	assert_int_equal(bhxs_open_ring(r->page, r->to_server, r->to_client, false, &xs), 0);
	assert_int_equal(bhxs_write_str(xs, 0, "name", "guest"), 0);
	assert_int_equal(bhxs_read(xs, 0, "/local/domain/5/name", &v, &len), 0);
	assert_string_equal(v, "guest");
	free(v);
	/* Messages bigger than the 1024-byte rings, many times round. */
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 50; i++) {
		big[0] = (char)('a' + i % 26);
		assert_int_equal(bhxs_write_str(xs, 0, "big", big), 0);
		assert_int_equal(bhxs_read(xs, 0, "big", &v, &len), 0);
		assert_int_equal(len, sizeof(big) - 1);
		assert_memory_equal(v, big, len);
		free(v);
	}
	assert_int_equal(bhxs_read(xs, 0, "/secret-of-dom0", &v, &len), -ENOENT);
	assert_int_equal(bhxs_write_str(xs, 0, "/tool/x", "no"), -EACCES);
	/* A relative watch, its events relative too. */
	assert_int_equal(bhxs_watch(xs, "device", "dev"), 0);
	assert_int_equal(bhxs_wait_watch(xs, 2000, &path, &token), 0);
	assert_string_equal(path, "device");
	free(path);
	free(token);
	assert_int_equal(bhxs_write_str(xs, 0, "device/vif/0/state", "1"), 0);
	assert_int_equal(bhxs_wait_watch(xs, 2000, &path, &token), 0);
	assert_string_equal(path, "device/vif/0/state");
	assert_string_equal(token, "dev");
	free(path);
	free(token);
	bhxs_close(xs);
	rig_stop(r);
	/* Release disconnects the ring: unmapped, unbound, nodes gone. */
	xsd_domain_released(r->s, 5);
	assert_int_equal(r->mapped, 0);
	assert_int_equal(r->bound, 0);
	assert_int_equal(xs_read(&r->d0, 0, "/local/domain/5/name"), ENOENT);
	rig_free(r);
}

static void test_ring_too_long_payload(void **state)
{
	struct rig *r = rig_new();
	struct xsd_sockmsg h = { .type = XS_READ, .len = 5000 };
	struct bhxs *xs;
	char *v;
	size_t len;

	memcpy(r->page->req, &h, sizeof(h));
	__atomic_store_n(&r->page->req_prod, sizeof(h), __ATOMIC_RELEASE);
	assert_int_equal(bhxs_open_ring(r->page, r->to_server, r->to_client, false, &xs), 0);
	uint64_t one = 1;
	assert_int_equal(write(r->to_server, &one, sizeof(one)), sizeof(one));
	for (int i = 0; i < 100 && !__atomic_load_n(&r->page->error, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	assert_int_equal(r->page->error, XENSTORE_ERROR_PROTO);
	assert_int_equal(bhxs_read(xs, 0, "name", &v, &len), -EIO);
	bhxs_close(xs);
	rig_stop(r);
	/* The store itself is fine. */
	assert_int_equal(xs_write(&r->d0, 0, "/ok", "1"), 0);
	rig_free(r);
}

static void test_ring_bad_index(void **state)
{
	struct rig *r = rig_new();
	uint64_t one = 1;

	__atomic_store_n(&r->page->req_prod, 5000, __ATOMIC_RELEASE);
	assert_int_equal(write(r->to_server, &one, sizeof(one)), sizeof(one));
	for (int i = 0; i < 100 && !__atomic_load_n(&r->page->error, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	assert_int_equal(r->page->error, XENSTORE_ERROR_RINGIDX);
	rig_stop(r);
	assert_int_equal(xs_write(&r->d0, 0, "/ok", "1"), 0);
	rig_free(r);
}

/* A wait with a timeout never becomes a wait forever: with nothing to
 * read, bhxs_read_watch (timeout 0) and a 1 ms bhxs_wait_watch return
 * however the clock ticks meanwhile. Once, the remaining time was
 * computed with two clock reads and came out negative when a millisecond
 * passed between them, and poll(2) then waited forever: a driver domain
 * draining its store events hung. SIGALRM ends a hang here. */
static void test_ring_timeouts_end(void **state)
{
	struct rig *r = rig_new();
	struct bhxs *xs;
	char *path, *token;
	uint64_t end;

	assert_int_equal(bhxs_open_ring(r->page, r->to_server, r->to_client, false, &xs), 0);
	alarm(20);
	end = bh_now_ns() + 1500000000ull;
	for (unsigned n = 0; bh_now_ns() < end; n++) {
		assert_int_equal(bhxs_read_watch(xs, &path, &token), -EAGAIN);
		if (n % 16 == 0)
			assert_int_equal(bhxs_wait_watch(xs, 1, &path, &token), -ETIMEDOUT);
	}
	alarm(0);
	bhxs_close(xs);
	rig_stop(r);
	rig_free(r);
}

/* Pipelined over the ring: requests and replies far bigger together than
 * the 1024-byte rings, the client filling one while draining the other. */
static void test_ring_pipeline(void **state)
{
	enum { N = 60 };
	static char paths[N][16], vals[N][1500];
	struct bhxs_op ops[N];
	struct rig *r = rig_new();
	struct bhxs *xs;

	assert_int_equal(bhxs_open_ring(r->page, r->to_server, r->to_client, false, &xs), 0);
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof(paths[i]), "p/%d", i);
		memset(vals[i], 'a' + i % 26, sizeof(vals[i]) - 1 - (size_t)i);
		vals[i][sizeof(vals[i]) - 1 - (size_t)i] = '\0';
		ops[i] = (struct bhxs_op){
			.type = XS_WRITE, .path = paths[i], .val = vals[i], .len = strlen(vals[i])
		};
	}
	assert_int_equal(bhxs_pipeline(xs, 0, ops, N), 0);
	assert_int_equal(bhxs_pipeline_rc(ops, N), 0);
	bhxs_pipeline_free(ops, N);
	for (int i = 0; i < N; i++)
		ops[i] = (struct bhxs_op){ .type = XS_READ, .path = paths[i] };
	assert_int_equal(bhxs_pipeline(xs, 0, ops, N), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].rc, 0);
		assert_string_equal(ops[i].reply, vals[i]);
	}
	bhxs_pipeline_free(ops, N);
	bhxs_close(xs);
	rig_stop(r);
	rig_free(r);
}

/* A pipelined batch of small reads (a driver domain's snapshot of its
 * frontends' keys) costs a kick and a notification per window of
 * requests, not per request: the daemon signals once per pass over the
 * ring, the client kicks only a daemon that had caught up, and takes the
 * replies it has before it sends more. Per request, a batch went by in
 * ping-pong on a busy CPU. */
static void test_ring_pipeline_signals_per_window(void **state)
{
	enum { N = 35 };
	static char paths[N][16];
	struct bhxs_op ops[N];
	struct rig *r = rig_new();
	struct bhxs *xs;
	unsigned long kicks, notifies;

	assert_int_equal(bhxs_open_ring(r->page, r->to_server, r->to_client, false, &xs), 0);
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof(paths[i]), "k/%d", i);
		ops[i] =
		    (struct bhxs_op){ .type = XS_WRITE, .path = paths[i], .val = "1", .len = 1 };
	}
	assert_int_equal(bhxs_pipeline(xs, 0, ops, N), 0);
	assert_int_equal(bhxs_pipeline_rc(ops, N), 0);
	bhxs_pipeline_free(ops, N);
	kicks = __atomic_load_n(&r->kicks, __ATOMIC_RELAXED);
	notifies = __atomic_load_n(&r->notifies, __ATOMIC_RELAXED);
	for (int i = 0; i < N; i++)
		ops[i] = (struct bhxs_op){ .type = XS_READ, .path = paths[i] };
	assert_int_equal(bhxs_pipeline(xs, 0, ops, N), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].rc, 0);
		assert_string_equal(ops[i].reply, "1");
	}
	bhxs_pipeline_free(ops, N);
	kicks = __atomic_load_n(&r->kicks, __ATOMIC_RELAXED) - kicks;
	notifies = __atomic_load_n(&r->notifies, __ATOMIC_RELAXED) - notifies;
	/* 35 reads go 7 at a time (the reply budget): 5 windows */
	assert_in_range(kicks, 1, 10);
	assert_in_range(notifies, 1, 10);
	bhxs_close(xs);
	rig_stop(r);
	rig_free(r);
}

/* A daemon that answers every request with its reply and a watch event
 * written into the ring together, behind a single kick (as xenstored does
 * when a write fires the writer's own watch and the client is slow to be
 * scheduled). */
struct twofer {
	struct xenstore_domain_interface *page;
	int to_server, to_client, n;
};

static void *twofer_daemon(void *arg)
{
	struct twofer *t = arg;
	struct pollfd p = { .fd = t->to_server, .events = POLLIN };
	uint64_t v;

	for (int done = 0; done < t->n && poll(&p, 1, 5000) == 1;) {
		struct xsd_sockmsg h;
		uint32_t cons = t->page->req_cons;

		if (read(t->to_server, &v, sizeof(v)) < 0) {
		}
		while (__atomic_load_n(&t->page->req_prod, __ATOMIC_ACQUIRE) - cons >= sizeof(h)) {
			char out[128];
			size_t len = 0;

			for (size_t k = 0; k < sizeof(h); k++)
				((char *)&h)[k] =
				    t->page->req[MASK_XENSTORE_IDX(cons + (uint32_t)k)];
			while (__atomic_load_n(&t->page->req_prod, __ATOMIC_ACQUIRE) - cons <
			       sizeof(h) + h.len)
				;
			cons += (uint32_t)(sizeof(h) + h.len);
			__atomic_store_n(&t->page->req_cons, cons, __ATOMIC_RELEASE);
			struct xsd_sockmsg rep = { .type = h.type, .req_id = h.req_id, .len = 3 };
			struct xsd_sockmsg ev = { .type = XS_WATCH_EVENT, .len = 7 };
			memcpy(out, &rep, sizeof(rep));
			memcpy(out + sizeof(rep), "OK", 3);
			len = sizeof(rep) + 3;
			memcpy(out + len, &ev, sizeof(ev));
			memcpy(out + len + sizeof(ev), "wk/x\0t", 7);
			len += sizeof(ev) + 7;
			uint32_t prod = t->page->rsp_prod;
			for (size_t k = 0; k < len; k++)
				t->page->rsp[MASK_XENSTORE_IDX(prod + (uint32_t)k)] = out[k];
			__atomic_store_n(&t->page->rsp_prod, prod + (uint32_t)len,
			                 __ATOMIC_RELEASE);
			done++;
		}
		v = 1;
		if (write(t->to_client, &v, sizeof(v)) < 0) { /* one kick for both */
		}
	}
	return NULL;
}

/* The event read along with the reply still makes bhxs_fd() readable: the
 * kick that announced it is spent, so a poll loop would otherwise sleep on
 * it until some later kick. */
static void test_ring_event_behind_a_reply_wakes_poll(void **state)
{
	struct twofer t = { .n = 50 };
	struct bhxs *xs;
	pthread_t th;
	char *path, *token;

	t.page = aligned_alloc(4096, 4096);
	memset(t.page, 0, 4096);
	t.to_server = eventfd(0, EFD_NONBLOCK);
	t.to_client = eventfd(0, EFD_NONBLOCK);
	assert_int_equal(bhxs_open_ring(t.page, t.to_server, t.to_client, false, &xs), 0);
	pthread_create(&th, NULL, twofer_daemon, &t);
	for (int i = 0; i < t.n; i++) {
		struct pollfd p = { .fd = bhxs_fd(xs), .events = POLLIN };

		assert_int_equal(bhxs_printf(xs, 0, "wk/x", "%d", i), 0);
		assert_int_equal(poll(&p, 1, 2000), 1);
		assert_int_equal(bhxs_read_watch(xs, &path, &token), 0);
		assert_string_equal(path, "wk/x");
		assert_string_equal(token, "t");
		free(path);
		free(token);
		assert_int_equal(bhxs_read_watch(xs, &path, &token), -EAGAIN);
	}
	pthread_join(th, NULL);
	bhxs_close(xs);
	close(t.to_server);
	close(t.to_client);
	free(t.page);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_ring_ops_and_wrap),
	cmocka_unit_test(test_ring_too_long_payload),
	cmocka_unit_test(test_ring_bad_index),
	cmocka_unit_test(test_ring_timeouts_end),
	cmocka_unit_test(test_ring_pipeline),
	cmocka_unit_test(test_ring_pipeline_signals_per_window),
	cmocka_unit_test(test_ring_event_behind_a_reply_wakes_poll),
};

BH_TEST_MAIN(tests)
