/* The host side of the core benchmarks: a real bulkhead-core (through the
 * integration-test harness) and domains running core-benchdom. */
#ifndef BH_BENCH_COREHOST_H
#define BH_BENCH_COREHOST_H

#include <stdint.h>

#include "tests/harness.h"

/* Starts a core as th_host_start does, under /var/tmp/bhbench-core-*;
 * th_host_stop stops it and removes the directory. */
int ch_host_start(struct th_host *h, const char *const *extra);
/* Creates a domain running core-benchdom with args (NULL-terminated);
 * domid may be BH_DOMID_ANY; cpumap 0 = any CPU. Returns 0 or a negative
 * errno. */
int ch_create(struct th_host *h, const char *name, uint32_t role, uint16_t domid, uint64_t cpumap,
              const char *const *args, uint16_t *domid_out);
/* Waits for a line starting with key in the domain's log and parses the
 * number after it; a "FAIL" line or a timeout is an error. */
int ch_wait_value(struct th_host *h, const char *name, const char *key, int timeout_ms,
                  double *out);
/* The same for the first `want` such lines (out has room for want). */
int ch_wait_values(struct th_host *h, const char *name, const char *key, int want, int timeout_ms,
                   double *out);
/* Destroys (and reaps) a domain. */
int ch_destroy(struct th_host *h, uint16_t domid);
/* Notices the first write to a file of a directory (inotify IN_MODIFY):
 * how the benchmarks see that a program has started without polling. */
int ch_watch_open(const char *dir);
/* Waits for a write to dir/name; returns 0, -ETIMEDOUT or -errno. */
int ch_watch_wait(int ifd, const char *name, int timeout_ms);
/* The baseline start: core-benchdom hello in the same namespaces as a
 * domain (user, pid, mount, net, ipc, uts) by a bare clone3 + exec, its
 * stdout on dir/bare<i>.out, watched through ifd (ch_watch_open(dir)).
 * Returns milliseconds until its first write, or -1. */
double ch_bare_start(const char *dir, int ifd, int i);
/* Prints the error and the core's log location, then exits 1. */
void ch_die(struct th_host *h, const char *what, int rc);

#endif
