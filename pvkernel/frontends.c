/* The guest's frontends (frontends.h). */
#include "pvkernel/frontends.h"

#include <stdio.h>
#include <stdlib.h>

#include "pvkernel/vbd.h"
#include "xenstored/bhxs.h"

static const char *const dirs[PVK_FE_MAX] = {
	[PVK_FE_VBD] = "device/vbd", [PVK_FE_VIF] = "device/vif"
};

/* Where each kind will be started. ip= (cmd->ip) is for the vif whose
 * device name it gives, or the first. */
static void start_one(struct bhxs *xs, enum pvk_frontend_kind kind, const char *id,
                      const struct pvk_cmdline *cmd, void (*log)(void *, const char *), void *arg)
{
	char path[128], msg[300], *backend = NULL;
	size_t len;

	(void)cmd;
	if (kind == PVK_FE_VBD) {
		pvk_vbd_connect(xs, id, log, arg);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s/backend", dirs[kind], id);
	if (bhxs_read(xs, 0, path, &backend, &len) < 0)
		backend = NULL;
	snprintf(msg, sizeof(msg), "%s/%s: backend %s: no network frontend yet", dirs[kind], id,
	         backend ? backend : "(none)");
	if (log)
		log(arg, msg);
	free(backend);
}

int pvk_frontends_probe(struct bhxs *xs, const struct pvk_cmdline *cmd,
                        void (*log)(void *arg, const char *msg), void *arg)
{
	int found = 0;

	for (int k = 0; k < PVK_FE_MAX; k++) {
		char **ids = NULL;
		size_t n = 0;

		if (bhxs_directory(xs, 0, dirs[k], &ids, &n) < 0)
			continue; /* no such devices */
		for (size_t i = 0; i < n; i++)
			start_one(xs, (enum pvk_frontend_kind)k, ids[i], cmd, log, arg);
		found += (int)n;
		bhxs_free_names(ids, n);
	}
	pvk_vbd_serve(log, arg);
	return found;
}
