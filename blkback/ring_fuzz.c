/* Fuzz target: whatever a frontend can put in its shared ring.
 *
 * Input: u32 (req_prod % 64; bit 8: persistent grants; bit 9: the x86_32
 * ABI, 108-byte slots), then up to 32 ring slots. Grants
 * 8..23 are 16 data pages (8..19 writable, 20..23 read-only), grant 24 an
 * indirect page filled from the input's tail, grant 25 the ring itself (a
 * frontend may name it as a data page too). The engine serves the ring on
 * a memfd image; afterwards every request is answered or the ring was
 * stopped, and once detached nothing stays mapped. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkback/blkback.h"
#include "blkback/localgnt.h"
#include "bulkhead/blkif.h"

#define FRONT 5

static struct bh_lgnt *g;
static struct blkback *bb;
static int vbd;
static uint32_t ring_ref, data_refs[17];
static void *ring_page;
static char *data;

static void setup(void)
{
	int img = memfd_create("fuzz-img", MFD_CLOEXEC);

	if (img < 0 || ftruncate(img, 1 << 20) < 0 || bh_lgnt_create(FRONT, 64, &g) < 0 ||
	    bh_lgnt_alloc(g, 1, 17, true, data_refs, (void **)&data) < 0 ||
	    bh_lgnt_alloc(g, 1, 1, true, &ring_ref, &ring_page) < 0)
		abort();
	for (int i = 12; i < 16; i++)
		bh_lgnt_set_writable(g, data_refs[i], false);
	struct blkback_config c = { .gnt = &bh_lgnt_back_ops,
		                    .gnt_priv = g,
		                    .max_indirect_segments = 64 };
	struct blkback_vbd_params v = { .fd = img, .sector_size = 512, .discard = true };
	if (blkback_create(&c, &bb) < 0 || (vbd = blkback_add_vbd(bb, &v)) < 0)
		abort();
	close(img);
}

static uint64_t answered(void)
{
	struct blkback_stats st;

	blkback_vbd_stats(bb, vbd, &st);
	return st.reads + st.writes + st.flushes + st.discards + st.errors;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	struct blkif_sring *s;
	struct bh_levt ev;
	uint32_t prod = 0, nslots;
	int ring;

	if (!bb)
		setup();
	s = ring_page;
	if (size < 4)
		return 0;
	memcpy(&prod, in, 4);
	in += 4;
	size -= 4;
	nslots = (uint32_t)(size / sizeof(union blkif_sring_entry));
	if (nslots > 32)
		nslots = 32;
	memset(s, 0, BH_RING_PAGE);
	s->hdr.req_event = s->hdr.rsp_event = 1;
	memcpy(s->ring, in, nslots * sizeof(union blkif_sring_entry));
	/* the indirect page: the rest of the input, repeated */
	size_t rest = size - nslots * sizeof(union blkif_sring_entry);
	for (size_t i = 0; rest && i < 4096; i++)
		data[16 * 4096 + i] = (char)in[nslots * sizeof(union blkif_sring_entry) + i % rest];
	s->hdr.req_prod = prod % 64; /* 33..63: a producer more than a ring ahead */
	if (bh_levt_init(&ev) < 0)
		abort();
	struct blkback_ring_params p = { .vbd = vbd,
		                         .domid = FRONT,
		                         .refs = &ring_ref,
		                         .persistent = prod & 0x100,
		                         .protocol = prod & 0x200 ? "x86_32-abi" : NULL,
		                         .evt_fd = ev.to_back,
		                         .evt_ack = bh_levt_back_ack,
		                         .notify = bh_levt_back_notify,
		                         .evt_arg = &ev };
	if ((ring = blkback_attach_ring(bb, &p)) < 0)
		abort();
	/* Responses are counted in the stats, not read back from the ring: a
	 * read into the ring page itself may overwrite its indices. */
	uint32_t want = s->hdr.req_prod;
	uint64_t before = answered();
	for (int i = 0; i < 200; i++) {
		struct pollfd pf = { .fd = blkback_fd(bb), .events = POLLIN };
		blkback_process(bb);
		if (blkback_ring_status(bb, ring) != 0 || answered() - before == want)
			break;
		poll(&pf, 1, 5);
	}
	/* every request answered, unless the ring was stopped */
	if (blkback_ring_status(bb, ring) == 0 && want <= 32 && answered() - before != want)
		abort();
	if (blkback_detach_ring(bb, ring) < 0 || bh_lgnt_live_maps(g) != 0)
		abort();
	bh_levt_dispose(&ev);
	return 0;
}
