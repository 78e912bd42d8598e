/* Integration-test harness: a real bulkhead-core on a temporary runtime
 * directory, driven over its admin socket, with real sandboxed domains. */
#ifndef BH_TEST_HARNESS_H
#define BH_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ioctl/bhctl.h"

struct th_host {
	char dir[256];     /* temporary top directory */
	char rundir[300];  /* <dir>/run */
	char devdir[300];  /* <dir>/devices: the core's --device-dir */
	char instance[64]; /* the core's --instance (its cgroup directory) */
	pid_t core;
	struct bh_hc_client cl;
};

/* Start a core (extra_args: NULL-terminated, may be NULL). */
int th_host_start(struct th_host *h, const char *const *extra_args);
/* Stop it with SIGTERM; returns its exit status (0 = clean, no leaks), or
 * 99 if it left its cgroup directory behind. */
int th_host_stop(struct th_host *h);
/* Path of a built program (bin/ next to the test). */
const char *th_prog(const char *name);

/* Create a domain running a host program: argv[0] is its path. */
int th_create(struct th_host *h, const char *name, uint32_t role, uint32_t mem_mb, uint32_t flags,
              uint16_t domid, const char *const *argv, struct bh_hc_create_resp *out);
/* Wait until the domain has ended; its info in *out. */
int th_wait_end(struct th_host *h, uint16_t domid, int timeout_ms, struct bh_dominfo *out);
/* The domain's log (stdout and stderr), malloc'd. */
char *th_log(struct th_host *h, const char *name);
/* The core's log line about domain DOMID (NAME)'s end in generation GEN
 * ("domN (NAME) gen GEN ended: ..."), malloc'd, or NULL. */
char *th_core_end_line(struct th_host *h, uint16_t domid, const char *name, uint32_t gen);
/* Wait until the log contains needle; returns the log (malloc'd) or NULL. */
char *th_wait_log(struct th_host *h, const char *name, const char *needle, int timeout_ms);

#endif
