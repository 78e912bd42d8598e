/* Internal pieces of the xl.cfg parser shared between its files.
 *
 * The parse runs in two layers, as libxlu does: syntax.c turns text into a
 * list of settings (KEY = VALUE, VALUE a string atom or a nested list, each
 * with its position), then keys.c applies them to a struct bh_domcfg with
 * one handler per key. Disk and vif specs have their own files. */
#ifndef BH_XLCFG_INT_H
#define BH_XLCFG_INT_H

#include <stdarg.h>
#include "xlcfg/xlcfg.h"

/* Limits that keep hostile input from costing much; each has an error. */
#define XLCFG_MAX_FILE     (1u << 20) /* bytes of one config file */
#define XLCFG_MAX_DEPTH    8          /* nesting of [ ] */
#define XLCFG_MAX_STRING   4096       /* bytes of one string or number */
#define XLCFG_MAX_ITEMS    1024       /* values in one list */
#define XLCFG_MAX_SETTINGS 4096       /* settings in one file */
#define XLCFG_MAX_LAYOUT   256        /* domains in one layout */

/* Where a diagnostic points. FILE NULL means the command line. */
struct xlcfg_pos {
	const char *file;
	unsigned line, col;
};

void xlcfg_diag(struct xlcfg_diags *d, enum xlcfg_severity sev, struct xlcfg_pos at,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#define xlcfg_err(d, at, ...)  xlcfg_diag(d, XLCFG_ERROR, at, __VA_ARGS__)
#define xlcfg_warn(d, at, ...) xlcfg_diag(d, XLCFG_WARNING, at, __VA_ARGS__)

/* One value: an atom (number or string; libxlu keeps both as text) or a
 * list of values. */
struct xv {
	bool is_list;
	bool quoted; /* atom was written in quotes */
	char *s;     /* atom text */
	struct xv *items;
	size_t n;
	struct xlcfg_pos at;
};

struct xsetting {
	char *key;
	bool append; /* KEY += VALUE */
	struct xv val;
	struct xlcfg_pos at;
};

struct xsettings {
	struct xsetting *v;
	size_t n;
};

/* Parses TEXT (NUL-terminated) named FILE. Appends to OUT; stops at the
 * first syntax error (like xl). Returns 0 or -EINVAL. */
int xlcfg_syntax_parse(const char *file, unsigned first_line, const char *text,
                       struct xsettings *out, struct xlcfg_diags *d);
void xlcfg_settings_free(struct xsettings *s);
void xlcfg_xv_free(struct xv *v);
int xlcfg_xv_copy(struct xv *dst, const struct xv *src);

/* Adds S to the merged table M (later wins; += appends). */
int xlcfg_merge(struct xsettings *m, const struct xsetting *s, bool warn_dup,
                struct xlcfg_diags *d);

/* Applies merged settings to CFG (keys.c). */
int xlcfg_apply(struct bh_domcfg *cfg, const struct xsettings *m, struct xlcfg_diags *d);

/* Spec parsers with a position (the config file's line of the string). */
int xlcfg_disk_parse_at(const char *spec, struct xlcfg_pos at, struct bh_disk *out,
                        struct xlcfg_diags *d);
int xlcfg_uplink_parse_at(const char *spec, struct xlcfg_pos at, struct bh_uplink *out,
                          struct xlcfg_diags *d);
int xlcfg_vif_parse_at(const char *spec, struct xlcfg_pos at, struct bh_vif *out,
                       struct xlcfg_diags *d);

/* "10Mb/s@20ms" -> bytes per second and interval (us); 0 or -EINVAL with
 * *why set to what was wrong. */
int xlcfg_rate_parse(const char *s, uint64_t *bytes_per_sec, uint64_t *interval_us,
                     const char **why);

/* "0-3,^2", "all": sets bits of MAP (256 CPUs). 0 or -EINVAL, *why set. */
int xlcfg_cpus_parse(const char *s, uint64_t map[4], const char **why);

/* Xen's xl.cfg keys that Bulkhead does not act on (warned about). */
bool xlcfg_xen_key_known(const char *key);

/* Walks SPEC's comma-separated items (blanks trimmed) while *RC is 0:
 * ITEM_FN(CTX, key, value) for "key=value", ITEM_FN(CTX, item, NULL) for
 * an item without '='; empty items are skipped. */
typedef void xlcfg_item_fn(void *ctx, const char *key, const char *value);
void xlcfg_spec_items(const char *spec, const int *rc, xlcfg_item_fn *item_fn, void *ctx);

/* A string copy that cannot fail silently: aborts on out of memory. */
char *xlcfg_strdup(const char *s);
char *xlcfg_strndup(const char *s, size_t n);
void *xlcfg_calloc(size_t n, size_t size);
void *xlcfg_reallocarray(void *p, size_t n, size_t size);

#endif
