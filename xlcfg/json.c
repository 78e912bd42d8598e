/* The parsed config as JSON (yajl): every field, defaults filled in, unset
 * strings as null. The golden tests compare this text, so the key order is
 * fixed here. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "xlcfg/xlcfg_int.h"

static void str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void kstr(yajl_gen g, const char *k, const char *v)
{
	str(g, k);
	if (v)
		str(g, v);
	else
		yajl_gen_null(g);
}

static void knum(yajl_gen g, const char *k, unsigned long long v)
{
	str(g, k);
	yajl_gen_integer(g, (long long)v);
}

static void kbool(yajl_gen g, const char *k, bool v)
{
	str(g, k);
	yajl_gen_bool(g, v);
}

static bool cpu_set(const uint64_t map[4], unsigned c)
{
	return map[c / 64] >> (c % 64) & 1;
}

/* "0-3,5" from a map; NULL for the empty map (any CPU). */
static char *cpus_text(const uint64_t map[4])
{
	char *buf = xlcfg_calloc(1200, 1);
	size_t n = 0;

	for (unsigned c = 0; c < 256; c++) {
		unsigned e = c;

		if (!cpu_set(map, c))
			continue;
		while (e + 1 < 256 && cpu_set(map, e + 1))
			e++;
		n += (size_t)snprintf(buf + n, 1200 - n, e > c ? "%s%u-%u" : "%s%u", n ? "," : "",
		                      c, e);
		c = e;
	}
	if (!n) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void kcpus(yajl_gen g, const char *k, const uint64_t map[4])
{
	char *s = cpus_text(map);

	kstr(g, k, s);
	free(s);
}

static void disk(yajl_gen g, const struct bh_disk *d)
{
	yajl_gen_map_open(g);
	kstr(g, "target", d->target);
	kstr(g, "vdev", d->vdev);
	str(g, "vdev_number");
	yajl_gen_integer(g, d->vdev_number);
	kstr(g, "format", xlcfg_format_name(d->format));
	kstr(g, "access", d->readonly ? "ro" : "rw");
	kstr(g, "devtype", d->cdrom ? "cdrom" : "disk");
	kstr(g, "backend", d->backend);
	kstr(g, "backendtype", d->backendtype);
	kstr(g, "script", d->script);
	str(g, "discard");
	if (d->discard < 0)
		yajl_gen_null(g);
	else
		yajl_gen_bool(g, d->discard);
	knum(g, "line", d->line);
	yajl_gen_map_close(g);
}

static void vif(yajl_gen g, const struct bh_vif *v)
{
	char mac[18];

	xlcfg_mac_format(v->mac, mac);
	yajl_gen_map_open(g);
	kstr(g, "mac", v->has_mac ? mac : NULL);
	kstr(g, "bridge", v->bridge);
	kstr(g, "ip", v->ip);
	kstr(g, "backend", v->backend);
	kstr(g, "vifname", v->vifname);
	kstr(g, "model", v->model);
	kstr(g, "script", v->script);
	knum(g, "rate_bytes_per_sec", v->rate_bytes_per_sec);
	knum(g, "rate_interval_us", v->rate_interval_us);
	knum(g, "mtu", v->mtu);
	knum(g, "line", v->line);
	yajl_gen_map_close(g);
}

static void uuid(yajl_gen g, const struct bh_domcfg *c)
{
	char buf[37];
	size_t n = 0;

	if (!c->has_uuid) {
		kstr(g, "uuid", NULL);
		return;
	}
	for (int i = 0; i < 16; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%02x",
		                      (i == 4 || i == 6 || i == 8 || i == 10) ? "-" : "",
		                      c->uuid[i]);
	kstr(g, "uuid", buf);
}

static void devices(yajl_gen g, const struct bh_domcfg *c)
{
	str(g, "disks");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < c->ndisks; i++)
		disk(g, &c->disks[i]);
	yajl_gen_array_close(g);
	str(g, "vifs");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < c->nvifs; i++)
		vif(g, &c->vifs[i]);
	yajl_gen_array_close(g);
}

static void cpus(yajl_gen g, const struct bh_domcfg *c)
{
	kcpus(g, "cpus", c->cpumap);
	str(g, "vcpu_cpus");
	if (!c->nvcpu_cpumaps) {
		yajl_gen_null(g);
		return;
	}
	yajl_gen_array_open(g);
	for (size_t i = 0; i < c->nvcpu_cpumaps; i++) {
		char *s = cpus_text(c->vcpu_cpumaps[i]);

		str(g, s ? s : "");
		free(s);
	}
	yajl_gen_array_close(g);
}

/* Only when configured, so that configs without one dump as before. */
static void uplink(yajl_gen g, const struct bh_uplink *u)
{
	char ip[INET_ADDRSTRLEN + 4] = "";

	if (!u->enabled)
		return;
	if (u->host_ipv4) {
		inet_ntop(AF_INET, &u->host_ipv4, ip, INET_ADDRSTRLEN);
		snprintf(ip + strlen(ip), sizeof(ip) - strlen(ip), "/%u", u->host_prefix);
	}
	str(g, "uplink");
	yajl_gen_map_open(g);
	kstr(g, "bridge", u->bridge);
	kstr(g, "host_ifname", u->host_ifname);
	kstr(g, "host_bridge", u->host_bridge);
	kstr(g, "host_ip", ip[0] ? ip : NULL);
	knum(g, "mtu", u->mtu);
	yajl_gen_map_close(g);
}

static void body(yajl_gen g, const struct bh_domcfg *c)
{
	kstr(g, "file", c->file);
	kstr(g, "name", c->name);
	kstr(g, "type", c->type == BH_DOMTYPE_HVM ? "hvm" : "pv");
	knum(g, "memory_mb", c->memory_mb);
	knum(g, "maxmem_mb", c->maxmem_mb);
	knum(g, "vcpus", c->vcpus);
	knum(g, "maxvcpus", c->maxvcpus);
	cpus(g, c);
	knum(g, "weight", c->weight);
	knum(g, "cap", c->cap);
	kstr(g, "kernel", c->kernel);
	kstr(g, "ramdisk", c->ramdisk);
	kstr(g, "cmdline", c->cmdline);
	kstr(g, "root", c->root);
	kstr(g, "extra", c->extra);
	devices(g, c);
	kstr(g, "on_poweroff", xlcfg_action_name(c->on_poweroff));
	kstr(g, "on_reboot", xlcfg_action_name(c->on_reboot));
	kstr(g, "on_crash", xlcfg_action_name(c->on_crash));
	kstr(g, "on_watchdog", xlcfg_action_name(c->on_watchdog));
	kbool(g, "driver_domain", c->driver_domain);
	kstr(g, "seclabel", c->seclabel);
	uuid(g, c);
	str(g, "device_model_args");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < c->ndevice_model_args; i++)
		str(g, c->device_model_args[i]);
	yajl_gen_array_close(g);
	knum(g, "heartbeat_period_ms", c->heartbeat_period_ms);
	knum(g, "heartbeat_timeout_ms", c->heartbeat_timeout_ms);
	knum(g, "restart_limit", c->restart_limit);
	knum(g, "restart_window_s", c->restart_window_s);
	uplink(g, &c->uplink);
}

char *xlcfg_json_dump(const struct bh_domcfg *cfg)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	char *out;

	if (!cfg || !g) {
		if (g)
			yajl_gen_free(g);
		return NULL;
	}
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	yajl_gen_map_open(g);
	body(g, cfg);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &buf, &len);
	out = xlcfg_calloc(len + 2, 1);
	memcpy(out, buf, len);
	if (len && out[len - 1] != '\n')
		out[len] = '\n';
	yajl_gen_free(g);
	return out;
}
