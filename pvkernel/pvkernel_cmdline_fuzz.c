/* Fuzz target: a kernel command line string (xl.cfg's cmdline/extra, which
 * a guest's owner writes) through the Linux-style splitter and the parser,
 * and the same bytes as an ip= value. Checks what init would be handed:
 * bounded, NULL-terminated vectors and an init path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvkernel/cmdline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct pvk_cmdline c;
	struct pvk_ip ip;
	char **words;
	size_t n;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pvk_cmdline_split(text, &words, &n) == 0) {
		if (pvk_cmdline_parse(&c, (const char *const *)words, n) == 0) {
			if (!c.init || !c.argv[0] || c.argv[c.argc] || c.envp[c.envc] ||
			    c.argc > PVK_MAX_INIT_ARGS + 1 || c.envc > PVK_MAX_INIT_ENVS)
				abort();
		}
		pvk_cmdline_dispose(&c);
		pvk_cmdline_free_words(words, n);
	}
	if (pvk_parse_ip(text, &ip) == 0 && strlen(ip.hostname) > PVK_HOSTNAME_MAX)
		abort();
	free(text);
	return 0;
}
