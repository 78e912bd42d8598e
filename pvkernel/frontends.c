/* The guest's frontends (frontends.h). */
#include "pvkernel/frontends.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvkernel/vbd.h"
#include "pvkernel/vif.h"
#include "xenstored/bhxs.h"

static const char *const dirs[PVK_FE_MAX] = {
	[PVK_FE_VBD] = "device/vbd", [PVK_FE_VIF] = "device/vif"
};

/* Starts one frontend. ip= (cmd->ip) is for the vif whose device name it
 * gives, or the first; vifs become eth0, eth1, ... in the order of their
 * device ids. */
static void start_one(struct bhxs *xs, enum pvk_frontend_kind kind, const char *id, unsigned index,
                      const struct pvk_cmdline *cmd, void (*log)(void *, const char *), void *arg)
{
	if (kind == PVK_FE_VBD)
		pvk_vbd_connect(xs, id, log, arg);
	else
		pvk_vif_connect(xs, id, index, cmd, log, arg);
}

static int by_number(const void *a, const void *b)
{
	long x = strtol(*(char *const *)a, NULL, 10), y = strtol(*(char *const *)b, NULL, 10);
	return x < y ? -1 : x > y;
}

int pvk_frontends_probe(struct bhxs *xs, const struct pvk_cmdline *cmd,
                        void (*log)(void *arg, const char *msg), void *arg)
{
	int found = 0;

	/* bhblk.timeout=SECONDS: a module parameter by the command line's
	 * rules (dropped from init's environment), read here. */
	for (size_t i = 0; i < cmd->nwords && strcmp(cmd->words[i], "--") != 0; i++) {
		char *end;
		if (strncmp(cmd->words[i], "bhblk.timeout=", 14) != 0)
			continue;
		unsigned long s = strtoul(cmd->words[i] + 14, &end, 10);
		if (*end || end == cmd->words[i] + 14 || s > 86400) {
			if (log)
				log(arg, "bhblk.timeout= wants seconds (0..86400): ignored");
		} else {
			pvk_vbd_set_timeout((unsigned)s);
		}
	}
	for (int k = 0; k < PVK_FE_MAX; k++) {
		char **ids = NULL;
		size_t n = 0;

		if (bhxs_directory(xs, 0, dirs[k], &ids, &n) < 0)
			continue; /* no such devices */
		qsort(ids, n, sizeof(*ids), by_number);
		for (size_t i = 0; i < n; i++)
			start_one(xs, (enum pvk_frontend_kind)k, ids[i], (unsigned)i, cmd, log,
			          arg);
		found += (int)n;
		bhxs_free_names(ids, n);
	}
	pvk_vbd_serve(log, arg);
	return found;
}
