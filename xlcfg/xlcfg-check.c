/* xlcfg-check: parse xl.cfg files the way Bulkhead will and show the
 * result.
 *
 *   xlcfg-check FILE [KEY=VALUE...]   the config as JSON on stdout
 *   xlcfg-check -L DIR                the start plan of a layout
 *
 * Diagnostics (warnings and errors) go to stderr as FILE:LINE:COL lines.
 * Exit status: 0 parsed, 1 errors in the input, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg.h"

static int usage(void)
{
	fputs("usage: xlcfg-check FILE [KEY=VALUE...]\n"
	      "       xlcfg-check -L LAYOUT-DIR\n",
	      stderr);
	return 2;
}

static int check_layout(const char *dir)
{
	struct xlcfg_diags d = { 0 };
	struct xlcfg_layout l;
	int rc = xlcfg_layout_load(dir, &l, &d);

	xlcfg_diags_print(&d, stderr);
	xlcfg_diags_free(&d);
	if (rc)
		return 1;
	xlcfg_layout_print_plan(&l, stdout);
	xlcfg_layout_free(&l);
	return 0;
}

static int check_file(const char *path, const char *const *ov, size_t nov)
{
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *cfg = NULL;
	int rc = xlcfg_parse_file(path, ov, nov, &cfg, &d);
	char *json;

	xlcfg_diags_print(&d, stderr);
	xlcfg_diags_free(&d);
	if (rc)
		return 1;
	json = xlcfg_json_dump(cfg);
	fputs(json ? json : "", stdout);
	free(json);
	xlcfg_free(cfg);
	return json ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage();
	if (!strcmp(argv[1], "-L"))
		return argc == 3 ? check_layout(argv[2]) : usage();
	return check_file(argv[1], (const char *const *)argv + 2, (size_t)argc - 2);
}
