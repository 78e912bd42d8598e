/* Store benchmarks: READ and WRITE ops/s over the daemon's socket against a
 * plain Unix-socket ping-pong moving the same bytes, the abort rate of
 * concurrent transactions on disjoint subtrees, and watch-event latency.
 *
 *   xs_bench [--daemon PATH] [--runs N] [--ops N]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bulkhead/xs_wire.h"
#include "xenstored/bhxs.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static int full_io(int fd, void *buf, size_t n, bool wr)
{
	char *p = buf;

	while (n) {
		ssize_t r = wr ? write(fd, p, n) : read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The baseline server: reads one framed request, answers REPLY_LEN bytes
 * of payload, as the store would, with nothing in between. */
static void pingpong_server(int lfd)
{
	char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		struct xsd_sockmsg h;

		if (fd < 0)
			_exit(0);
		while (full_io(fd, &h, sizeof(h), false) == 0 &&
		       full_io(fd, buf + sizeof(h), h.len, false) == 0) {
			/* req_id carries the reply length the client wants */
			uint32_t rl = h.req_id;

			h.len = rl;
			memcpy(buf, &h, sizeof(h));
			if (full_io(fd, buf, sizeof(h) + rl, true) < 0)
				break;
		}
		close(fd);
	}
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static double pingpong_ops(const char *path, size_t req_len, size_t rep_len, int ops)
{
	char buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	int fd = connect_to(path);
	double t0 = now_s();

	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < ops; i++) {
		struct xsd_sockmsg h = { .type = XS_READ,
			                 .req_id = (uint32_t)rep_len,
			                 .len = (uint32_t)req_len };

		memcpy(buf, &h, sizeof(h));
		full_io(fd, buf, sizeof(h) + req_len, true);
		full_io(fd, &h, sizeof(h), false);
		full_io(fd, buf + sizeof(h), h.len, false);
	}
	double dt = now_s() - t0;
	close(fd);
	return ops / dt;
}

static double store_ops(struct bhxs *xs, bool write, size_t vlen, int ops)
{
	char val[XENSTORE_PAYLOAD_MAX];
	double t0;

	memset(val, 'v', vlen);
	bhxs_write(xs, 0, "/bench/key", val, vlen);
	t0 = now_s();
	for (int i = 0; i < ops; i++) {
		if (write) {
			bhxs_write(xs, 0, "/bench/key", val, vlen);
		} else {
			char *v;
			size_t len;

			if (bhxs_read(xs, 0, "/bench/key", &v, &len) == 0)
				free(v);
		}
	}
	return ops / (now_s() - t0);
}

struct lat {
	struct bhxs *xs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int seen;
	double t_event;
};

static void *watcher(void *arg)
{
	struct lat *l = arg;
	char *p, *t;

	for (;;) {
		if (bhxs_wait_watch(l->xs, -1, &p, &t) < 0)
			return NULL;
		double tn = now_s();
		bool stop = strcmp(p, "/bench/w/stop") == 0;

		free(p);
		free(t);
		pthread_mutex_lock(&l->mu);
		l->t_event = tn;
		l->seen++;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		if (stop)
			return NULL;
	}
}

static void watch_latency(const char *sock, int n, double *p50, double *p99)
{
	struct lat l = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct bhxs *w;
	char *p, *t;
	double *v = calloc((size_t)n, sizeof(double));
	pthread_t th;

	bhxs_open_socket(sock, &l.xs);
	bhxs_open_socket(sock, &w);
	bhxs_watch(l.xs, "/bench/w", "lat");
	bhxs_wait_watch(l.xs, 1000, &p, &t);
	free(p);
	free(t);
	pthread_create(&th, NULL, watcher, &l);
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&l.mu);
		int before = l.seen;
		pthread_mutex_unlock(&l.mu);
		double t0 = now_s();
		bhxs_write_str(w, 0, "/bench/w/k", "x");
		pthread_mutex_lock(&l.mu);
		while (l.seen == before)
			pthread_cond_wait(&l.cv, &l.mu);
		v[i] = (l.t_event - t0) * 1e6;
		pthread_mutex_unlock(&l.mu);
	}
	bhxs_write_str(w, 0, "/bench/w/stop", "x");
	pthread_join(th, NULL);
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	*p50 = v[n / 2];
	*p99 = v[n * 99 / 100];
	free(v);
	bhxs_close(l.xs);
	bhxs_close(w);
}

/* N connections each run a transaction on its own subtree, interleaved so
 * that all are open at once; every commit should succeed. */
static void tx_aborts(const char *sock, int nconn, int rounds, int *aborts, int *total)
{
	struct bhxs *xs[64];
	bhxs_tx_t tx[64];
	char path[64];

	*aborts = *total = 0;
	for (int i = 0; i < nconn; i++) {
		bhxs_open_socket(sock, &xs[i]);
		snprintf(path, sizeof(path), "/bench/tx/%d/k", i);
		bhxs_write_str(xs[i], 0, path, "0");
	}
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < nconn; i++)
			bhxs_transaction_start(xs[i], &tx[i]);
		for (int i = 0; i < nconn; i++) {
			char *v;
			size_t len;

			snprintf(path, sizeof(path), "/bench/tx/%d/k", i);
			if (bhxs_read(xs[i], tx[i], path, &v, &len) == 0)
				free(v);
			bhxs_printf(xs[i], tx[i], path, "%d", r);
			snprintf(path, sizeof(path), "/bench/tx/%d/n%d", i, r % 4);
			bhxs_write_str(xs[i], tx[i], path, "y");
		}
		for (int i = 0; i < nconn; i++) {
			(*total)++;
			if (bhxs_transaction_end(xs[i], tx[i], true) == -EAGAIN)
				(*aborts)++;
		}
	}
	for (int i = 0; i < nconn; i++)
		bhxs_close(xs[i]);
}

static pid_t spawn(const char *prog, const char *sock)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(prog, prog, "--socket", sock, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct bhxs *xs;

		if (bhxs_open_socket(sock, &xs) == 0) {
			bhxs_close(xs);
			break;
		}
		usleep(10000);
	}
	return pid;
}

int main(int argc, char **argv)
{
	char daemon[512], dir[] = "/tmp/bh-xsbench-XXXXXX", sock[600], pp[600];
	int runs = 5, ops = 20000;
	static const struct option lo[] = { { "daemon", required_argument, NULL, 'd' },
		                            { "runs", required_argument, NULL, 'r' },
		                            { "ops", required_argument, NULL, 'o' },
		                            { 0 } };
	int ch;

	snprintf(daemon, sizeof(daemon), "%s", argv[0]);
	char *slash = strrchr(daemon, '/');
	snprintf(slash ? slash + 1 : daemon,
	         sizeof(daemon) - (size_t)(slash ? slash + 1 - daemon : 0),
	         "../libexec/bulkhead/bulkhead-xenstored");
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'd')
			snprintf(daemon, sizeof(daemon), "%s", optarg);
		else if (ch == 'r')
			runs = atoi(optarg);
		else if (ch == 'o')
			ops = atoi(optarg);
		else
			return 2;
	}
	if (runs < 1 || runs > 50 || ops < 1)
		return 2;
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	snprintf(pp, sizeof(pp), "%s/pingpong", dir);
	pid_t d = spawn(daemon, sock);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.100s", pp);
	bind(lfd, (struct sockaddr *)&sa, sizeof(sa));
	listen(lfd, 4);
	pid_t srv = fork();
	if (srv == 0)
		pingpong_server(lfd);
	close(lfd);

	struct bhxs *xs;
	if (bhxs_open_socket(sock, &xs) < 0) {
		fprintf(stderr, "xs_bench: no daemon at %s (%s)\n", sock, daemon);
		return 1;
	}
	static const size_t sizes[] = { 16, 1024 };
	printf("# xenstore bench: %d runs x %d ops, medians\n", runs, ops);
	printf("| op | value bytes | store ops/s | ping-pong ops/s | ratio "
	       "|\n|---|---|---|---|---|\n");
	for (size_t si = 0; si < 2; si++) {
		for (int wr = 0; wr < 2; wr++) {
			double s[50], b[50];
			size_t vlen = sizes[si], plen = strlen("/bench/key") + 1;
			/* The same bytes each way: WRITE sends path+value and gets
			 * "OK"; READ sends the path and gets the value. */
			size_t req = wr ? plen + vlen : plen, rep = wr ? 3 : vlen;

			for (int r = 0; r < runs; r++) {
				s[r] = store_ops(xs, wr, vlen, ops);
				b[r] = pingpong_ops(pp, req, rep, ops);
			}
			double ms = median(s, runs), mb = median(b, runs);
			printf("| %s | %zu | %.0f | %.0f | %.2f |\n", wr ? "WRITE" : "READ", vlen,
			       ms, mb, ms / mb);
		}
	}
	int ab = 0, tot = 0;
	tx_aborts(sock, 16, ops / 100 > 10 ? ops / 100 : 10, &ab, &tot);
	printf("\ntransactions on disjoint subtrees: 16 concurrent, %d commits, %d aborted "
	       "(%.2f%%)\n",
	       tot, ab, 100.0 * ab / tot);
	double p50[50], p99[50];
	for (int r = 0; r < runs; r++)
		watch_latency(sock, ops / 10 > 100 ? ops / 10 : 100, &p50[r], &p99[r]);
	printf("watch event latency (write to event received): p50 %.1f us, p99 %.1f us\n",
	       median(p50, runs), median(p99, runs));
	bhxs_close(xs);
	kill(d, SIGTERM);
	kill(srv, SIGTERM);
	waitpid(d, NULL, 0);
	waitpid(srv, NULL, 0);
	unlink(sock);
	unlink(pp);
	rmdir(dir);
	return 0;
}
