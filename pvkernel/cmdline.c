/* Reading the kernel command line (cmdline.h). */
#include "pvkernel/cmdline.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Parameters the kernel itself takes and init never sees. The ones that do
 * nothing here (no block device yet, no log levels) are still consumed so
 * that init gets the same argv and environment as under Linux. */
static const char *const kernel_params[] = {
	"root",  "rootfstype", "rootflags",   "rootwait", "rootdelay", "ro",      "rw",
	"init",  "rdinit",     "ip",          "nfsaddrs", "console",   "quiet",   "loglevel",
	"debug", "panic",      "earlyprintk", "noinitrd", "initrd",    "nfsroot", "selinux",
};

static bool key_is(const char *word, size_t keylen, const char *name)
{
	return strlen(name) == keylen && !strncmp(word, name, keylen);
}

static bool is_kernel_param(const char *word, size_t keylen)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(kernel_params); i++)
		if (key_is(word, keylen, kernel_params[i]))
			return true;
	return false;
}

static int copy_field(char *dst, size_t cap, const char *src, size_t len, bool is_addr)
{
	char tmp[64];
	struct in_addr a;

	if (len >= cap)
		return -EINVAL;
	memcpy(dst, src, len);
	dst[len] = '\0';
	if (!is_addr || len == 0)
		return 0;
	memcpy(tmp, src, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET, tmp, &a) == 1 ? 0 : -EINVAL;
}

static bool is_autoconf_word(const char *v)
{
	static const char *const words[] = { "off",  "none",  "on",   "any",
		                             "dhcp", "bootp", "rarp", "both" };

	for (size_t i = 0; i < BH_ARRAY_SIZE(words); i++)
		if (!strcmp(v, words[i]))
			return true;
	return false;
}

int pvk_parse_ip(const char *val, struct pvk_ip *out)
{
	struct {
		char *dst;
		size_t cap;
		bool addr;
	} f[] = {
		{ out->client, sizeof(out->client), true },
		{ out->server, sizeof(out->server), true },
		{ out->gateway, sizeof(out->gateway), true },
		{ out->netmask, sizeof(out->netmask), true },
		{ out->hostname, sizeof(out->hostname), false },
		{ out->device, sizeof(out->device), false },
		{ out->autoconf, sizeof(out->autoconf), false },
		{ out->dns0, sizeof(out->dns0), true },
		{ out->dns1, sizeof(out->dns1), true },
		{ out->ntp0, sizeof(out->ntp0), true },
	};
	const char *p = val;

	memset(out, 0, sizeof(*out));
	if (!strchr(val, ':') && is_autoconf_word(val)) {
		bh_strlcpy(out->autoconf, val, sizeof(out->autoconf));
		out->set = true;
		return 0;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(f); i++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (copy_field(f[i].dst, f[i].cap, p, len, f[i].addr) < 0)
			goto bad;
		if (!end)
			break;
		if (i + 1 == BH_ARRAY_SIZE(f))
			goto bad; /* more fields than Linux knows */
		p = end + 1;
	}
	out->set = true;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

static void take_kernel_param(struct pvk_cmdline *c, const char *word, size_t keylen,
                              const char *val)
{
	const char *rdinit = NULL;

	if (key_is(word, keylen, "init") && val && val[0])
		c->init = val, c->init_given = true;
	else if (key_is(word, keylen, "rdinit") && val && val[0])
		rdinit = val, c->init_given = true;
	else if (key_is(word, keylen, "root"))
		c->root = val;
	else if (key_is(word, keylen, "console"))
		c->console = val;
	else if (key_is(word, keylen, "quiet"))
		c->quiet = true;
	else if ((key_is(word, keylen, "ip") || key_is(word, keylen, "nfsaddrs")) && val &&
	         pvk_parse_ip(val, &c->ip) < 0)
		snprintf(c->warning, sizeof(c->warning), "ip=%.100s: malformed, ignored", val);
	/* rdinit= wins over init= whatever their order: an initramfs runs
	 * rdinit, as Linux does. */
	if (rdinit)
		c->argv[0] = rdinit;
}

static int add_env(struct pvk_cmdline *c, const char *word, size_t keylen)
{
	/* The same name again replaces the earlier value (Linux does so). */
	for (size_t i = 0; i < c->envc; i++) {
		if (!strncmp(c->envp[i], word, keylen + 1)) {
			c->envp[i] = word;
			return 0;
		}
	}
	if (c->envc >= PVK_MAX_INIT_ENVS) {
		snprintf(c->error, sizeof(c->error), "too many boot environment variables at %.80s",
		         word);
		return -E2BIG;
	}
	c->envp[c->envc++] = word;
	c->envp[c->envc] = NULL;
	return 0;
}

static int add_arg(struct pvk_cmdline *c, const char *word)
{
	if (c->argc >= PVK_MAX_INIT_ARGS + 1) {
		snprintf(c->error, sizeof(c->error), "too many boot init arguments at %.80s", word);
		return -E2BIG;
	}
	c->argv[c->argc++] = word;
	c->argv[c->argc] = NULL;
	return 0;
}

static int take_word(struct pvk_cmdline *c, const char *word)
{
	const char *eq = strchr(word, '=');
	size_t keylen = eq ? (size_t)(eq - word) : strlen(word);

	if (keylen == 0)
		return 0; /* "" or "=x": nothing Linux would pass on */
	if (is_kernel_param(word, keylen)) {
		take_kernel_param(c, word, keylen, eq ? eq + 1 : NULL);
		return 0;
	}
	if (memchr(word, '.', keylen))
		return 0; /* an unused module parameter */
	return eq ? add_env(c, word, keylen) : add_arg(c, word);
}

int pvk_cmdline_parse(struct pvk_cmdline *c, const char *const *words, size_t n)
{
	bool to_init = false;
	int rc;

	memset(c, 0, sizeof(*c));
	c->init = "/init";
	c->argv[c->argc++] = NULL; /* argv[0], filled at the end */
	c->envp[c->envc++] = "HOME=/";
	c->envp[c->envc++] = "TERM=linux";
	c->words = calloc(n ? n : 1, sizeof(char *));
	if (!c->words) {
		snprintf(c->error, sizeof(c->error), "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char *w = strdup(words[i]);
		if (!w) {
			snprintf(c->error, sizeof(c->error), "out of memory");
			return -ENOMEM;
		}
		c->words[c->nwords++] = w;
		if (!to_init && !strcmp(w, "--")) {
			to_init = true;
			continue;
		}
		if ((rc = to_init ? add_arg(c, w) : take_word(c, w)) < 0)
			return rc;
	}
	if (!c->argv[0])
		c->argv[0] = c->init;
	else
		c->init = c->argv[0]; /* rdinit= */
	return 0;
}

void pvk_cmdline_dispose(struct pvk_cmdline *c)
{
	pvk_cmdline_free_words(c->words, c->nwords);
	c->words = NULL;
	c->nwords = 0;
}

/* One word from *sp, Linux's next_arg: quotes group and are dropped. */
static char *next_word(const char **sp)
{
	const char *s = *sp;
	size_t len = strlen(s);
	char *w = malloc(len + 1), *o = w;
	bool quoted = false;

	if (!w)
		return NULL;
	for (; *s && (quoted || !isspace((unsigned char)*s)); s++) {
		if (*s == '"')
			quoted = !quoted;
		else
			*o++ = *s;
	}
	*o = '\0';
	*sp = s;
	return w;
}

int pvk_cmdline_split(const char *s, char ***out, size_t *n_out)
{
	char **v = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		if (n + 2 > cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nv = realloc(v, ncap * sizeof(*nv));
			if (!nv)
				goto oom;
			v = nv;
			cap = ncap;
		}
		if (!(v[n] = next_word(&s)))
			goto oom;
		n++;
	}
	if (!v && !(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	v[n] = NULL;
	*out = v;
	*n_out = n;
	return 0;
oom:
	pvk_cmdline_free_words(v, n);
	return -ENOMEM;
}

void pvk_cmdline_free_words(char **words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(words[i]);
	free(words);
}
