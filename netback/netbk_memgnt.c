/* In-process grants and event channels (see netbk_memgnt.h). */
#include "netback/netbk_memgnt.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "common/util.h"

/* GNTST_* values from Xen's grant_table.h */
#define GNTST_general_error     (-1)
#define GNTST_bad_gntref        (-4)
#define GNTST_permission_denied (-8)
#define GNTST_bad_copy_arg      (-10)

struct memgnt_ref {
	uint8_t *page;
	uint16_t owner, peer;
	bool writable;
	bool used;
};

struct memgnt {
	pthread_mutex_t lock;
	struct memgnt_ref refs[MEMGNT_MAX_REFS];
	uint32_t next_ref;
	int port_fd[MEMGNT_MAX_PORTS];
	uint32_t port_peer[MEMGNT_MAX_PORTS];
	uint32_t nports;
	uint64_t copy_failures;
};

int memgnt_create(struct memgnt **out)
{
	struct memgnt *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->next_ref = 8; /* Xen reserves the first refs */
	m->nports = 1;   /* port 0 is never valid */
	*out = m;
	return 0;
}

void memgnt_destroy(struct memgnt *m)
{
	if (!m)
		return;
	for (uint32_t i = 1; i < m->nports; i++)
		bh_closep(&m->port_fd[i]);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void *memgnt_alloc(struct memgnt *m, uint16_t owner, uint16_t peer, unsigned count, bool writable,
                   uint32_t *refs_out)
{
	uint8_t *pages = NULL;

	if (!count || posix_memalign((void **)&pages, 4096, (size_t)count * 4096))
		return NULL;
	memset(pages, 0, (size_t)count * 4096);
	pthread_mutex_lock(&m->lock);
	if (m->next_ref + count > MEMGNT_MAX_REFS) {
		pthread_mutex_unlock(&m->lock);
		free(pages);
		return NULL;
	}
	for (unsigned i = 0; i < count; i++) {
		struct memgnt_ref *r = &m->refs[m->next_ref];

		*r = (struct memgnt_ref){ .page = pages + (size_t)i * 4096,
			                  .owner = owner,
			                  .peer = peer,
			                  .writable = writable,
			                  .used = true };
		refs_out[i] = m->next_ref++;
	}
	pthread_mutex_unlock(&m->lock);
	return pages;
}

void memgnt_free(struct memgnt *m, void *pages, const uint32_t *refs, unsigned count)
{
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < count; i++)
		if (refs[i] < MEMGNT_MAX_REFS)
			m->refs[refs[i]].used = false;
	pthread_mutex_unlock(&m->lock);
	free(pages);
}

/* The page behind (domid's grant ref) as seen by `self`, or NULL. */
static uint8_t *lookup(struct memgnt *m, uint16_t self, uint16_t domid, uint32_t ref, bool write,
                       int *st)
{
	struct memgnt_ref r;

	if (ref >= MEMGNT_MAX_REFS) {
		*st = GNTST_bad_gntref;
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	r = m->refs[ref];
	pthread_mutex_unlock(&m->lock);
	if (!r.used || r.owner != domid) {
		*st = GNTST_bad_gntref;
		return NULL;
	}
	if (r.peer != self || (write && !r.writable)) {
		*st = GNTST_permission_denied;
		return NULL;
	}
	*st = 0;
	return r.page;
}

int memgnt_evtchn_pair(struct memgnt *m, uint32_t *a, uint32_t *b)
{
	int rc = 0;

	pthread_mutex_lock(&m->lock);
	if (m->nports + 2 > MEMGNT_MAX_PORTS) {
		rc = -ENOSPC;
		goto out;
	}
	*a = m->nports++;
	*b = m->nports++;
	m->port_fd[*a] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	m->port_fd[*b] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	m->port_peer[*a] = *b;
	m->port_peer[*b] = *a;
	if (m->port_fd[*a] < 0 || m->port_fd[*b] < 0)
		rc = -errno;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int memgnt_port_fd(struct memgnt *m, uint32_t port)
{
	return port && port < m->nports ? m->port_fd[port] : -1;
}

int memgnt_notify(struct memgnt *m, uint32_t port)
{
	uint64_t one = 1;

	if (!port || port >= m->nports)
		return -EINVAL;
	if (write(m->port_fd[m->port_peer[port]], &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

void memgnt_port_ack(struct memgnt *m, uint32_t port)
{
	uint64_t v;

	if (port && port < m->nports && read(m->port_fd[port], &v, sizeof(v)) < 0) {
		/* nothing pending: fine */
	}
}

uint64_t memgnt_copy_failures(struct memgnt *m)
{
	return __atomic_load_n(&m->copy_failures, __ATOMIC_RELAXED);
}

/* netbk_gntmap_ops over the table */

static void *mv_map_ring(void *ctx, uint16_t domid, uint32_t ref)
{
	struct memgnt_view *v = ctx;
	int st;

	return lookup(v->m, v->self, domid, ref, true, &st);
}

static void mv_unmap_ring(void *ctx, void *page)
{
}

static int mv_copy(void *ctx, uint16_t domid, bool to_grant, struct netbk_gntcopy_seg *segs,
                   unsigned n)
{
	struct memgnt_view *v = ctx;

	for (unsigned i = 0; i < n; i++) {
		struct netbk_gntcopy_seg *s = &segs[i];
		int st;
		uint8_t *page = lookup(v->m, v->self, domid, s->ref, to_grant, &st);

		if (page && (uint32_t)s->offset + s->len > 4096) {
			page = NULL;
			st = GNTST_bad_copy_arg;
		}
		s->status = (int16_t)st;
		if (!page) {
			__atomic_add_fetch(&v->m->copy_failures, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (to_grant)
			memcpy(page + s->offset, s->local, s->len);
		else
			memcpy(s->local, page + s->offset, s->len);
	}
	return 0;
}

static int mv_pages(void *ctx, uint16_t domid, bool writable, const uint32_t *refs, unsigned n,
                    uint8_t **out)
{
	struct memgnt_view *v = ctx;

	for (unsigned i = 0; i < n; i++) {
		int st;

		if (!(out[i] = lookup(v->m, v->self, domid, refs[i], writable, &st)))
			__atomic_add_fetch(&v->m->copy_failures, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

static int mv_notify(void *ctx, uint32_t port)
{
	return memgnt_notify(((struct memgnt_view *)ctx)->m, port);
}

static int mv_port_fd(void *ctx, uint32_t port)
{
	return memgnt_port_fd(((struct memgnt_view *)ctx)->m, port);
}

static void mv_port_ack(void *ctx, uint32_t port)
{
	memgnt_port_ack(((struct memgnt_view *)ctx)->m, port);
}

void memgnt_netbk_ops(struct memgnt_view *view, struct netbk_gntmap_ops *out)
{
	*out = (struct netbk_gntmap_ops){ .map_ring = mv_map_ring,
		                          .unmap_ring = mv_unmap_ring,
		                          .copy = mv_copy,
		                          .pages = mv_pages,
		                          .notify = mv_notify,
		                          .port_fd = mv_port_fd,
		                          .port_ack = mv_port_ack,
		                          .ctx = view };
}
