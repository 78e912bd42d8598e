/* Inside bhconsoled: the daemon, its domains and its clients.
 *
 *   consoled.c  domains: map, bind, drain `out`, feed `in`, remove
 *   conslog.c   LOGDIR/<name>.log: timestamps, notes, rotation
 *   ctlsock.c   the control socket: requests, attached clients
 *   xenops.c    the real consoled_ops over the /dev/xen ABI */
#ifndef BH_CONSOLED_PRIV_H
#define BH_CONSOLED_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bulkhead/console.h"
#include "bulkhead/hypercall.h"
#include "common/log.h"
#include "consoled/consoled.h"

struct event;
struct evbuffer;
struct bufferevent;

/* ---- conslog.c ---------------------------------------------------------- */

#define CONS_STAMP_LEN 26 /* "[2026-12-03 17:01:02.123] " */

struct cons_log {
	int fd;
	char path[512];
	bool at_line_start;
	uint64_t size;
	uint64_t max_bytes; /* 0: never rotate */
	unsigned keep;
};

void cons_log_init(struct cons_log *l);
int cons_log_open(struct cons_log *l, const char *dir, const char *name, uint64_t max_bytes,
                  unsigned keep);
/* Guest output: a stamp before every line's first byte. */
int cons_log_write(struct cons_log *l, const char *buf, size_t len, const struct timespec *now);
/* A note of the daemon's own, on a line of its own: "[stamp] [text]". */
int cons_log_note(struct cons_log *l, const char *text);
void cons_log_close(struct cons_log *l);
/* "[YYYY-MM-DD HH:MM:SS.mmm] " in UTC; buf holds CONS_STAMP_LEN + 1. */
void cons_log_stamp(const struct timespec *now, char *buf);
/* LOGDIR/<name>.log for a valid name. */
int cons_log_path(const char *dir, const char *name, char *buf, size_t cap);
bool cons_name_ok(const char *name);

/* ---- consoled.c --------------------------------------------------------- */

struct cons_client;

struct cons_dom {
	struct consoled *cd;
	uint16_t domid;
	char name[BH_NAME_MAX];
	enum consoled_state state;
	void *page; /* the mapped ring page; NULL once unmapped */
	struct bh_cons_intf *intf;
	uint32_t local; /* our end of the event channel */
	int evfd;       /* -1 once unbound */
	struct event *ev;
	struct cons_log log;
	bool log_failing;
	struct cons_client *client; /* the one attached, or NULL */
	struct evbuffer *input;     /* client bytes waiting for room in `in` */
	struct bh_log lg;           /* "consoled/dom3" */
	struct cons_dom *next;
};

struct consoled {
	struct event_base *base;
	struct consoled_opts o; /* strings below are our copies */
	char *logdir, *sock_path, *log_prefix;
	struct consoled_ops ops;
	void *xen; /* the xenops context when we made the ops */
	struct bh_log lg;
	struct cons_dom *doms;
	/* ctlsock.c */
	int listen_fd;
	struct event *listen_ev;
	struct cons_client *clients;
};

struct cons_dom *cons_dom_find(struct consoled *cd, uint16_t domid);
/* "3" or "web": a served domain by id or name. */
struct cons_dom *cons_dom_lookup(struct consoled *cd, const char *target);
/* Move what can move now in both directions. */
void cons_dom_service(struct cons_dom *d);

/* ---- ctlsock.c ---------------------------------------------------------- */

int ctl_listen(struct consoled *cd);
void ctl_dispose(struct consoled *cd);
/* Domain output for the attached client (raw). */
void ctl_client_output(struct cons_client *c, const char *buf, size_t len);
/* The domain is going away or stopped: tell the client, close after flush. */
void ctl_client_close(struct cons_client *c, const char *why);
/* The domain has room for input again. */
void ctl_client_resume(struct cons_client *c);
void ctl_client_pause(struct cons_client *c);

/* ---- xenops.c ----------------------------------------------------------- */

int cons_xen_new(struct consoled_ops *ops_out);
void cons_xen_free(struct consoled_ops *ops);

#endif
