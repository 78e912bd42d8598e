/* What the PV kernel's frontends (vbd.c, vif.c) share: the frontend side
 * of the xenbus handshake at boot, following a backend that goes away and
 * comes back (a driver-domain restart), and their console messages. */
#ifndef BH_PVK_XBFRONT_H
#define BH_PVK_XBFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenstored/bhxs.h"

#define XB_INITIALISING 1
#define XB_INITWAIT     2
#define XB_INITIALISED  3
#define XB_CONNECTED    4
#define XB_CLOSING      5

struct bhxs;

/* Formats a message and hands it to LOG (may be NULL). */
void pvk_fe_say(void (*log)(void *, const char *), void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- a handshake's keys, pipelined (one round trip to the store) ---- */

/* DIR/KEY as a number into *OUT, DFLT when the key is missing; RC (out)
 * that key's error, *OUT then DFLT too. */
struct pvk_fe_key {
	const char *key;
	unsigned long long dflt, *out;
	int rc;
};
/* Reads N (<= PVK_FE_BATCH_MAX) keys below DIR in one batch: 0, the
 * connection's error, or the first key's (one that is there but not a
 * number: -EINVAL). */
int pvk_fe_read_uints(struct bhxs *xs, const char *dir, struct pvk_fe_key *k, size_t n);
/* DIR/state as pvk_fe_read_state, and N (< PVK_FE_BATCH_MAX) keys as
 * pvk_fe_read_uints, in one batch. *RC: 0, or the connection's error
 * (each key's own in its rc). */
long long pvk_fe_read_state_uints(struct bhxs *xs, const char *dir, struct pvk_fe_key *k, size_t n,
                                  int *rc);

/* Writes gathered with pvk_fe_put and sent by pvk_fe_write_batch in one
 * batch, in the order put. No transaction: the store handles one
 * connection's requests in order, so a state key put last is seen only
 * after every other key is there (what a handshake's transaction would
 * guard, for two round trips more). */
#define PVK_FE_BATCH_MAX 24
struct pvk_fe_batch {
	size_t n;
	int error; /* -E2BIG: more than PVK_FE_BATCH_MAX puts */
	char paths[PVK_FE_BATCH_MAX][256];
	char vals[PVK_FE_BATCH_MAX][24];
	struct bhxs_op ops[PVK_FE_BATCH_MAX];
};
/* Adds DIR/KEY = the formatted value. */
void pvk_fe_put(struct pvk_fe_batch *b, const char *dir, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int pvk_fe_write_batch(struct bhxs *xs, struct pvk_fe_batch *b);

/* Waits up to TIMEOUT_MS until DIR/state is WANT (or Connected when WANT
 * is earlier). -ECONNRESET when it goes to Closing or beyond, -ETIMEDOUT.
 * Only at boot, before the store loop runs: watch events that arrive
 * meanwhile are consumed, which loses nothing because the loop reads
 * control/shutdown itself once the frontends are probed. */
int pvk_fe_wait_state(struct bhxs *xs, const char *dir, unsigned want, int timeout_ms);

/* DIR/state as a number, or -1 when it is missing or not a number (the
 * backend's domain died and the store removed its nodes). */
long long pvk_fe_read_state(struct bhxs *xs, const char *dir);
/* "Connected", "gone" (negative), ... for messages. */
const char *pvk_fe_state_name(long long st);

/* ---- following a backend across restarts ----
 *
 * A connected frontend watches its backend's state node (on the store
 * loop's thread). A driver-domain restart shows as the backend leaving
 * Connected: gone when the store scrubs the dead domain's nodes,
 * Initialising when the toolstack writes the directory again, InitWait
 * when the new backend offers the device. The ring is dead from the
 * first of these on; at InitWait the frontend redoes its half of the
 * handshake on a new ring, grants and event channel, and at the backend's
 * Connected it is up again. A frontend with attach_early redoes it at
 * Initialising already, on the offer it had last, and checks the new
 * offer when the backend shows one. A backend that closes during that
 * handshake (it refused the new ring), or that connected to an early
 * ring its new offer does not fit, is asked to start over, by writing the
 * frontend's state back to Initialising, up to three times per outage;
 * after a refusal the outage's handshakes wait for the InitWait. */
enum pvk_fe_phase {
	PVK_FE_UP,      /* connected: the ring is in use */
	PVK_FE_DOWN,    /* the backend went away: waiting for it to be back */
	PVK_FE_JOINING, /* a new ring is published: waiting for its Connected */
};

struct pvk_fe_link {
	enum pvk_fe_phase phase;
	bool early;       /* JOINING on a ring published before the InitWait */
	char what[32];    /* "vbd xvda", "eth0": the start of messages */
	char fe[64];      /* our directory, relative: device/<type>/<id> */
	char be[160];     /* the backend's directory */
	uint64_t down_ns; /* when it went down (bh_now_ns) */
	unsigned retries, recoveries;
};

/* What a frontend does at each step; ARG is its own. Called on the store
 * loop's thread, under whatever lock the caller holds around
 * pvk_fe_follow(). */
struct pvk_fe_link_ops {
	/* The ring is dead (ST: the backend's state): stop using it and drop
	 * ring, grants and event channel. Says on the console what happens
	 * to the device's users. */
	void (*down)(void *arg, long long st);
	/* Drop a new ring the backend refused or left during the handshake
	 * (nothing uses it yet). */
	void (*drop)(void *arg);
	/* The backend offers the device at InitWait: read its features,
	 * make a new ring, grants and event channel and publish them (with
	 * our state). 0, or -errno after dropping what was made and saying
	 * why. */
	int (*attach)(struct bhxs *xs, void *arg);
	/* Optional. The backend's directory is back (Initialising) after it
	 * went away: publish a new ring as attach does, but on the features
	 * the backend offered last, before it offers the device again. A
	 * backend that looks at the frontend after its InitWait (as every
	 * one does: the watch's first event) then connects at once, a round
	 * of the handshake sooner. 0, or -errno (the usual attach follows at
	 * InitWait). */
	int (*attach_early)(struct bhxs *xs, void *arg);
	/* With attach_early: the backend offers (InitWait or Connected) after
	 * an early attach. Read its features again; 0 if the published ring
	 * stands (what the frontend uses may be narrowed to the new offer),
	 * or -errno after saying why (the ring is then dropped, as a
	 * refused one). */
	int (*check)(struct bhxs *xs, void *arg);
	/* The backend connected to the new ring after DOWN_MS. */
	void (*up)(struct bhxs *xs, void *arg, uint64_t down_ms);
	void (*log)(void *, const char *);
	void *log_arg;
};

/* One step on a change of the backend's state ST (pvk_fe_read_state):
 * moves L->phase and calls OPS as the change requires (a backend seen at
 * InitWait right after it went away is attached to in the same step). */
void pvk_fe_follow(struct bhxs *xs, struct pvk_fe_link *l, long long st,
                   const struct pvk_fe_link_ops *ops, void *arg);

#endif
