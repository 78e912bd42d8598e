/* The kernel command line as Linux reads it (cmdline.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bhtest.h"
#include "pvkernel/cmdline.h"

static struct pvk_cmdline parse_ok(const char *const *words)
{
	struct pvk_cmdline c;
	size_t n = 0;

	while (words[n])
		n++;
	assert_int_equal(pvk_cmdline_parse(&c, words, n), 0);
	return c;
}

static void assert_vec(const char *const *got, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void test_defaults(void **state)
{
	const char *words[] = { NULL };
	struct pvk_cmdline c = parse_ok(words);

	assert_string_equal(c.init, "/init");
	assert_false(c.init_given);
	assert_null(c.root);
	assert_false(c.quiet);
	assert_false(c.ip.set);
	assert_vec(c.argv, (const char *[]){ "/init", NULL });
	assert_vec(c.envp, (const char *[]){ "HOME=/", "TERM=linux", NULL });
	pvk_cmdline_dispose(&c);
}

/* Linux's split: kernel keys consumed, module parameters dropped, a=b to
 * the environment, the rest to argv, "--" passes everything. */
static void test_words_go_where_linux_sends_them(void **state)
{
	const char *words[] = { "root=/dev/xvda1",
		                "ro",
		                "console=hvc0",
		                "quiet",
		                "single",
		                "FOO=bar",
		                "xen.fast=1",
		                "TERM=vt100",
		                "init=/sbin/init",
		                "--",
		                "a=b",
		                "quiet",
		                NULL };
	struct pvk_cmdline c = parse_ok(words);

	assert_string_equal(c.root, "/dev/xvda1");
	assert_string_equal(c.console, "hvc0");
	assert_true(c.quiet);
	assert_true(c.init_given);
	assert_string_equal(c.init, "/sbin/init");
	assert_vec(c.argv, (const char *[]){ "/sbin/init", "single", "a=b", "quiet", NULL });
	/* TERM= replaced the default in place */
	assert_vec(c.envp, (const char *[]){ "HOME=/", "TERM=vt100", "FOO=bar", NULL });
	pvk_cmdline_dispose(&c);
}

/* Keys match whole: "ro" is not "root", "initrd" is not "init", and an
 * unknown key that starts like a known one is the user's. */
static void test_keys_match_exactly(void **state)
{
	const char *words[] = { "ro", "rootx=1", "initrd=/x", "inits", NULL };
	struct pvk_cmdline c = parse_ok(words);

	assert_null(c.root);
	assert_string_equal(c.init, "/init");
	assert_vec(c.argv, (const char *[]){ "/init", "inits", NULL });
	assert_vec(c.envp, (const char *[]){ "HOME=/", "TERM=linux", "rootx=1", NULL });
	pvk_cmdline_dispose(&c);
}

static void test_rdinit_wins_over_init(void **state)
{
	const char *words[] = { "rdinit=/bin/sh", "init=/sbin/init", NULL };
	struct pvk_cmdline c = parse_ok(words);

	assert_string_equal(c.init, "/bin/sh");
	assert_string_equal(c.argv[0], "/bin/sh");
	pvk_cmdline_dispose(&c);
}

static void test_too_many_args_is_an_error(void **state)
{
	const char *words[PVK_MAX_INIT_ARGS + 2];
	struct pvk_cmdline c;

	for (size_t i = 0; i < PVK_MAX_INIT_ARGS + 1; i++)
		words[i] = "x";
	words[PVK_MAX_INIT_ARGS + 1] = NULL;
	assert_int_equal(pvk_cmdline_parse(&c, words, PVK_MAX_INIT_ARGS), 0);
	pvk_cmdline_dispose(&c);
	assert_int_equal(pvk_cmdline_parse(&c, words, PVK_MAX_INIT_ARGS + 1), -E2BIG);
	assert_non_null(strstr(c.error, "too many boot init arguments"));
	pvk_cmdline_dispose(&c);
}

static void test_too_many_envs_is_an_error(void **state)
{
	char buf[PVK_MAX_INIT_ENVS][16];
	const char *words[PVK_MAX_INIT_ENVS];
	struct pvk_cmdline c;

	for (size_t i = 0; i < PVK_MAX_INIT_ENVS; i++) {
		snprintf(buf[i], sizeof(buf[i]), "V%zu=1", i);
		words[i] = buf[i];
	}
	/* two slots go to HOME and TERM */
	assert_int_equal(pvk_cmdline_parse(&c, words, PVK_MAX_INIT_ENVS - 2), 0);
	pvk_cmdline_dispose(&c);
	assert_int_equal(pvk_cmdline_parse(&c, words, PVK_MAX_INIT_ENVS - 1), -E2BIG);
	assert_non_null(strstr(c.error, "environment"));
	pvk_cmdline_dispose(&c);
}

static void test_ip_full_form(void **state)
{
	struct pvk_ip ip;

	assert_int_equal(pvk_parse_ip("10.0.0.2:10.0.0.9:10.0.0.1:255.255.255.0:web:eth0:off:"
	                              "1.1.1.1:8.8.8.8:10.0.0.5",
	                              &ip),
	                 0);
	assert_true(ip.set);
	assert_string_equal(ip.client, "10.0.0.2");
	assert_string_equal(ip.server, "10.0.0.9");
	assert_string_equal(ip.gateway, "10.0.0.1");
	assert_string_equal(ip.netmask, "255.255.255.0");
	assert_string_equal(ip.hostname, "web");
	assert_string_equal(ip.device, "eth0");
	assert_string_equal(ip.autoconf, "off");
	assert_string_equal(ip.dns0, "1.1.1.1");
	assert_string_equal(ip.dns1, "8.8.8.8");
	assert_string_equal(ip.ntp0, "10.0.0.5");
}

static void test_ip_short_and_empty_fields(void **state)
{
	struct pvk_ip ip;

	assert_int_equal(pvk_parse_ip("::::box", &ip), 0);
	assert_string_equal(ip.hostname, "box");
	assert_string_equal(ip.client, "");
	assert_string_equal(ip.device, "");
	assert_int_equal(pvk_parse_ip("dhcp", &ip), 0);
	assert_string_equal(ip.autoconf, "dhcp");
	assert_string_equal(ip.client, "");
	assert_int_equal(pvk_parse_ip("192.168.1.5", &ip), 0);
	assert_string_equal(ip.client, "192.168.1.5");
}

static void test_ip_bad_input_is_refused(void **state)
{
	struct pvk_ip ip;
	char longname[200];

	assert_int_equal(pvk_parse_ip("300.1.1.1::::x", &ip), -EINVAL);
	assert_false(ip.set);
	assert_string_equal(ip.hostname, "");
	assert_int_equal(pvk_parse_ip("1.2.3.4:::::::::::", &ip), -EINVAL);
	assert_int_equal(pvk_parse_ip("::::x:averyveryverylongdevicename", &ip), -EINVAL);
	memset(longname, 'h', sizeof(longname));
	memcpy(longname, "::::", 4);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(pvk_parse_ip(longname, &ip), -EINVAL);
}

/* A malformed ip= warns and is dropped, but boots. */
static void test_bad_ip_on_the_line_warns(void **state)
{
	const char *words[] = { "ip=nonsense:here", "echo", NULL };
	struct pvk_cmdline c = parse_ok(words);

	assert_false(c.ip.set);
	assert_non_null(strstr(c.warning, "ip=nonsense:here"));
	assert_vec(c.argv, (const char *[]){ "/init", "echo", NULL });
	pvk_cmdline_dispose(&c);
}

static void test_split_like_next_arg(void **state)
{
	char **w;
	size_t n;

	assert_int_equal(
	    pvk_cmdline_split("  console=hvc0 msg=\"a b  c\" \"x y\"z  -- ls\t", &w, &n), 0);
	assert_int_equal(n, 5);
	assert_vec((const char *const *)w,
	           (const char *[]){ "console=hvc0", "msg=a b  c", "x yz", "--", "ls", NULL });
	pvk_cmdline_free_words(w, n);
	assert_int_equal(pvk_cmdline_split("   ", &w, &n), 0);
	assert_int_equal(n, 0);
	assert_null(w[0]);
	pvk_cmdline_free_words(w, n);
	/* an unterminated quote runs to the end, as in Linux */
	assert_int_equal(pvk_cmdline_split("a=\"b c", &w, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(w[0], "a=b c");
	pvk_cmdline_free_words(w, n);
}

static void test_odd_words_do_not_crash(void **state)
{
	const char *words[] = { "", "=", "=x", "--", "", NULL };
	struct pvk_cmdline c = parse_ok(words);

	assert_vec(c.argv, (const char *[]){ "/init", "", NULL });
	pvk_cmdline_dispose(&c);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_defaults),
	cmocka_unit_test(test_words_go_where_linux_sends_them),
	cmocka_unit_test(test_keys_match_exactly),
	cmocka_unit_test(test_rdinit_wins_over_init),
	cmocka_unit_test(test_too_many_args_is_an_error),
	cmocka_unit_test(test_too_many_envs_is_an_error),
	cmocka_unit_test(test_ip_full_form),
	cmocka_unit_test(test_ip_short_and_empty_fields),
	cmocka_unit_test(test_ip_bad_input_is_refused),
	cmocka_unit_test(test_bad_ip_on_the_line_warns),
	cmocka_unit_test(test_split_like_next_arg),
	cmocka_unit_test(test_odd_words_do_not_crash),
};

BH_TEST_MAIN(tests)
