/* The access-check hook: every hypercall passes bh_policy_check() once,
 * before its handler acts.
 *
 * Subjects and objects are domains with labels (xl.cfg `seclabel`). Today
 * the engine applies Bulkhead's built-in rules, which are Xen's default
 * (dummy XSM) rules: only a privileged domain controls other domains, and
 * every domain acts only on its own grants and ports (the grant and event
 * channel code enforces ownership; the policy decides which pairs of labels
 * may share at all). A denial is audited in the core's log; in permissive
 * mode the denial is logged and the request allowed. */
#ifndef BH_POLICY_H
#define BH_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"

enum bh_perm {
	BH_PERM_DOMAIN_CREATE,
	BH_PERM_DOMAIN_DESTROY,
	BH_PERM_DOMAIN_PAUSE,    /* pause and unpause */
	BH_PERM_DOMAIN_SHUTDOWN, /* shut down another domain */
	BH_PERM_DOMAIN_RESTART,
	BH_PERM_DOMAIN_GETINFO,
	BH_PERM_DOMAIN_SETRES, /* memory, vcpus, scheduling */
	BH_PERM_SYSCTL,        /* host information */
	BH_PERM_READCONSOLE,   /* the core's log */
	BH_PERM_DEVICE_ASSIGN, /* hand a host file to a domain */
	BH_PERM_DEVICE_UPLINK, /* give a domain an interface on the host */
	BH_PERM_DEVICE_TAP,    /* create a TAP in one's own namespace */
	BH_PERM_GRANT_TO,      /* grant a page to the object */
	BH_PERM_MAP_FROM,      /* map a page the object granted */
	BH_PERM_EVTCHN_FOR,    /* make a port in the object's table */
	BH_PERM_EVTCHN_BIND,   /* bind to a port of the object */
	BH_PERM_EVTCHN_VIRQ,   /* bind a VIRQ */
	BH_PERM_MAX
};

struct bh_subject {
	uint16_t domid;
	bool admin;      /* the host administrator on the admin socket */
	bool privileged; /* a control domain */
	bool store;      /* the xenstore domain (Xen's XSM xenstore_t rights) */
	const char *label;
};

struct bh_object {
	uint16_t domid;
	const char *label;
	bool driver; /* a driver domain (role DRIVER) */
};

struct bh_policy;

int bh_policy_new(const struct bh_log *audit, bool permissive, struct bh_policy **out);
void bh_policy_free(struct bh_policy *pol);
const char *bh_perm_name(enum bh_perm perm);

/* 0 if allowed, -EACCES (audited) if not. obj may be NULL for requests that
 * have no target domain. */
int bh_policy_check(struct bh_policy *pol, const struct bh_subject *subj, enum bh_perm perm,
                    const struct bh_object *obj);

/* Denials so far (for tests and `bh info`). */
uint64_t bh_policy_denials(const struct bh_policy *pol);

#endif
