/* Grant-table semantics (Xen's), on in-memory domains. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "core/core_testlib.h"

static uint32_t grant(struct domain *from, uint16_t to, bool rw, int *fd_out)
{
	uint32_t ref = 0;
	int fd = -1;

	assert_int_equal(grant_alloc(from, to, rw, -1, &ref, &fd), 0);
	assert_true(ref >= BH_GNTTAB_NR_RESERVED);
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return ref;
}

static void test_rw_grant_shares_the_page(void **state)
{
	struct tfx *f = *state;
	int afd, bfd = -1;
	uint32_t h;
	uint32_t ref = grant(f->a, 2, true, &afd);
	char *pa = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);

	assert_ptr_not_equal(pa, MAP_FAILED);
	strcpy(pa, "from the granter");
	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &bfd), BH_GNTST_OKAY);
	char *pb = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
	assert_ptr_not_equal(pb, MAP_FAILED);
	assert_string_equal(pb, "from the granter");
	strcpy(pb, "from the grantee");
	assert_string_equal(pa, "from the grantee");
	munmap(pa, 4096);
	munmap(pb, 4096);
	close(afd);
	close(bfd);
	assert_int_equal(grant_unmap(f->b, h), BH_GNTST_OKAY);
}

static void test_ro_grant_is_never_writable(void **state)
{
	struct tfx *f = *state;
	uint32_t ref = grant(f->a, 2, false, NULL), h;
	int fd = -1;

	/* A writable map of a read-only grant is refused... */
	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &fd), BH_GNTST_PERMISSION_DENIED);
	/* ...and the read-only map's descriptor cannot be made to write. */
	assert_int_equal(grant_map(f->b, 1, ref, true, &h, &fd), BH_GNTST_OKAY);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_ptr_equal(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
	assert_int_equal(errno, EACCES);
	char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	assert_ptr_not_equal(p, MAP_FAILED);
	assert_int_equal(mprotect(p, 4096, PROT_READ | PROT_WRITE), -1);
	assert_int_equal(write(fd, "x", 1), -1);
	munmap(p, 4096);
	close(fd);
	assert_int_equal(grant_unmap(f->b, h), BH_GNTST_OKAY);
}

static void test_rw_grant_mapped_readonly_gives_ro_fd(void **state)
{
	struct tfx *f = *state;
	uint32_t ref = grant(f->a, 2, true, NULL), h;
	int fd = -1;

	assert_int_equal(grant_map(f->b, 1, ref, true, &h, &fd), BH_GNTST_OKAY);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	close(fd);
	grant_unmap(f->b, h);
}

static void test_wrong_grantee_is_denied(void **state)
{
	struct tfx *f = *state;
	uint32_t ref = grant(f->a, 2, true, NULL), h;
	int fd = -1;

	assert_int_equal(grant_map(f->x, 1, ref, true, &h, &fd), BH_GNTST_PERMISSION_DENIED);
	assert_int_equal(grant_map(f->a, 1, ref, true, &h, &fd), BH_GNTST_PERMISSION_DENIED);
	assert_int_equal(fd, -1);
}

static void test_bad_ref_and_bad_domain(void **state)
{
	struct tfx *f = *state;
	uint32_t h;
	int fd = -1;

	assert_int_equal(grant_map(f->b, 1, 9999, true, &h, &fd), BH_GNTST_BAD_GNTREF);
	assert_int_equal(grant_map(f->b, 1, 0, true, &h, &fd), BH_GNTST_BAD_GNTREF);
	assert_int_equal(grant_map(f->b, 77, 8, true, &h, &fd), BH_GNTST_BAD_DOMAIN);
	assert_int_equal(grant_unmap(f->b, 12345), BH_GNTST_BAD_HANDLE);
}

static void test_end_refused_while_mapped(void **state)
{
	struct tfx *f = *state;
	uint32_t ref = grant(f->a, 2, true, NULL), h;
	int fd = -1;

	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &fd), BH_GNTST_OKAY);
	close(fd);
	assert_int_equal(grant_end(f->a, ref, false), -EBUSY);
	assert_int_equal(grant_unmap(f->b, h), BH_GNTST_OKAY);
	assert_int_equal(grant_end(f->a, ref, false), 0);
	/* Revoked: the ref no longer maps. */
	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &fd), BH_GNTST_BAD_GNTREF);
	assert_int_equal(grant_end(f->a, ref, false), -ENOENT);
}

static void test_deferred_end_frees_at_last_unmap(void **state)
{
	struct tfx *f = *state;
	uint32_t ref = grant(f->a, 2, true, NULL), h1, h2;
	int fd = -1;
	uint32_t used;

	assert_int_equal(grant_map(f->b, 1, ref, false, &h1, &fd), BH_GNTST_OKAY);
	close(fd);
	assert_int_equal(grant_map(f->b, 1, ref, true, &h2, &fd), BH_GNTST_OKAY);
	close(fd);
	used = f->a->gt.used;
	assert_int_equal(grant_end(f->a, ref, true), 0);
	/* Ending: no new mappings, the entry lives until the last unmap. */
	assert_int_equal(grant_map(f->b, 1, ref, false, &h1, &fd), BH_GNTST_BAD_GNTREF);
	assert_int_equal(f->a->gt.used, used);
	grant_unmap(f->b, h1);
	assert_int_equal(f->a->gt.used, used);
	grant_unmap(f->b, h2);
	assert_int_equal(f->a->gt.used, used - 1);
}

static void test_grantee_cannot_resize_the_page(void **state)
{
	struct tfx *f = *state;
	uint32_t ref = grant(f->a, 2, true, NULL), h;
	int fd = -1;

	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &fd), BH_GNTST_OKAY);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 8192), -1);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	close(fd);
	grant_unmap(f->b, h);
}

static void test_granter_death_tears_down(void **state)
{
	struct tfx *f = *state;
	int afd, bfd = -1;
	uint32_t ref = grant(f->a, 2, true, &afd), h;

	char *pa = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, afd, 0);
	strcpy(pa, "still here");
	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &bfd), BH_GNTST_OKAY);
	char *pb = mmap(NULL, 4096, PROT_READ, MAP_SHARED, bfd, 0);
	tdom_die(f->a);
	/* The mapper keeps its page until it unmaps, as with a dying Xen domain. */
	assert_string_equal(pb, "still here");
	assert_int_equal(grant_unmap(f->b, h), BH_GNTST_OKAY);
	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &bfd), BH_GNTST_BAD_DOMAIN);
	munmap(pa, 4096);
	munmap(pb, 4096);
	close(afd);
}

static void test_mapper_death_releases_mappings(void **state)
{
	struct tfx *f = *state;
	uint32_t ref = grant(f->a, 2, true, NULL), h;
	int fd = -1;

	assert_int_equal(grant_map(f->b, 1, ref, false, &h, &fd), BH_GNTST_OKAY);
	close(fd);
	assert_int_equal(grant_end(f->a, ref, false), -EBUSY);
	tdom_die(f->b);
	assert_int_equal(grant_end(f->a, ref, false), 0);
}

static void test_limits_on_entries_and_mappings(void **state)
{
	struct tfx *f = *state;
	uint32_t ref, refs[8], h;
	int fd;

	f->a->gt.max = 3;
	for (int i = 0; i < 3; i++)
		refs[i] = grant(f->a, 2, true, NULL);
	assert_int_equal(grant_alloc(f->a, 2, true, -1, &ref, &fd), -ENOSPC);
	assert_int_equal(grant_end(f->a, refs[0], false), 0);
	refs[0] = grant(f->a, 2, true, NULL);
	f->b->mt.max = 2;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(grant_map(f->b, 1, refs[i], false, &h, &fd), BH_GNTST_OKAY);
		close(fd);
	}
	fd = -1;
	assert_int_equal(grant_map(f->b, 1, refs[2], false, &h, &fd), BH_GNTST_NO_SPACE);
	assert_int_equal(fd, -1);
}

/* A new domain reusing a dead granter's domid inherits nothing: unmapping a
 * mapping of the dead one must not touch the new one's entries. */
static void test_reused_domid_is_a_new_incarnation(void **state)
{
	struct tfx *f = *state;
	uint32_t old_ref = grant(f->a, 2, true, NULL), h_old, h_new;
	int fd = -1;

	assert_int_equal(grant_map(f->b, 1, old_ref, false, &h_old, &fd), BH_GNTST_OKAY);
	close(fd);
	tdom_reap(f->a);
	f->a = tdom_add(f->c, 1, BH_ROLE_GUEST, false);
	uint32_t new_ref = grant(f->a, 2, true, NULL);
	assert_int_equal(new_ref, old_ref);
	assert_int_equal(grant_map(f->b, 1, new_ref, false, &h_new, &fd), BH_GNTST_OKAY);
	close(fd);
	assert_int_equal(grant_unmap(f->b, h_old), BH_GNTST_OKAY);
	assert_int_equal(grant_end(f->a, new_ref, false), -EBUSY);
	assert_int_equal(grant_unmap(f->b, h_new), BH_GNTST_OKAY);
	assert_int_equal(grant_end(f->a, new_ref, false), 0);
}

static void test_reserved_refs_only_by_number(void **state)
{
	struct tfx *f = *state;
	uint32_t ref;
	int fd;

	assert_int_equal(grant_alloc(f->a, 0, true, BH_GNTTAB_STORE_REF, &ref, &fd), 0);
	close(fd);
	assert_int_equal(ref, 1);
	assert_int_equal(grant_alloc(f->a, 0, true, BH_GNTTAB_STORE_REF, &ref, &fd), -EEXIST);
	/* ordinary allocations never land on 0..7 */
	for (int i = 0; i < 20; i++)
		assert_true(grant(f->a, 2, true, NULL) >= BH_GNTTAB_NR_RESERVED);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_rw_grant_shares_the_page, tfx_setup, tfx_teardown),
	cmocka_unit_test_setup_teardown(test_ro_grant_is_never_writable, tfx_setup, tfx_teardown),
	cmocka_unit_test_setup_teardown(test_rw_grant_mapped_readonly_gives_ro_fd, tfx_setup,
	                                tfx_teardown),
	cmocka_unit_test_setup_teardown(test_wrong_grantee_is_denied, tfx_setup, tfx_teardown),
	cmocka_unit_test_setup_teardown(test_bad_ref_and_bad_domain, tfx_setup, tfx_teardown),
	cmocka_unit_test_setup_teardown(test_end_refused_while_mapped, tfx_setup, tfx_teardown),
	cmocka_unit_test_setup_teardown(test_deferred_end_frees_at_last_unmap, tfx_setup,
	                                tfx_teardown),
	cmocka_unit_test_setup_teardown(test_grantee_cannot_resize_the_page, tfx_setup,
	                                tfx_teardown),
	cmocka_unit_test_setup_teardown(test_granter_death_tears_down, tfx_setup, tfx_teardown),
	cmocka_unit_test_setup_teardown(test_mapper_death_releases_mappings, tfx_setup,
	                                tfx_teardown),
	cmocka_unit_test_setup_teardown(test_limits_on_entries_and_mappings, tfx_setup,
	                                tfx_teardown),
	cmocka_unit_test_setup_teardown(test_reused_domid_is_a_new_incarnation, tfx_setup,
	                                tfx_teardown),
	cmocka_unit_test_setup_teardown(test_reserved_refs_only_by_number, tfx_setup, tfx_teardown),
};

BH_TEST_MAIN(tests)
