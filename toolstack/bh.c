/* bh: the Bulkhead CLI, xl's verbs over dom0's management API. A thin
 * client: it parses what it reads on the host (xl.cfg files, layouts) to
 * report errors with file and line, and sends requests to bulkhead-dom0.
 * Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 dom0 is
 * not reachable. See docs/bh.1.md. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bulkhead/hypercall.h"
#include "common/util.h"
#include "toolstack/bhcli.h"
#include "toolstack/json.h"
#include "xlcfg/xlcfg.h"

#define EXIT_FAIL   1
#define EXIT_USAGE  2
#define EXIT_NODOM0 3

static const char *g_rundir;
static bool g_json;
static struct bhcli g_cli;
static bool g_open;

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};
static const struct verb *g_verb;

static int usage(void)
{
	fprintf(stderr, "Usage: bh %s %s\n", g_verb->name, g_verb->usage);
	return EXIT_USAGE;
}

static bool want_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static int connect_dom0(void)
{
	int rc;

	if (g_open)
		return 0;
	if ((rc = bhcli_open(&g_cli, g_rundir)) < 0) {
		fprintf(stderr, "bh: cannot reach dom0 at %s: %s (is bulkhead-core running?)\n",
		        g_cli.path, bh_strerror(rc));
		exit(EXIT_NODOM0);
	}
	g_open = true;
	return 0;
}

/* Builds a request: call with op, then pairs of key,value strings (value
 * NULL skips the pair), ends with NULL. Integers are passed as "#123". */
static yajl_val request(const char *op, ...)
{
	yajl_gen g = jw_new();
	yajl_val reply = NULL;
	va_list ap;
	const char *k;
	int rc;

	connect_dom0();
	yajl_gen_map_open(g);
	jw_str(g, "op", op);
	va_start(ap, op);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		if (!v)
			continue;
		if (v[0] == '#')
			jw_int(g, k, strtoll(v + 1, NULL, 10));
		else if (strcmp(v, "!true") == 0 || strcmp(v, "!false") == 0)
			jw_bool(g, k, v[1] == 't');
		else
			jw_str(g, k, v);
	}
	va_end(ap);
	yajl_gen_map_close(g);
	rc = bhcli_call(&g_cli, g, &reply);
	yajl_gen_free(g);
	if (rc < 0) {
		fprintf(stderr, "bh: dom0 did not answer: %s\n", bh_strerror(rc));
		exit(EXIT_NODOM0);
	}
	return reply;
}

static yajl_val result_of(yajl_val reply)
{
	const char *path[] = { "result", NULL };
	return yajl_tree_get(reply, path, yajl_t_object);
}

static void print_diags(yajl_val reply)
{
	yajl_val d = jr_array(reply, "diagnostics");

	for (size_t i = 0; d && i < d->u.array.len; i++)
		if (YAJL_IS_STRING(d->u.array.values[i]))
			fprintf(stderr, "%s\n", YAJL_GET_STRING(d->u.array.values[i]));
}

/* Prints an error reply; returns the exit code. */
static int check(yajl_val reply)
{
	print_diags(reply);
	if (jr_bool(reply, "ok", false))
		return 0;
	fprintf(stderr, "bh %s: %s\n", g_verb->name,
	        jr_str(reply, "error") ? jr_str(reply, "error") : "failed");
	return EXIT_FAIL;
}

static void print_tree(yajl_val v)
{
	yajl_gen g = jw_new();
	const unsigned char *buf;
	size_t len;

	yajl_gen_config(g, yajl_gen_beautify, 1);
	jw_tree(g, v);
	yajl_gen_get_buf(g, &buf, &len);
	fwrite(buf, 1, len, stdout);
	if (len && buf[len - 1] != '\n')
		putchar('\n');
	yajl_gen_free(g);
}

static void print_json_result(yajl_val reply)
{
	print_tree(result_of(reply));
}

/* Runs a simple domain op and reports. */
static int simple(const char *op, const char *dom, const char *k2, const char *v2)
{
	yajl_val r = request(op, "domain", dom, k2 ? k2 : "", v2, NULL);
	int rc = check(r);

	yajl_tree_free(r);
	return rc;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
			if (!nb || cap > (1u << 20)) {
				free(nb ? nb : buf);
				fclose(f);
				errno = EFBIG;
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	buf[len] = 0;
	fclose(f);
	return buf;
}

/* ---- verbs ---- */

/* Does ARG (a name or a domid) name domain object D? */
static bool names_dom(const char *arg, yajl_val d)
{
	const char *name = jr_str(d, "name");
	long id;

	if (name && strcmp(arg, name) == 0)
		return true;
	return bh_parse_int(arg, 10, 0, 0xffff, &id) == 0 && id == jr_int(d, "domid", -1);
}

static int lookup_domid(const char *dom, long *domid)
{
	yajl_val r = request("getinfo", "domain", dom, NULL);
	int rc = check(r);
	const char *path[] = { "result", "domain", "domid", NULL };
	yajl_val v = rc ? NULL : yajl_tree_get(r, path, yajl_t_number);

	*domid = v ? YAJL_GET_INTEGER(v) : -1;
	yajl_tree_free(r);
	return rc ? rc : (v ? 0 : EXIT_FAIL);
}

static int wait_gone(const char *dom, int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		yajl_val r = request("getinfo", "domain", dom, NULL);
		bool ok = jr_bool(r, "ok", false);
		yajl_tree_free(r);
		if (!ok)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "bh %s: domain %s did not go away within %d s\n", g_verb->name, dom,
	        timeout_s);
	return EXIT_FAIL;
}

static int do_console(const char *dom);

static int create_from(const char *file, char **ov, int nov, bool paused, bool dry, bool quiet,
                       long *domid_out)
{
	struct xlcfg_diags dg = { 0 };
	struct bh_domcfg *cfg = NULL;
	char *text;
	int rc;

	if (!quiet && !g_json)
		fprintf(stderr, "Parsing config from %s\n", file);
	rc = xlcfg_parse_file(file, (const char *const *)ov, (size_t)nov, &cfg, &dg);
	xlcfg_diags_print(&dg, stderr);
	xlcfg_diags_free(&dg);
	if (rc < 0) {
		if (rc != -EINVAL)
			fprintf(stderr, "bh create: %s: %s\n", file, bh_strerror(rc));
		return EXIT_FAIL;
	}
	if (dry) {
		char *js = xlcfg_json_dump(cfg);
		printf("%s\n", js ? js : "{}");
		free(js);
		xlcfg_free(cfg);
		return 0;
	}
	xlcfg_free(cfg);
	if (!(text = read_text(file))) {
		fprintf(stderr, "bh create: %s: %s\n", file, strerror(errno));
		return EXIT_FAIL;
	}
	{
		yajl_gen g = jw_new();
		yajl_val reply = NULL;
		connect_dom0();
		yajl_gen_map_open(g);
		jw_str(g, "op", "create");
		jw_str(g, "file", file);
		jw_str(g, "text", text);
		jw_bool(g, "paused", paused);
		jw_key(g, "overrides");
		yajl_gen_array_open(g);
		for (int i = 0; i < nov; i++)
			jw_str(g, NULL, ov[i]);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		rc = bhcli_call(&g_cli, g, &reply);
		yajl_gen_free(g);
		free(text);
		if (rc < 0) {
			fprintf(stderr, "bh: dom0 did not answer: %s\n", bh_strerror(rc));
			return EXIT_NODOM0;
		}
		/* dom0 re-parsed the same text: its warnings repeat ours. */
		if (!jr_bool(reply, "ok", false)) {
			fprintf(stderr, "bh create: %s\n", jr_str(reply, "error"));
			yajl_tree_free(reply);
			return EXIT_FAIL;
		}
		const char *path[] = { "result", "domid", NULL };
		yajl_val v = yajl_tree_get(reply, path, yajl_t_number);
		*domid_out = v ? YAJL_GET_INTEGER(v) : -1;
		if (g_json)
			print_json_result(reply);
		yajl_tree_free(reply);
	}
	return 0;
}

static int v_create(int argc, char **argv)
{
	static const struct option lo[] = { { "dry-run", no_argument, NULL, 'n' },
		                            { "quiet", no_argument, NULL, 'q' },
		                            { NULL, 0, NULL, 0 } };
	bool paused = false, console = false, dry = false, quiet = false;
	long domid = -1;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+pcnqf:", lo, NULL)) != -1) {
		switch (opt) {
		case 'p':
			paused = true;
			break;
		case 'c':
			console = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'f':
			optind--;
			argv[optind] = optarg;
			goto done; /* xl's -f FILE */
		default:
			return usage();
		}
	}
done:
	if (optind >= argc)
		return usage();
	rc = create_from(argv[optind], argv + optind + 1, argc - optind - 1, paused, dry, quiet,
	                 &domid);
	if (rc || dry)
		return rc;
	if (!quiet && !g_json)
		fprintf(stderr, "Created domain %ld\n", domid);
	if (console) {
		char id[16];
		snprintf(id, sizeof(id), "%ld", domid);
		return do_console(id);
	}
	return 0;
}

static int one_dom(int argc, char **argv, const char *op)
{
	if (argc != 2)
		return usage();
	return simple(op, argv[1], NULL, NULL);
}

static int v_destroy(int argc, char **argv)
{
	return one_dom(argc, argv, "destroy");
}
static int v_pause(int argc, char **argv)
{
	return one_dom(argc, argv, "pause");
}
static int v_unpause(int argc, char **argv)
{
	return one_dom(argc, argv, "unpause");
}

static int shutdown_like(int argc, char **argv, const char *op)
{
	bool wait = false, all = false;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "+waF")) != -1) {
		switch (opt) {
		case 'w':
			wait = true;
			break;
		case 'a':
			all = true;
			break;
		case 'F':
			break; /* no PV drivers to miss: always accepted */
		default:
			return usage();
		}
	}
	if (all) {
		yajl_val r = request("list", NULL);
		const char *path[] = { "result", "domains", NULL };
		yajl_val v = yajl_tree_get(r, path, yajl_t_array);
		for (size_t i = 0; v && i < v->u.array.len; i++) {
			const char *role = jr_str(v->u.array.values[i], "role");
			const char *name = jr_str(v->u.array.values[i], "name");
			if (role && strcmp(role, "guest") == 0 && name)
				rc |= simple(op, name, NULL, NULL);
		}
		for (size_t i = 0; wait && v && i < v->u.array.len; i++) {
			const char *role = jr_str(v->u.array.values[i], "role");
			if (role && strcmp(role, "guest") == 0)
				rc |= wait_gone(jr_str(v->u.array.values[i], "name"), 60);
		}
		yajl_tree_free(r);
		return rc;
	}
	if (optind != argc - 1)
		return usage();
	if ((rc = simple(op, argv[optind], NULL, NULL)))
		return rc;
	if (wait && strcmp(op, "shutdown") == 0)
		return wait_gone(argv[optind], 60);
	return 0;
}

static int v_shutdown(int argc, char **argv)
{
	return shutdown_like(argc, argv, "shutdown");
}
static int v_reboot(int argc, char **argv)
{
	return shutdown_like(argc, argv, "reboot");
}

static int v_list(int argc, char **argv)
{
	bool lng = false;
	int opt, rc;
	yajl_val r, doms;
	const char *path[] = { "result", "domains", NULL };

	while ((opt = getopt(argc, argv, "+lv")) != -1) {
		if (opt == 'l' || opt == 'v')
			lng = true;
		else
			return usage();
	}
	r = request("list", "long", lng ? "!true" : "!false", NULL);
	if ((rc = check(r))) {
		yajl_tree_free(r);
		return rc;
	}
	doms = yajl_tree_get(r, path, yajl_t_array);
	if (lng || g_json) {
		yajl_gen g = jw_new();
		const unsigned char *buf;
		size_t len;
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_array_open(g);
		for (size_t i = 0; doms && i < doms->u.array.len; i++) {
			bool want = optind >= argc;
			for (int k = optind; k < argc; k++)
				want |= names_dom(argv[k], doms->u.array.values[i]);
			if (want)
				jw_tree(g, doms->u.array.values[i]);
		}
		yajl_gen_array_close(g);
		yajl_gen_get_buf(g, &buf, &len);
		fwrite(buf, 1, len, stdout);
		yajl_gen_free(g);
		yajl_tree_free(r);
		return 0;
	}
	printf("%-40s %5s %5s %5s     %-6s %9s\n", "Name", "ID", "Mem", "VCPUs", "State",
	       "Time(s)");
	for (size_t i = 0; doms && i < doms->u.array.len; i++) {
		yajl_val d = doms->u.array.values[i];
		const char *name = jr_str(d, "name");
		bool want = optind >= argc;
		for (int k = optind; k < argc; k++)
			want |= names_dom(argv[k], d);
		if (!want)
			continue;
		printf("%-40s %5lld %5lld %5lld     %-6s %9.1f\n", name, jr_int(d, "domid", -1),
		       jr_int(d, "mem_kb", 0) / 1024, jr_int(d, "vcpus", 0),
		       jr_bool(d, "failed", false) ? "failed"
		       : jr_str(d, "flags")        ? jr_str(d, "flags")
		                                   : "------",
		       (double)jr_int(d, "cpu_time_ns", 0) / 1e9);
	}
	yajl_tree_free(r);
	return 0;
}

static int v_info(int argc, char **argv)
{
	yajl_val r, res;
	int rc;

	if (argc != 1)
		return usage();
	r = request("info", NULL);
	if ((rc = check(r))) {
		yajl_tree_free(r);
		return rc;
	}
	res = result_of(r);
	if (g_json)
		print_json_result(r);
	else
		for (size_t i = 0; res && i < res->u.object.len; i++) {
			yajl_val v = res->u.object.values[i];
			printf("%-22s : ", res->u.object.keys[i]);
			if (YAJL_IS_STRING(v))
				printf("%s\n", YAJL_GET_STRING(v));
			else if (YAJL_IS_INTEGER(v))
				printf("%lld\n", YAJL_GET_INTEGER(v));
			else
				printf("\n");
		}
	yajl_tree_free(r);
	return 0;
}

static int v_dmesg(int argc, char **argv)
{
	const char *path[] = { "result", "lines", NULL };
	bool clear = argc > 1 && strcmp(argv[1], "-c") == 0;
	yajl_val r = request("dmesg", "clear", clear ? "!true" : NULL, NULL), l;
	int rc = check(r);

	l = rc ? NULL : yajl_tree_get(r, path, yajl_t_array);
	for (size_t i = 0; l && i < l->u.array.len; i++)
		printf("%s\n", YAJL_GET_STRING(l->u.array.values[i]));
	yajl_tree_free(r);
	return rc;
}

static int v_domid(int argc, char **argv)
{
	long id;
	int rc;

	if (argc != 2)
		return usage();
	if ((rc = lookup_domid(argv[1], &id)))
		return rc;
	printf("%ld\n", id);
	return 0;
}

static int v_domname(int argc, char **argv)
{
	const char *path[] = { "result", "domain", "name", NULL };
	yajl_val r, v;
	int rc;

	if (argc != 2)
		return usage();
	r = request("getinfo", "domain", argv[1], NULL);
	if (!(rc = check(r)) && (v = yajl_tree_get(r, path, yajl_t_string)))
		printf("%s\n", YAJL_GET_STRING(v));
	yajl_tree_free(r);
	return rc;
}

static int v_uptime(int argc, char **argv)
{
	const char *path[] = { "result", "domains", NULL };
	yajl_val r = request("list", NULL), doms;
	int rc = check(r);

	doms = rc ? NULL : yajl_tree_get(r, path, yajl_t_array);
	if (!rc)
		printf("%-40s %5s %s\n", "Name", "ID", "Uptime");
	for (size_t i = 0; doms && i < doms->u.array.len; i++) {
		yajl_val d = doms->u.array.values[i];
		long long up = jr_int(d, "uptime_s", 0);
		bool want = argc <= 1;
		for (int k = 1; k < argc; k++)
			want |= names_dom(argv[k], d);
		if (want)
			printf("%-40s %5lld %s%lld:%02lld:%02lld\n", jr_str(d, "name"),
			       jr_int(d, "domid", -1), up >= 86400 ? "" : "", up / 3600,
			       (up / 60) % 60, up % 60);
	}
	yajl_tree_free(r);
	return rc;
}

extern int bh_console_attach(const char *socket, const char *dom, int escape);

static int do_console(const char *dom)
{
	const char *path[] = { "result", "console_socket", NULL };
	yajl_val r = request("info", NULL), v;
	long id;
	char ids[16];
	int rc;

	if ((rc = check(r)) || !(v = yajl_tree_get(r, path, yajl_t_string))) {
		yajl_tree_free(r);
		return rc ? rc : EXIT_FAIL;
	}
	if ((rc = lookup_domid(dom, &id))) {
		yajl_tree_free(r);
		return rc;
	}
	snprintf(ids, sizeof(ids), "%ld", id);
	rc = bh_console_attach(YAJL_GET_STRING(v), ids, 0x1d);
	yajl_tree_free(r);
	return rc ? EXIT_FAIL : 0;
}

static int v_console(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "+t:n:")) != -1)
		if (opt != 't' && opt != 'n')
			return usage(); /* -t pv|serial, -n num: one console per domain */
	if (optind != argc - 1)
		return usage();
	return do_console(argv[optind]);
}

static int attach_specs(int argc, char **argv, const char *op)
{
	int rc = 0;

	if (argc < 3)
		return usage();
	for (int i = 2; i < argc && !rc; i++)
		rc = simple(op, argv[1], "spec", argv[i]);
	return rc;
}

static int v_block_attach(int argc, char **argv)
{
	return attach_specs(argc, argv, "block-attach");
}
static int v_network_attach(int argc, char **argv)
{
	return attach_specs(argc, argv, "network-attach");
}

static int v_block_detach(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	return simple("block-detach", argv[1], "vdev", argv[2]);
}

static int v_network_detach(int argc, char **argv)
{
	if (argc != 3)
		return usage();
	return simple("network-detach", argv[1], "which", argv[2]);
}

static int list_devs(int argc, char **argv, const char *kind)
{
	const char *path[] = { "result", "devices", NULL };
	yajl_val r, l;
	int rc;

	if (argc != 2)
		return usage();
	r = request("devices", "domain", argv[1], "kind", kind, NULL);
	if ((rc = check(r))) {
		yajl_tree_free(r);
		return rc;
	}
	if (g_json) {
		print_json_result(r);
		yajl_tree_free(r);
		return 0;
	}
	l = yajl_tree_get(r, path, yajl_t_array);
	if (strcmp(kind, "vbd") == 0)
		printf("%-6s %-6s %-6s %-5s %-5s %s\n", "Vdev", "DevId", "BE", "State", "BE-st",
		       "Target");
	else
		printf("%-6s %-6s %-18s %-5s %-5s %s\n", "Idx", "BE", "Mac Addr.", "State", "BE-st",
		       "Bridge");
	for (size_t i = 0; l && i < l->u.array.len; i++) {
		yajl_val d = l->u.array.values[i];
		if (strcmp(kind, "vbd") == 0)
			printf("%-6s %-6lld %-6lld %-5lld %-5lld %s\n", jr_str(d, "vdev"),
			       jr_int(d, "devid", -1), jr_int(d, "backend_id", -1),
			       jr_int(d, "frontend_state", -1), jr_int(d, "backend_state", -1),
			       jr_str(d, "target") ? jr_str(d, "target") : "");
		else
			printf("%-6lld %-6lld %-18s %-5lld %-5lld %s\n", jr_int(d, "devid", -1),
			       jr_int(d, "backend_id", -1), jr_str(d, "mac"),
			       jr_int(d, "frontend_state", -1), jr_int(d, "backend_state", -1),
			       jr_str(d, "bridge") ? jr_str(d, "bridge") : "");
	}
	yajl_tree_free(r);
	return 0;
}

static int v_block_list(int argc, char **argv)
{
	return list_devs(argc, argv, "vbd");
}
static int v_network_list(int argc, char **argv)
{
	return list_devs(argc, argv, "vif");
}

/* xl's memory arguments: a number with an optional b/k/m/g/t suffix,
 * kilobytes by default. */
static int parse_mem_kb(const char *s, long long *kb)
{
	char *end;
	double v = strtod(s, &end);
	double mul = 1;

	if (end == s || v < 0)
		return -EINVAL;
	switch (*end) {
	case 0:
	case 'k':
	case 'K':
		mul = 1;
		break;
	case 'b':
	case 'B':
		mul = 1.0 / 1024;
		break;
	case 'm':
	case 'M':
		mul = 1024;
		break;
	case 'g':
	case 'G':
		mul = 1024 * 1024;
		break;
	case 't':
	case 'T':
		mul = 1024.0 * 1024 * 1024;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	*kb = (long long)(v * mul);
	return 0;
}

static int v_mem_set(int argc, char **argv)
{
	long long kb;
	char buf[32];

	if (argc != 3)
		return usage();
	if (parse_mem_kb(argv[2], &kb) < 0 || kb < 4096) {
		fprintf(stderr,
		        "bh mem-set: '%s' is not a memory size of at least 4m "
		        "(number with optional b/k/m/g/t, default k)\n",
		        argv[2]);
		return EXIT_USAGE;
	}
	snprintf(buf, sizeof(buf), "#%lld", kb);
	return simple("mem-set", argv[1], "mem_kb", buf);
}

static int v_vcpu_set(int argc, char **argv)
{
	char buf[32];
	long n;

	if (argc != 3)
		return usage();
	if (bh_parse_int(argv[2], 10, 1, 4096, &n) < 0) {
		fprintf(stderr, "bh vcpu-set: '%s' is not a vCPU count\n", argv[2]);
		return EXIT_USAGE;
	}
	snprintf(buf, sizeof(buf), "#%ld", n);
	return simple("vcpu-set", argv[1], "vcpus", buf);
}

static int v_vcpu_pin(int argc, char **argv)
{
	if (argc < 4 || argc > 5)
		return usage();
	if (strcmp(argv[2], "all") != 0)
		fprintf(stderr, "bh vcpu-pin: note: a domain's vCPUs share one CPU set; pinning "
		                "applies to all of them\n");
	return simple("vcpu-pin", argv[1], "cpus", argv[3]);
}

static int v_sched_credit(int argc, char **argv)
{
	const char *dom = NULL, *w = NULL, *c = NULL;
	char wb[32], cb[32];
	int opt;

	while ((opt = getopt(argc, argv, "+d:w:c:")) != -1) {
		long v;
		switch (opt) {
		case 'd':
			dom = optarg;
			break;
		case 'w':
			if (bh_parse_int(optarg, 10, 1, 65535, &v) < 0) {
				fprintf(stderr, "bh sched-credit: weight must be 1..65535\n");
				return EXIT_USAGE;
			}
			snprintf(wb, sizeof(wb), "#%ld", v);
			w = wb;
			break;
		case 'c':
			if (bh_parse_int(optarg, 10, 0, 100000, &v) < 0) {
				fprintf(
				    stderr,
				    "bh sched-credit: cap is a percentage of one CPU, 0 = none\n");
				return EXIT_USAGE;
			}
			snprintf(cb, sizeof(cb), "#%ld", v);
			c = cb;
			break;
		default:
			return usage();
		}
	}
	if (w || c) {
		if (!dom)
			return usage();
		yajl_val r = request("sched-credit", "domain", dom, "weight", w, "cap", c, NULL);
		int rc = check(r);
		yajl_tree_free(r);
		return rc;
	}
	const char *path[] = { "result", "domains", NULL };
	yajl_val r = request("list", NULL), doms;
	int rc = check(r);
	doms = rc ? NULL : yajl_tree_get(r, path, yajl_t_array);
	if (!rc)
		printf("%-32s %5s %6s %4s\n", "Name", "ID", "Weight", "Cap");
	for (size_t i = 0; doms && i < doms->u.array.len; i++) {
		yajl_val d = doms->u.array.values[i];
		if (dom && !names_dom(dom, d))
			continue;
		printf("%-32s %5lld %6lld %4lld\n", jr_str(d, "name"), jr_int(d, "domid", -1),
		       jr_int(d, "weight", 0), jr_int(d, "cap", 0));
	}
	yajl_tree_free(r);
	return rc;
}

/* ---- layouts ---- */

static bool exists(const char *name)
{
	yajl_val r = request("getinfo", "domain", name, NULL);
	bool ok = jr_bool(r, "ok", false);
	yajl_tree_free(r);
	return ok;
}

static int wait_backends_of(const struct bh_domcfg *c, int timeout_s)
{
	/* A driver domain is ready when it says so in the store
	 * (data/backend-ready, written by the driver-domain runtime). */
	char dom[BH_NAME_MAX];
	bh_strlcpy(dom, c->name, sizeof(dom));
	for (int i = 0; i < timeout_s * 10; i++) {
		yajl_val r = request("backend-ready", "domain", dom, NULL);
		const char *path[] = { "result", "ready", NULL };
		yajl_val v = yajl_tree_get(r, path, yajl_t_any);
		bool ok = jr_bool(r, "ok", false), ready = v && YAJL_IS_TRUE(v);
		if (!ok) {
			check(r);
			yajl_tree_free(r);
			return EXIT_FAIL;
		}
		yajl_tree_free(r);
		if (ready)
			return 0;
		usleep(100000);
	}
	fprintf(stderr, "bh up: driver domain %s did not become ready within %d s\n", c->name,
	        timeout_s);
	return EXIT_FAIL;
}

static int load_layout(const char *dir, struct xlcfg_layout *l)
{
	struct xlcfg_diags dg = { 0 };
	int rc = xlcfg_layout_load(dir, l, &dg);

	xlcfg_diags_print(&dg, stderr);
	xlcfg_diags_free(&dg);
	if (rc < 0) {
		if (rc != -EINVAL)
			fprintf(stderr, "bh %s: %s: %s\n", g_verb->name, dir, bh_strerror(rc));
		return EXIT_FAIL;
	}
	return 0;
}

static int v_up(int argc, char **argv)
{
	struct xlcfg_layout l = { 0 };
	bool dry = false;
	int opt, rc;

	while ((opt = getopt(argc, argv, "+n")) != -1) {
		if (opt != 'n')
			return usage();
		dry = true;
	}
	if (optind != argc - 1)
		return usage();
	if ((rc = load_layout(argv[optind], &l)))
		return rc;
	if (dry) {
		xlcfg_layout_print_plan(&l, stdout);
		xlcfg_layout_free(&l);
		return 0;
	}
	for (size_t k = 0; k < l.ndoms && !rc; k++) {
		const struct bh_domcfg *c = l.doms[l.start_order[k]];
		long domid;
		if (exists(c->name)) {
			printf("%s: already running\n", c->name);
			continue;
		}
		rc = create_from(c->file, NULL, 0, false, false, true, &domid);
		if (!rc)
			printf("%s: started as domain %ld\n", c->name, domid);
		if (!rc && c->driver_domain)
			rc = wait_backends_of(c, 30);
	}
	xlcfg_layout_free(&l);
	return rc;
}

static int v_down(int argc, char **argv)
{
	struct xlcfg_layout l = { 0 };
	bool dry = false;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "+n")) != -1) {
		if (opt != 'n')
			return usage();
		dry = true;
	}
	if (optind != argc - 1)
		return usage();
	if ((rc = load_layout(argv[optind], &l)))
		return rc;
	for (size_t k = l.ndoms; k-- > 0;) {
		const struct bh_domcfg *c = l.doms[l.start_order[k]];
		if (dry) {
			printf("%zu. stop %s\n", l.ndoms - k, c->name);
			continue;
		}
		if (!exists(c->name))
			continue;
		int r = simple("shutdown", c->name, NULL, NULL);
		if (!r && wait_gone(c->name, 20) != 0)
			r = simple("destroy", c->name, NULL, NULL);
		if (!r)
			printf("%s: stopped\n", c->name);
		rc |= r;
	}
	xlcfg_layout_free(&l);
	return rc;
}

static int v_deps(int argc, char **argv)
{
	const char *path[] = { "result", "dependents", NULL };
	yajl_val r, l;
	int rc;

	if (argc != 2)
		return usage();
	r = request("deps", "domain", argv[1], NULL);
	if ((rc = check(r))) {
		yajl_tree_free(r);
		return rc;
	}
	if (g_json) {
		print_json_result(r);
		yajl_tree_free(r);
		return 0;
	}
	l = yajl_tree_get(r, path, yajl_t_array);
	for (size_t i = 0; l && i < l->u.array.len; i++) {
		yajl_val g = l->u.array.values[i], devs = jr_array(g, "devices");
		printf("%s %lld", jr_str(g, "name"), jr_int(g, "domid", -1));
		for (size_t k = 0; devs && k < devs->u.array.len; k++) {
			yajl_val dv = devs->u.array.values[k];
			if (jr_str(dv, "vdev"))
				printf(" %s:%s", jr_str(dv, "kind"), jr_str(dv, "vdev"));
			else
				printf(" %s:%lld", jr_str(dv, "kind"), jr_int(dv, "devid", -1));
		}
		printf("\n");
	}
	yajl_tree_free(r);
	return 0;
}

/* One fault; DEVICE and MS_ARG ("#N") may be NULL. Prints what a device
 * fault hit. Returns the reply (the caller frees it). */
static yajl_val inject_one(const char *dom, const char *f, const char *device, const char *ms_arg)
{
	return request("inject", "domain", dom, "fault", f, "device", device, "ms", ms_arg, NULL);
}

static const char *hit_of(yajl_val r)
{
	yajl_val res = result_of(r);

	return res ? jr_str(res, "hit") : NULL;
}

/* A soak run: COUNT faults drawn from every fault bh inject knows (seeded,
 * so a run can be replayed), INTERVAL_MS apart. A fault that cannot land
 * (the domain is being restarted, its device is reconnecting) is reported
 * and the run goes on. */
static int inject_random(const char *dom, long count, long interval_ms, unsigned seed,
                         const char *device, const char *ms_arg)
{
	static const char *const faults[] = { "crash", "hang", "corrupt", "drop-notify",
		                              "close-channel" };
	int failures = 0;

	srand(seed);
	for (long i = 0; i < count; i++) {
		const char *f = faults[(unsigned)rand() % BH_ARRAY_SIZE(faults)];
		yajl_val r = inject_one(dom, f, device, ms_arg);
		bool ok = jr_bool(r, "ok", false);
		const char *hit = ok ? hit_of(r) : NULL;
		printf("%ld %s %s%s%s\n", i + 1, f, ok ? "injected" : "missed: ",
		       ok ? (hit ? " on " : "") : (jr_str(r, "error") ? jr_str(r, "error") : "?"),
		       hit ? hit : "");
		fflush(stdout);
		failures += !ok;
		yajl_tree_free(r);
		if (i + 1 < count)
			usleep((useconds_t)interval_ms * 1000);
	}
	return failures == count && count > 0 ? EXIT_FAIL : 0;
}

static int v_inject(int argc, char **argv)
{
	static const struct option lo[] = { { "count", required_argument, NULL, 'n' },
		                            { "interval", required_argument, NULL, 'i' },
		                            { "seed", required_argument, NULL, 's' },
		                            { "ms", required_argument, NULL, 'm' },
		                            { "device", required_argument, NULL, 'd' },
		                            { NULL, 0, NULL, 0 } };
	long count = 10, interval = 2000, seed = (long)time(NULL), ms = -1;
	const char *device = NULL;
	char ms_arg[24];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'd') {
			device = optarg;
			continue;
		}
		long *dst = opt == 'n'   ? &count
		            : opt == 'i' ? &interval
		            : opt == 's' ? &seed
		            : opt == 'm' ? &ms
		                         : NULL;
		if (!dst || bh_parse_int(optarg, 10, 0, opt == 'm' ? 3600000 : 1000000000, dst) < 0)
			return usage();
	}
	if (optind != argc - 2)
		return usage();
	snprintf(ms_arg, sizeof(ms_arg), "#%ld", ms);
	if (strcmp(argv[optind + 1], "random") == 0) {
		printf("seed %ld\n", seed);
		return inject_random(argv[optind], count, interval, (unsigned)seed, device,
		                     ms >= 0 ? ms_arg : NULL);
	}
	yajl_val r = inject_one(argv[optind], argv[optind + 1], device, ms >= 0 ? ms_arg : NULL);
	if ((rc = check(r)) == 0 && g_json)
		print_json_result(r);
	else if (rc == 0 && hit_of(r))
		printf("%s on %s\n", argv[optind + 1], hit_of(r));
	yajl_tree_free(r);
	return rc;
}

static int v_help(int argc, char **argv);

static const struct verb verbs[] = {
	{ "create", v_create, "[-p] [-c] [-n|--dry-run] [-q] FILE [KEY=VALUE ...]",
	  "Create a domain from an xl.cfg file. -p leaves it paused, -c attaches its console,\n"
	  "-n parses and prints the configuration without creating anything." },
	{ "destroy", v_destroy, "DOMAIN", "Kill a domain at once and free its resources." },
	{ "shutdown", v_shutdown, "[-w] [-a] DOMAIN",
	  "Ask a domain to power off; -w waits until it is gone, -a all guests." },
	{ "reboot", v_reboot, "[-a] DOMAIN", "Ask a domain to reboot." },
	{ "pause", v_pause, "DOMAIN", "Freeze a domain's processes." },
	{ "unpause", v_unpause, "DOMAIN", "Thaw a paused domain." },
	{ "list", v_list, "[-l] [DOMAIN ...]",
	  "List domains; -l prints JSON with the configuration." },
	{ "info", v_info, "", "Facts about the host and the hypervisor." },
	{ "dmesg", v_dmesg, "[-c]",
	  "The core's log; -c prints only what is new since the last -c." },
	{ "console", v_console, "DOMAIN", "Attach to a domain's console; Ctrl-] detaches." },
	{ "domid", v_domid, "NAME", "Print a domain's id." },
	{ "domname", v_domname, "DOMID", "Print a domain's name." },
	{ "uptime", v_uptime, "[DOMAIN ...]", "How long domains have been running." },
	{ "block-attach", v_block_attach, "DOMAIN DISKSPEC ...",
	  "Add a disk to a running domain." },
	{ "block-detach", v_block_detach, "DOMAIN VDEV", "Remove a disk (by vdev or device id)." },
	{ "block-list", v_block_list, "DOMAIN", "A domain's disks and their states." },
	{ "network-attach", v_network_attach, "DOMAIN VIFSPEC ...",
	  "Add a network interface to a running domain." },
	{ "network-detach", v_network_detach, "DOMAIN DEVID", "Remove a network interface." },
	{ "network-list", v_network_list, "DOMAIN", "A domain's network interfaces." },
	{ "mem-set", v_mem_set, "DOMAIN MEM",
	  "Set a domain's memory (suffix b/k/m/g/t; default k)." },
	{ "vcpu-set", v_vcpu_set, "DOMAIN N", "Set a domain's vCPU count (its CPU quota)." },
	{ "vcpu-pin", v_vcpu_pin, "DOMAIN VCPU|all CPUS", "Pin a domain to CPUs (e.g. 0-3,^2)." },
	{ "sched-credit", v_sched_credit, "[-d DOMAIN [-w WEIGHT] [-c CAP]]",
	  "Show or set credit-scheduler weight and cap." },
	{ "up", v_up, "[-n] DIR", "Start a layout: driver domains first; -n prints the plan." },
	{ "down", v_down, "[-n] DIR", "Stop a layout in reverse order." },
	{ "deps", v_deps, "DOMAIN",
	  "The guests (and their devices) served by a driver domain: who a restart hits." },
	{ "inject", v_inject,
	  "DOMAIN FAULT [--device VDEV|DEVID] [--ms N]\n"
	  "                  DOMAIN random [--count N --interval MS --seed S]",
	  "Inject a fault into a driver domain (logged in dom0's log with what it hits).\n"
	  "FAULT: crash ends it as a crash (on_crash applies); hang freezes it so its\n"
	  "heartbeats stop (the watchdog ends it, on_watchdog applies); corrupt makes one\n"
	  "device's next response carry a bogus id; drop-notify loses one device's event\n"
	  "notifications both ways for --ms N (default 2000; 0: until it reconnects);\n"
	  "close-channel closes one device's event channel. The device faults hit the\n"
	  "first connected device it serves, or --device. random injects N faults drawn\n"
	  "from all five, MS apart, seeded." },
	{ "help", v_help, "[VERB]", "This text." },
};

static void global_usage(FILE *f)
{
	fprintf(f, "Usage: bh [--rundir DIR] [-j|--json] VERB [ARGS]\n\nVerbs:\n");
	for (size_t i = 0; i < BH_ARRAY_SIZE(verbs); i++)
		fprintf(f, "  %-15s %s\n", verbs[i].name, verbs[i].usage);
	fprintf(f, "\n`bh VERB --help` explains a verb; see bh(1) in docs/bh.1.md.\n");
}

static int v_help(int argc, char **argv)
{
	for (size_t i = 0; argc > 1 && i < BH_ARRAY_SIZE(verbs); i++)
		if (strcmp(verbs[i].name, argv[1]) == 0) {
			printf("Usage: bh %s %s\n\n%s\n", verbs[i].name, verbs[i].usage,
			       verbs[i].help);
			return 0;
		}
	global_usage(stdout);
	return argc > 1 ? EXIT_USAGE : 0;
}

int main(int argc, char **argv)
{
	int i = 1, rc;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--rundir") == 0 && i + 1 < argc)
			g_rundir = argv[++i];
		else if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--json") == 0)
			g_json = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			global_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "bh: unknown option %s\n", argv[i]);
			global_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		global_usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < BH_ARRAY_SIZE(verbs); k++) {
		if (strcmp(verbs[k].name, argv[i]) != 0)
			continue;
		g_verb = &verbs[k];
		if (want_help(argc - i, argv + i)) {
			printf("Usage: bh %s %s\n\n%s\n", verbs[k].name, verbs[k].usage,
			       verbs[k].help);
			return 0;
		}
		optind = 1;
		rc = verbs[k].fn(argc - i, argv + i);
		if (g_open)
			bhcli_close(&g_cli);
		return rc;
	}
	fprintf(stderr, "bh: unknown verb '%s'\n", argv[i]);
	global_usage(stderr);
	return EXIT_USAGE;
}
