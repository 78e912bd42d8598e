/* The uplink spec of a driver domain, a Bulkhead extension written like a
 * vif spec: comma-separated KEY=VALUE items, all optional.
 *
 *   uplink = "host_ip=10.0.0.254/24, bridge=xenbr0, host_ifname=bhup-net,
 *             host_bridge=br0, mtu=1500"
 *
 * An empty string asks for an uplink with every default. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */

struct upp {
	struct bh_uplink *out;
	struct xlcfg_pos at;
	struct xlcfg_diags *d;
	int rc;
};

static void ubad(struct upp *p, const char *fmt, const char *a)
{
	xlcfg_diag(p->d, XLCFG_ERROR, p->at, fmt, a);
	p->rc = -EINVAL;
}

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static void set_name(struct upp *p, const char *k, const char *v, char **field)
{
	if (!ifname_ok(v)) {
		xlcfg_diag(
		    p->d, XLCFG_ERROR, p->at,
		    "uplink: %s: expected an interface name of 1 to 15 of A-Z a-z 0-9 _ . -, "
		    "got \"%s\"",
		    k, v);
		p->rc = -EINVAL;
		return;
	}
	free(*field);
	*field = xlcfg_strdup(v);
}

/* A.B.C.D[/N]; the prefix defaults to 24. */
static void set_host_ip(struct upp *p, const char *v)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash = strchr(v, '/');
	size_t n = slash ? (size_t)(slash - v) : strlen(v);
	unsigned long prefix = 24;
	struct in_addr a;

	if (n >= sizeof(addr))
		goto bad;
	memcpy(addr, v, n);
	addr[n] = 0;
	if (inet_pton(AF_INET, addr, &a) != 1 || a.s_addr == 0)
		goto bad;
	if (slash) {
		char *end;
		if (!isdigit((unsigned char)slash[1]))
			goto bad;
		prefix = strtoul(slash + 1, &end, 10);
		if (*end || prefix < 1 || prefix > 32)
			goto bad;
	}
	p->out->host_ipv4 = a.s_addr;
	p->out->host_prefix = (unsigned)prefix;
	return;
bad:
	ubad(p,
	     "uplink: host_ip: expected an IPv4 address with an optional /PREFIX (1-32), "
	     "like 10.0.0.254/24, got \"%s\"",
	     v);
}

static void set_mtu(struct upp *p, const char *v)
{
	char *end;
	unsigned long m;

	if (!isdigit((unsigned char)*v) || (m = strtoul(v, &end, 10), *end) || m < 68 ||
	    m > 65535) {
		ubad(p, "uplink: mtu: expected a number from 68 to 65535, got \"%s\"", v);
		return;
	}
	p->out->mtu = (unsigned)m;
}

static void do_item(struct upp *p, const char *k, const char *v)
{
	struct bh_uplink *o = p->out;

	if (!strcmp(k, "host_ip"))
		set_host_ip(p, v);
	else if (!strcmp(k, "bridge"))
		set_name(p, k, v, &o->bridge);
	else if (!strcmp(k, "host_ifname"))
		set_name(p, k, v, &o->host_ifname);
	else if (!strcmp(k, "host_bridge"))
		set_name(p, k, v, &o->host_bridge);
	else if (!strcmp(k, "mtu"))
		set_mtu(p, v);
	else
		ubad(p,
		     "uplink: unknown parameter \"%s\" (expected host_ip, bridge, host_ifname, "
		     "host_bridge or mtu)",
		     k);
}

static void spec_item(void *ctx, const char *k, const char *v)
{
	struct upp *p = ctx;

	if (v)
		do_item(p, k, v);
	else
		ubad(p, "uplink: expected KEY=VALUE, got \"%s\"", k);
}

int xlcfg_uplink_parse_at(const char *spec, struct xlcfg_pos at, struct bh_uplink *out,
                          struct xlcfg_diags *d)
{
	struct upp p = { .out = out, .at = at, .d = d };

	memset(out, 0, sizeof(*out));
	out->line = at.line;
	if (!spec || strlen(spec) > XLCFG_MAX_STRING) {
		ubad(&p, "uplink: %s", "spec missing or longer than 4096 bytes");
		return p.rc;
	}
	xlcfg_spec_items(spec, &p.rc, spec_item, &p);
	if (p.rc) {
		xlcfg_uplink_free(out);
		return p.rc;
	}
	out->enabled = true;
	return 0;
}

int xlcfg_uplink_parse(const char *spec, const char *where, struct bh_uplink *out,
                       struct xlcfg_diags *diags)
{
	return xlcfg_uplink_parse_at(spec, (struct xlcfg_pos){ where, 0, 0 }, out, diags);
}

void xlcfg_uplink_free(struct bh_uplink *u)
{
	if (!u)
		return;
	free(u->bridge);
	free(u->host_ifname);
	free(u->host_bridge);
	memset(u, 0, sizeof(*u));
}
