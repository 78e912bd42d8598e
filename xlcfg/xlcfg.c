/* The entry points: a file or a string, plus command-line overrides, to a
 * struct bh_domcfg. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xlcfg/xlcfg_int.h"

/* Overrides are numbered like lines of "<command line>": the Nth is line N. */
static int parse_overrides(const char *const *ov, size_t n, struct xsettings *m,
                           struct xlcfg_diags *d)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		struct xsettings one = { 0 };

		if (!ov[i] || strlen(ov[i]) > XLCFG_MAX_STRING) {
			xlcfg_err(d, ((struct xlcfg_pos){ NULL, (unsigned)i + 1, 1 }),
			          "override missing or longer than %u bytes", XLCFG_MAX_STRING);
			rc = -EINVAL;
			continue;
		}
		if (xlcfg_syntax_parse(NULL, (unsigned)i + 1, ov[i], &one, d))
			rc = -EINVAL;
		for (size_t j = 0; !rc && j < one.n; j++)
			if (xlcfg_merge(m, &one.v[j], false, d))
				rc = -EINVAL;
		xlcfg_settings_free(&one);
	}
	return rc;
}

int xlcfg_parse_string(const char *name, const char *text, const char *const *overrides,
                       size_t noverrides, struct bh_domcfg **out, struct xlcfg_diags *diags)
{
	struct bh_domcfg *cfg = xlcfg_calloc(1, sizeof(*cfg));
	struct xsettings file = { 0 }, merged = { 0 };
	int rc;

	*out = NULL;
	cfg->file = xlcfg_strdup(name ? name : "<string>");
	if (!text || strlen(text) > XLCFG_MAX_FILE) {
		xlcfg_err(diags, ((struct xlcfg_pos){ cfg->file, 0, 0 }),
		          "missing or larger than %u bytes; not a domain config", XLCFG_MAX_FILE);
		rc = -EINVAL;
		goto out;
	}
	rc = xlcfg_syntax_parse(cfg->file, 1, text, &file, diags);
	for (size_t i = 0; !rc && i < file.n; i++)
		rc = xlcfg_merge(&merged, &file.v[i], true, diags);
	if (!rc)
		rc = parse_overrides(overrides, noverrides, &merged, diags);
	if (!rc)
		rc = xlcfg_apply(cfg, &merged, diags);
out:
	xlcfg_settings_free(&file);
	xlcfg_settings_free(&merged);
	if (rc) {
		xlcfg_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

/* The whole file, NUL-terminated; refuses big files and NUL bytes. */
static int read_text(const char *path, char **out, struct xlcfg_diags *d)
{
	struct xlcfg_pos at = { path, 0, 0 };
	char *buf = NULL;
	size_t len = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		xlcfg_err(d, at, "cannot open: %s", strerror(errno));
		return -errno;
	}
	buf = xlcfg_calloc(XLCFG_MAX_FILE + 2, 1);
	while ((r = read(fd, buf + len, XLCFG_MAX_FILE + 1 - len)) > 0 && len <= XLCFG_MAX_FILE)
		len += (size_t)r;
	close(fd);
	if (r < 0) {
		xlcfg_err(d, at, "cannot read: %s", strerror(errno));
		free(buf);
		return -EIO;
	}
	if (len > XLCFG_MAX_FILE) {
		xlcfg_err(d, at, "larger than %u bytes; not a domain config", XLCFG_MAX_FILE);
		free(buf);
		return -EFBIG;
	}
	if (memchr(buf, 0, len)) {
		const char *nul = memchr(buf, 0, len);
		unsigned line = 1;

		for (const char *p = buf; p < nul; p++)
			line += *p == '\n';
		xlcfg_err(d, ((struct xlcfg_pos){ path, line, 1 }),
		          "a NUL byte in the file; not a text config");
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

int xlcfg_parse_file(const char *path, const char *const *overrides, size_t noverrides,
                     struct bh_domcfg **out, struct xlcfg_diags *diags)
{
	char *text = NULL;
	int rc;

	*out = NULL;
	rc = read_text(path, &text, diags);
	if (rc)
		return rc;
	rc = xlcfg_parse_string(path, text, overrides, noverrides, out, diags);
	free(text);
	return rc;
}

void xlcfg_free(struct bh_domcfg *cfg)
{
	if (!cfg)
		return;
	free(cfg->file);
	free(cfg->name);
	free(cfg->kernel);
	free(cfg->ramdisk);
	free(cfg->cmdline);
	free(cfg->root);
	free(cfg->extra);
	for (size_t i = 0; i < cfg->ndisks; i++)
		xlcfg_disk_free(&cfg->disks[i]);
	free(cfg->disks);
	for (size_t i = 0; i < cfg->nvifs; i++)
		xlcfg_vif_free(&cfg->vifs[i]);
	free(cfg->vifs);
	free(cfg->seclabel);
	for (size_t i = 0; i < cfg->ndevice_model_args; i++)
		free(cfg->device_model_args[i]);
	free(cfg->device_model_args);
	free(cfg->vcpu_cpumaps);
	xlcfg_uplink_free(&cfg->uplink);
	free(cfg);
}
