/* What the PV kernel's frontends (vbd.c, vif.c) share: the frontend side
 * of the xenbus handshake at boot, and their console messages. */
#ifndef BH_PVK_XBFRONT_H
#define BH_PVK_XBFRONT_H

#define XB_INITWAIT    2
#define XB_INITIALISED 3
#define XB_CONNECTED   4
#define XB_CLOSING     5

struct bhxs;

/* Formats a message and hands it to LOG (may be NULL). */
void pvk_fe_say(void (*log)(void *, const char *), void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Waits up to TIMEOUT_MS until DIR/state is WANT (or Connected when WANT
 * is earlier). -ECONNRESET when it goes to Closing or beyond, -ETIMEDOUT.
 * Only at boot, before the store loop runs: watch events that arrive
 * meanwhile are consumed, which loses nothing because the loop reads
 * control/shutdown itself once the frontends are probed. */
int pvk_fe_wait_state(struct bhxs *xs, const char *dir, unsigned want, int timeout_ms);

#endif
