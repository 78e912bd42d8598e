#include "policy/policy.h"

#include <errno.h>
#include <stdlib.h>

struct bh_policy {
	const struct bh_log *audit;
	bool permissive;
	uint64_t denials;
};

/* Which permissions a plain (unprivileged) domain has without naming
 * another domain as target: its own life, its own pages and ports. */
static const bool unprivileged_ok[BH_PERM_MAX] = {
	[BH_PERM_DEVICE_TAP] = true,
	[BH_PERM_GRANT_TO] = true,
	[BH_PERM_MAP_FROM] = true,
	[BH_PERM_EVTCHN_BIND] = true,
};

/* What Xen's default policy grants its xenstore domain beyond a plain
 * domain: to learn of deaths (VIRQ_DOM_EXC) and ask which domain died. */
static const bool store_ok[BH_PERM_MAX] = {
	[BH_PERM_DOMAIN_GETINFO] = true,
	[BH_PERM_EVTCHN_VIRQ] = true,
};

/* Permissions that only make sense on oneself for an unprivileged domain. */
static const bool self_ok[BH_PERM_MAX] = {
	[BH_PERM_DOMAIN_GETINFO] = true,
	[BH_PERM_DOMAIN_SHUTDOWN] = true,
	[BH_PERM_EVTCHN_FOR] = true,
};

static const char *const perm_names[BH_PERM_MAX] = {
	[BH_PERM_DOMAIN_CREATE] = "domain.create",
	[BH_PERM_DOMAIN_DESTROY] = "domain.destroy",
	[BH_PERM_DOMAIN_PAUSE] = "domain.pause",
	[BH_PERM_DOMAIN_SHUTDOWN] = "domain.shutdown",
	[BH_PERM_DOMAIN_RESTART] = "domain.restart",
	[BH_PERM_DOMAIN_GETINFO] = "domain.getinfo",
	[BH_PERM_DOMAIN_SETRES] = "domain.setres",
	[BH_PERM_SYSCTL] = "sysctl",
	[BH_PERM_READCONSOLE] = "readconsole",
	[BH_PERM_DEVICE_ASSIGN] = "device.assign",
	[BH_PERM_DEVICE_UPLINK] = "device.uplink",
	[BH_PERM_DEVICE_TAP] = "device.tap",
	[BH_PERM_GRANT_TO] = "grant.to",
	[BH_PERM_MAP_FROM] = "grant.map",
	[BH_PERM_EVTCHN_FOR] = "evtchn.alloc_for",
	[BH_PERM_EVTCHN_BIND] = "evtchn.bind",
	[BH_PERM_EVTCHN_VIRQ] = "evtchn.virq",
};

int bh_policy_new(const struct bh_log *audit, bool permissive, struct bh_policy **out)
{
	struct bh_policy *pol = calloc(1, sizeof(*pol));

	if (!pol)
		return -ENOMEM;
	pol->audit = audit;
	pol->permissive = permissive;
	*out = pol;
	return 0;
}

void bh_policy_free(struct bh_policy *pol)
{
	free(pol);
}

const char *bh_perm_name(enum bh_perm perm)
{
	return (unsigned)perm < BH_PERM_MAX ? perm_names[perm] : "?";
}

static bool builtin_allows(const struct bh_subject *s, enum bh_perm perm, const struct bh_object *o)
{
	/* A host interface goes only to a driver domain, and only by the
	 * control domain's or the administrator's hand: never to a guest,
	 * never asked by the driver domain itself. */
	if (perm == BH_PERM_DEVICE_UPLINK)
		return (s->admin || s->privileged) && o && o->driver;
	if (s->admin || s->privileged)
		return true;
	if (unprivileged_ok[perm])
		return true;
	if (s->store && store_ok[perm])
		return true;
	return self_ok[perm] && o && o->domid == s->domid;
}

int bh_policy_check(struct bh_policy *pol, const struct bh_subject *s, enum bh_perm perm,
                    const struct bh_object *o)
{
	if ((unsigned)perm >= BH_PERM_MAX)
		return -EINVAL;
	if (builtin_allows(s, perm, o))
		return 0;
	pol->denials++;
	if (pol->audit)
		bh_warn(pol->audit, "avc: %s { %s } for dom%u (%s) target dom%d (%s)",
		        pol->permissive ? "permissive" : "denied", bh_perm_name(perm), s->domid,
		        s->label ? s->label : "-", o ? o->domid : -1,
		        o && o->label ? o->label : "-");
	return pol->permissive ? 0 : -EACCES;
}

uint64_t bh_policy_denials(const struct bh_policy *pol)
{
	return pol->denials;
}
