/* netfront_ops over the in-process grant table (tests, benchmarks). */
#include "netfront/netfront_memgnt.h"

static void *mf_alloc(void *ctx, uint16_t backend, unsigned count, bool writable, uint32_t *refs)
{
	struct memgnt_view *v = ctx;

	return memgnt_alloc(v->m, v->self, backend, count, writable, refs);
}

static void mf_free(void *ctx, void *pages, const uint32_t *refs, unsigned count)
{
	memgnt_free(((struct memgnt_view *)ctx)->m, pages, refs, count);
}

static int mf_notify(void *ctx, uint32_t port)
{
	return memgnt_notify(((struct memgnt_view *)ctx)->m, port);
}

static int mf_port_fd(void *ctx, uint32_t port)
{
	return memgnt_port_fd(((struct memgnt_view *)ctx)->m, port);
}

static void mf_port_ack(void *ctx, uint32_t port)
{
	memgnt_port_ack(((struct memgnt_view *)ctx)->m, port);
}

void netfront_memgnt_ops(struct memgnt_view *view, struct netfront_ops *out)
{
	*out = (struct netfront_ops){ .alloc = mf_alloc,
		                      .free = mf_free,
		                      .notify = mf_notify,
		                      .port_fd = mf_port_fd,
		                      .port_ack = mf_port_ack,
		                      .ctx = view };
}
