/* Differential tests against Xen's own parser (libxlutil from libxen-dev):
 * every golden config, every disk spec in them plus tricky ones, and vif
 * rates must be accepted or refused alike, with the same values. Where
 * Bulkhead is deliberately stricter the case is listed with the reason. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxl.h>
#include <libxlutil.h>

#include "common/bhtest.h"
#include "xlcfg/xlcfg.h"
#include "xlcfg/xlcfg_int.h"

static FILE *devnull(void)
{
	FILE *f = fopen("/dev/null", "w");

	assert_non_null(f);
	return f;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, XLCFG_MAX_FILE + 1);

	assert_non_null(f);
	*len = fread(buf, 1, XLCFG_MAX_FILE, f);
	fclose(f);
	return buf;
}

static bool xen_syntax_ok(const char *text, size_t len)
{
	FILE *r = devnull();
	XLU_Config *c = xlu_cfg_init(r, "compat");
	int rc = xlu_cfg_readdata(c, text, (int)len);

	xlu_cfg_destroy(c);
	fclose(r);
	return rc == 0;
}

/* Golden files where Bulkhead refuses on purpose what Xen reads. */
static const char *const stricter_syntax[] = {
	"err-nesting.cfg",         /* depth limit 8 */
	"err-string-too-long.cfg", /* string limit 4096 */
	NULL,
};

/* Golden files that Bulkhead reads and Xen 4.17's parser refuses. */
static const char *const lenient_syntax[] = {
	"escapes-numeric.cfg", /* libxlu refuses \xHH and drops \OOO (a bug) */
	NULL,
};

static bool listed(const char *const *list, const char *s)
{
	for (int i = 0; list[i]; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/* What libxlu's readdata covers: the syntax, and += between settings. */
static bool syntax_and_merge(const char *name, const char *text, struct xlcfg_diags *d)
{
	struct xsettings s = { 0 }, m = { 0 };
	bool ok = xlcfg_syntax_parse(name, 1, text, &s, d) == 0;

	for (size_t i = 0; ok && i < s.n; i++)
		ok = xlcfg_merge(&m, &s.v[i], false, d) == 0;
	xlcfg_settings_free(&s);
	xlcfg_settings_free(&m);
	return ok;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t golden_files(char ***out)
{
	DIR *d = opendir(XLCFG_GOLDEN_DIR);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	*out = NULL;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l > 4 && !strcmp(e->d_name + l - 4, ".cfg")) {
			*out = realloc(*out, (n + 1) * sizeof(char *));
			(*out)[n++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(*out, n, sizeof(char *), cmp_str);
	return n;
}

static void test_file_syntax_agrees(void **state)
{
	char **names, path[1024];
	size_t n = golden_files(&names), bad = 0;

	(void)state;
	assert_true(n >= 50);
	for (size_t i = 0; i < n; i++) {
		struct xlcfg_diags d = { 0 };
		size_t len;
		char *text;
		bool ours, xen;

		snprintf(path, sizeof(path), "%s/%s", XLCFG_GOLDEN_DIR, names[i]);
		text = slurp(path, &len);
		ours = syntax_and_merge(names[i], text, &d);
		xen = xen_syntax_ok(text, len);
		if (ours != xen && !listed(xen ? stricter_syntax : lenient_syntax, names[i])) {
			printf("%s: Bulkhead %s, Xen %s\n", names[i], ours ? "accepts" : "refuses",
			       xen ? "accepts" : "refuses");
			bad++;
		}
		xlcfg_diags_free(&d);
		free(text);
		free(names[i]);
	}
	free(names);
	assert_int_equal(bad, 0);
}

static const char *const extra_specs[] = {
	"/dev/vg/guest-volume,,hda",
	"/dev/vg/guest-volume,raw,hda,rw",
	"format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
	"raw:/dev/vg/guest-volume,hda,w",
	"/root/image.iso,,hdc,cdrom",
	"/root/image.iso,,hdc,,cdrom",
	"/root/image.iso,raw,hdc,devtype=cdrom",
	"format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
	"raw:/root/image.iso,hdc:cdrom,ro",
	",hdc:cdrom,r",
	"phy:/dev/x,xvda,w",
	"file:/x.img,xvda,r",
	"tap:aio:/x.img,xvda,w",
	"tap2:tapdisk:aio:/x.img,xvda,w",
	"tap:qcow2:/x.qcow2,xvda,w",
	"vdev=xvda,target=/a,b,c",
	"/x,qcow3,xvda",
	"/x,raw,xvda,rw,extra",
	"/x,raw,xvda,readwrite",
	"/x,raw,xvda,vdev=xvdb",
	"vdev=xvda,cache=none,target=/x",
	"discard,/x,,xvda",
	"no-discard,/x,,xvda",
	"backend=dd,backendtype=phy,vdev=xvda,target=/x",
	"script=iscsi,vdev=xvda,target=iqn.x:y",
	"/x,,xvda,",
	"  /x , raw , xvda , ro  ",
	"/x,,xvda,r,devtype=cdrom",
	"vdev=xvda",
	"/x",
	"",
};

/* Specs Bulkhead refuses on purpose that Xen's parser takes (libxl would
 * catch most of them later, when the disk is added). */
static const char *const stricter_specs[] = {
	"/x",         /* no vdev */
	"",           /* no vdev */
	"vdev=xvda",  /* no target and not a cdrom */
	"/x,raw,vda", /* vdev checked at parse time */
	"/dev/vg/a,,xvdz9z",
	"/dev/vg/a,raw,vda",
	",raw,xvda",
	"/root/a.iso,raw,hdc,rw,devtype=cdrom",
	"/dev/fd0,raw,fda,devtype=floppy",
	"/dev/vg/a,raw,xvda,ro,access=rw", /* each parameter at most once, as documented */
	NULL,
};

/* Specs Bulkhead reads and Xen refuses: spaces before a comma. */
static const char *const lenient_specs[] = {
	"  /x , raw , xvda , ro  ",
	NULL,
};

static int xen_format(enum bh_disk_format f)
{
	static const int map[] = {
		[BH_DISK_RAW] = LIBXL_DISK_FORMAT_RAW,
		[BH_DISK_QCOW] = LIBXL_DISK_FORMAT_QCOW,
		[BH_DISK_QCOW2] = LIBXL_DISK_FORMAT_QCOW2,
		[BH_DISK_VHD] = LIBXL_DISK_FORMAT_VHD,
		[BH_DISK_QED] = LIBXL_DISK_FORMAT_QED,
		[BH_DISK_EMPTY] = LIBXL_DISK_FORMAT_EMPTY,
	};
	return map[f];
}

/* Same meaning, allowing for what libxl would fill in later. */
static bool disk_same(const struct bh_disk *o, const libxl_device_disk *x, char *why, size_t n)
{
	const char *xt = x->pdev_path ? x->pdev_path : "";
	int xf = x->format == LIBXL_DISK_FORMAT_UNKNOWN
	             ? (*xt ? LIBXL_DISK_FORMAT_RAW : LIBXL_DISK_FORMAT_EMPTY)
	             : (int)x->format;

	if (strcmp(o->target, xt) &&
	    !(!strncmp(o->target, "/dev/", 5) && !strcmp(o->target + 5, xt)))
		return snprintf(why, n, "target %s vs %s", o->target, xt), false;
	if (strcmp(o->vdev, x->vdev ? x->vdev : ""))
		return snprintf(why, n, "vdev %s vs %s", o->vdev, x->vdev), false;
	if (xen_format(o->format) != xf)
		return snprintf(why, n, "format %d vs %d", xen_format(o->format), xf), false;
	if (o->cdrom != !!x->is_cdrom)
		return snprintf(why, n, "cdrom %d vs %d", o->cdrom, x->is_cdrom), false;
	if (o->readonly != !x->readwrite)
		return snprintf(why, n, "readonly %d vs readwrite %d", o->readonly, x->readwrite),
		       false;
	if (!!o->script != !!x->script || (o->script && strcmp(o->script, x->script)))
		return snprintf(why, n, "script %s vs %s", o->script, x->script), false;
	return true;
}

static size_t compare_spec(const char *spec)
{
	struct xlcfg_diags d = { 0 };
	struct bh_disk o;
	libxl_device_disk x;
	FILE *r = devnull();
	XLU_Config *c = xlu_cfg_init(r, "compat");
	bool ours, xen;
	char why[256] = "";
	size_t bad = 0;

	libxl_device_disk_init(&x);
	ours = xlcfg_disk_parse(spec, "compat", &o, &d) == 0;
	xen = xlu_disk_parse(c, 1, &spec, &x) == 0;
	if (ours != xen && !listed(xen ? stricter_specs : lenient_specs, spec)) {
		printf("disk '%s': Bulkhead %s, Xen %s\n", spec, ours ? "accepts" : "refuses",
		       xen ? "accepts" : "refuses");
		bad++;
	} else if (ours && xen && !disk_same(&o, &x, why, sizeof(why))) {
		printf("disk '%s': %s\n", spec, why);
		bad++;
	}
	if (ours)
		xlcfg_disk_free(&o);
	libxl_device_disk_dispose(&x);
	xlu_cfg_destroy(c);
	fclose(r);
	xlcfg_diags_free(&d);
	return bad;
}

/* Every disk spec of the golden configs, and the list above. */
static void test_disk_specs_agree(void **state)
{
	char **names, path[1024];
	size_t n = golden_files(&names), bad = 0, count = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(extra_specs) / sizeof(extra_specs[0]); i++, count++)
		bad += compare_spec(extra_specs[i]);
	for (size_t i = 0; i < n; i++) {
		struct xlcfg_diags d = { 0 };
		struct xsettings s = { 0 };
		size_t len;
		char *text;

		snprintf(path, sizeof(path), "%s/%s", XLCFG_GOLDEN_DIR, names[i]);
		text = slurp(path, &len);
		xlcfg_syntax_parse(names[i], 1, text, &s, &d);
		for (size_t k = 0; k < s.n; k++) {
			if (strcmp(s.v[k].key, "disk") || !s.v[k].val.is_list)
				continue;
			for (size_t j = 0; j < s.v[k].val.n; j++) {
				if (!s.v[k].val.items[j].is_list) {
					bad += compare_spec(s.v[k].val.items[j].s);
					count++;
				}
			}
		}
		xlcfg_settings_free(&s);
		xlcfg_diags_free(&d);
		free(text);
		free(names[i]);
	}
	free(names);
	printf("%zu disk specs compared\n", count);
	assert_true(count > 60);
	assert_int_equal(bad, 0);
}

static void test_rates_agree(void **state)
{
	static const char *const rates[] = {
		"10Mb/s",       "1MB/s@20ms",
		"100B/s",       "8b/s",
		"1GB/s@1s",     "5KB/s@250us",
		"1Kb/s@2",      "1Kb/s@20m",
		"1Kb/s@7u",     "10M/s",
		"10Mb",         "Mb/s",
		"10Mb/s@",      "10Mb/s@5ns",
		"0Mb/s",        "10Mb/s@0ms",
		"-1Mb/s",       "10mb/s",
		"10Mb/sec",     "10Mbit/s",
		"10Mb/s@5000s", "4294967295B/s@4294967295us",
		"100Gb/s@1us",
	};
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		FILE *r = devnull();
		XLU_Config *c = xlu_cfg_init(r, "compat");
		libxl_device_nic nic;
		uint64_t bps, us;
		const char *why;
		bool ours, xen;

		libxl_device_nic_init(&nic);
		ours = xlcfg_rate_parse(rates[i], &bps, &us, &why) == 0;
		xen = xlu_vif_parse_rate(c, rates[i], &nic) == 0;
		if (ours != xen) {
			printf("rate '%s': Bulkhead %s, Xen %s\n", rates[i],
			       ours ? "accepts" : "refuses", xen ? "accepts" : "refuses");
			bad++;
		} else if (ours && (us != nic.rate_interval_usecs ||
		                    bps * us / 1000000 != nic.rate_bytes_per_interval)) {
			printf("rate '%s': %llu B/s per %llu us vs %llu B per %u us\n", rates[i],
			       (unsigned long long)bps, (unsigned long long)us,
			       (unsigned long long)nic.rate_bytes_per_interval,
			       nic.rate_interval_usecs);
			bad++;
		}
		libxl_device_nic_dispose(&nic);
		xlu_cfg_destroy(c);
		fclose(r);
	}
	assert_int_equal(bad, 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_file_syntax_agrees),
	cmocka_unit_test(test_disk_specs_agree),
	cmocka_unit_test(test_rates_agree),
};

BH_TEST_MAIN(tests)
