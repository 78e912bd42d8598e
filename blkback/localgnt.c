/* The in-process grant table (see localgnt.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkback/localgnt.h"
#include "common/util.h"

#define FIRST_REF 8 /* refs 0..7 are reserved, as in Xen */

struct lg_entry {
	bool granted, writable;
	uint16_t domid;
	uint32_t page;
};

struct bh_lgnt {
	pthread_mutex_t lock;
	uint16_t owner;
	int memfd;
	uint32_t max_pages, next_page;
	struct lg_entry *e; /* by ref - FIRST_REF */
	uint32_t live;
	uint64_t calls;
	uint32_t fail_in;
};

int bh_lgnt_create(uint16_t owner, uint32_t max_pages, struct bh_lgnt **out)
{
	struct bh_lgnt *t = calloc(1, sizeof(*t));

	if (!t || !(t->e = calloc(max_pages, sizeof(*t->e)))) {
		free(t);
		return -ENOMEM;
	}
	t->memfd = memfd_create("lgnt", MFD_CLOEXEC);
	if (t->memfd < 0 || ftruncate(t->memfd, (off_t)max_pages * BH_PAGE_SIZE) < 0) {
		int rc = -errno;
		bh_closep(&t->memfd);
		free(t->e);
		free(t);
		return rc;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->owner = owner;
	t->max_pages = max_pages;
	*out = t;
	return 0;
}

void bh_lgnt_destroy(struct bh_lgnt *t)
{
	if (!t)
		return;
	close(t->memfd);
	pthread_mutex_destroy(&t->lock);
	free(t->e);
	free(t);
}

static struct lg_entry *entry(struct bh_lgnt *t, uint32_t ref)
{
	if (ref < FIRST_REF || ref - FIRST_REF >= t->max_pages)
		return NULL;
	return &t->e[ref - FIRST_REF];
}

int bh_lgnt_alloc(struct bh_lgnt *t, uint16_t domid, uint32_t n, bool writable, uint32_t *refs_out,
                  void **addr_out)
{
	uint32_t first;
	void *p;

	pthread_mutex_lock(&t->lock);
	if (n == 0 || n > t->max_pages - t->next_page) {
		pthread_mutex_unlock(&t->lock);
		return -ENOSPC;
	}
	first = t->next_page;
	t->next_page += n;
	for (uint32_t i = 0; i < n; i++) {
		/* page i of the table is ref FIRST_REF + i */
		t->e[first + i] = (struct lg_entry){
			.granted = true, .writable = writable, .domid = domid, .page = first + i
		};
		refs_out[i] = FIRST_REF + first + i;
	}
	pthread_mutex_unlock(&t->lock);
	p = mmap(NULL, (size_t)n * BH_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->memfd,
	         (off_t)first * BH_PAGE_SIZE);
	if (p == MAP_FAILED)
		return -errno;
	*addr_out = p;
	return 0;
}

void bh_lgnt_free(struct bh_lgnt *t, const uint32_t *refs, uint32_t n, void *addr)
{
	for (uint32_t i = 0; i < n; i++)
		bh_lgnt_revoke(t, refs[i]);
	if (addr)
		munmap(addr, (size_t)n * BH_PAGE_SIZE);
}

int bh_lgnt_set_writable(struct bh_lgnt *t, uint32_t ref, bool writable)
{
	struct lg_entry *e;
	int rc = -EINVAL;

	pthread_mutex_lock(&t->lock);
	if ((e = entry(t, ref)) && e->granted) {
		e->writable = writable;
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int bh_lgnt_revoke(struct bh_lgnt *t, uint32_t ref)
{
	struct lg_entry *e;
	int rc = -EINVAL;

	pthread_mutex_lock(&t->lock);
	if ((e = entry(t, ref)) && e->granted) {
		e->granted = false;
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

uint32_t bh_lgnt_live_maps(struct bh_lgnt *t)
{
	pthread_mutex_lock(&t->lock);
	uint32_t n = t->live;
	pthread_mutex_unlock(&t->lock);
	return n;
}

uint64_t bh_lgnt_map_calls(struct bh_lgnt *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t n = t->calls;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void bh_lgnt_fail_map_after(struct bh_lgnt *t, uint32_t nth)
{
	pthread_mutex_lock(&t->lock);
	t->fail_in = nth;
	pthread_mutex_unlock(&t->lock);
}

/* Check every ref first: the mapping is never wider than the grant. */
static int check_refs(struct bh_lgnt *t, uint16_t domid, const uint32_t *refs, uint32_t n,
                      bool writable)
{
	if (domid != t->owner)
		return -ESRCH;
	if (t->fail_in && --t->fail_in == 0)
		return -EIO;
	for (uint32_t i = 0; i < n; i++) {
		struct lg_entry *e = entry(t, refs[i]);
		if (!e || !e->granted)
			return -ENOENT;
		if (writable && !e->writable)
			return -EACCES;
	}
	return 0;
}

static int lg_map(void *priv, uint16_t domid, const uint32_t *refs, uint32_t n, bool writable,
                  void **addr_out, void **cookie_out)
{
	struct bh_lgnt *t = priv;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0), rc;
	char *area;

	pthread_mutex_lock(&t->lock);
	t->calls++;
	rc = check_refs(t, domid, refs, n, writable);
	pthread_mutex_unlock(&t->lock);
	if (rc < 0 || n == 0)
		return rc < 0 ? rc : -EINVAL;
	area = mmap(NULL, (size_t)n * BH_PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return -errno;
	for (uint32_t i = 0; i < n; i++) {
		off_t off = (off_t)entry(t, refs[i])->page * BH_PAGE_SIZE;
		if (mmap(area + (size_t)i * BH_PAGE_SIZE, BH_PAGE_SIZE, prot,
		         MAP_SHARED | MAP_FIXED, t->memfd, off) == MAP_FAILED) {
			rc = -errno;
			munmap(area, (size_t)n * BH_PAGE_SIZE);
			return rc;
		}
	}
	pthread_mutex_lock(&t->lock);
	t->live += n;
	pthread_mutex_unlock(&t->lock);
	*addr_out = area;
	*cookie_out = t;
	return 0;
}

static void lg_unmap(void *priv, void *cookie, void *addr, uint32_t n)
{
	struct bh_lgnt *t = priv;

	(void)cookie;
	munmap(addr, (size_t)n * BH_PAGE_SIZE);
	pthread_mutex_lock(&t->lock);
	t->live -= n;
	pthread_mutex_unlock(&t->lock);
}

const struct blkback_gnt_ops bh_lgnt_back_ops = { .map = lg_map, .unmap = lg_unmap };

static int lg_alloc(void *priv, uint16_t domid, uint32_t n, bool writable, uint32_t *refs_out,
                    void **addr_out, void **cookie_out)
{
	*cookie_out = priv;
	return bh_lgnt_alloc(priv, domid, n, writable, refs_out, addr_out);
}

static void lg_free(void *priv, void *cookie, const uint32_t *refs, uint32_t n, void *addr)
{
	(void)cookie;
	bh_lgnt_free(priv, refs, n, addr);
}

const struct blkfront_gnt_ops bh_lgnt_front_ops = { .alloc = lg_alloc, .free = lg_free };

int bh_levt_init(struct bh_levt *e)
{
	e->to_back = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->to_front = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->to_back < 0 || e->to_front < 0) {
		bh_levt_dispose(e);
		return -EMFILE;
	}
	return 0;
}

void bh_levt_dispose(struct bh_levt *e)
{
	bh_closep(&e->to_back);
	bh_closep(&e->to_front);
}

void bh_levt_back_ack(void *arg)
{
	eventfd_t v;

	eventfd_read(((struct bh_levt *)arg)->to_back, &v);
}

void bh_levt_back_notify(void *arg)
{
	eventfd_write(((struct bh_levt *)arg)->to_front, 1);
}

void bh_levt_front_ack(void *arg)
{
	eventfd_t v;

	eventfd_read(((struct bh_levt *)arg)->to_front, &v);
}

void bh_levt_front_notify(void *arg)
{
	eventfd_write(((struct bh_levt *)arg)->to_back, 1);
}
