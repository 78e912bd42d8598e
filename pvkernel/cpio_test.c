/* The ramdisk unpacker: real archives made by GNU cpio, and hostile ones
 * (escapes by "..", by absolute names and by symlinks; truncation; bad
 * headers). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bhtest.h"
#include "common/util.h"
#include "pvkernel/cpio.h"

static char *tmp;

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s, (void)f, (void)w;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	tmp = bh_test_tmpdir("cpio");
	return tmp ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(tmp);
	return 0;
}

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static int unpack_file(const char *archive, const char *into, struct cpio_stats *st)
{
	int fd = open(archive, O_RDONLY);
	int root = open(into, O_PATH | O_DIRECTORY);
	int rc = cpio_unpack(fd, root, st);

	close(fd);
	close(root);
	return rc;
}

static void test_real_archive_round_trip(void **state)
{
	struct cpio_stats st;

	(void)state;
	sh("cd %s && mkdir -p src/bin src/etc/deep/er && echo hello > src/etc/motd && "
	   "head -c 200000 /dev/urandom > src/bin/blob && chmod 755 src/bin/blob && "
	   "ln -s ../etc/motd src/bin/link && ln src/etc/motd src/etc/hard && "
	   "mkfifo src/fifo && touch src/etc/deep/er/empty",
	   tmp);
	sh("cd %s/src && find . | cpio -o -H newc --quiet > ../a.cpio", tmp);
	sh("mkdir %s/out", tmp);
	char a[512], out[512];
	snprintf(a, sizeof(a), "%s/a.cpio", tmp);
	snprintf(out, sizeof(out), "%s/out", tmp);
	assert_int_equal(unpack_file(a, out, &st), 0);
	sh("diff -r --no-dereference -x fifo %s/src %s/out", tmp, tmp);
	sh("test \"$(stat -c %%i %s/out/etc/motd)\" = \"$(stat -c %%i %s/out/etc/hard)\"", tmp,
	   tmp);
	sh("test -x %s/out/bin/blob && test -p %s/out/fifo", tmp, tmp);
	assert_true(st.files >= 3);
	assert_int_equal(st.symlinks, 1);
}

/* Hand-made newc entries. */
static void put_entry(FILE *f, const char *name, unsigned mode, const char *data, unsigned ino)
{
	size_t nlen = strlen(name) + 1, dlen = data ? strlen(data) : 0;
	long pos;

	fprintf(f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino, mode, 0, 0,
	        1, 0, dlen, 0, 0, 0, 0, nlen, 0);
	fwrite(name, 1, nlen, f);
	pos = ftell(f);
	while (pos++ % 4)
		fputc(0, f);
	if (dlen)
		fwrite(data, 1, dlen, f);
	pos = ftell(f);
	while (pos++ % 4)
		fputc(0, f);
}

static int unpack_entries(void (*fill)(FILE *f), struct cpio_stats *st, bool trailer)
{
	char a[512], out[512];
	static int n;

	snprintf(a, sizeof(a), "%s/h%d.cpio", tmp, n);
	snprintf(out, sizeof(out), "%s/h%d", tmp, n++);
	mkdir(out, 0755);
	FILE *f = fopen(a, "w");
	fill(f);
	if (trailer)
		put_entry(f, "TRAILER!!!", 0, NULL, 0);
	fclose(f);
	return unpack_file(a, out, st);
}

static void dotdot(FILE *f)
{
	put_entry(f, "../escape", S_IFREG | 0644, "x", 1);
}
static void symlink_escape(FILE *f)
{
	put_entry(f, "up", S_IFLNK | 0777, "/tmp", 1);
	put_entry(f, "up/escaped-by-symlink", S_IFREG | 0644, "x", 2);
}
static void absolute(FILE *f)
{
	put_entry(f, "/abs-name", S_IFREG | 0644, "inside", 1);
}
static void truncated(FILE *f)
{
	fprintf(f, "070701%08X", 1);
}
static void bad_magic(FILE *f)
{
	fprintf(f, "07070X00000000");
	for (int i = 0; i < 200; i++)
		fputc('0', f);
}
static void device_node(FILE *f)
{
	put_entry(f, "dev", S_IFDIR | 0755, NULL, 1);
	put_entry(f, "dev/null", S_IFCHR | 0666, NULL, 2);
	put_entry(f, "ok", S_IFREG | 0644, "fine", 3);
}

static void test_hostile_archives(void **state)
{
	struct cpio_stats st;
	struct stat sb;

	(void)state;
	assert_int_equal(unpack_entries(dotdot, &st, true), -EINVAL);
	assert_non_null(strstr(st.error, "refusing entry name"));
	assert_true(unpack_entries(symlink_escape, &st, true) < 0);
	assert_int_equal(stat("/tmp/escaped-by-symlink", &sb), -1);
	/* an absolute name lands inside, stripped */
	assert_int_equal(unpack_entries(absolute, &st, true), 0);
	assert_int_equal(st.files, 1);
	assert_int_equal(unpack_entries(truncated, &st, false), -EINVAL);
	assert_non_null(strstr(st.error, "truncated"));
	assert_int_equal(unpack_entries(bad_magic, &st, false), -EINVAL);
	assert_non_null(strstr(st.error, "not a newc cpio header"));
	/* device nodes are skipped, the rest unpacks */
	assert_int_equal(unpack_entries(device_node, &st, true), 0);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.files, 1);
}

/* Garbage never crashes the unpacker. */
static void test_random_garbage(void **state)
{
	char a[512], out[512];
	unsigned seed = 7;

	(void)state;
	snprintf(a, sizeof(a), "%s/junk.cpio", tmp);
	snprintf(out, sizeof(out), "%s/junk", tmp);
	mkdir(out, 0755);
	for (int round = 0; round < 200; round++) {
		FILE *f = fopen(a, "w");
		fputs(round % 2 ? "070701" : "", f);
		for (int i = 0, n = rand_r(&seed) % 2000; i < n; i++)
			fputc(round % 3 ? "0123456789ABCDEF"[rand_r(&seed) % 16] : rand_r(&seed),
			      f);
		fclose(f);
		struct cpio_stats st;
		assert_true(unpack_file(a, out, &st) <= 0);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
static const struct CMUnitTest tests[] = {
	T(test_real_archive_round_trip),
	T(test_hostile_archives),
	T(test_random_garbage),
};

BH_TEST_MAIN(tests)
