/* Unit tests of the xlcfg API: vdev numbers, MACs, rates, CPU lists,
 * overrides, spec forms and diagnostics. The golden files under
 * tests/golden/xlcfg cover whole configs and layouts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "xlcfg/xlcfg.h"
#include "xlcfg/xlcfg_int.h"

static void test_vdev_numbers(void **state)
{
	/* The table of xen-vbd-interface (protocol-facts §2.5). */
	static const struct {
		const char *name;
		int num;
	} t[] = {
		{ "xvda", 51712 },
		{ "xvdb", 51728 },
		{ "xvda1", 51713 },
		{ "xvdp", 51952 },
		{ "xvdp15", 51967 },
		{ "xvdq", (1 << 28) | (16 << 8) },
		{ "xvda16", (1 << 28) | 16 },
		{ "xvdaa", (1 << 28) | (26 << 8) },
		{ "xvdz", (1 << 28) | (25 << 8) },
		{ "sda", 2048 },
		{ "sdb", 2064 },
		{ "sda1", 2049 },
		{ "sdp15", (8 << 8) | (15 << 4) | 15 },
		{ "hda", 768 },
		{ "hdb", 832 },
		{ "hdc", 5632 },
		{ "hdd", 5696 },
		{ "hda1", 769 },
		{ "hdc63", 5632 + 63 },
	};
	static const char *const bad[] = { "",         "xvd",     "xvda0", "xvdA", "sdq",
		                           "sda16",    "hde",     "hda64", "vda",  "xvda1x",
		                           "xvdaaaaa", "xvda256", NULL };

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (xlcfg_vdev_to_number(t[i].name) != t[i].num)
			fail_msg("%s: got %d, want %d", t[i].name, xlcfg_vdev_to_number(t[i].name),
			         t[i].num);
	}
	for (int i = 0; bad[i]; i++)
		if (xlcfg_vdev_to_number(bad[i]) != -1)
			fail_msg("%s accepted", bad[i]);
	assert_int_equal(xlcfg_vdev_to_number(NULL), -1);
}

static void test_mac(void **state)
{
	uint8_t m[6];
	char buf[18];

	(void)state;
	assert_int_equal(xlcfg_mac_parse("00:16:3e:0A:bc:ff", m), 0);
	assert_int_equal(m[0], 0x00);
	assert_int_equal(m[2], 0x3e);
	assert_int_equal(m[3], 0x0a);
	assert_int_equal(m[5], 0xff);
	xlcfg_mac_format(m, buf);
	assert_string_equal(buf, "00:16:3e:0a:bc:ff");
	assert_int_not_equal(xlcfg_mac_parse("00:16:3e:0a:bc", m), 0);
	assert_int_not_equal(xlcfg_mac_parse("00:16:3e:0a:bc:ff:00", m), 0);
	assert_int_not_equal(xlcfg_mac_parse("0:16:3e:0a:bc:ff", m), 0);
	assert_int_not_equal(xlcfg_mac_parse("00-16-3e-0a-bc-ff", m), 0);
	assert_int_not_equal(xlcfg_mac_parse("00:16:3e:0g:bc:ff", m), 0);
	assert_int_not_equal(xlcfg_mac_parse("", m), 0);
}

static void test_vif_mac_multicast(void **state)
{
	struct xlcfg_diags d = { 0 };
	struct bh_vif v;

	(void)state;
	assert_int_equal(xlcfg_vif_parse("mac=01:16:3e:00:00:01", "t", &v, &d), -EINVAL);
	assert_int_equal(d.nerrors, 1);
	assert_non_null(strstr(d.v[0].msg, "multicast"));
	assert_int_equal(xlcfg_vif_parse("mac=02:16:3e:00:00:01,bridge=br0", "t", &v, &d), 0);
	assert_true(v.has_mac);
	assert_string_equal(v.bridge, "br0");
	xlcfg_vif_free(&v);
	xlcfg_diags_free(&d);
}

static void test_rate(void **state)
{
	static const struct {
		const char *s;
		uint64_t bps, us;
	} ok[] = {
		{ "10Mb/s", 1250000, 50000 },
		{ "1MB/s@20ms", 1000000, 20000 },
		{ "100B/s", 100, 50000 },
		{ "8b/s", 1, 50000 },
		{ "1GB/s@1s", 1000000000, 1000000 },
		{ "5KB/s@250us", 5000, 250 },
		{ "1Kb/s@2", 125, 2000000 },
	};
	static const char *const bad[] = { "10M/s",
		                           "10Mb",
		                           "Mb/s",
		                           "10Mb/s@",
		                           "10Mb/s@5ns",
		                           "0Mb/s",
		                           "10Mb/s@0ms",
		                           "-1Mb/s",
		                           "10mb/s",
		                           "10Mb/sec",
		                           "99999999999999999999B/s",
		                           "10Mb/s@5000s",
		                           NULL };
	uint64_t bps, us;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(xlcfg_rate_parse(ok[i].s, &bps, &us, &why), 0);
		if (bps != ok[i].bps || us != ok[i].us)
			fail_msg("%s: %llu/%llu", ok[i].s, (unsigned long long)bps,
			         (unsigned long long)us);
	}
	for (int i = 0; bad[i]; i++) {
		why = NULL;
		if (xlcfg_rate_parse(bad[i], &bps, &us, &why) != -EINVAL || !why)
			fail_msg("%s accepted", bad[i]);
	}
}

static void test_cpus(void **state)
{
	uint64_t m[4];
	const char *why;

	(void)state;
	assert_int_equal(xlcfg_cpus_parse("0-3,^2", m, &why), 0);
	assert_int_equal(m[0], 0xb);
	assert_int_equal(xlcfg_cpus_parse("all", m, &why), 0);
	assert_true(m[0] == ~0ull && m[3] == ~0ull);
	assert_int_equal(xlcfg_cpus_parse("^0", m, &why), 0);
	assert_true(m[0] == ~1ull && m[1] == ~0ull);
	assert_int_equal(xlcfg_cpus_parse("all,^1-2", m, &why), 0);
	assert_int_equal(m[0], ~6ull);
	assert_int_equal(xlcfg_cpus_parse("64, 255", m, &why), 0);
	assert_true(m[0] == 0 && m[1] == 1 && m[3] == 1ull << 63);
	assert_int_equal(xlcfg_cpus_parse("256", m, &why), -EINVAL);
	assert_int_equal(xlcfg_cpus_parse("3-1", m, &why), -EINVAL);
	assert_int_equal(xlcfg_cpus_parse("1,,2", m, &why), -EINVAL);
	assert_int_equal(xlcfg_cpus_parse("1-3,^1-3", m, &why), -EINVAL);
	assert_int_equal(xlcfg_cpus_parse("nodes:0", m, &why), -EINVAL);
	assert_int_equal(xlcfg_cpus_parse("", m, &why), -EINVAL);
	assert_int_equal(xlcfg_cpus_parse("x", m, &why), -EINVAL);
}

static void test_overrides(void **state)
{
	const char *ov[] = { "vcpus=2", "disk=['/img/a,raw,xvda,rw']", "memory = 0x200",
		             "extra += ' quiet'" };
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *c;

	(void)state;
	assert_int_equal(xlcfg_parse_string("t.cfg",
	                                    "name='t'\nvcpus=1\nmemory=256\nextra='console=hvc0'\n"
	                                    "disk=['/img/b,,xvdb']\n",
	                                    ov, 4, &c, &d),
	                 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(c->vcpus, 2);
	assert_int_equal(c->memory_mb, 512);
	assert_int_equal(c->maxmem_mb, 512);
	assert_int_equal(c->ndisks, 1);
	assert_string_equal(c->disks[0].vdev, "xvda");
	assert_string_equal(c->cmdline, "console=hvc0 quiet");
	xlcfg_free(c);

	/* A bad override points at "<command line>:N:COL". */
	ov[0] = "vcpus='lots'";
	assert_int_equal(xlcfg_parse_string("t.cfg", "name='t'\n", ov, 1, &c, &d), -EINVAL);
	assert_null(c);
	assert_int_equal(d.nerrors, 1);
	assert_null(d.v[0].file);
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[0].col, 7);
	assert_string_equal(d.v[0].msg, "vcpus: expected a number, got \"lots\"");
	xlcfg_diags_free(&d);
}

static void test_numbers(void **state)
{
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *c;

	(void)state;
	assert_int_equal(xlcfg_parse_string("t.cfg", "name='t';memory=0400;maxmem=0x400;vcpus='3'",
	                                    NULL, 0, &c, &d),
	                 0);
	assert_int_equal(c->memory_mb, 256);
	assert_int_equal(c->maxmem_mb, 1024);
	assert_int_equal(c->vcpus, 3);
	assert_int_equal(c->maxvcpus, 3);
	xlcfg_free(c);
	xlcfg_diags_free(&d);
}

static void test_disk_forms(void **state)
{
	static const char *const same[] = {
		"/dev/vg/guest-volume,,hda",
		"/dev/vg/guest-volume,raw,hda,rw",
		"format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
		"raw:/dev/vg/guest-volume,hda,w",
		"phy:/dev/vg/guest-volume,hda,w",
		"vdev=hda,/dev/vg/guest-volume",
	};
	struct xlcfg_diags d = { 0 };
	struct bh_disk k;

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		if (xlcfg_disk_parse(same[i], "t", &k, &d))
			fail_msg("%s: rejected", same[i]);
		assert_string_equal(k.target, "/dev/vg/guest-volume");
		assert_string_equal(k.vdev, "hda");
		assert_int_equal(k.vdev_number, 768);
		assert_int_equal(k.format, BH_DISK_RAW);
		assert_false(k.readonly);
		assert_false(k.cdrom);
		xlcfg_disk_free(&k);
	}
	assert_int_equal(xlcfg_disk_parse("target=/a,b,c", "t", &k, &d), -EINVAL);
	assert_int_equal(xlcfg_disk_parse("vdev=xvda,target=/img/a,b,c", "t", &k, &d), 0);
	assert_string_equal(k.target, "/img/a,b,c");
	xlcfg_disk_free(&k);
	assert_int_equal(xlcfg_disk_parse(",hdc:cdrom,r", "t", &k, &d), 0);
	assert_true(k.cdrom);
	assert_int_equal(k.format, BH_DISK_EMPTY);
	xlcfg_disk_free(&k);
	assert_int_equal(xlcfg_disk_parse("tap:aio:/img/x.img,xvda,w", "t", &k, &d), 0);
	assert_string_equal(k.target, "/img/x.img");
	xlcfg_disk_free(&k);
	assert_int_equal(xlcfg_disk_parse("tap:qcow2:/img/x.qcow2,xvdb,r", "t", &k, &d), 0);
	assert_int_equal(k.format, BH_DISK_QCOW2);
	assert_true(k.readonly);
	xlcfg_disk_free(&k);
	assert_int_equal(xlcfg_disk_parse("/x,raw,xvda,rw,vdev=xvdb", "t", &k, &d), -EINVAL);
	assert_int_equal(xlcfg_disk_parse("/x,raw,xvda,rw,extra", "t", &k, &d), -EINVAL);
	xlcfg_diags_free(&d);
}

static void test_diag_print(void **state)
{
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(xlcfg_parse_string("t.cfg", "name = 't'\ndisk = [ 'a,,xvda',\n  'b'\n",
	                                    NULL, 0, &c, &d),
	                 -EINVAL);
	f = open_memstream(&buf, &len);
	xlcfg_diags_print(&d, f);
	fclose(f);
	assert_string_equal(buf, "t.cfg:4:1: error: expected ',' or ']' to close the list "
	                         "opened at 2:8, got end of file\n");
	free(buf);
	xlcfg_diags_free(&d);
}

static void test_limits(void **state)
{
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *c;
	char *deep = calloc(1, 200), *big = calloc(1, XLCFG_MAX_FILE + 20);

	(void)state;
	strcpy(deep, "x = ");
	memset(deep + 4, '[', 100);
	assert_int_equal(xlcfg_parse_string("t.cfg", deep, NULL, 0, &c, &d), -EINVAL);
	assert_non_null(strstr(d.v[0].msg, "nested deeper"));
	xlcfg_diags_free(&d);
	memset(big, '#', XLCFG_MAX_FILE + 10);
	assert_int_equal(xlcfg_parse_string("t.cfg", big, NULL, 0, &c, &d), -EINVAL);
	assert_non_null(strstr(d.v[0].msg, "larger than"));
	xlcfg_diags_free(&d);
	memset(big, 'a', XLCFG_MAX_FILE + 10);
	memcpy(big, "name='", 6);
	assert_int_equal(xlcfg_parse_string("t.cfg", big, NULL, 0, &c, &d), -EINVAL);
	xlcfg_diags_free(&d);
	free(deep);
	free(big);
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	if (!len)
		len = strlen(text);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void remove_dir(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

/* Start order over real files: driver domains first, ties in file order. */
static void test_layout_order(void **state)
{
	char *dir = bh_test_tmpdir("xlcfg");
	struct xlcfg_diags d = { 0 };
	struct xlcfg_layout l;
	char *plan = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(dir);
	write_file(dir, "a.cfg", "name='guest'\nvif=['backend=fw']\n", 0);
	write_file(dir, "b.cfg", "name='other'\n", 0);
	write_file(dir, "c.cfg", "name='fw'\ndriver_domain=1\nvif=['backend=nic']\n", 0);
	write_file(dir, "d.cfg", "name='nic'\ndriver_domain=1\n", 0);
	write_file(dir, "e.cfg.orig", "broken [", 8);
	assert_int_equal(xlcfg_layout_load(dir, &l, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(l.ndoms, 4);
	/* other (b) is ready first; then nic (d), fw (c), guest (a). */
	assert_int_equal(l.start_order[0], 1);
	assert_int_equal(l.start_order[1], 3);
	assert_int_equal(l.start_order[2], 2);
	assert_int_equal(l.start_order[3], 0);
	f = open_memstream(&plan, &len);
	xlcfg_layout_print_plan(&l, f);
	fclose(f);
	assert_non_null(strstr(plan, "  4. start guest (a.cfg)\n     waits for: fw (vif 0)\n"));
	free(plan);
	xlcfg_layout_free(&l);
	xlcfg_layout_free(&l); /* idempotent */

	/* A self-reference is a cycle of one. */
	write_file(dir, "d.cfg", "name='nic'\ndriver_domain=1\nvif=['backend=nic']\n", 0);
	assert_int_equal(xlcfg_layout_load(dir, &l, &d), -EINVAL);
	assert_int_equal(d.nerrors, 1);
	assert_string_equal(d.v[0].msg, "backend cycle: nic -> nic");
	assert_int_equal(l.ndoms, 0);
	xlcfg_diags_free(&d);
	assert_int_equal(xlcfg_layout_load("/nonexistent/layout", &l, &d), -ENOENT);
	xlcfg_diags_free(&d);
	remove_dir(dir);
}

/* Files that are not text configs: missing, NUL bytes, too big. */
static void test_file_errors(void **state)
{
	char *dir = bh_test_tmpdir("xlcfg");
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *c = (void *)1;
	char path[512], *big;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.cfg", dir);
	assert_int_equal(xlcfg_parse_file(path, NULL, 0, &c, &d), -ENOENT);
	assert_null(c);
	assert_non_null(strstr(d.v[0].msg, "cannot open"));
	xlcfg_diags_free(&d);

	write_file(dir, "nul.cfg", "name='a'\nx=1\0\n", 15);
	snprintf(path, sizeof(path), "%s/nul.cfg", dir);
	assert_int_equal(xlcfg_parse_file(path, NULL, 0, &c, &d), -EINVAL);
	assert_int_equal(d.v[0].line, 2);
	xlcfg_diags_free(&d);

	big = malloc(XLCFG_MAX_FILE + 100);
	memset(big, '\n', XLCFG_MAX_FILE + 100);
	write_file(dir, "big.cfg", big, XLCFG_MAX_FILE + 100);
	free(big);
	snprintf(path, sizeof(path), "%s/big.cfg", dir);
	assert_int_equal(xlcfg_parse_file(path, NULL, 0, &c, &d), -EFBIG);
	xlcfg_diags_free(&d);

	write_file(dir, "ok.cfg", "name='ok' # '#' in a string: \"a # b\"\nextra=\"a # b\"\n", 0);
	snprintf(path, sizeof(path), "%s/ok.cfg", dir);
	assert_int_equal(xlcfg_parse_file(path, NULL, 0, &c, &d), 0);
	assert_string_equal(c->extra, "a # b");
	assert_string_equal(c->file, path);
	xlcfg_free(c);
	xlcfg_free(NULL);
	remove_dir(dir);
}

/* The JSON names every field and survives odd bytes in strings. */
static void test_json(void **state)
{
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *c;
	char *j;

	(void)state;
	assert_int_equal(xlcfg_parse_string("t.cfg",
	                                    "name='j'\nextra='tab\\there \\\"q\\\" \\x01'\n"
	                                    "cpus=['0-1',3]\ndisk=[',hdc:cdrom,r']\n",
	                                    NULL, 0, &c, &d),
	                 0);
	j = xlcfg_json_dump(c);
	assert_non_null(strstr(j, "\"extra\": \"tab\\there \\\"q\\\" \\u0001\""));
	assert_non_null(strstr(j, "\"cpus\": \"0-1,3\""));
	assert_non_null(strstr(j, "\"vdev_number\": 5632"));
	assert_non_null(strstr(j, "\"format\": \"empty\""));
	assert_non_null(strstr(j, "\"on_reboot\": \"restart\""));
	free(j);
	xlcfg_free(c);
	xlcfg_diags_free(&d);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_layout_order), cmocka_unit_test(test_file_errors),
	cmocka_unit_test(test_json),         cmocka_unit_test(test_vdev_numbers),
	cmocka_unit_test(test_mac),          cmocka_unit_test(test_vif_mac_multicast),
	cmocka_unit_test(test_rate),         cmocka_unit_test(test_cpus),
	cmocka_unit_test(test_overrides),    cmocka_unit_test(test_numbers),
	cmocka_unit_test(test_disk_forms),   cmocka_unit_test(test_diag_print),
	cmocka_unit_test(test_limits),
};

BH_TEST_MAIN(tests)
