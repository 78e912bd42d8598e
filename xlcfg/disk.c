/* The disk spec of xl-disk-configuration(5):
 *
 *   [KEY=VALUE|FLAG,]* [TARGET[,FORMAT[,VDEV[,ACCESS]]]] [KEY=VALUE|FLAG,]* [target=TARGET]
 *
 * Items without '=' that are not flags fill the positional parameters not
 * yet given, in the order target, format, vdev, access; an empty item means
 * "default". target= takes the rest of the string, commas included. The
 * deprecated form "[PREFIX:]TARGET,VDEV[:cdrom],ACCESS" is recognised by a
 * prefix on the target (phy:, file:, tap:aio:, raw:, qcow2:, ...); after
 * one, the format position is skipped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

#define LOWER_ALNUM "abcdefghijklmnopqrstuvwxyz0123456789"

enum { P_TARGET, P_FORMAT, P_VDEV, P_ACCESS, P_N };

struct diskp {
	struct bh_disk *out;
	struct xlcfg_pos at;
	struct xlcfg_diags *d;
	bool given[P_N];
	bool have_format, have_access, have_backend, have_backendtype, have_script;
	bool have_devtype, have_discard;
	bool depr;
	int rc;
};

static const char *const formats[] = {
	[BH_DISK_RAW] = "raw", [BH_DISK_QCOW] = "qcow", [BH_DISK_QCOW2] = "qcow2",
	[BH_DISK_VHD] = "vhd", [BH_DISK_QED] = "qed",   [BH_DISK_EMPTY] = "empty",
};

const char *xlcfg_format_name(enum bh_disk_format f)
{
	return (unsigned)f < sizeof(formats) / sizeof(formats[0]) ? formats[f] : "?";
}

static int bad(struct diskp *p, const char *fmt, const char *arg)
{
	char *msg = NULL;

	if (asprintf(&msg, fmt, arg) < 0)
		msg = NULL;
	xlcfg_err(p->d, p->at, "disk: %s", msg ? msg : fmt);
	free(msg);
	p->rc = -EINVAL;
	return -EINVAL;
}

/* Each parameter at most once, positional or named. */
static int once(struct diskp *p, bool *flag, const char *name)
{
	if (*flag)
		return bad(p, "'%s' is given more than once", name);
	*flag = true;
	return 0;
}

static int set_format(struct diskp *p, const char *v)
{
	if (once(p, &p->given[P_FORMAT], "format"))
		return -EINVAL;
	if (!*v)
		return 0;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!strcmp(v, formats[i])) {
			p->out->format = (enum bh_disk_format)i;
			return 0;
		}
	}
	return bad(p, "unknown format \"%s\" (expected raw, qcow, qcow2, vhd, qed or empty)", v);
}

static int set_vdev(struct diskp *p, const char *v)
{
	const char *colon = strchr(v, ':');

	if (once(p, &p->given[P_VDEV], "vdev"))
		return -EINVAL;
	if (colon) { /* deprecated "hdc:cdrom" */
		if (strcmp(colon + 1, "cdrom"))
			return bad(p,
			           "unknown device type \"%s\" after the vdev (expected ':cdrom')",
			           colon + 1);
		p->out->cdrom = true;
	}
	free(p->out->vdev);
	p->out->vdev = colon ? xlcfg_strndup(v, (size_t)(colon - v)) : xlcfg_strdup(v);
	return 0;
}

static int set_access(struct diskp *p, const char *v)
{
	if (once(p, &p->given[P_ACCESS], "access"))
		return -EINVAL;
	if (!*v)
		return 0;
	if (!strcmp(v, "ro") || !strcmp(v, "r"))
		p->out->readonly = true;
	else if (!strcmp(v, "rw") || !strcmp(v, "w"))
		p->out->readonly = false;
	else
		return bad(p, "access: expected ro, r, rw or w, got \"%s\"", v);
	p->have_access = true;
	return 0;
}

/* Old prefixes before the target: formats, script names, and ones xl
 * ignores. Returns the rest of the target. */
static const char *strip_prefixes(struct diskp *p, const char *v)
{
	static const char *const ignored[] = { "tapdisk", "tap2", "tap", "aio",
		                               "ioemu",   "file", "phy" };
	static const char *const scripts[] = { "iscsi", "nbd", "enbd", "drbd" };

	for (;;) {
		const char *colon = strchr(v, ':');
		size_t n = colon ? (size_t)(colon - v) : 0;
		bool known = false;

		const char *slash = strchr(v, '/');

		if (!colon || !n || (slash && slash < colon) || strspn(v, LOWER_ALNUM) != n)
			return v;
		for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
			known |= strlen(ignored[i]) == n && !strncmp(v, ignored[i], n);
		for (size_t i = 0; !known && i < sizeof(formats) / sizeof(formats[0]); i++) {
			if (strlen(formats[i]) == n && !strncmp(v, formats[i], n)) {
				p->out->format = (enum bh_disk_format)i;
				known = true;
			}
		}
		for (size_t i = 0; !known && i < sizeof(scripts) / sizeof(scripts[0]); i++) {
			if (strlen(scripts[i]) == n && !strncmp(v, scripts[i], n)) {
				/* As libxlu: "iscsi:" is the script block-iscsi. */
				free(p->out->script);
				if (asprintf(&p->out->script, "block-%.*s", (int)n, v) < 0)
					abort();
				known = true;
			}
		}
		if (!known && colon[1] != '/')
			return v; /* "name:thing" is a target, not a prefix */
		if (!known) {
			char *pre = xlcfg_strndup(v, n);

			bad(p, "unknown prefix \"%s:\" before the target", pre);
			free(pre);
			return v;
		}
		p->depr = true;
		v = colon + 1;
	}
}

static int set_target(struct diskp *p, const char *v, bool positional)
{
	if (once(p, &p->given[P_TARGET], "target"))
		return -EINVAL;
	if (positional) {
		v = strip_prefixes(p, v);
		if (p->rc)
			return p->rc;
		if (p->depr)
			p->given[P_FORMAT] = true; /* the old form has no format position */
	}
	free(p->out->target);
	p->out->target = xlcfg_strdup(v);
	return 0;
}

static int set_positional(struct diskp *p, const char *v)
{
	if (!p->given[P_TARGET])
		return set_target(p, v, true);
	if (!p->given[P_FORMAT] && !*p->out->target && strchr(v, ':')) {
		/* The old empty cdrom ",hdc:cdrom,r": no format position. */
		p->given[P_FORMAT] = true;
		return set_vdev(p, v);
	}
	if (!p->given[P_FORMAT])
		return set_format(p, v);
	if (!p->given[P_VDEV])
		return set_vdev(p, v);
	if (!p->given[P_ACCESS])
		return set_access(p, v);
	return bad(p, "too many positional parameters at \"%s\" (target, format, vdev, access)", v);
}

static int set_flag(struct diskp *p, const char *v, bool *handled)
{
	*handled = true;
	if (!strcmp(v, "cdrom")) {
		if (once(p, &p->have_devtype, "devtype"))
			return -EINVAL;
		p->out->cdrom = true;
		return 0;
	}
	if (!strcmp(v, "discard") || !strcmp(v, "no-discard")) {
		if (once(p, &p->have_discard, "discard"))
			return -EINVAL;
		p->out->discard = v[0] == 'd';
		return 0;
	}
	if (!strcmp(v, "direct-io-safe") || !strcmp(v, "trusted") || !strcmp(v, "untrusted") ||
	    !strcmp(v, "colo")) {
		xlcfg_warn(p->d, p->at, "disk: flag '%s' is not supported by Bulkhead; ignored", v);
		return 0;
	}
	*handled = false;
	return 0;
}

static int set_string(struct diskp *p, bool *flag, const char *name, char **field, const char *v)
{
	if (once(p, flag, name))
		return -EINVAL;
	free(*field);
	*field = *v ? xlcfg_strdup(v) : NULL;
	return 0;
}

static int set_keyed(struct diskp *p, const char *k, const char *v)
{
	struct bh_disk *o = p->out;

	if (!strcmp(k, "format"))
		return set_format(p, v);
	if (!strcmp(k, "vdev"))
		return set_vdev(p, v);
	if (!strcmp(k, "access"))
		return set_access(p, v);
	if (!strcmp(k, "backend")) {
		if (set_string(p, &p->have_backend, k, &o->backend, v))
			return -EINVAL;
		/* Domain 0 is the default: keep NULL for it. */
		if (o->backend && (!strcmp(o->backend, "0") || !strcmp(o->backend, "Domain-0"))) {
			free(o->backend);
			o->backend = NULL;
		}
		return 0;
	}
	if (!strcmp(k, "script"))
		return set_string(p, &p->have_script, k, &o->script, v);
	if (!strcmp(k, "backendtype")) {
		if (*v && strcmp(v, "phy") && strcmp(v, "qdisk") && strcmp(v, "tap") &&
		    strcmp(v, "standalone"))
			return bad(
			    p, "backendtype: expected phy, qdisk, tap or standalone, got \"%s\"",
			    v);
		return set_string(p, &p->have_backendtype, k, &o->backendtype, v);
	}
	if (!strcmp(k, "devtype")) {
		if (once(p, &p->have_devtype, "devtype"))
			return -EINVAL;
		if (*v && strcmp(v, "cdrom"))
			return bad(p, "devtype: expected cdrom, got \"%s\"", v);
		o->cdrom = *v != 0;
		return 0;
	}
	if (!strcmp(k, "specification") || !strcmp(k, "transport") || !strcmp(k, "grant_usage") ||
	    !strncmp(k, "colo-", 5) || !strcmp(k, "active-disk") || !strcmp(k, "hidden-disk")) {
		xlcfg_warn(p->d, p->at, "disk: '%s=' is not supported by Bulkhead; ignored", k);
		return 0;
	}
	return bad(p, "unknown parameter \"%s\"", k);
}

/* One comma-separated item, already trimmed. */
static int do_item(struct diskp *p, const char *item)
{
	const char *eq = strchr(item, '=');
	bool handled;
	char *k;
	int rc;

	if (!eq) {
		rc = set_flag(p, item, &handled);
		return handled ? rc : set_positional(p, item);
	}
	k = xlcfg_strndup(item, (size_t)(eq - item));
	while (*k && (k[strlen(k) - 1] == ' ' || k[strlen(k) - 1] == '\t'))
		k[strlen(k) - 1] = 0;
	eq++;
	while (*eq == ' ' || *eq == '\t')
		eq++;
	rc = set_keyed(p, k, eq);
	free(k);
	return rc;
}

static void trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	memmove(s, s + i, n - i + 1);
}

static int split(struct diskp *p, const char *spec)
{
	const char *s = spec;

	for (;;) {
		const char *comma;
		char *item;

		while (*s == ' ' || *s == '\t')
			s++;
		if (!strncmp(s, "target=", 7) || !strncmp(s, "target =", 8)) {
			/* Verbatim, as libxlu: the rest of the string is the target. */
			return set_target(p, strchr(s, '=') + 1, false);
		}
		comma = strchr(s, ',');
		item = xlcfg_strndup(s, comma ? (size_t)(comma - s) : strlen(s));
		trim(item);
		/* A trailing empty item after the last comma is no parameter. */
		if (*item || comma)
			do_item(p, item);
		free(item);
		if (p->rc || !comma)
			return p->rc;
		s = comma + 1;
	}
}

/* Defaults and the rules that need the whole spec. */
static int finish(struct diskp *p)
{
	struct bh_disk *o = p->out;

	if (!o->vdev || !*o->vdev)
		return bad(p, "%s", "no vdev (the guest's name for the disk, e.g. xvda)");
	o->vdev_number = xlcfg_vdev_to_number(o->vdev);
	if (o->vdev_number < 0)
		return bad(p,
		           "vdev \"%s\" is not a valid device name (expected xvdX, sdX or hdX "
		           "with an optional partition number)",
		           o->vdev);
	if (!o->target || !*o->target) {
		if (!o->cdrom)
			return bad(p, "%s", "no target (only a cdrom may be empty)");
		free(o->target);
		o->target = xlcfg_strdup("");
		o->format = BH_DISK_EMPTY;
	} else if (o->format == BH_DISK_EMPTY) {
		return bad(p, "format \"empty\" needs an empty target, got \"%s\"", o->target);
	} else if (o->target[0] != '/' && !o->script) {
		/* As libxl does: a bare name is a device under /dev. */
		char *t = NULL;

		if (asprintf(&t, "/dev/%s", o->target) < 0)
			abort();
		free(o->target);
		o->target = t;
	}
	if (o->cdrom) {
		if (p->have_access && !o->readonly)
			return bad(p, "%s", "a cdrom cannot be writable (access=rw)");
		o->readonly = true;
	}
	return 0;
}

int xlcfg_disk_parse_at(const char *spec, struct xlcfg_pos at, struct bh_disk *out,
                        struct xlcfg_diags *d)
{
	struct diskp p = { .out = out, .at = at, .d = d };

	memset(out, 0, sizeof(*out));
	out->vdev_number = -1;
	out->discard = -1;
	out->line = at.line;
	if (!spec || strlen(spec) > XLCFG_MAX_STRING)
		bad(&p, "%s", "spec missing or longer than 4096 bytes");
	else if (!split(&p, spec))
		finish(&p);
	if (p.rc)
		xlcfg_disk_free(out);
	return p.rc;
}

int xlcfg_disk_parse(const char *spec, const char *where, struct bh_disk *out,
                     struct xlcfg_diags *diags)
{
	return xlcfg_disk_parse_at(spec, (struct xlcfg_pos){ where, 0, 0 }, out, diags);
}

void xlcfg_disk_free(struct bh_disk *d)
{
	if (!d)
		return;
	free(d->target);
	free(d->vdev);
	free(d->backend);
	free(d->backendtype);
	free(d->script);
	memset(d, 0, sizeof(*d));
	d->vdev_number = -1;
	d->discard = -1;
}
