#include "common/bhtest.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bh_test_main(int argc, char **argv, const char *group, const struct CMUnitTest *tests, size_t n,
                 CMFixtureFunction setup, CMFixtureFunction teardown)
{
	if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "--run") == 0) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(tests[i].name, argv[2]) == 0)
				return _cmocka_run_group_tests(group, &tests[i], 1, setup,
				                               teardown);
		}
		fprintf(stderr, "no test case named %s\n", argv[2]);
		return 2;
	}
	return _cmocka_run_group_tests(group, tests, n, setup, teardown);
}

const char *bh_test_bindir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("BH_BIN_DIR");
	ssize_t r;

	if (env && *env)
		return env;
	r = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (r < 0)
		return ".";
	dir[r] = '\0';
	return dirname(dir);
}

char *bh_test_tmpdir(const char *tag)
{
	char tmpl[PATH_MAX];
	char *d;

	snprintf(tmpl, sizeof(tmpl), "/tmp/bh-%s-XXXXXX", tag);
	d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}
