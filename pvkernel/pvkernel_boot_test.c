/* The PV kernel booting real guests under a real core: the default ramdisk
 * runs a command, its console output reaches a console backend domain
 * through the ring (or the domain's log without one), input typed on the
 * console reaches the guest, the way init ends maps to the shutdown
 * reason, and the guest sees none of the host's files. Needs root. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "pvkernel/pvk.h"
#include "tests/harness.h"

#define GUEST   40
#define CONSOLE 41

struct fx {
	struct th_host h;
	char libexec[200];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	/* The core's image directory: the PV kernel and the default ramdisk. */
	snprintf(f->libexec, sizeof(f->libexec), "%s/../libexec/bulkhead", bh_test_bindir());
	assert_int_equal(th_host_start(&f->h, NULL), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	assert_int_equal(th_host_stop(&f->h), 0);
	free(f);
	return 0;
}

/* What the toolstack does for a PV guest: create it paused with the PV
 * kernel as its image, assign the ramdisk, unpause. */
static struct bh_hc_create_resp boot_with(struct fx *f, const char *name, uint16_t console_domid,
                                          const char *ramdisk, const char *const *words)
{
	const char *argv[64] = { "bulkhead-pvkernel", "--ramdisk-token", "ramdisk", "--" };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE | BH_CREATE_PAUSED,
		                    .role = BH_ROLE_GUEST,
		                    .domid = GUEST,
		                    .vcpus = 1,
		                    .mem_kb = 128 * 1024,
		                    .store_domid = BH_DOMID_INVALID,
		                    .console_domid = console_domid };
	struct bh_hc_create_resp r;
	size_t n = 4;

	for (size_t i = 0; words[i] && n < 63; i++)
		argv[n++] = words[i];
	argv[n] = NULL;
	bh_strlcpy(req.name, name, sizeof(req.name));
	snprintf(req.image, sizeof(req.image), "%s/bulkhead-pvkernel", f->libexec);
	assert_int_equal(bhctl_domain_create(&f->h.cl, &req, argv, &r), 0);
	if (ramdisk)
		assert_int_equal(
		    bhctl_device_assign(&f->h.cl, GUEST, "ramdisk", ramdisk, BH_DEV_RDONLY), 0);
	assert_int_equal(bhctl_domain_unpause(&f->h.cl, GUEST), 0);
	return r;
}

static struct bh_hc_create_resp boot(struct fx *f, const char *name, uint16_t console_domid,
                                     const char *const *words)
{
	return boot_with(f, name, console_domid, "image:bulkhead-ramdisk.cpio", words);
}

/* The console backend domain for the guest's console port. */
static void start_consback(struct fx *f, uint32_t port, const char *input)
{
	char sdom[16], sport[16];
	const char *argv[] = { th_prog("pvkernel_consback"), sdom, sport, input, NULL };

	snprintf(sdom, sizeof(sdom), "%d", GUEST);
	snprintf(sport, sizeof(sport), "%u", port);
	assert_int_equal(th_create(&f->h, "consback", BH_ROLE_GUEST, 64, 0, CONSOLE, argv, NULL),
	                 0);
}

static struct bh_dominfo wait_end(struct fx *f)
{
	struct bh_dominfo d;

	assert_int_equal(th_wait_end(&f->h, GUEST, 15000, &d), 0);
	return d;
}

static void expect_in(const char *text, const char *needle)
{
	if (!text || !strstr(text, needle)) {
		fprintf(stderr, "---- no \"%s\" in:\n%s\n----\n", needle, text ? text : "(null)");
		fail();
	}
}

/* Boot, run a shell command with ext4 tools, power off: every byte of the
 * console (kernel messages first) arrives in the ring. */
static void test_console_ring_carries_boot_and_command(void **state)
{
	struct fx *f = *state;
	const char *words[] = {
		"--",
		"echo hello from the guest; truncate -s 16M /tmp/fs.img && "
		"mkfs.ext4 -q -F /tmp/fs.img && e2fsck -f -n /tmp/fs.img >/dev/null; "
		"echo fsck=$?",
		NULL
	};
	struct bh_hc_create_resp r = boot(f, "guest", CONSOLE, words);

	start_consback(f, r.console_port, NULL);
	struct bh_dominfo d = wait_end(f);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
	/* the guest has powered off: its output is on its way to consback
	 * (a loaded host has been seen to need more than 5 s) */
	char *log = th_wait_log(&f->h, "consback", "fsck=0", 15000);
	expect_in(log, "bulkhead-pvkernel: Bulkhead PV kernel, domain 40 (guest)");
	expect_in(log, "Run /init as init process");
	expect_in(log, "\nhello from the guest");
	/* the kernel's messages come before init's */
	assert_true(strstr(log, "Run /init") < strstr(log, "\nhello from the guest"));
	if (getenv("PVK_SHOW"))
		fprintf(stderr, "%s", log);
	free(log);
}

/* A backend that binds late still gets what was written before (the ring
 * and the FIFO held it); with `quiet` the kernel's messages stay in the
 * log and off the console. */
static void test_late_backend_gets_early_output_and_quiet_holds(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "quiet", "--", "echo early-bird; sleep 2; echo late-owl", NULL };
	struct bh_hc_create_resp r = boot(f, "late", CONSOLE, words);

	char *log = th_wait_log(&f->h, "late", "Run /init as init process", 10000);
	assert_non_null(log);
	free(log);
	usleep(500 * 1000);
	start_consback(f, r.console_port, NULL);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_POWEROFF);
	log = th_wait_log(&f->h, "consback", "late-owl", 5000);
	expect_in(log, "early-bird");
	/* only the final line, as Linux's KERN_EMERG "reboot: Power down" */
	char *k = strstr(log, "bulkhead-pvkernel:");
	assert_non_null(k);
	assert_int_equal(strncmp(k, "bulkhead-pvkernel: reboot: Power down", 37), 0);
	assert_null(strstr(k + 1, "bulkhead-pvkernel:"));
	free(log);
}

/* A hostile backend breaks the ring's rules: the guest drops the ring,
 * says so, and its console carries on in the log; it neither hangs nor
 * writes past the ring. */
static void test_corrupt_console_ring_falls_back_to_the_log(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--",
		                "sleep 1; head -c 100000 /dev/zero | tr '\\0' y; echo; "
		                "echo after-the-flood",
		                NULL };
	struct bh_hc_create_resp r = boot(f, "victim", CONSOLE, words);

	start_consback(f, r.console_port, "--corrupt");
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_POWEROFF);
	char *log = th_log(&f->h, "victim");
	expect_in(log, "console: the backend broke the ring's rules");
	expect_in(log, "after-the-flood");
	free(log);
}

/* Input typed into the ring reaches the guest's shell through the pty. */
static void test_console_input_reaches_the_guest(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "read line; eval \"$line\"", NULL };
	struct bh_hc_create_resp r = boot(f, "typed", CONSOLE, words);

	start_consback(f, r.console_port, "echo typed-$((6*7))\n");
	struct bh_dominfo d = wait_end(f);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
	char *log = th_wait_log(&f->h, "consback", "typed-42", 5000);
	expect_in(log, "typed-42");
	free(log);
}

/* No backend is ever bound: more output than ring and buffer hold. The
 * guest must neither deadlock nor lose the command's exit: init blocks on
 * the console only until the shutdown's bounded drain gives up. */
static void test_no_console_backend_does_not_hang(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "head -c 200000 /dev/zero | tr '\\0' x & sleep 1; exit 0",
		                NULL };

	boot(f, "lonely", CONSOLE, words);
	struct bh_dominfo d = wait_end(f);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
}

/* Without a console page, the console is the domain's log. */
static void test_exit_status_maps_to_crash(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "echo about to fail; exit 3", NULL };

	boot(f, "failing", BH_DOMID_INVALID, words);
	struct bh_dominfo d = wait_end(f);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_CRASH);
	char *log = th_log(&f->h, "failing");
	expect_in(log, "about to fail");
	expect_in(log, "Attempted to kill init! exitcode=0x00000300");
	free(log);
}

static void test_killed_init_is_a_crash(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "kill -SEGV $$", NULL };

	boot(f, "segv", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_CRASH);
}

/* busybox's reboot signals PID 1 (SIGTERM from inside); reboot -f calls
 * reboot(2), which ends the pid namespace and the core sees it. */
static void test_reboot_inside_gives_reboot(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "reboot; sleep 30", NULL };

	boot(f, "rebooter", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_REBOOT);
}

static void test_reboot_syscall_gives_reboot(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "reboot -f; sleep 30", NULL };

	boot(f, "rebootf", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_REBOOT);
}

static void test_poweroff_inside_gives_poweroff(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "poweroff; sleep 30", NULL };

	boot(f, "poweroff", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_POWEROFF);
}

/* SIGTERM from the host: init is stopped and the domain powers off. */
static void test_sigterm_from_outside_powers_off(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "echo up; sleep 60", NULL };
	struct bh_dominfo d;

	boot(f, "stopped", BH_DOMID_INVALID, words);
	char *up = th_wait_log(&f->h, "stopped", "\nup\r\n", 10000); /* the pty's \r\n */
	assert_non_null(up);
	free(up);
	assert_int_equal(bhctl_domain_getinfo(&f->h.cl, GUEST, &d), 0);
	assert_int_equal(kill(d.pid, SIGTERM), 0);
	d = wait_end(f);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
	char *log = th_log(&f->h, "stopped");
	expect_in(log, "power off requested by SIGTERM from outside");
	free(log);
}

/* A shutdown asked of the core (xl reboot): the core passes it on as
 * SIGTERM, the PV kernel stops init in order and reports the reason the
 * core recorded. */
static void test_shutdown_through_the_core_is_orderly(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--",
		                "trap 'echo init got TERM; exit 0' TERM; echo up; "
		                "while :; do sleep 1; done",
		                NULL };

	boot(f, "orderly", BH_DOMID_INVALID, words);
	char *up = th_wait_log(&f->h, "orderly", "\nup\r\n", 10000);
	assert_non_null(up);
	free(up);
	assert_int_equal(bhctl_domain_shutdown(&f->h.cl, GUEST, BH_SHUTDOWN_REBOOT), 0);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_REBOOT);
	char *log = th_log(&f->h, "orderly");
	expect_in(log, "reboot requested by the core");
	expect_in(log, "init got TERM");
	expect_in(log, "reboot: Restarting system");
	free(log);
}

/* An init that ignores SIGTERM is killed after the grace period, and the
 * domain still powers off. */
static void test_stubborn_init_is_killed_after_grace(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--", "trap '' TERM; echo up; while :; do sleep 1; done", NULL };
	struct bh_dominfo d;

	boot(f, "stubborn", BH_DOMID_INVALID, words);
	char *up = th_wait_log(&f->h, "stubborn", "\nup\r\n", 10000);
	assert_non_null(up);
	free(up);
	assert_int_equal(bhctl_domain_getinfo(&f->h.cl, GUEST, &d), 0);
	uint64_t t0 = bh_now_ns();
	assert_int_equal(kill(d.pid, SIGUSR2), 0);
	d = wait_end(f);
	assert_int_equal(d.shutdown_reason, BH_SHUTDOWN_POWEROFF);
	assert_true(bh_now_ns() - t0 >= (PVK_GRACE_MS - 200) * 1000000ull);
	char *log = th_log(&f->h, "stubborn");
	expect_in(log, "init did not stop in");
	free(log);
}

/* The guest's root is its ramdisk: no host file, no core directory. */
static void test_guest_cannot_see_host_files(void **state)
{
	struct fx *f = *state;
	char secret[400], cmd[1200];

	snprintf(secret, sizeof(secret), "%s/host-secret", f->h.dir);
	FILE *fp = fopen(secret, "w");
	assert_non_null(fp);
	fputs("top secret\n", fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd),
	         "for p in %s %s /usr/bin/cmake /etc/shadow /usr/share/doc; do "
	         "[ -e $p ] && echo VISIBLE $p; done; echo pid=$$; "
	         "grep -c . /proc/mounts; ip link show lo | grep -q UP && echo lo-is-up; "
	         "echo checked",
	         secret, f->h.rundir);
	const char *words[] = { "--", cmd, NULL };

	boot(f, "sealed", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_POWEROFF);
	char *log = th_log(&f->h, "sealed");
	expect_in(log, "checked");
	expect_in(log, "pid=2");
	expect_in(log, "\nlo-is-up"); /* its own network, with loopback up */
	assert_null(strstr(log, "\nVISIBLE /"));
	free(log);
}

/* Orphans are reparented to PID 1, which reaps them: no zombie stays. */
static void test_orphans_are_reaped(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "--",
		                "sh -c 'sleep 0.2 & sleep 0.2 &'; sleep 1; "
		                "echo zombies:$(grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l) "
		                "ppid1:$(grep -l '^PPid:.1$' /proc/[0-9]*/status | wc -l)",
		                NULL };

	boot(f, "reaper", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_POWEROFF);
	char *log = th_log(&f->h, "reaper");
	expect_in(log, "\nzombies:0 ");
	free(log);
}

/* The command line as Linux hands it to init: known keys consumed, a=b to
 * the environment, the rest to argv, ip='s hostname applied. */
static void test_cmdline_reaches_init(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "quiet",       "ip=10.0.0.2::10.0.0.1:255.255.255.0:webby:eth0:off",
		                "GREETING=hi", "mod.param=1",
		                "echo",        "$GREETING from $(hostname) as $0;",
		                "env",         NULL };

	boot(f, "cmdline", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_POWEROFF);
	char *log = th_log(&f->h, "cmdline");
	expect_in(log, "hi from webby as /bin/sh");
	expect_in(log, "\nGREETING=hi");
	expect_in(log, "\nTERM=linux");
	assert_null(strstr(log, "\nmod.param"));
	assert_null(strstr(log, "\nquiet"));
	free(log);
}

static void test_init_that_cannot_run_is_a_crash(void **state)
{
	struct fx *f = *state;
	const char *words[] = { "init=/no/such/init", NULL };

	boot(f, "noinit", BH_DOMID_INVALID, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_CRASH);
	char *log = th_log(&f->h, "noinit");
	expect_in(log, "cannot run /no/such/init");
	free(log);
}

/* Without a ramdisk, or with one that is not a cpio archive, the kernel
 * panics: a crash, with the reason in the log. */
static void test_missing_ramdisk_is_a_crash(void **state)
{
	struct fx *f = *state;
	const char *words[] = { NULL };

	boot_with(f, "nordisk", BH_DOMID_INVALID, NULL, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_CRASH);
	char *log = th_log(&f->h, "nordisk");
	expect_in(log, "Kernel panic: no ramdisk (device \"ramdisk\"");
	free(log);
}

static void test_garbage_ramdisk_is_a_crash(void **state)
{
	struct fx *f = *state;
	const char *words[] = { NULL };
	char path[400];

	snprintf(path, sizeof(path), "%s/garbage.cpio", f->h.devdir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("070701this is not an archive at all\n", fp);
	fclose(fp);
	boot_with(f, "garbage", BH_DOMID_INVALID, path, words);
	assert_int_equal(wait_end(f).shutdown_reason, BH_SHUTDOWN_CRASH);
	char *log = th_log(&f->h, "garbage");
	expect_in(log, "Kernel panic: ramdisk: ");
	free(log);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_console_ring_carries_boot_and_command, setup,
	                                teardown),
	cmocka_unit_test_setup_teardown(test_late_backend_gets_early_output_and_quiet_holds, setup,
	                                teardown),
	cmocka_unit_test_setup_teardown(test_console_input_reaches_the_guest, setup, teardown),
	cmocka_unit_test_setup_teardown(test_corrupt_console_ring_falls_back_to_the_log, setup,
	                                teardown),
	cmocka_unit_test_setup_teardown(test_no_console_backend_does_not_hang, setup, teardown),
	cmocka_unit_test_setup_teardown(test_exit_status_maps_to_crash, setup, teardown),
	cmocka_unit_test_setup_teardown(test_killed_init_is_a_crash, setup, teardown),
	cmocka_unit_test_setup_teardown(test_reboot_inside_gives_reboot, setup, teardown),
	cmocka_unit_test_setup_teardown(test_reboot_syscall_gives_reboot, setup, teardown),
	cmocka_unit_test_setup_teardown(test_poweroff_inside_gives_poweroff, setup, teardown),
	cmocka_unit_test_setup_teardown(test_sigterm_from_outside_powers_off, setup, teardown),
	cmocka_unit_test_setup_teardown(test_shutdown_through_the_core_is_orderly, setup, teardown),
	cmocka_unit_test_setup_teardown(test_stubborn_init_is_killed_after_grace, setup, teardown),
	cmocka_unit_test_setup_teardown(test_guest_cannot_see_host_files, setup, teardown),
	cmocka_unit_test_setup_teardown(test_orphans_are_reaped, setup, teardown),
	cmocka_unit_test_setup_teardown(test_cmdline_reaches_init, setup, teardown),
	cmocka_unit_test_setup_teardown(test_init_that_cannot_run_is_a_crash, setup, teardown),
	cmocka_unit_test_setup_teardown(test_missing_ramdisk_is_a_crash, setup, teardown),
	cmocka_unit_test_setup_teardown(test_garbage_ramdisk_is_a_crash, setup, teardown),
};

BH_TEST_MAIN(tests)
