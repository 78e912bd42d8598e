/* The management API's framing and error replies, without a host: every
 * malformed request gets {"ok":false,...} with a reason, never a crash. The
 * operations themselves are exercised on a real host by
 * tests/toolstack_test.sh. */
#include <stdlib.h>
#include <string.h>

#include "common/bhtest.h"
#include "toolstack/api.h"
#include "toolstack/json.h"

struct fix {
	struct bh_hc_client hc;
	struct bhtool t;
	struct api_ctx a;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	f->hc.fd = -1; /* no core: every hypercall fails with EBADF */
	pthread_mutex_init(&f->hc.lock, NULL);
	bhtool_init(&f->t, &f->hc, NULL);
	f->a.t = &f->t;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	bhtool_fini(&f->t);
	pthread_mutex_destroy(&f->hc.lock);
	free(f);
	return 0;
}

static yajl_val call(struct fix *f, const char *req)
{
	char *out = api_handle(&f->a, req, strlen(req)), err[128];
	yajl_val v;

	assert_non_null(out);
	assert_non_null(strchr(out, '\n'));
	v = yajl_tree_parse(out, err, sizeof(err));
	assert_non_null(v);
	free(out);
	return v;
}

static void expect_error(struct fix *f, const char *req, const char *needle)
{
	yajl_val v = call(f, req);

	assert_false(jr_bool(v, "ok", true));
	assert_non_null(jr_str(v, "error"));
	if (needle && !strstr(jr_str(v, "error"), needle))
		fail_msg("error '%s' does not mention '%s'", jr_str(v, "error"), needle);
	assert_true(jr_int(v, "errno", 0) > 0);
	yajl_tree_free(v);
}

static void test_malformed_requests(void **state)
{
	struct fix *f = *state;

	expect_error(f, "", "not a JSON object");
	expect_error(f, "nonsense", "not a JSON object");
	expect_error(f, "[1,2]", "not a JSON object");
	expect_error(f, "{\"op\": 3}", "no \"op\"");
	expect_error(f, "{}", "no \"op\"");
	expect_error(f, "{\"op\":\"frobnicate\"}", "unknown op");
	expect_error(f, "{\"op\":\"destroy\"}", "missing \"domain\"");
	expect_error(f, "{\"op\":\"create\",\"file\":\"x.cfg\"}", NULL);
}

static void test_config_errors_come_back_as_diagnostics(void **state)
{
	struct fix *f = *state;
	yajl_val v =
	    call(f, "{\"op\":\"create\",\"file\":\"web.cfg\",\"text\":\"name = \\\"w\\\"\\n"
	            "memory = lots\\n\"}");
	yajl_val d = jr_array(v, "diagnostics");

	assert_false(jr_bool(v, "ok", true));
	assert_non_null(d);
	assert_true(d->u.array.len >= 1);
	const char *first = YAJL_GET_STRING(d->u.array.values[0]);
	assert_non_null(first);
	assert_non_null(strstr(first, "web.cfg:2:"));
	yajl_tree_free(v);
}

static void test_core_failure_is_reported(void **state)
{
	struct fix *f = *state;

	expect_error(f, "{\"op\":\"list\"}", NULL);
	expect_error(f, "{\"op\":\"pause\",\"domain\":\"5\"}", "pause 5");
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_malformed_requests),
	cmocka_unit_test(test_config_errors_come_back_as_diagnostics),
	cmocka_unit_test(test_core_failure_is_reported),
};

BH_TEST_MAIN_FIXTURES(tests, setup, teardown)
