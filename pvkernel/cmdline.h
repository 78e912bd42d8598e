/* The guest's kernel command line, read the way Linux reads it.
 *
 * Words are taken one by one (the toolstack splits xl.cfg's string; see
 * pvk_cmdline_split). A word the kernel knows (root=, init=, rdinit=, ip=,
 * console=, quiet, ro, ...) is consumed here. Of the rest, a word with a
 * dot before any '=' is a module parameter and is dropped; a word with '='
 * goes to init's environment (replacing a variable of the same name); any
 * other word goes to init's argv. After a "--" word everything goes to
 * init's argv unchanged. init starts with HOME=/ and TERM=linux, as on
 * Linux, and with at most PVK_MAX_INIT_ARGS arguments and
 * PVK_MAX_INIT_ENVS variables (more is an error, as Linux panics). */
#ifndef BH_PVK_CMDLINE_H
#define BH_PVK_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#define PVK_MAX_INIT_ARGS 32
#define PVK_MAX_INIT_ENVS 32
#define PVK_HOSTNAME_MAX  64

/* ip=client-ip:server-ip:gw-ip:netmask:hostname:device:autoconf[:dns0:dns1:ntp0]
 * (Documentation/admin-guide/nfs/nfsroot.rst). Empty fields stay empty; a
 * bare protocol word ("dhcp", "off", ...) fills only autoconf. Kept for the
 * network frontend; the PV kernel itself applies only the hostname. */
struct pvk_ip {
	bool set;
	char client[46], server[46], gateway[46], netmask[46];
	char hostname[PVK_HOSTNAME_MAX + 1];
	char device[16];
	char autoconf[16];
	char dns0[46], dns1[46], ntp0[46];
};

struct pvk_cmdline {
	const char *init;    /* rdinit=, else init=, else "/init" */
	const char *root;    /* root= (NULL: none) */
	const char *console; /* last console= (NULL: none) */
	bool init_given;     /* init= or rdinit= was on the line */
	bool quiet;
	struct pvk_ip ip;
	/* init's argv (argv[0] = init) and environment, NULL-terminated.
	 * The strings point into `words` or are static. */
	const char *argv[PVK_MAX_INIT_ARGS + 2];
	size_t argc;
	const char *envp[PVK_MAX_INIT_ENVS + 1];
	size_t envc;
	char **words; /* our copies of the words */
	size_t nwords;
	char warning[160]; /* a parameter that was dropped, and why */
	char error[160];   /* why parsing failed */
};

/* Parse N words. Returns 0, or -E2BIG/-ENOMEM with `error` set. The
 * struct is usable (and must be disposed) either way. */
int pvk_cmdline_parse(struct pvk_cmdline *c, const char *const *words, size_t n);
void pvk_cmdline_dispose(struct pvk_cmdline *c);

/* ip='s value into *out. Returns 0, or -EINVAL for a malformed address
 * or a field that is too long (*out is then cleared). */
int pvk_parse_ip(const char *val, struct pvk_ip *out);

/* Split a command-line string into words as Linux's next_arg does:
 * whitespace separates, double quotes group (and are removed). *out is a
 * malloc'd NULL-terminated array of malloc'd words. */
int pvk_cmdline_split(const char *s, char ***out, size_t *n_out);
void pvk_cmdline_free_words(char **words, size_t n);

#endif
