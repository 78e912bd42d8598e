/* consoled_bench: how fast a guest's console output reaches its log.
 *
 * A "guest" thread writes N MiB of 80-byte lines through a real console
 * ring page (common/consring.h), notifying an eventfd after each write and
 * waiting for the daemon's kick when the ring is full, exactly as a PV
 * console driver does. The daemon (bhconsoled, fake ops: in-process page
 * and eventfds, the rest real) drains into its timestamped log, in three
 * setups measured side by side in one run:
 *   baseline   the same lines written straight to a file, 2 KiB per write
 *   log        through the ring into the log, nobody attached
 *   attached   the same with a client attached over the socket
 *   ring alone the log is /dev/null: what the ring protocol itself costs
 * Several runs each; medians in MiB/s and the ratio to the baseline.
 *     consoled_bench [--mib N] [--runs N] */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>

#include "common/consring.h"
#include "common/util.h"
#include "consoled/consoled.h"

#define LINE 80

struct guest {
	struct bh_cons_intf *page;
	int to_daemon, to_guest;
	size_t total;
	volatile bool done;
};

static int f_map(void *arg, uint16_t domid, void **page_out)
{
	(void)domid;
	*page_out = ((struct guest *)arg)->page;
	return 0;
}

static void f_unmap(void *arg, uint16_t domid, void *page)
{
	(void)arg;
	(void)domid;
	(void)page;
}

static int f_bind(void *arg, uint16_t domid, uint32_t port, uint32_t *local, int *fd)
{
	(void)domid;
	(void)port;
	*local = 1;
	*fd = dup(((struct guest *)arg)->to_daemon);
	return *fd < 0 ? -errno : 0;
}

static void f_ack(void *arg, uint32_t local, int fd)
{
	uint64_t v;

	(void)arg;
	(void)local;
	(void)!read(fd, &v, sizeof(v));
}

static int f_notify(void *arg, uint32_t local, int fd)
{
	(void)local;
	(void)fd;
	return eventfd_write(((struct guest *)arg)->to_guest, 1);
}

static void f_unbind(void *arg, uint32_t local, int fd)
{
	(void)arg;
	(void)local;
	close(fd);
}

static void fill_line(char *line, size_t i)
{
	int n = snprintf(line, LINE, "guest output line %zu ", i);

	memset(line + n, 'x', LINE - 1 - (size_t)n);
	line[LINE - 1] = '\n';
}

static void *guest_main(void *arg)
{
	struct guest *g = arg;
	char line[LINE];
	struct pollfd p = { .fd = g->to_guest, .events = POLLIN };
	eventfd_t v;

	for (size_t i = 0, sent = 0; sent < g->total; i++) {
		fill_line(line, i);
		for (size_t off = 0; off < LINE;) {
			ssize_t n = bh_cons_guest_write(g->page, line + off, LINE - off);
			if (n > 0) {
				off += (size_t)n;
				eventfd_write(g->to_daemon, 1);
			} else {
				poll(&p, 1, 100);
				eventfd_read(g->to_guest, &v);
			}
		}
		sent += LINE;
	}
	g->done = true;
	eventfd_write(g->to_daemon, 1);
	return NULL;
}

struct reader {
	const char *sock;
	size_t want;
	volatile bool done;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t got = 0;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	bh_strlcpy(sa.sun_path, r->sock, sizeof(sa.sun_path));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    bh_write_full(s, "attach 1\n", 9) < 0)
		abort();
	while (got < r->want + 3) {
		ssize_t n = read(s, buf, sizeof(buf));
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(s);
	r->done = true;
	return NULL;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static double now_s(void)
{
	return (double)bh_now_ns() / 1e9;
}

static double run_baseline(const char *dir, size_t total)
{
	char path[300], chunk[2048];
	size_t fill = 0;
	double t0 = now_s();
	int fd;

	snprintf(path, sizeof(path), "%s/baseline.log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	for (size_t i = 0, sent = 0; sent < total; i++, sent += LINE) {
		char line[LINE];
		fill_line(line, i);
		for (size_t off = 0; off < LINE;) {
			size_t n = BH_MIN(LINE - off, sizeof(chunk) - fill);
			memcpy(chunk + fill, line + off, n);
			fill += n;
			off += n;
			if (fill == sizeof(chunk)) {
				bh_write_full(fd, chunk, fill);
				fill = 0;
			}
		}
	}
	bh_write_full(fd, chunk, fill);
	close(fd);
	return now_s() - t0;
}

/* null_log: the log is /dev/null, to show what the ring alone costs */
static double run_console(const char *dir, size_t total, bool attached, bool null_log)
{
	struct guest g = { .total = total };
	struct consoled_ops ops = { f_map, f_unmap, f_bind, f_ack, f_notify, f_unbind, &g };
	char logdir[300], sock[300];
	struct event_base *base = event_base_new();
	struct consoled *cd;
	struct reader rd;
	pthread_t gt, rt;
	double t0;

	snprintf(logdir, sizeof(logdir), "%s/logs-%d%d", dir, attached, null_log);
	if (null_log) {
		char link[400];
		mkdir(logdir, 0755);
		snprintf(link, sizeof(link), "%s/bench.log", logdir);
		unlink(link);
		if (symlink("/dev/null", link) < 0)
			abort();
	}
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	g.page = aligned_alloc(4096, 4096);
	memset(g.page, 0, 4096);
	g.to_daemon = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	g.to_guest = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct consoled_opts o = { .logdir = logdir, .sock_path = sock, .ops = &ops };
	if (consoled_create_opts(base, &o, &cd) < 0 || consoled_add_domain(cd, 1, "bench", 1) < 0)
		abort();
	rd = (struct reader){ .sock = sock, .want = total };
	if (attached) {
		pthread_create(&rt, NULL, reader_main, &rd);
		while (!consoled_domain_attached(cd, 1))
			event_base_loop(base, EVLOOP_ONCE);
	}
	t0 = now_s();
	pthread_create(&gt, NULL, guest_main, &g);
	while (!g.done || g.page->out_cons != g.page->out_prod)
		event_base_loop(base, EVLOOP_ONCE);
	double t = now_s() - t0;
	pthread_join(gt, NULL);
	if (attached) {
		/* the client reads what is queued for it until the close */
		consoled_remove_domain(cd, 1, "bench over");
		while (!rd.done) {
			event_base_loop(base, EVLOOP_NONBLOCK);
			usleep(100);
		}
		pthread_join(rt, NULL);
	}
	consoled_free(cd);
	event_base_free(base);
	close(g.to_daemon);
	close(g.to_guest);
	free(g.page);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	long mib = 32, runs = 5;
	char dir[] = "/tmp/bh-consoled-bench-XXXXXX";
	double base_t[64], log_t[64], att_t[64], null_t[64];

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--mib") == 0)
			bh_parse_int(argv[i + 1], 10, 1, 4096, &mib);
		else if (strcmp(argv[i], "--runs") == 0)
			bh_parse_int(argv[i + 1], 10, 1, 64, &runs);
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	size_t total = (size_t)mib << 20;
	/* interleaved, so drift in the machine's load hits all three alike */
	for (int r = 0; r < runs; r++) {
		base_t[r] = run_baseline(dir, total);
		log_t[r] = run_console(dir, total, false, false);
		att_t[r] = run_console(dir, total, true, false);
		null_t[r] = run_console(dir, total, false, true);
	}
	double mb = (double)total / (1 << 20);
	double b = mb / median(base_t, (int)runs), l = mb / median(log_t, (int)runs),
	       a = mb / median(att_t, (int)runs), z = mb / median(null_t, (int)runs);
	printf("console output, %ld MiB of %d-byte lines, %ld runs, medians:\n", mib, LINE, runs);
	printf("  baseline (write(2) to a file)   %8.1f MiB/s\n", b);
	printf("  ring -> log                     %8.1f MiB/s  (%.2fx baseline)\n", l, l / b);
	printf("  ring -> log + attached client   %8.1f MiB/s  (%.2fx baseline)\n", a, a / b);
	printf("  ring -> /dev/null (ring alone)  %8.1f MiB/s  (%.2fx baseline)\n", z, z / b);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
