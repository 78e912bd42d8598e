/* The vif spec of xl-network-configuration(5): comma-separated KEY=VALUE
 * items, all optional. Also MAC addresses and the credit-scheduler rate
 * ("RATE/s[@INTERVAL]", as libxlu parses it). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

/* Six colon-separated octets of two hex digits each. */
int xlcfg_mac_parse(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		mac[i] = (uint8_t)strtoul((char[]){ s[0], s[1], 0 }, NULL, 16);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

void xlcfg_mac_format(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
	         mac[5]);
}

/* Digits only, no sign, no overflow. */
static int digits(const char **s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = *s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	*s = p;
	*out = v;
	return 0;
}

/* NUMBER [G|M|K] (B|b) "/s": B bytes, b bits; decimal multipliers. */
static int parse_bytes(const char *s, const char *end, uint64_t *out, const char **why)
{
	uint64_t v, mult = 1;

	if (digits(&s, &v)) {
		*why = "expected a number at the start of the rate";
		return -EINVAL;
	}
	if (*s == 'G' || *s == 'M' || *s == 'K') {
		mult = *s == 'G' ? 1000000000 : *s == 'M' ? 1000000 : 1000;
		s++;
	}
	if ((*s != 'B' && *s != 'b') || end - s != 3 || strncmp(s + 1, "/s", 2)) {
		*why = "expected RATE as NUMBER[GMK](B|b)/s, e.g. 10Mb/s";
		return -EINVAL;
	}
	if (v > UINT64_MAX / mult) {
		*why = "rate too large";
		return -EINVAL;
	}
	v *= mult;
	if (*s == 'b')
		v /= 8;
	if (!v) {
		*why = "rate must be more than 0 bytes per second";
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* NUMBER [s|ms|us]; no unit means seconds, as libxlu. */
static int parse_interval(const char *s, uint64_t *out, const char **why)
{
	uint64_t v, mult;

	if (digits(&s, &v)) {
		*why = "expected a number after '@'";
		return -EINVAL;
	}
	/* libxlu's pattern is NUMBER[m|u][s]: "20m" is 20 ms as well. */
	if (!strcmp(s, "") || !strcmp(s, "s"))
		mult = 1000000;
	else if (!strcmp(s, "ms") || !strcmp(s, "m"))
		mult = 1000;
	else if (!strcmp(s, "us") || !strcmp(s, "u"))
		mult = 1;
	else {
		*why = "expected the interval as NUMBER[s|ms|us], e.g. 20ms";
		return -EINVAL;
	}
	if (v > UINT32_MAX / mult) {
		*why = "interval too large (at most 4294 s)";
		return -EINVAL;
	}
	if (!v) {
		*why = "interval must be more than 0";
		return -EINVAL;
	}
	*out = v * mult;
	return 0;
}

int xlcfg_rate_parse(const char *s, uint64_t *bytes_per_sec, uint64_t *interval_us,
                     const char **why)
{
	const char *at = strchr(s, '@');

	*interval_us = 50000;
	if (parse_bytes(s, at ? at : s + strlen(s), bytes_per_sec, why))
		return -EINVAL;
	return at ? parse_interval(at + 1, interval_us, why) : 0;
}

struct vifp {
	struct bh_vif *out;
	struct xlcfg_pos at;
	struct xlcfg_diags *d;
	int rc;
};

static void vbad(struct vifp *p, const char *fmt, const char *a, const char *b)
{
	xlcfg_diag(p->d, XLCFG_ERROR, p->at, fmt, a, b);
	p->rc = -EINVAL;
}

static void set_mac(struct vifp *p, const char *v)
{
	struct bh_vif *o = p->out;

	if (xlcfg_mac_parse(v, o->mac)) {
		vbad(p, "vif: mac: expected 6 hex octets like 00:16:3e:12:34:56, got \"%s\"%s", v,
		     "");
		return;
	}
	if (o->mac[0] & 1) {
		vbad(p, "vif: mac %s has the multicast bit set (the first octet must be even)%s", v,
		     "");
		return;
	}
	o->has_mac = true;
}

static void set_mtu(struct vifp *p, const char *v)
{
	uint64_t m;
	const char *s = v;

	if (digits(&s, &m) || *s || m < 68 || m > 65535) {
		vbad(p, "vif: mtu: expected a number from 68 to 65535, got \"%s\"%s", v, "");
		return;
	}
	p->out->mtu = (unsigned)m;
}

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = *v ? xlcfg_strdup(v) : NULL;
}

/* Keys xl knows for a vif that Bulkhead does not act on. */
static bool vif_xen_only(const char *k)
{
	static const char *const keys[] = { "type", "devid",      "gatewaydev", "netdev", "accel",
		                            "vlan", "forwarddev", "powerto",    NULL };

	for (int i = 0; keys[i]; i++)
		if (!strcmp(k, keys[i]))
			return true;
	return false;
}

static void do_item(struct vifp *p, const char *k, const char *v)
{
	struct bh_vif *o = p->out;
	const char *why = NULL;

	if (!strcmp(k, "mac"))
		set_mac(p, v);
	else if (!strcmp(k, "bridge"))
		set_str(&o->bridge, v);
	else if (!strcmp(k, "ip"))
		set_str(&o->ip, v);
	else if (!strcmp(k, "backend")) {
		set_str(&o->backend, v);
		if (o->backend && (!strcmp(o->backend, "0") || !strcmp(o->backend, "Domain-0")))
			set_str(&o->backend, "");
	} else if (!strcmp(k, "vifname"))
		set_str(&o->vifname, v);
	else if (!strcmp(k, "model"))
		set_str(&o->model, v);
	else if (!strcmp(k, "script"))
		set_str(&o->script, v);
	else if (!strcmp(k, "mtu"))
		set_mtu(p, v);
	else if (!strcmp(k, "rate")) {
		if (xlcfg_rate_parse(v, &o->rate_bytes_per_sec, &o->rate_interval_us, &why))
			vbad(p, "vif: rate \"%s\": %s", v, why);
	} else if (vif_xen_only(k) || !strcmp(k, "trusted") || !strcmp(k, "untrusted"))
		xlcfg_warn(p->d, p->at, "vif: '%s' is not supported by Bulkhead; ignored", k);
	else
		vbad(p, "vif: unknown parameter \"%s\"%s", k, "");
}

static void spec_item(void *ctx, const char *k, const char *v)
{
	struct vifp *p = ctx;

	if (v)
		do_item(p, k, v);
	else if (!strcmp(k, "trusted") || !strcmp(k, "untrusted"))
		do_item(p, k, "");
	else
		vbad(p, "vif: expected KEY=VALUE, got \"%s\"%s", k, "");
}

int xlcfg_vif_parse_at(const char *spec, struct xlcfg_pos at, struct bh_vif *out,
                       struct xlcfg_diags *d)
{
	struct vifp p = { .out = out, .at = at, .d = d };

	memset(out, 0, sizeof(*out));
	out->rate_interval_us = 50000;
	out->line = at.line;
	if (!spec || strlen(spec) > XLCFG_MAX_STRING) {
		vbad(&p, "vif: %s%s", "spec missing or longer than 4096 bytes", "");
		return p.rc;
	}
	xlcfg_spec_items(spec, &p.rc, spec_item, &p);
	if (p.rc)
		xlcfg_vif_free(out);
	return p.rc;
}

int xlcfg_vif_parse(const char *spec, const char *where, struct bh_vif *out,
                    struct xlcfg_diags *diags)
{
	return xlcfg_vif_parse_at(spec, (struct xlcfg_pos){ where, 0, 0 }, out, diags);
}

void xlcfg_vif_free(struct bh_vif *v)
{
	if (!v)
		return;
	free(v->bridge);
	free(v->ip);
	free(v->backend);
	free(v->vifname);
	free(v->model);
	free(v->script);
	memset(v, 0, sizeof(*v));
	v->rate_interval_us = 50000;
}
