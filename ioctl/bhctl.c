#include "ioctl/bhctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static int call_out(struct bh_hc_client *cl, uint32_t type, const void *req, size_t len, void *out,
                    size_t out_len)
{
	struct bh_hc_result res = { .resp = out, .resp_cap = out_len };
	int rc = bh_hc_call(cl, type, req, len, &res);

	if (rc == 0 && res.resp_len != out_len)
		return -EPROTO;
	return rc;
}

static int domid_call(struct bh_hc_client *cl, uint32_t type, uint16_t domid, uint32_t arg)
{
	struct bh_hc_domid a = { .domid = domid, .arg = arg };

	return bh_hc_call_simple(cl, type, &a, sizeof(a));
}

int bhctl_version(struct bh_hc_client *cl, struct bh_hc_version_resp *out)
{
	return call_out(cl, BH_HC_VERSION_REQ, NULL, 0, out, sizeof(*out));
}

int bhctl_domain_create(struct bh_hc_client *cl, const struct bh_hc_create *req,
                        const char *const *argv, struct bh_hc_create_resp *out)
{
	unsigned char buf[BH_HC_MAX_PAYLOAD];
	struct bh_hc_create r = *req;
	size_t len = sizeof(r);

	for (size_t i = 0; argv && argv[i]; i++) {
		size_t l = strlen(argv[i]) + 1;
		if (len + l > sizeof(buf))
			return -E2BIG;
		memcpy(buf + len, argv[i], l);
		len += l;
	}
	r.argv_len = (uint32_t)(len - sizeof(r));
	memcpy(buf, &r, sizeof(r));
	return call_out(cl, BH_HC_DOMCTL_CREATE_REQ, buf, len, out, sizeof(*out));
}

int bhctl_domain_destroy(struct bh_hc_client *cl, uint16_t domid)
{
	return domid_call(cl, BH_HC_DOMCTL_DESTROY_REQ, domid, 0);
}

int bhctl_domain_pause(struct bh_hc_client *cl, uint16_t domid)
{
	return domid_call(cl, BH_HC_DOMCTL_PAUSE_REQ, domid, 0);
}

int bhctl_domain_unpause(struct bh_hc_client *cl, uint16_t domid)
{
	return domid_call(cl, BH_HC_DOMCTL_UNPAUSE_REQ, domid, 0);
}

int bhctl_domain_shutdown(struct bh_hc_client *cl, uint16_t domid, uint32_t reason)
{
	return domid_call(cl, BH_HC_SHUTDOWN_REQ, domid, reason);
}

int bhctl_domain_restart(struct bh_hc_client *cl, uint16_t domid, struct bh_hc_create_resp *out)
{
	struct bh_hc_domid a = { .domid = domid };

	return call_out(cl, BH_HC_DOMCTL_RESTART_REQ, &a, sizeof(a), out, sizeof(*out));
}

int bhctl_domain_getinfo(struct bh_hc_client *cl, uint16_t domid, struct bh_dominfo *out)
{
	struct bh_hc_domid a = { .domid = domid };

	return call_out(cl, BH_HC_DOMCTL_GETINFO_REQ, &a, sizeof(a), out, sizeof(*out));
}

int bhctl_domain_list(struct bh_hc_client *cl, struct bh_dominfo **out, size_t *n_out)
{
	return bhctl_domain_list_flags(cl, 0, out, n_out);
}

int bhctl_domain_list_flags(struct bh_hc_client *cl, uint32_t flags, struct bh_dominfo **out,
                            size_t *n_out)
{
	unsigned char buf[BH_HC_MAX_PAYLOAD];
	struct bh_hc_list_req req = { .first_domid = 0, .max = BH_HC_LIST_MAX, .flags = flags };
	struct bh_dominfo *all = NULL;
	size_t n = 0;

	for (;;) {
		struct bh_hc_result res = { .resp = buf, .resp_cap = sizeof(buf) };
		struct bh_hc_list_resp hdr;
		int rc = bh_hc_call(cl, BH_HC_DOMCTL_LIST_REQ, &req, sizeof(req), &res);
		if (rc == 0 && res.resp_len < sizeof(hdr))
			rc = -EPROTO;
		if (rc < 0) {
			free(all);
			return rc;
		}
		memcpy(&hdr, buf, sizeof(hdr));
		if (res.resp_len != sizeof(hdr) + hdr.count * sizeof(struct bh_dominfo)) {
			free(all);
			return -EPROTO;
		}
		if (hdr.count == 0)
			break;
		struct bh_dominfo *grown = realloc(all, (n + hdr.count) * sizeof(*all));
		if (!grown) {
			free(all);
			return -ENOMEM;
		}
		all = grown;
		memcpy(all + n, buf + sizeof(hdr), hdr.count * sizeof(*all));
		n += hdr.count;
		/* a short page is the last: no round trip for an empty one */
		if (hdr.count < req.max || all[n - 1].domid >= BH_DOMID_MAX)
			break;
		req.first_domid = (uint16_t)(all[n - 1].domid + 1);
	}
	*out = all;
	*n_out = n;
	return 0;
}

int bhctl_domain_setres(struct bh_hc_client *cl, const struct bh_hc_setres *r)
{
	return bh_hc_call_simple(cl, BH_HC_DOMCTL_SETRES_REQ, r, sizeof(*r));
}

int bhctl_sysinfo(struct bh_hc_client *cl, struct bh_hc_sysinfo *out)
{
	return call_out(cl, BH_HC_SYSCTL_INFO_REQ, NULL, 0, out, sizeof(*out));
}

int bhctl_readconsole(struct bh_hc_client *cl, uint64_t *seq, char *buf, size_t cap,
                      size_t *len_out)
{
	unsigned char rbuf[BH_HC_MAX_PAYLOAD];
	struct bh_hc_readconsole_req req = { .from_seq = *seq };
	struct bh_hc_readconsole_resp hdr;
	struct bh_hc_result res = { .resp = rbuf, .resp_cap = sizeof(rbuf) };
	int rc = bh_hc_call(cl, BH_HC_SYSCTL_READCONSOLE_REQ, &req, sizeof(req), &res);

	if (rc < 0)
		return rc;
	if (res.resp_len < sizeof(hdr))
		return -EPROTO;
	memcpy(&hdr, rbuf, sizeof(hdr));
	if (hdr.len != res.resp_len - sizeof(hdr) || hdr.len > cap)
		return -EPROTO;
	memcpy(buf, rbuf + sizeof(hdr), hdr.len);
	*len_out = hdr.len;
	*seq = hdr.next_seq;
	return 0;
}

int bhctl_device_assign(struct bh_hc_client *cl, uint16_t domid, const char *token,
                        const char *path, uint32_t flags)
{
	struct bh_hc_device_assign a = { .domid = domid, .flags = flags };

	if (bh_strlcpy(a.token, token, sizeof(a.token)) >= sizeof(a.token) ||
	    bh_strlcpy(a.path, path, sizeof(a.path)) >= sizeof(a.path))
		return -ENAMETOOLONG;
	return bh_hc_call_simple(cl, BH_HC_DEVICE_ASSIGN_REQ, &a, sizeof(a));
}

int bhctl_device_revoke(struct bh_hc_client *cl, uint16_t domid, const char *token)
{
	struct bh_hc_device_open a = { .domid = domid };

	if (bh_strlcpy(a.token, token, sizeof(a.token)) >= sizeof(a.token))
		return -ENAMETOOLONG;
	return bh_hc_call_simple(cl, BH_HC_DEVICE_REVOKE_REQ, &a, sizeof(a));
}

int bhctl_device_open(struct bh_hc_client *cl, const char *token, int *fd_out, uint64_t *size_out,
                      uint32_t *flags_out)
{
	struct bh_hc_device_open a = { 0 };
	struct bh_hc_device_open_resp r;
	int fd = -1;
	struct bh_hc_result res = { .resp = &r, .resp_cap = sizeof(r), .fds = &fd, .max_fds = 1 };
	int rc;

	if (bh_strlcpy(a.token, token, sizeof(a.token)) >= sizeof(a.token))
		return -ENAMETOOLONG;
	rc = bh_hc_call(cl, BH_HC_DEVICE_OPEN_REQ, &a, sizeof(a), &res);
	if (rc == 0 && (res.nfds != 1 || res.resp_len != sizeof(r)))
		rc = -EPROTO;
	if (rc < 0) {
		bh_close_fds(&fd, res.nfds);
		return rc;
	}
	*fd_out = fd;
	if (size_out)
		*size_out = r.size;
	if (flags_out)
		*flags_out = r.flags;
	return 0;
}

int bhctl_device_tap(struct bh_hc_client *cl, const char *ifname, uint32_t flags, int *fd_out)
{
	struct bh_hc_device_tap t = { .flags = flags };
	unsigned char sink[8];
	int fd = -1;
	struct bh_hc_result res = {
		.resp = sink, .resp_cap = sizeof(sink), .fds = &fd, .max_fds = 1
	};
	int rc;

	if (bh_strlcpy(t.ifname, ifname, sizeof(t.ifname)) >= sizeof(t.ifname))
		return -ENAMETOOLONG;
	rc = bh_hc_call(cl, BH_HC_DEVICE_TAP_REQ, &t, sizeof(t), &res);
	if (rc == 0 && res.nfds != 1)
		rc = -EPROTO;
	if (rc < 0) {
		bh_close_fds(&fd, res.nfds);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int bhctl_device_uplink(struct bh_hc_client *cl, const struct bh_hc_device_uplink *u,
                        struct bh_hc_device_uplink_resp *out)
{
	struct bh_hc_device_uplink_resp r;
	struct bh_hc_result res = { .resp = &r, .resp_cap = sizeof(r) };
	int rc = bh_hc_call(cl, BH_HC_DEVICE_UPLINK_REQ, u, sizeof(*u), &res);

	if (rc == 0 && res.resp_len != sizeof(r))
		rc = -EPROTO;
	if (rc == 0 && out)
		*out = r;
	return rc;
}

int bhctl_heartbeat(struct bh_hc_client *cl)
{
	return bh_hc_call_simple(cl, BH_HC_HEARTBEAT_REQ, NULL, 0);
}

int bhctl_start_info(struct bh_hc_client *cl, struct bh_hc_start_info *out, int fds_out[2],
                     size_t *nfds_out)
{
	struct bh_hc_result res = {
		.resp = out, .resp_cap = sizeof(*out), .fds = fds_out, .max_fds = 2
	};
	int rc = bh_hc_call(cl, BH_HC_START_INFO_REQ, NULL, 0, &res);

	*nfds_out = res.nfds;
	if (rc == 0 && res.resp_len != sizeof(*out))
		rc = -EPROTO;
	if (rc < 0) {
		bh_close_fds(fds_out, res.nfds);
		*nfds_out = 0;
	}
	return rc;
}

const char *bhctl_state_name(uint32_t state)
{
	static const char *const n[] = { "building", "running", "paused", "shutdown" };

	return state < BH_ARRAY_SIZE(n) ? n[state] : "?";
}

const char *bhctl_reason_name(uint32_t reason)
{
	static const char *const n[] = { "poweroff", "reboot", "suspend", "crash", "watchdog" };

	if (reason == BH_SHUTDOWN_NONE)
		return "none";
	return reason < BH_ARRAY_SIZE(n) ? n[reason] : "?";
}

const char *bhctl_crash_name(uint32_t detail)
{
	static const char *const n[] = { "",
		                         "signal",
		                         "exit status",
		                         "out of memory",
		                         "forbidden system call",
		                         "sandbox setup",
		                         "destroyed" };

	return detail < BH_ARRAY_SIZE(n) ? n[detail] : "?";
}

const char *bhctl_role_name(uint32_t role)
{
	static const char *const n[] = { "control", "store", "driver", "guest" };

	return role < BH_ARRAY_SIZE(n) ? n[role] : "?";
}
