#include "common/consring.h"

#include <errno.h>
#include <string.h>

#include "bulkhead/ring.h"

/* Produce into a byte ring of `size`: prod is ours, cons the peer's. */
static ssize_t produce(char *ring, uint32_t size, uint32_t *prodp, uint32_t *consp, const char *buf,
                       size_t len)
{
	uint32_t prod = *prodp, cons = BH_READ_ONCE(*consp);
	size_t n = 0;

	bh_mb();
	if ((uint32_t)(prod - cons) > size)
		return -EIO;
	while (n < len && (uint32_t)(prod - cons) < size) {
		uint32_t at = prod & (size - 1);
		size_t chunk = size - at;
		size_t room = size - (uint32_t)(prod - cons);
		chunk = chunk < room ? chunk : room;
		chunk = chunk < len - n ? chunk : len - n;
		memcpy(ring + at, buf + n, chunk);
		n += chunk;
		prod += (uint32_t)chunk;
	}
	bh_wmb();
	BH_WRITE_ONCE(*prodp, prod);
	return (ssize_t)n;
}

/* Consume from a byte ring: cons is ours, prod the peer's. */
static ssize_t consume(const char *ring, uint32_t size, uint32_t *consp, uint32_t *prodp, char *buf,
                       size_t len)
{
	uint32_t cons = *consp, prod = BH_READ_ONCE(*prodp);
	size_t n = 0;

	bh_rmb();
	if ((uint32_t)(prod - cons) > size)
		return -EIO;
	while (n < len && cons != prod) {
		uint32_t at = cons & (size - 1);
		size_t chunk = size - at;
		size_t avail = (uint32_t)(prod - cons);
		chunk = chunk < avail ? chunk : avail;
		chunk = chunk < len - n ? chunk : len - n;
		memcpy(buf + n, ring + at, chunk);
		n += chunk;
		cons += (uint32_t)chunk;
	}
	bh_mb();
	BH_WRITE_ONCE(*consp, cons);
	return (ssize_t)n;
}

ssize_t bh_cons_guest_write(struct bh_cons_intf *c, const void *buf, size_t len)
{
	return produce(c->out, BH_CONS_OUT_SIZE, &c->out_prod, &c->out_cons, buf, len);
}

ssize_t bh_cons_guest_read(struct bh_cons_intf *c, void *buf, size_t len)
{
	return consume(c->in, BH_CONS_IN_SIZE, &c->in_cons, &c->in_prod, buf, len);
}

ssize_t bh_cons_back_read(struct bh_cons_intf *c, void *buf, size_t len)
{
	return consume(c->out, BH_CONS_OUT_SIZE, &c->out_cons, &c->out_prod, buf, len);
}

ssize_t bh_cons_back_write(struct bh_cons_intf *c, const void *buf, size_t len)
{
	return produce(c->in, BH_CONS_IN_SIZE, &c->in_prod, &c->in_cons, buf, len);
}
