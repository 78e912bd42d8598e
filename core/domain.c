/* The domain table and the lifecycle.
 *
 *   create ──► BUILDING ──unpause──► RUNNING ◄──pause/unpause──► PAUSED
 *                  │                    │
 *                  └───── exit, crash, shutdown, destroy ─────► SHUTDOWN
 *
 * A domain that ends, however it ends, is torn down at once (its ports,
 * grants and mappings go, its peers are told) and stays in the table as
 * SHUTDOWN with its reason until a privileged domain reaps it with DESTROY
 * or builds it again with RESTART (same domid, name and devices, generation
 * + 1). Privileged domains learn of every end through VIRQ_DOM_EXC. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "core/core.h"

#define MAX_ARGS        256
#define MIN_MEM_KB      1024
#define KILL_WAIT_MS    3000
#define CG_REMOVE_TRIES 40

static const char *const default_labels[BH_ROLE_MAX] = {
	[BH_ROLE_CONTROL] = "system_u:system_r:dom0_t",
	[BH_ROLE_STORE] = "system_u:system_r:xenstore_t",
	[BH_ROLE_DRIVER] = "system_u:system_r:driver_t",
	[BH_ROLE_GUEST] = "system_u:system_r:domU_t",
};

static const char *const reason_names[] = { "poweroff", "reboot", "suspend", "crash", "watchdog" };
static const char *const detail_names[] = { "",
	                                    "signal",
	                                    "exit status",
	                                    "out of memory",
	                                    "forbidden system call",
	                                    "sandbox setup",
	                                    "destroyed" };

struct domain *domain_get(struct core *c, uint32_t domid)
{
	return domid <= BH_DOMID_MAX ? c->doms[domid] : NULL;
}

/* ---- validation -------------------------------------------------------- */

static bool name_ok(const char *s, size_t cap, bool allow_colon)
{
	size_t n = strnlen(s, cap);

	if (n == 0 || n == cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') &&
		    !(ch >= '0' && ch <= '9') && !strchr("-_.", ch) && !(allow_colon && ch == ':'))
			return false;
	}
	return true;
}

static bool name_in_use(struct core *c, const char *name)
{
	for (uint32_t id = 0; id <= BH_DOMID_MAX; id++)
		if (c->doms[id] && strcmp(c->doms[id]->name, name) == 0)
			return true;
	return false;
}

static int check_request(struct core *c, const struct bh_hc_create *r)
{
	if (!name_ok(r->name, sizeof(r->name), false))
		return -EINVAL;
	if (r->label[0] && !name_ok(r->label, sizeof(r->label), true))
		return -EINVAL;
	if (r->role >= BH_ROLE_MAX || r->vcpus == 0 || r->vcpus > 128)
		return -EINVAL;
	if (r->mem_kb < MIN_MEM_KB || r->weight > 65535 || r->cap > 100 * 128)
		return -EINVAL;
	if (!memchr(r->image, 0, sizeof(r->image)) || !r->image[0])
		return -EINVAL;
	if (r->argv_len > BH_HC_MAX_PAYLOAD)
		return -E2BIG;
	if (name_in_use(c, r->name))
		return -EEXIST;
	if (c->nr_domains >= c->opts.max_domains)
		return -ENOSPC;
	return 0;
}

static int pick_domid(struct core *c, uint16_t want, uint16_t *out)
{
	if (want != BH_DOMID_ANY) {
		if (want > BH_DOMID_MAX)
			return -EINVAL;
		if (c->doms[want])
			return -EEXIST;
		*out = want;
		return 0;
	}
	/* As Xen: count upwards and wrap, skipping ids in use; 0 is dom0's. */
	for (uint32_t n = 0; n < BH_DOMID_MAX; n++) {
		uint16_t id = c->next_domid;
		c->next_domid = id >= BH_DOMID_MAX ? 1 : (uint16_t)(id + 1);
		if (id != 0 && !c->doms[id]) {
			*out = id;
			return 0;
		}
	}
	return -ENOSPC;
}

/* The program: a name in the image directory (what domains may ask for),
 * or, for the administrator only, a host path. */
static int open_image(struct core *c, const char *image, bool host_image)
{
	char path[512];
	int fd;

	if (host_image) {
		if (image[0] != '/')
			return -EINVAL;
		fd = open(image, O_PATH | O_CLOEXEC);
	} else {
		if (!name_ok(image, 256, false))
			return -EINVAL;
		snprintf(path, sizeof(path), "%s/%s", c->opts.image_dir, image);
		fd = open(path, O_PATH | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

/* argv from the NUL-separated blob; an empty blob is just the image name. */
static int split_argv(struct domain *d, char **argv, size_t max)
{
	size_t n = 0, len = d->cfg.argv_len;
	char *p = d->argv_blob;

	if (len == 0) {
		const char *slash = strrchr(d->cfg.image, '/');
		argv[0] = (char *)(slash ? slash + 1 : d->cfg.image);
		argv[1] = NULL;
		return 0;
	}
	if (p[len - 1] != '\0')
		return -EINVAL;
	for (size_t off = 0; off < len; off += strlen(p + off) + 1) {
		if (n + 1 >= max)
			return -E2BIG;
		argv[n++] = p + off;
	}
	argv[n] = NULL;
	return 0;
}

/* ---- building a generation ------------------------------------------ */

static void on_exit_cb(evutil_socket_t fd, short what, void *arg);

static int open_log(struct domain *d)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/logs/%s.log", d->core->opts.rundir, d->name);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return fd < 0 ? -errno : fd;
}

/* The store and console rings (grant refs 1 and 0) and their unbound
 * ports, made on the domain's behalf as Xen's toolstack does. */
static int make_rings(struct domain *d)
{
	int rc;

	d->store_port = d->console_port = 0;
	if (d->store_domid <= BH_DOMID_MAX && d->role != BH_ROLE_STORE) {
		if ((rc = grant_alloc(d, d->store_domid, true, BH_GNTTAB_STORE_REF,
		                      &(uint32_t){ 0 }, NULL)) < 0 ||
		    (rc = evtchn_alloc_unbound(d, d->store_domid, &d->store_port)) < 0)
			return rc;
	}
	if (d->console_domid <= BH_DOMID_MAX) {
		if ((rc = grant_alloc(d, d->console_domid, true, BH_GNTTAB_CONSOLE_REF,
		                      &(uint32_t){ 0 }, NULL)) < 0 ||
		    (rc = evtchn_alloc_unbound(d, d->console_domid, &d->console_port)) < 0)
			return rc;
	}
	return 0;
}

static int setup_cgroup(struct domain *d, struct bh_cgroup *cg, uint32_t incarnation)
{
	struct core *c = d->core;
	int rc;

	snprintf(cg->name, sizeof(cg->name), "dom%u.%u", d->domid, incarnation);
	if ((rc = c->cgctl.ops->create(&c->cgctl, cg)) < 0)
		return rc;
	return bh_cgroup_configure(&c->cgctl, cg, d->cfg.mem_kb * 1024, d->cfg.vcpus, d->cfg.weight,
	                           d->cfg.cap, d->cfg.cpumap, BH_CPUMAP_WORDS);
}

static void reset_generation_state(struct domain *d)
{
	d->pid = 0;
	d->pidfd = d->go_fd = d->netns_fd = d->mntns_fd = -1;
	d->pid_ev = NULL;
	d->grace_ev = NULL;
	d->chan.fd = -1;
	d->chan.ev = d->chan.wev = NULL;
	d->shutdown_reason = BH_SHUTDOWN_NONE;
	d->crash_detail = BH_CRASH_NONE;
	d->exit_status = d->exit_signal = 0;
	d->shutdown_requested = d->restart_pending = d->destroy_pending = false;
	d->last_heartbeat_ns = 0;
	d->life = (struct life_page){ .fd = -1 };
	d->life_armed = d->opened_device = d->ended_early = false;
	d->nr_taps = 0;
	d->tap_refs = NULL;
	d->ntap_refs = 0;
	d->tap_names = (struct premade_taps){ 0 };
	d->premade = (struct premade_taps){ 0 };
	grant_table_init(&d->gt, d->cfg.max_grants);
	maptrack_init(&d->mt, d->cfg.max_maptrack);
	evtchn_table_init(&d->et, d->cfg.max_ports);
}

static void release_generation(struct domain *d);
static void cg_remove(struct core *c, struct bh_cgroup *cg);
static bool standby_take(struct domain *d, struct standby *out);
static void standby_arm(struct domain *d);
static void close_later(struct domain *d, int *fd);

static void close_later_cb(void *arg, int *fd)
{
	close_later(arg, fd);
}

static void standby_init(struct standby *sb)
{
	memset(sb, 0, sizeof(*sb));
	sb->pidfd = sb->go_fd = sb->chan_fd = sb->life.fd = -1;
}

/* A standby's sandbox built on a thread of its own (standby_build), at
 * SCHED_IDLE, which its child inherits up to its first hypercall. In the
 * loop, a standby blocked it 9-37 ms (the cgroup v1 attach waits for an
 * RCU grace period, then the child's report), and every hypercall waited.
 * Making a process in new namespaces is also ~3 ms of kernel work not
 * preempted here (the new network namespace, the child closing the
 * core's ~2,000 descriptors, the exec), so SCHED_IDLE: the loop's own
 * thread comes first. (A policy orders tasks within one cgroup only: the
 * guests, each in its own, still wait behind the clone on its CPU.) The
 * standby is set back to normal when a restart takes it (standby_take). */
struct sb_job {
	struct domain *d;
	struct sandbox_spawn s;
	char *argv[MAX_ARGS];
	int chan_fd, log_fd, life_fd; /* the child's; closed after the clone */
	pthread_t thread;
	pthread_mutex_t lock; /* s.pid and s.pidfd, published after the clone */
	bool abandoned;
	int efd;
	struct event *ev;
	int rc;
};

static void *sb_job_main(void *arg)
{
	struct sb_job *j = arg;
	struct sched_param sp = { 0 };
	struct sandbox_spawn s = j->s;
	uint64_t one = 1;

	pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
	j->rc = sandbox_spawn_start(&s);
	bh_closep(&j->chan_fd);
	bh_closep(&j->log_fd);
	bh_closep(&j->life_fd);
	pthread_mutex_lock(&j->lock);
	j->s = s;
	if (j->rc == 0 && j->abandoned)
		syscall(SYS_pidfd_send_signal, j->s.pidfd, SIGKILL, NULL, 0);
	pthread_mutex_unlock(&j->lock);
	if (j->rc == 0)
		j->rc = sandbox_spawn_finish(&j->s);
	if (write(j->efd, &one, sizeof(one)) < 0) {
		/* an eventfd's write fails only on overflow */
	}
	return NULL;
}

/* The thread joined, its event and eventfd gone: J->s is the loop's. */
static void sb_job_end(struct sb_job *j)
{
	pthread_join(j->thread, NULL);
	pthread_mutex_destroy(&j->lock);
	event_free(j->ev);
	bh_closep(&j->efd);
}

/* A job not wanted any more: its child killed (now, or by the thread as
 * soon as it has one), the thread given normal priority so that joining
 * it does not wait behind every other task, joined, the child reaped. */
static void sb_job_drop(struct sb_job *j)
{
	struct sched_param sp = { 0 };

	pthread_mutex_lock(&j->lock);
	j->abandoned = true;
	if (j->s.pid > 0)
		syscall(SYS_pidfd_send_signal, j->s.pidfd, SIGKILL, NULL, 0);
	pthread_mutex_unlock(&j->lock);
	pthread_setschedparam(j->thread, SCHED_OTHER, &sp);
	sb_job_end(j);
	sandbox_spawn_abort(&j->s);
	free(j);
}

static void standby_built(evutil_socket_t fd, short what, void *arg);

/* D's standby's sandbox, S, built on a thread; it owns the fds the child
 * is handed (CHAN, LOG, LIFE) from now on. False if no thread could be
 * had: the caller builds it, and they are still the caller's. */
static bool sb_job_start(struct domain *d, const struct sandbox_spawn *s, char *const *argv,
                         int chan_fd, int log_fd, int life_fd)
{
	struct sb_job *j = calloc(1, sizeof(*j));
	sigset_t all, old;
	int rc;

	if (!j)
		return false;
	j->d = d;
	j->s = *s;
	for (int i = 0; i < MAX_ARGS && argv[i]; i++)
		j->argv[i] = argv[i]; /* into d->argv_blob, which outlives the job */
	j->s.argv = j->argv;
	j->chan_fd = chan_fd;
	j->log_fd = log_fd;
	j->life_fd = life_fd;
	pthread_mutex_init(&j->lock, NULL);
	if ((j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		goto fail;
	if (!(j->ev = event_new(d->core->base, j->efd, EV_READ, standby_built, j)) ||
	    event_add(j->ev, NULL) < 0)
		goto fail;
	/* The core's signals stay with its loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&j->thread, NULL, sb_job_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		goto fail;
	d->sb.job = j;
	return true;
fail:
	if (j->ev)
		event_free(j->ev);
	bh_closep(&j->efd);
	pthread_mutex_destroy(&j->lock);
	free(j);
	return false;
}

/* A sandbox for D's next process: cgroup, hypercall channel (our end in
 * SB->chan_fd), log, and the child with its root built, waiting for the
 * byte on SB->go_fd that lets it exec. With ASYNC (D's standby, SB being
 * D->sb) the clone and the parent's half of the child's setup (id maps,
 * cgroup attach, the child's report: ~5-15 ms, most of it the cgroup v1
 * attach's RCU grace period) run on a thread instead (struct sb_job): the
 * loop keeps serving hypercalls meanwhile, and standby_built takes the
 * standby up when it is done (SB->job until then). */
static int build_sandbox(struct domain *d, struct standby *sb, bool async, char *err, size_t errcap)
{
	struct core *c = d->core;
	char *argv[MAX_ARGS];
	int sv[2] = { -1, -1 }, log_fd = -1, rc;
	struct sandbox_spawn s;

	standby_init(sb);
	sb->incarnation = ++c->incarnations;
	if ((rc = split_argv(d, argv, MAX_ARGS)) < 0)
		goto fail;
	if ((rc = setup_cgroup(d, &sb->cg, sb->incarnation)) < 0) {
		snprintf(err, errcap, "cgroup: %s", bh_strerror(rc));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((log_fd = open_log(d)) < 0) {
		rc = log_fd;
		goto fail;
	}
	/* Without it the end is seen at the reap, as for any domain. */
	if (d->role == BH_ROLE_DRIVER && (rc = life_page_make(&sb->life)) < 0)
		bh_warn(&c->log, "dom%u (%s): no life page: %s", d->domid, d->name,
		        bh_strerror(rc));
	s = (struct sandbox_spawn){ .exe_fd = d->exe_fd,
		                    .chan_fd = sv[1],
		                    .log_fd = log_fd,
		                    .life_fd = sb->life.fd,
		                    .host_uid = c->opts.uid_base + d->domid,
		                    .hostname = d->name,
		                    .argv = argv,
		                    .role = d->role,
		                    .sandbox_root = c->sandbox_root,
		                    .rundir = c->opts.rundir,
		                    .cg = &sb->cg,
		                    .cgctl = &c->cgctl };
	/* The clone reads the role's filter, compiled here, in the loop. */
	if (async && seccomp_prepare_role(d->role) == 0 &&
	    sb_job_start(d, &s, argv, sv[1], log_fd, sb->life.fd)) {
		sv[1] = log_fd = sb->life.fd = -1; /* the job's */
		sb->chan_fd = sv[0];
		return 0;
	}
	rc = sandbox_spawn(&s);
	bh_closep(&sv[1]);
	bh_closep(&log_fd);
	bh_closep(&sb->life.fd); /* the child's now; the mapping stays */
	if (rc < 0) {
		snprintf(err, errcap, "%s", s.err);
		goto fail;
	}
	sb->chan_fd = sv[0];
	sb->pid = s.pid;
	sb->pidfd = s.pidfd;
	sb->go_fd = s.go_fd;
	return 0;
fail:
	bh_close_fds(sv, 2);
	if (sb->cg.created)
		cg_remove(c, &sb->cg);
	life_page_drop(&sb->life);
	standby_init(sb);
	return rc;
}

static void netns_hold(struct domain *d);

static int spawn(struct domain *d, bool paused, char *err, size_t errcap)
{
	struct core *c = d->core;
	int sv[2] = { -1, -1 }, rc;
	struct standby sb;

	reset_generation_state(d);
	if ((rc = make_rings(d)) < 0)
		goto fail;
	/* A driver domain's standby, if it has one, is this generation (it
	 * runs already: a restart is never asked for paused). */
	bool standby = !paused && standby_take(d, &sb);
	if (!standby && (rc = build_sandbox(d, &sb, false, err, errcap)) < 0)
		goto fail;
	d->incarnation = sb.incarnation;
	d->cg = sb.cg;
	d->pid = sb.pid;
	d->pidfd = sb.pidfd;
	d->go_fd = sb.go_fd;
	d->premade = sb.taps; /* (none unless it was the standby) */
	d->life = sb.life;
	netns_hold(d);
	sv[0] = sb.chan_fd;
	d->state = standby ? BH_DOMSTATE_RUNNING : BH_DOMSTATE_BUILDING;
	d->start_time = (uint64_t)time(NULL);
	d->pid_ev = event_new(c->base, d->pidfd, EV_READ, on_exit_cb, d);
	if (!d->pid_ev || event_add(d->pid_ev, NULL) < 0 ||
	    (rc = hc_conn_open(c, &d->chan, sv[0], false, d->domid, d->generation)) < 0) {
		sv[0] = -1; /* hc_conn_open owns it now, or it was never used */
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
		rc = rc < 0 ? rc : -ENOMEM;
		goto fail;
	}
	/* A later generation of a domain with an uplink gets a fresh pair;
	 * without it the domain still serves its guests: warn, go on. */
	if (d->uplink && (rc = uplink_create(d)) < 0)
		bh_warn(&c->log, "dom%u (%s): no uplink this generation: %s", d->domid, d->name,
		        bh_strerror(rc));
	standby_arm(d);
	return paused ? 0 : domain_unpause(d);
fail:
	bh_close_fds(sv, 2);
	release_generation(d);
	return rc;
}

/* ---- ending a generation -------------------------------------------- */

static void cg_remove_retry(evutil_socket_t fd, short what, void *arg);
#define CG_REMOVE_LATER_MS 100 /* an ended generation's cgroup, see below */

struct cg_pending {
	struct core *c;
	struct bh_cgroup cg;
	int tries;
	struct event *ev;
	struct cg_pending *next;
};

static void cg_pending_free(struct cg_pending *p)
{
	for (struct cg_pending **pp = &p->c->cg_pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	event_free(p->ev);
	free(p);
}

void domain_cg_pending_flush(struct core *c)
{
	while (c->cg_pending) {
		struct cg_pending *p = c->cg_pending;
		c->cgctl.ops->remove(&c->cgctl, &p->cg);
		cg_pending_free(p);
	}
}

/* Removes CG now or, with LATER_MS, that much later. A cgroup can stay
 * busy for a moment after its last task is reaped: removals that fail
 * are retried every 50 ms. Names are never reused (incarnations), so a
 * removal that waits cannot hit a newer domain's cgroup. */
static void cg_remove_in(struct core *c, struct bh_cgroup *cg, unsigned later_ms)
{
	struct cg_pending *p;
	struct timeval tv = { 0, 50000 };

	if (!later_ms && c->cgctl.ops->remove(&c->cgctl, cg) == 0)
		return;
	if (later_ms)
		tv = (struct timeval){ later_ms / 1000, (later_ms % 1000) * 1000 };
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (later_ms)
			c->cgctl.ops->remove(&c->cgctl, cg);
		return;
	}
	p->c = c;
	p->cg = *cg;
	p->ev = evtimer_new(c->base, cg_remove_retry, p);
	if (!p->ev || evtimer_add(p->ev, &tv) < 0) {
		if (p->ev)
			event_free(p->ev);
		free(p);
		if (later_ms)
			c->cgctl.ops->remove(&c->cgctl, cg);
	} else {
		p->next = c->cg_pending;
		c->cg_pending = p;
	}
	cg->created = false;
}

static void cg_remove(struct core *c, struct bh_cgroup *cg)
{
	cg_remove_in(c, cg, 0);
}

static void cg_remove_retry(evutil_socket_t fd, short what, void *arg)
{
	struct cg_pending *p = arg;
	struct timeval tv = { 0, 50000 };

	(void)fd;
	(void)what;
	if (p->c->cgctl.ops->remove(&p->c->cgctl, &p->cg) < 0 && ++p->tries < CG_REMOVE_TRIES) {
		evtimer_add(p->ev, &tv);
		return;
	}
	if (p->cg.created)
		bh_warn(&p->c->log, "cgroup %s could not be removed", p->cg.name);
	cg_pending_free(p);
}

/* ---- a driver domain's next generation, built ahead ------------------ *
 *
 * Building a sandbox (clone into new namespaces, a root, the seccomp
 * filter) and exec'ing the program were half of a driver domain's
 * restart, and its guests' disks and networks wait for the restart. So a
 * driver domain's next generation is built STANDBY_DELAY_MS after each
 * generation starts (not at once: the new generation and its guests'
 * reconnections have the CPU first) and let go at once: it execs and runs
 * until its first hypercall (bulkhead-driverdom narrows its own sandbox,
 * then asks for its start info before anything else), whose answer waits, unread in the channel, until
 * a restart takes the standby and the core starts serving that channel.
 * Anything that goes wrong with it means only that the restart builds a
 * sandbox as before.
 *
 * Ordering: the standby is handed over only in spawn(), which runs for a
 * restart after handle_exit() has reaped the old process (pidfd readable,
 * waitid done): by then every thread of it is gone, its io_uring workers
 * included, so a write it had under way on a disk image has finished
 * (the kernel ends an exiting task's io_uring requests before the task is
 * reaped), and the core has dropped its grant mappings. Until then the
 * standby can do nothing with a device: it has no image open (its root
 * holds none; images are handed out by hypercall) and no hypercall of its
 * is answered. Otherwise a write of the old generation could land on an
 * image after one of the new generation, overwriting newer data.
 * The one exception, a generation ended on its life page before it was
 * reaped (domain_exiting), is never one that was handed an image. */
#define STANDBY_DELAY_MS 300

static void standby_discard(struct domain *d)
{
	struct standby *sb = &d->sb;

	if (sb->job) {
		/* Its setup under way: the child killed, the thread's wait for
		 * its report ends. */
		bh_info(&d->core->log, "dom%u (%s): its standby ended during its setup", d->domid,
		        d->name);
		sb_job_drop(sb->job);
		sb->job = NULL;
	}
	if (sb->timer) {
		event_free(sb->timer);
		sb->timer = NULL;
	}
	if (sb->taps_timer) {
		event_free(sb->taps_timer);
		sb->taps_timer = NULL;
	}
	premade_taps_dispose(&sb->taps, close_later_cb, d);
	if (sb->pid > 0) {
		/* It waits (for its go byte, or in its first hypercall): the
		 * kill is immediate. */
		syscall(SYS_pidfd_send_signal, sb->pidfd, SIGKILL, NULL, 0);
		waitpid(sb->pid, NULL, 0);
	}
	bh_closep(&sb->pidfd);
	bh_closep(&sb->go_fd);
	bh_closep(&sb->chan_fd);
	life_page_drop(&sb->life);
	if (sb->cg.created)
		cg_remove(d->core, &sb->cg);
	standby_init(sb);
}

/* Every thread of D's standby back to SCHED_OTHER (it was built at
 * SCHED_IDLE: struct sb_job). */
static void sched_normal(struct domain *d)
{
	struct sched_param sp = { 0 };
	char path[64];
	DIR *dir;
	struct dirent *e;
	int bad = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)d->sb.pid);
	if (!(dir = opendir(path)))
		bad = sched_setscheduler(d->sb.pid, SCHED_OTHER, &sp) < 0 ? errno : 0;
	while (dir && (e = readdir(dir)))
		if (e->d_name[0] != '.' &&
		    sched_setscheduler((pid_t)atoi(e->d_name), SCHED_OTHER, &sp) < 0 &&
		    errno != ESRCH)
			bad = errno;
	if (dir)
		closedir(dir);
	if (bad)
		bh_warn(&d->core->log, "dom%u (%s): its standby stays at background priority: %s",
		        d->domid, d->name, strerror(bad));
}

/* Hands D's standby to the generation being built; false if it has none
 * (or it is not alive any more). */
static bool standby_take(struct domain *d, struct standby *out)
{
	struct pollfd pfd = { .fd = d->sb.pidfd, .events = POLLIN };

	if (d->sb.pid <= 0 || poll(&pfd, 1, 0) != 0) {
		if (d->sb.pid > 0)
			bh_warn(&d->core->log, "dom%u (%s): its standby had died: building anew",
			        d->domid, d->name);
		standby_discard(d);
		return false;
	}
	if (d->sb.timer)
		event_free(d->sb.timer);
	if (d->sb.taps_timer)
		event_free(d->sb.taps_timer);
	sched_normal(d);
	*out = d->sb;
	out->timer = out->taps_timer = NULL;
	standby_init(&d->sb);
	return true;
}

/* Lets D's standby exec, up to its first hypercall. */
static void standby_go(struct domain *d)
{
	int rc = bh_write_full(d->sb.go_fd, "g", 1);

	bh_closep(&d->sb.go_fd);
	if (rc < 0) {
		standby_discard(d);
		return;
	}
	/* While it execs: the TAPs this generation asked for (device.c). */
	device_premake_taps(d, d->sb.pid, &d->sb.taps);
}

static void standby_build(evutil_socket_t fd, short what, void *arg)
{
	struct domain *d = arg;
	char err[256] = "";
	int rc;

	(void)fd;
	(void)what;
	event_free(d->sb.timer);
	d->sb.timer = NULL;
	if (d->sb.pid > 0 || d->sb.job || d->state == BH_DOMSTATE_SHUTDOWN)
		return;
	if ((rc = build_sandbox(d, &d->sb, true, err, sizeof(err))) < 0) {
		bh_warn(&d->core->log, "dom%u (%s): no standby for its next restart: %s", d->domid,
		        d->name, err[0] ? err : bh_strerror(rc));
		return;
	}
	if (!d->sb.job)
		standby_go(d); /* finished here: no thread could be had */
}

/* D's standby's setup is done (SB->job's thread has ended). */
static void standby_built(evutil_socket_t fd, short what, void *arg)
{
	struct sb_job *j = arg;
	struct domain *d = j->d;

	(void)fd;
	(void)what;
	sb_job_end(j);
	d->sb.job = NULL;
	if (j->rc < 0) {
		bh_warn(&d->core->log, "dom%u (%s): no standby for its next restart: %s", d->domid,
		        d->name, j->s.err[0] ? j->s.err : bh_strerror(j->rc));
		sandbox_spawn_abort(&j->s);
		free(j);
		standby_discard(d);
		return;
	}
	d->sb.pid = j->s.pid;
	d->sb.pidfd = j->s.pidfd;
	d->sb.go_fd = j->s.go_fd;
	free(j);
	standby_go(d);
}

static void standby_taps_cb(evutil_socket_t fd, short what, void *arg)
{
	struct domain *d = arg;

	(void)fd;
	(void)what;
	event_free(d->sb.taps_timer);
	d->sb.taps_timer = NULL;
	if (d->sb.pid > 0)
		device_premake_taps(d, d->sb.pid, &d->sb.taps);
}

/* *EV set to fire CB for D STANDBY_DELAY_MS from now (NULL if it cannot
 * be: the standby's work is then done without it, or not ahead). */
static void standby_timer(struct domain *d, struct event **ev, event_callback_fn cb)
{
	struct timeval tv = { 0, STANDBY_DELAY_MS * 1000 };

	if (!(*ev = evtimer_new(d->core->base, cb, d)) || evtimer_add(*ev, &tv) < 0) {
		if (*ev)
			event_free(*ev);
		*ev = NULL;
	}
}

/* Not at once: the TAP was asked for while a guest waits for its vif, and
 * the standby's can wait. A standby not built yet makes them all then. */
void domain_standby_taps_later(struct domain *d)
{
	if (d->sb.pid > 0 && !d->sb.taps_timer)
		standby_timer(d, &d->sb.taps_timer, standby_taps_cb);
}

static void standby_arm(struct domain *d)
{
	if (d->role == BH_ROLE_DRIVER && (d->cfg.flags & BH_CREATE_STANDBY) && d->sb.pid <= 0 &&
	    !d->sb.job && !d->sb.timer)
		standby_timer(d, &d->sb.timer, standby_build);
}

/* ---- a driver domain's network namespace, let go late ----------------
 *
 * When a driver domain's process dies, its network namespace goes with
 * it, and the kernel takes it down (its bridge, its TAPs, the domain end
 * of its uplink) holding the RTNL lock for tens of milliseconds. The next
 * generation, meanwhile, makes its own bridge and the core its TAPs, which
 * need that lock: the restart waited for the old namespace's teardown. So
 * the core holds each generation's namespace open and lets it go
 * NETNS_LINGER_MS after the generation ended, when the next one has its
 * devices. (The uplink's host end is deleted at once, as before: its name
 * is the next generation's.) The old namespace is unreachable meanwhile:
 * no process is in it and only this descriptor refers to it.
 * Its mount namespace is held the same way: the last reference dropped
 * unmounts its tree and waits for an RCU grace period (namespace_unlock),
 * which the dying process did on its way out, before the core could hear
 * of its death. So are its TAPs (device.c keeps a reference to each): the
 * last close of a TAP detaches its queue, another grace period each. The
 * driver domain deletes a TAP's interface itself when it lets it go (a
 * detached or reconnecting vif), so the core's reference never keeps an
 * interface it does not want. */
#define NETNS_LINGER_MS 2000

static void netns_hold(struct domain *d)
{
	char path[64];

	if (d->role != BH_ROLE_DRIVER)
		return;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)d->pid);
	d->netns_fd = open(path, O_RDONLY | O_CLOEXEC); /* -1: let go with the process */
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)d->pid);
	d->mntns_fd = open(path, O_RDONLY | O_CLOEXEC);
}

static void close_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	close((int)(intptr_t)arg);
}

static void close_later(struct domain *d, int *fd)
{
	struct timeval tv = { NETNS_LINGER_MS / 1000, (NETNS_LINGER_MS % 1000) * 1000 };

	if (*fd < 0)
		return;
	if (event_base_once(d->core->base, -1, EV_TIMEOUT, close_cb, (void *)(intptr_t)*fd, &tv) <
	    0)
		close(*fd);
	*fd = -1;
}

static void netns_let_go(struct domain *d)
{
	close_later(d, &d->netns_fd);
	close_later(d, &d->mntns_fd);
	for (size_t i = 0; i < d->ntap_refs; i++)
		close_later(d, &d->tap_refs[i]);
	free(d->tap_refs);
	d->tap_refs = NULL;
	d->ntap_refs = 0;
	premade_taps_dispose(&d->premade, close_later_cb, d);
	premade_taps_dispose(&d->tap_names, close_later_cb, d);
}

void domain_keep_tap(struct domain *d, int fd)
{
	int *n, ref;

	if (d->role != BH_ROLE_DRIVER || (ref = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return; /* without it, the exit detaches the queue itself */
	if (!(n = reallocarray(d->tap_refs, d->ntap_refs + 1, sizeof(*n)))) {
		close(ref);
		return;
	}
	d->tap_refs = n;
	d->tap_refs[d->ntap_refs++] = ref;
}

/* Everything a generation holds, in reverse order of setup. Idempotent. */
static void release_generation(struct domain *d)
{
	struct core *c = d->core;

	if (d->grace_ev) {
		event_free(d->grace_ev);
		d->grace_ev = NULL;
	}

	if (d->chan.fd >= 0 || d->chan.ev)
		hc_conn_close(&d->chan);
	if (d->pid_ev) {
		event_free(d->pid_ev);
		d->pid_ev = NULL;
	}
	uplink_release(d); /* before the pid goes: its name is free for the next */
	netns_let_go(d);
	bh_closep(&d->pidfd);
	bh_closep(&d->go_fd);
	d->pid = 0;
	if (d->life_armed)
		life_disarm(c, d->incarnation);
	d->life_armed = false;
	life_page_drop(&d->life);
	evtchn_table_dispose(c, d);
	maptrack_dispose(c, d);
	grant_table_dispose(c, d);
	d->store_port = d->console_port = 0;
	/* Not now: an rmdir per controller (~150 us) was on the way of dom0
	 * hearing of the death, and so of a restart. */
	cg_remove_in(c, &d->cg, CG_REMOVE_LATER_MS);
}

static void classify_exit(struct domain *d, const siginfo_t *si)
{
	struct bh_cgroup_stats st = { 0 };

	d->core->cgctl.ops->stats(&d->core->cgctl, &d->cg, &st);
	if (si->si_code == CLD_EXITED)
		d->exit_status = si->si_status;
	else
		d->exit_signal = si->si_status;
	if (d->destroy_pending)
		d->crash_detail = BH_CRASH_DESTROYED;
	if (d->shutdown_requested || d->destroy_pending)
		return;
	if (si->si_code == CLD_EXITED && si->si_status == 0) {
		d->shutdown_reason = BH_SHUTDOWN_POWEROFF;
		return;
	}
	/* reboot(2) inside a pid namespace ends its init with SIGHUP
	 * (restart) or SIGINT (power off, halt); nothing else sends those to
	 * a domain's init. */
	if (si->si_code == CLD_KILLED && (si->si_status == SIGHUP || si->si_status == SIGINT)) {
		d->shutdown_reason =
		    si->si_status == SIGHUP ? BH_SHUTDOWN_REBOOT : BH_SHUTDOWN_POWEROFF;
		return;
	}
	d->shutdown_reason = BH_SHUTDOWN_CRASH;
	if (si->si_code == CLD_EXITED)
		d->crash_detail = BH_CRASH_EXIT;
	else if (si->si_status == SIGSYS)
		d->crash_detail = BH_CRASH_SECCOMP;
	else if (si->si_status == SIGKILL && st.oom_kills > 0)
		d->crash_detail = BH_CRASH_OOM;
	else
		d->crash_detail = BH_CRASH_SIGNAL;
}

static void log_end(struct domain *d)
{
	const char *reason = d->shutdown_reason < BH_ARRAY_SIZE(reason_names)
	                         ? reason_names[d->shutdown_reason]
	                         : "destroyed";
	char how[64] = "";

	if (d->exit_signal)
		snprintf(how, sizeof(how), ", signal %d", d->exit_signal);
	else if (d->exit_status)
		snprintf(how, sizeof(how), ", exit status %d", d->exit_status);
	bh_info(&d->core->log, "dom%u (%s) gen %u ended: %s%s%s%s%s", d->domid, d->name,
	        d->generation, reason, d->crash_detail ? " (" : "",
	        d->crash_detail ? detail_names[d->crash_detail] : "", d->crash_detail ? ")" : "",
	        d->ended_early ? ", seen exiting on its life page" : "");
	if (how[0])
		bh_info(&d->core->log, "dom%u (%s): process ended%s", d->domid, d->name, how);
}

static void reap(struct domain *d);
static int respawn(struct domain *d);

/* The domain's first process is gone (its pid namespace with it). */
static void handle_exit(struct domain *d, const siginfo_t *si)
{
	classify_exit(d, si);
	d->state = BH_DOMSTATE_SHUTDOWN;
	/* dom0 first, the release and the log after: dom0 wakes and asks
	 * while the generation is released (its question is answered after
	 * that: one thread here); the release (~0.5 ms: every closed event
	 * channel wakes its peer) and two log lines (~0.1 ms) were before
	 * the watchdog heard of it. */
	evtchn_raise_virq(d->core, BH_VIRQ_DOM_EXC);
	release_generation(d);
	log_end(d);
	if (d->destroy_pending)
		reap(d);
	else if (d->restart_pending)
		respawn(d);
}

static int wait_exit(struct domain *d, int timeout_ms)
{
	struct pollfd pfd = { .fd = d->pidfd, .events = POLLIN };
	siginfo_t si;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -ETIMEDOUT;
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)3 /* P_PIDFD */, (id_t)d->pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return -EAGAIN;
	handle_exit(d, &si);
	return 0;
}

static void on_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (wait_exit(arg, 0) == -EAGAIN) {
		struct domain *d = arg;
		event_add(d->pid_ev, NULL);
	}
}

/* ---- an end seen early (life.c) ------------------------------------- *
 *
 * A generation ended on its life page is still exiting: its process is
 * reaped here when its pidfd fires. It can run no code of its own any
 * more (every thread is in the kernel's exit), but its memory is still
 * being torn down. */
struct zombie {
	struct core *c;
	int pidfd;
	struct event *ev;
	struct zombie *next;
};

static void zombie_free(struct zombie *z)
{
	for (struct zombie **pp = &z->c->zombies; *pp; pp = &(*pp)->next) {
		if (*pp == z) {
			*pp = z->next;
			break;
		}
	}
	if (z->ev)
		event_free(z->ev);
	bh_closep(&z->pidfd);
	free(z);
}

static void zombie_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zombie *z = arg;
	siginfo_t si;

	(void)fd;
	(void)what;
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)3 /* P_PIDFD */, (id_t)z->pidfd, &si, WEXITED | WNOHANG) == 0 &&
	    si.si_pid == 0) {
		event_add(z->ev, NULL);
		return;
	}
	zombie_free(z);
}

/* At the core's end: wait for them. */
static void zombies_flush(struct core *c)
{
	while (c->zombies) {
		siginfo_t si;
		waitid((idtype_t)3 /* P_PIDFD */, (id_t)c->zombies->pidfd, &si, WEXITED);
		zombie_free(c->zombies);
	}
}

void domain_exiting(struct core *c, uint16_t domid, uint32_t incarnation)
{
	struct domain *d = c->doms[domid];
	struct zombie *z;
	siginfo_t si;
	int ws;

	if (!d || d->incarnation != incarnation || d->pidfd < 0 || d->opened_device ||
	    d->state == BH_DOMSTATE_SHUTDOWN)
		return;
	/* Not every thread exiting yet (the lock's holder alone?), or no
	 * exit code to read: the pidfd says when. */
	if (life_exit_status(d->pid, &ws) < 0 || !(z = calloc(1, sizeof(*z))))
		return;
	z->c = c;
	z->pidfd = d->pidfd;
	if (!(z->ev = event_new(c->base, z->pidfd, EV_READ, zombie_cb, z)) ||
	    event_add(z->ev, NULL) < 0) {
		if (z->ev)
			event_free(z->ev);
		free(z);
		return;
	}
	z->next = c->zombies;
	c->zombies = z;
	d->pidfd = -1; /* the zombie's */
	if (d->pid_ev) {
		event_free(d->pid_ev);
		d->pid_ev = NULL;
	}
	memset(&si, 0, sizeof(si));
	si.si_pid = d->pid;
	if (WIFSIGNALED(ws)) {
		si.si_code = WCOREDUMP(ws) ? CLD_DUMPED : CLD_KILLED;
		si.si_status = WTERMSIG(ws);
	} else {
		si.si_code = CLD_EXITED;
		si.si_status = WEXITSTATUS(ws);
	}
	d->ended_early = true;
	handle_exit(d, &si);
}

void domain_heartbeat(struct domain *d)
{
	d->last_heartbeat_ns = bh_now_ns();
	if (!d->life_armed && d->life.word && !d->opened_device)
		d->life_armed = life_arm(d->core, d->domid, d->incarnation, &d->life);
}

void domain_opened_device(struct domain *d)
{
	d->opened_device = true;
	if (d->life_armed)
		life_disarm(d->core, d->incarnation);
	d->life_armed = false;
}

/* SIGKILL the generation and wait (bounded) for it to be gone, so that
 * destroy and restart answer when they are done. A process stuck in the
 * kernel past the bound is finished later by on_exit_cb. */
static int kill_and_wait(struct domain *d)
{
	if (syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		return -errno;
	/* v1's freezer holds even SIGKILL: thaw. */
	if (d->state == BH_DOMSTATE_PAUSED)
		d->core->cgctl.ops->freeze(&d->core->cgctl, &d->cg, false);
	return wait_exit(d, KILL_WAIT_MS) == 0 ? 0 : -EINPROGRESS;
}

/* ---- the verbs -------------------------------------------------------- */

static void domain_free(struct domain *d)
{
	standby_discard(d);
	free(d->argv_blob);
	bh_closep(&d->exe_fd);
	device_list_dispose(d);
	uplink_dispose(d);
	free(d);
}

static void reap(struct domain *d)
{
	struct core *c = d->core;

	release_generation(d);
	standby_discard(d);
	c->doms[d->domid] = NULL;
	c->nr_domains--;
	bh_info(&c->log, "dom%u (%s) destroyed", d->domid, d->name);
	domain_free(d);
}

static int init_record(struct core *c, const struct bh_hc_create *req, const char *argv_blob,
                       struct domain **out)
{
	struct domain *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->core = c;
	d->exe_fd = -1;
	standby_init(&d->sb);
	d->cfg = *req;
	d->argv_blob = malloc(req->argv_len ? req->argv_len : 1);
	if (!d->argv_blob) {
		free(d);
		return -ENOMEM;
	}
	memcpy(d->argv_blob, argv_blob, req->argv_len);
	if (!d->cfg.weight)
		d->cfg.weight = 256;
	if (!d->cfg.max_grants)
		d->cfg.max_grants = c->opts.default_max_grants;
	if (!d->cfg.max_maptrack)
		d->cfg.max_maptrack = c->opts.default_max_maptrack;
	if (!d->cfg.max_ports)
		d->cfg.max_ports = c->opts.default_max_ports;
	d->role = (enum bh_role)req->role;
	d->flags = req->flags & BH_CREATE_PRIVILEGED;
	d->store_domid = req->store_domid;
	d->console_domid = req->console_domid;
	bh_strlcpy(d->name, req->name, sizeof(d->name));
	bh_strlcpy(d->label, req->label[0] ? req->label : default_labels[d->role],
	           sizeof(d->label));
	d->log = c->log;
	*out = d;
	return 0;
}

int domain_create(struct core *c, const struct bh_hc_create *req, const char *argv_blob,
                  bool host_image, struct domain **out)
{
	struct domain *d = NULL;
	char err[256] = "";
	uint16_t domid;
	int rc;

	if ((rc = check_request(c, req)) < 0)
		return rc;
	if ((rc = init_record(c, req, argv_blob, &d)) < 0)
		return rc;
	if ((rc = d->exe_fd = open_image(c, req->image, host_image)) < 0) {
		bh_warn(&c->log, "create %s: image %s: %s", req->name, req->image, bh_strerror(rc));
		goto fail;
	}
	if ((rc = pick_domid(c, req->domid, &domid)) < 0)
		goto fail;
	d->domid = domid;
	c->doms[domid] = d;
	c->nr_domains++;
	if ((rc = spawn(d, req->flags & BH_CREATE_PAUSED, err, sizeof(err))) < 0) {
		bh_warn(&c->log, "create dom%u (%s): %s", domid, d->name,
		        err[0] ? err : bh_strerror(rc));
		c->doms[domid] = NULL;
		c->nr_domains--;
		goto fail;
	}
	bh_info(&c->log, "dom%u (%s) created: role %u, %llu KiB, %u vcpu(s), pid %d%s", domid,
	        d->name, d->role, (unsigned long long)d->cfg.mem_kb, d->cfg.vcpus, (int)d->pid,
	        (req->flags & BH_CREATE_PAUSED) ? ", paused" : "");
	*out = d;
	return 0;
fail:
	domain_free(d);
	return rc;
}

int domain_unpause(struct domain *d)
{
	struct core *c = d->core;
	int rc;

	switch (d->state) {
	case BH_DOMSTATE_BUILDING:
		rc = bh_write_full(d->go_fd, "g", 1);
		bh_closep(&d->go_fd);
		if (rc < 0)
			return rc;
		d->state = BH_DOMSTATE_RUNNING;
		return 0;
	case BH_DOMSTATE_PAUSED:
		if ((rc = c->cgctl.ops->freeze(&c->cgctl, &d->cg, false)) < 0)
			return rc;
		d->state = BH_DOMSTATE_RUNNING;
		return 0;
	case BH_DOMSTATE_RUNNING:
		return 0;
	default:
		return -ESRCH;
	}
}

int domain_pause(struct domain *d)
{
	struct core *c = d->core;
	int rc;

	if (d->state == BH_DOMSTATE_PAUSED || d->state == BH_DOMSTATE_BUILDING)
		return 0;
	if (d->state != BH_DOMSTATE_RUNNING)
		return -ESRCH;
	if ((rc = c->cgctl.ops->freeze(&c->cgctl, &d->cg, true)) < 0)
		return rc;
	d->state = BH_DOMSTATE_PAUSED;
	return 0;
}

#define SHUTDOWN_GRACE_MS 10000

static void grace_expired(evutil_socket_t fd, short what, void *arg)
{
	struct domain *d = arg;

	bh_warn(&d->core->log, "dom%u (%s): did not shut down within %d s: killed", d->domid,
	        d->name, SHUTDOWN_GRACE_MS / 1000);
	syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
}

/* A guest asked from outside to shut down gets SIGTERM first: its PV
 * kernel shuts its programs down in order (as a PV guest reacts to
 * control/shutdown), and is killed only if it has not ended after
 * SHUTDOWN_GRACE_MS. Other roles, paused guests and a first process that
 * does not handle SIGTERM (it would be ignored: it is its pid namespace's
 * init) end at once. */
static bool catches_sigterm(pid_t pid)
{
	char path[64], buf[4096], *p;
	unsigned long long mask;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((n = bh_read_file(path, buf, sizeof(buf) - 1)) <= 0)
		return false;
	buf[n] = 0;
	if (!(p = strstr(buf, "\nSigCgt:")) || sscanf(p + 9, "%llx", &mask) != 1)
		return false;
	return mask & (1ull << (SIGTERM - 1));
}

static int shutdown_politely(struct domain *d)
{
	struct timeval tv = { SHUTDOWN_GRACE_MS / 1000, (SHUTDOWN_GRACE_MS % 1000) * 1000 };

	if (d->grace_ev)
		return 0; /* already on its way */
	if (!(d->grace_ev = evtimer_new(d->core->base, grace_expired, d)) ||
	    evtimer_add(d->grace_ev, &tv) < 0)
		return -ENOMEM;
	if (syscall(SYS_pidfd_send_signal, d->pidfd, SIGTERM, NULL, 0) < 0)
		return -errno;
	return 0;
}

int domain_shutdown(struct domain *d, enum bh_shutdown_reason reason, bool wait)
{
	if (d->state == BH_DOMSTATE_SHUTDOWN)
		return -ESRCH;
	d->shutdown_requested = true;
	d->shutdown_reason = reason;
	d->crash_detail = BH_CRASH_NONE;
	bh_info(&d->core->log, "dom%u (%s): shutdown requested: %s", d->domid, d->name,
	        reason_names[reason]);
	if (wait && d->role == BH_ROLE_GUEST && d->state == BH_DOMSTATE_RUNNING &&
	    (reason == BH_SHUTDOWN_POWEROFF || reason == BH_SHUTDOWN_REBOOT) &&
	    catches_sigterm(d->pid))
		return shutdown_politely(d);
	if (!wait) {
		/* A domain shutting itself down: its exit arrives through
		 * on_exit_cb, after this reply. */
		if (syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0) < 0)
			return -errno;
		return 0;
	}
	int rc = kill_and_wait(d);
	return rc == -EINPROGRESS ? 0 : rc;
}

int domain_destroy(struct domain *d)
{
	int rc;

	if (d->state == BH_DOMSTATE_SHUTDOWN) {
		reap(d);
		return 0;
	}
	d->destroy_pending = true;
	rc = kill_and_wait(d);
	return rc == -EINPROGRESS ? 0 : rc;
}

static int respawn(struct domain *d)
{
	char err[256] = "";
	int rc;

	d->generation++;
	rc = spawn(d, false, err, sizeof(err));
	if (rc < 0) {
		bh_warn(&d->core->log, "dom%u (%s): restart failed: %s", d->domid, d->name,
		        err[0] ? err : bh_strerror(rc));
		d->state = BH_DOMSTATE_SHUTDOWN;
		d->shutdown_reason = BH_SHUTDOWN_CRASH;
		d->crash_detail = BH_CRASH_SETUP;
		return rc;
	}
	bh_info(&d->core->log, "dom%u (%s) restarted: generation %u, pid %d", d->domid, d->name,
	        d->generation, (int)d->pid);
	return 0;
}

int domain_restart(struct domain *d)
{
	int rc;

	if (d->state != BH_DOMSTATE_SHUTDOWN) {
		d->restart_pending = true;
		d->shutdown_requested = true;
		d->shutdown_reason = BH_SHUTDOWN_REBOOT;
		rc = kill_and_wait(d);
		return rc == -EINPROGRESS ? -EAGAIN : rc; /* respawned by handle_exit */
	}
	return respawn(d);
}

void domain_fill_info(struct domain *d, struct bh_dominfo *out, bool usage)
{
	struct bh_cgroup_stats st = { 0 };
	struct core *c = d->core;

	memset(out, 0, sizeof(*out));
	out->domid = d->domid;
	out->state = d->state;
	out->role = d->role;
	out->flags = d->flags;
	out->shutdown_reason = d->shutdown_reason;
	out->crash_detail = d->crash_detail;
	out->exit_status = d->exit_status;
	out->exit_signal = d->exit_signal;
	out->generation = d->generation;
	out->vcpus = d->cfg.vcpus;
	out->weight = d->cfg.weight;
	out->cap = d->cfg.cap;
	out->pid = d->pid;
	out->mem_kb = d->cfg.mem_kb;
	if (usage && d->state != BH_DOMSTATE_SHUTDOWN &&
	    c->cgctl.ops->stats(&c->cgctl, &d->cg, &st) == 0) {
		out->mem_used_kb = st.mem_used / 1024;
		out->cpu_time_ns = st.cpu_ns;
	}
	out->start_time = d->start_time;
	out->heartbeat_age_ms =
	    d->last_heartbeat_ns ? (bh_now_ns() - d->last_heartbeat_ns) / 1000000 : UINT64_MAX;
	memcpy(out->cpumap, d->cfg.cpumap, sizeof(out->cpumap));
	bh_strlcpy(out->name, d->name, sizeof(out->name));
	bh_strlcpy(out->label, d->label, sizeof(out->label));
}

int domain_set_resources(struct domain *d, const struct bh_hc_setres *r)
{
	struct bh_hc_create cfg = d->cfg;
	struct core *c = d->core;
	int rc;

	if (r->which & ~(BH_SETRES_MEM | BH_SETRES_VCPUS | BH_SETRES_WEIGHT | BH_SETRES_CAP |
	                 BH_SETRES_CPUMAP))
		return -EINVAL;
	if (r->which & BH_SETRES_MEM)
		cfg.mem_kb = r->mem_kb;
	if (r->which & BH_SETRES_VCPUS)
		cfg.vcpus = r->vcpus;
	if (r->which & BH_SETRES_WEIGHT)
		cfg.weight = r->weight;
	if (r->which & BH_SETRES_CAP)
		cfg.cap = r->cap;
	if (r->which & BH_SETRES_CPUMAP)
		memcpy(cfg.cpumap, r->cpumap, sizeof(cfg.cpumap));
	if (cfg.mem_kb < MIN_MEM_KB || cfg.vcpus == 0 || cfg.vcpus > 128 || cfg.weight == 0 ||
	    cfg.weight > 65535 || cfg.cap > 100 * 128)
		return -EINVAL;
	if (d->state != BH_DOMSTATE_SHUTDOWN &&
	    (rc = bh_cgroup_configure(&c->cgctl, &d->cg, cfg.mem_kb * 1024, cfg.vcpus, cfg.weight,
	                              cfg.cap, cfg.cpumap, BH_CPUMAP_WORDS)) < 0)
		return rc;
	d->cfg = cfg;
	/* The standby's cgroup has the old limits: build it again. */
	if (d->sb.pid > 0 || d->sb.job || d->sb.timer) {
		standby_discard(d);
		if (d->state != BH_DOMSTATE_SHUTDOWN)
			standby_arm(d);
	}
	return 0;
}

void domain_destroy_all(struct core *c)
{
	for (uint32_t id = 0; id <= BH_DOMID_MAX; id++) {
		struct domain *d = c->doms[id];
		if (!d)
			continue;
		if (d->state != BH_DOMSTATE_SHUTDOWN)
			domain_destroy(d);
		if (c->doms[id] == d) /* not gone yet: stuck in the kernel */
			reap(d);
	}
	life_dispose(c);
	zombies_flush(c);
}
