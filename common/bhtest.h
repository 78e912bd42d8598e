/* The project's test entry point, on top of cmocka.
 *
 *   static const struct CMUnitTest tests[] = { cmocka_unit_test(test_x), ... };
 *   BH_TEST_MAIN(tests)
 *
 * "prog --list" prints one case name per line; "prog --run NAME" runs only
 * that case. CMake registers every case as its own ctest test (see
 * cmake/BhTest.cmake), so each runs in its own process with its own timeout.
 * Without arguments all cases run, which is handy by hand. */
#ifndef BH_BHTEST_H
#define BH_BHTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

int bh_test_main(int argc, char **argv, const char *group, const struct CMUnitTest *tests, size_t n,
                 CMFixtureFunction setup, CMFixtureFunction teardown);

#define BH_TEST_MAIN_FIXTURES(tests, setup, teardown)                                              \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		return bh_test_main(argc, argv, #tests, tests, sizeof(tests) / sizeof(tests[0]),   \
		                    setup, teardown);                                              \
	}
#define BH_TEST_MAIN(tests) BH_TEST_MAIN_FIXTURES(tests, NULL, NULL)

/* Directory of the built programs (bin/), from $BH_BIN_DIR or next to us. */
const char *bh_test_bindir(void);
/* A fresh temporary directory for this test; removed by the caller if wanted. */
char *bh_test_tmpdir(const char *tag);

#endif
