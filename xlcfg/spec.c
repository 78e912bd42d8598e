/* The "key=value, key=value, flag" strings of vif, uplink and similar
 * specs: split on commas, each item and each side of its '=' trimmed of
 * blanks, handed to the spec's own item function. */
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

static char *trimmed(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return xlcfg_strndup(s, n);
}

void xlcfg_spec_items(const char *spec, const int *rc, xlcfg_item_fn *item_fn, void *ctx)
{
	const char *s = spec;

	while (*s && !*rc) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char *item = trimmed(s, len), *eq = strchr(item, '=');

		if (eq) {
			char *k = trimmed(item, (size_t)(eq - item)),
			     *v = trimmed(eq + 1, strlen(eq + 1));

			item_fn(ctx, k, v);
			free(k);
			free(v);
		} else if (*item) {
			item_fn(ctx, item, NULL);
		}
		free(item);
		s = comma ? comma + 1 : s + len;
	}
}
