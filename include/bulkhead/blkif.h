/* Xen's block interface (io/blkif.h), byte for byte, written for Bulkhead.
 *
 * One ring slot is the union of a request and a response: 112 bytes in the
 * native x86_64 ABI, so a one-page ring holds 32 slots, order 4 holds 512.
 * Every layout below is checked against the offsets of protocol-facts §2.2
 * at compile time: a frontend or backend built from this header speaks to
 * Linux's xen-blkfront/xen-blkback unchanged. Sectors are always 512-byte
 * units on the wire, whatever the disk's sector-size. */
#ifndef BULKHEAD_BLKIF_H
#define BULKHEAD_BLKIF_H

#include <stddef.h>
#include <stdint.h>

#include "bulkhead/ring.h"

typedef uint16_t blkif_vdev_t;
typedef uint64_t blkif_sector_t;

#define BLKIF_OP_READ            0
#define BLKIF_OP_WRITE           1
#define BLKIF_OP_WRITE_BARRIER   2 /* feature-barrier */
#define BLKIF_OP_FLUSH_DISKCACHE 3 /* feature-flush-cache */
#define BLKIF_OP_RESERVED_1      4
#define BLKIF_OP_DISCARD         5 /* feature-discard */
#define BLKIF_OP_INDIRECT        6 /* feature-max-indirect-segments */

#define BLKIF_MAX_SEGMENTS_PER_REQUEST       11
#define BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST 8
#define BLKIF_SEGS_PER_INDIRECT_FRAME        (BH_RING_PAGE / sizeof(struct blkif_request_segment))

#define BLKIF_RSP_EOPNOTSUPP (-2)
#define BLKIF_RSP_ERROR      (-1)
#define BLKIF_RSP_OKAY       0

#define BLKIF_DISCARD_SECURE 0x1 /* bit 0 of blkif_request_discard.flag */

#define VDISK_CDROM     0x1
#define VDISK_REMOVABLE 0x2
#define VDISK_READONLY  0x4

#define BLKIF_SECTOR_SHIFT 9
#define BLKIF_SECTOR_SIZE  512u
/* Sectors of one 4 KiB frame: first_sect/last_sect lie in 0..7. */
#define BLKIF_SECTORS_PER_PAGE 8u

#define BLKIF_PROTOCOL_NATIVE "x86_64-abi"
#define BLKIF_PROTOCOL_X86_32 "x86_32-abi"
#define BLKIF_PROTOCOL_X86_64 "x86_64-abi"

/* One granted frame of a request: the inclusive 512-byte sectors
 * [first_sect, last_sect] of frame gref. */
struct blkif_request_segment {
	uint32_t gref;
	uint8_t first_sect;
	uint8_t last_sect;
	uint8_t pad[2];
};

struct blkif_request {
	uint8_t operation;
	uint8_t nr_segments; /* <= BLKIF_MAX_SEGMENTS_PER_REQUEST */
	blkif_vdev_t handle;
	uint32_t pad;
	uint64_t id; /* echoed in the response */
	blkif_sector_t sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct blkif_request_discard {
	uint8_t operation; /* BLKIF_OP_DISCARD */
	uint8_t flag;      /* BLKIF_DISCARD_SECURE */
	blkif_vdev_t handle;
	uint32_t pad;
	uint64_t id;
	blkif_sector_t sector_number;
	uint64_t nr_sectors;
};

struct blkif_request_indirect {
	uint8_t operation;    /* BLKIF_OP_INDIRECT */
	uint8_t indirect_op;  /* READ or WRITE, echoed in the response */
	uint16_t nr_segments; /* across all indirect pages */
	uint32_t pad;
	uint64_t id;
	blkif_sector_t sector_number;
	blkif_vdev_t handle;
	uint16_t pad2;
	uint32_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	uint32_t pad3;
};

struct blkif_response {
	uint64_t id;
	uint8_t operation;
	uint8_t pad;
	int16_t status; /* BLKIF_RSP_* */
	uint32_t pad2;
};

BH_DEFINE_RING_TYPES(blkif, struct blkif_request, struct blkif_response)

#define BH_CHECK_OFF(t, f, o) _Static_assert(offsetof(t, f) == (o), #t "." #f)
_Static_assert(sizeof(struct blkif_request_segment) == 8, "segment");
BH_CHECK_OFF(struct blkif_request_segment, first_sect, 4);
BH_CHECK_OFF(struct blkif_request_segment, last_sect, 5);
_Static_assert(sizeof(struct blkif_request) == 112, "request");
BH_CHECK_OFF(struct blkif_request, nr_segments, 1);
BH_CHECK_OFF(struct blkif_request, handle, 2);
BH_CHECK_OFF(struct blkif_request, id, 8);
BH_CHECK_OFF(struct blkif_request, sector_number, 16);
BH_CHECK_OFF(struct blkif_request, seg, 24);
_Static_assert(sizeof(struct blkif_request_discard) == 32, "discard");
BH_CHECK_OFF(struct blkif_request_discard, flag, 1);
BH_CHECK_OFF(struct blkif_request_discard, id, 8);
BH_CHECK_OFF(struct blkif_request_discard, sector_number, 16);
BH_CHECK_OFF(struct blkif_request_discard, nr_sectors, 24);
_Static_assert(sizeof(struct blkif_request_indirect) == 64, "indirect");
BH_CHECK_OFF(struct blkif_request_indirect, indirect_op, 1);
BH_CHECK_OFF(struct blkif_request_indirect, nr_segments, 2);
BH_CHECK_OFF(struct blkif_request_indirect, id, 8);
BH_CHECK_OFF(struct blkif_request_indirect, sector_number, 16);
BH_CHECK_OFF(struct blkif_request_indirect, handle, 24);
BH_CHECK_OFF(struct blkif_request_indirect, indirect_grefs, 28);
_Static_assert(sizeof(struct blkif_response) == 16, "response");
BH_CHECK_OFF(struct blkif_response, operation, 8);
BH_CHECK_OFF(struct blkif_response, status, 10);
_Static_assert(sizeof(union blkif_sring_entry) == 112, "slot");
#undef BH_CHECK_OFF

/* The x86_32 ABI ("x86_32-abi"): 64-bit fields are only 4-aligned, so the
 * request is 108 bytes (id @4, sector @12, seg @20) and the response 12. A
 * backend translates when the frontend's `protocol` key names it; the ring
 * header and indices are the same, only the slot stride differs. */
typedef uint64_t blkif_u64_a4 __attribute__((aligned(4)));

struct blkif_x86_32_request {
	uint8_t operation;
	uint8_t nr_segments;
	blkif_vdev_t handle;
	blkif_u64_a4 id;
	blkif_u64_a4 sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct blkif_x86_32_request_discard {
	uint8_t operation;
	uint8_t flag;
	blkif_vdev_t handle;
	blkif_u64_a4 id;
	blkif_u64_a4 sector_number;
	blkif_u64_a4 nr_sectors;
};

struct blkif_x86_32_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	blkif_u64_a4 id;
	blkif_u64_a4 sector_number;
	blkif_vdev_t handle;
	uint16_t pad1;
	uint32_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	blkif_u64_a4 pad2;
};

struct blkif_x86_32_response {
	blkif_u64_a4 id;
	uint8_t operation;
	uint8_t pad;
	int16_t status;
};

#define BLKIF_X86_32_SLOT 108u

#define BH_CHECK_OFF(t, f, o) _Static_assert(offsetof(t, f) == (o), #t "." #f)
_Static_assert(sizeof(struct blkif_x86_32_request) == BLKIF_X86_32_SLOT, "x86_32 request");
BH_CHECK_OFF(struct blkif_x86_32_request, id, 4);
BH_CHECK_OFF(struct blkif_x86_32_request, sector_number, 12);
BH_CHECK_OFF(struct blkif_x86_32_request, seg, 20);
_Static_assert(sizeof(struct blkif_x86_32_request_discard) == 28, "x86_32 discard");
BH_CHECK_OFF(struct blkif_x86_32_request_discard, nr_sectors, 20);
_Static_assert(sizeof(struct blkif_x86_32_request_indirect) == 64, "x86_32 indirect");
BH_CHECK_OFF(struct blkif_x86_32_request_indirect, id, 4);
BH_CHECK_OFF(struct blkif_x86_32_request_indirect, sector_number, 12);
BH_CHECK_OFF(struct blkif_x86_32_request_indirect, handle, 20);
BH_CHECK_OFF(struct blkif_x86_32_request_indirect, indirect_grefs, 24);
_Static_assert(sizeof(struct blkif_x86_32_response) == 12, "x86_32 response");
BH_CHECK_OFF(struct blkif_x86_32_response, operation, 8);
BH_CHECK_OFF(struct blkif_x86_32_response, status, 10);
#undef BH_CHECK_OFF

/* Slots of a ring of 2^order pages: 32 for one page. */
static inline uint32_t blkif_ring_slots(unsigned order)
{
	return blkif_ring_size(1u << order);
}

/* Virtual-device numbers (xen-vbd-interface): xvd disk/partition. */
static inline uint32_t blkif_vdev_xvd(uint32_t disk, uint32_t part)
{
	if (disk < 16 && part < 16)
		return 202u << 8 | disk << 4 | part;
	return 1u << 28 | disk << 8 | part;
}

#endif
