/* The hypercall dispatch table and the handlers' shared shapes. */
#ifndef BH_CORE_HCALL_H
#define BH_CORE_HCALL_H

#include "core/core.h"

/* Who may send a message. */
#define HC_F_DOMAIN 0x1u /* any domain, on its channel */
#define HC_F_ADMIN  0x2u /* the host administrator, on the admin socket */
#define HC_F_VARLEN 0x4u /* payload may be longer than min_len */

/* Which domain a request acts on, for the access check done before the
 * handler runs. */
enum hc_target {
	HC_TARGET_NONE,    /* no domain (create, host info) */
	HC_TARGET_AT0,     /* payload begins with a uint16 domid (DOMID_SELF allowed) */
	HC_TARGET_HANDLER, /* several or computed targets: the handler checks each */
};

struct hc_req {
	struct hc_conn *hc;
	struct core *core;
	struct domain *self; /* the caller; NULL for the administrator */
	uint32_t type;
	const void *payload;
	size_t len;
};

struct hc_reply {
	size_t len; /* payload bytes in buf */
	size_t nfds;
	int fds[BH_MAX_FDS_PER_MSG]; /* owned: closed after sending */
	union {
		unsigned char buf[BH_HC_MAX_PAYLOAD];
		uint64_t align;
	};
};

typedef int (*hc_handler_fn)(struct hc_req *rq, struct hc_reply *rp);

struct hc_row {
	uint32_t type;
	const char *name;
	uint32_t min_len;
	uint32_t flags;
	enum bh_perm perm;
	enum hc_target target;
	hc_handler_fn fn;
};

/* The one access-check function: every request passes it once per target
 * domain. Resolves DOMID_SELF. Returns 0 or a negative errno. */
int hc_access(struct hc_req *rq, enum bh_perm perm, uint16_t domid);

/* The caller's domid (DOMID_INVALID for the administrator). */
uint16_t hc_caller(const struct hc_req *rq);

/* Append a descriptor to the reply (the reply owns it). */
int hc_reply_fd(struct hc_reply *rp, int fd);

/* handlers: hc_domain.c */
int hc_version(struct hc_req *rq, struct hc_reply *rp);
int hc_start_info(struct hc_req *rq, struct hc_reply *rp);
int hc_shutdown(struct hc_req *rq, struct hc_reply *rp);
int hc_heartbeat(struct hc_req *rq, struct hc_reply *rp);
int hc_create(struct hc_req *rq, struct hc_reply *rp);
int hc_destroy(struct hc_req *rq, struct hc_reply *rp);
int hc_pause(struct hc_req *rq, struct hc_reply *rp);
int hc_unpause(struct hc_req *rq, struct hc_reply *rp);
int hc_restart(struct hc_req *rq, struct hc_reply *rp);
int hc_getinfo(struct hc_req *rq, struct hc_reply *rp);
int hc_list(struct hc_req *rq, struct hc_reply *rp);
int hc_setres(struct hc_req *rq, struct hc_reply *rp);
int hc_sysinfo(struct hc_req *rq, struct hc_reply *rp);
int hc_readconsole(struct hc_req *rq, struct hc_reply *rp);
/* hc_device.c */
int hc_dev_assign(struct hc_req *rq, struct hc_reply *rp);
int hc_dev_revoke(struct hc_req *rq, struct hc_reply *rp);
int hc_dev_open(struct hc_req *rq, struct hc_reply *rp);
int hc_dev_tap(struct hc_req *rq, struct hc_reply *rp);
int hc_dev_uplink(struct hc_req *rq, struct hc_reply *rp);
/* hc_grant.c */
int hc_gnt_alloc(struct hc_req *rq, struct hc_reply *rp);
int hc_gnt_end(struct hc_req *rq, struct hc_reply *rp);
int hc_gnt_map(struct hc_req *rq, struct hc_reply *rp);
int hc_gnt_unmap(struct hc_req *rq, struct hc_reply *rp);
/* hc_evtchn.c */
int hc_evtchn_alloc_unbound(struct hc_req *rq, struct hc_reply *rp);
int hc_evtchn_bind_interdomain(struct hc_req *rq, struct hc_reply *rp);
int hc_evtchn_bind_virq(struct hc_req *rq, struct hc_reply *rp);
int hc_evtchn_close(struct hc_req *rq, struct hc_reply *rp);
int hc_evtchn_status(struct hc_req *rq, struct hc_reply *rp);
int hc_evtchn_get_fds(struct hc_req *rq, struct hc_reply *rp);

#endif
