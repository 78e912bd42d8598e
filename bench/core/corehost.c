#include "bench/core/corehost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>

#include "common/util.h"

int ch_create(struct th_host *h, const char *name, uint32_t role, uint16_t domid, uint64_t cpumap,
              const char *const *args, uint16_t *domid_out)
{
	const char *argv[16] = { th_prog("core-benchdom") };
	struct bh_hc_create req = { .flags = BH_CREATE_HOST_IMAGE,
		                    .role = role,
		                    .domid = domid,
		                    .vcpus = 1,
		                    .mem_kb = 64 * 1024,
		                    .store_domid = BH_DOMID_INVALID,
		                    .console_domid = BH_DOMID_INVALID };
	struct bh_hc_create_resp resp;
	int n = 1, rc;

	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	req.cpumap[0] = cpumap;
	bh_strlcpy(req.name, name, sizeof(req.name));
	bh_strlcpy(req.image, argv[0], sizeof(req.image));
	if ((rc = bhctl_domain_create(&h->cl, &req, argv, &resp)) < 0)
		return rc;
	*domid_out = resp.domid;
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int ch_wait_value(struct th_host *h, const char *name, const char *key, int timeout_ms, double *out)
{
	size_t klen = strlen(key);

	for (int t = 0; t <= timeout_ms; t += 5) {
		char *log = th_log(h, name);
		char *line = log;
		while (line && *line) {
			if (strncmp(line, "FAIL", 4) == 0) {
				fprintf(stderr, "%s: %.200s\n", name, line);
				free(log);
				return -EIO;
			}
			if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
				*out = strtod(line + klen + 1, NULL);
				free(log);
				return 0;
			}
			line = strchr(line, '\n');
			line = line ? line + 1 : NULL;
		}
		free(log);
		sleep_ms(5);
	}
	return -ETIMEDOUT;
}

int ch_destroy(struct th_host *h, uint16_t domid)
{
	return bhctl_domain_destroy(&h->cl, domid);
}

void ch_die(struct th_host *h, const char *what, int rc)
{
	fprintf(stderr, "%s: %s\n", what, bh_strerror(rc));
	if (h && h->core > 0) {
		setenv("BH_KEEP_TEST_DIRS", "1", 1);
		fprintf(stderr, "core log and domain logs kept in %s\n", h->dir);
		th_host_stop(h);
	}
	exit(1);
}
