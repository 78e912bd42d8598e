/* A driver domain's life page: word of its death before its exit is done.
 *
 * The core learns that a domain's process ended from its pidfd, which is
 * readable only once the process is a zombie. A network driver domain
 * killed with its guests connected spends ~1 ms of its exit before that,
 * unmapping and freeing its grant mappings (exit_mmap: one VMA per mapped
 * guest page, ~530 of them), and its guests' outage waits for it.
 *
 * The kernel does one thing for an exiting thread before it tears its
 * memory down: it walks the thread's robust futex list (exit_mm_release),
 * marks each futex the thread holds FUTEX_OWNER_DIED and wakes one waiter.
 * So each driver-domain generation gets a page of shared memory (BH_LIFE_FD,
 * include/bulkhead/hypercall.h) in which it holds a process-shared robust
 * mutex for as long as it lives (common/life.c); its futex word is the
 * page's first 32 bits. Once the word carries an owner (checked at each
 * heartbeat, when the lock is surely taken), one thread of the core waits
 * on it (futex_waitv over every armed page and a word of its own that the
 * event loop bumps when the set changes) with FUTEX_WAITERS set, so that
 * the kernel's mark wakes it. It tells the event loop through an eventfd;
 * domain_exiting() then checks that the whole process is on its way out
 * (life_exit_status) and ends the generation as if its pidfd had fired.
 * The zombie is reaped later (domain.c).
 *
 * A mark is only a hint: a thread that held the lock can exit alone, and
 * a domain can write the word itself. Nothing is done on it unless
 * /proc says every thread of the process is exiting and gives its exit
 * code, which the kernel sets before the walk. A domain that changes its
 * word (it never lets go of the lock) more than LIFE_CHURN_MAX times is
 * no longer watched: its end is seen at the reap. One that only wakes
 * the word costs this thread a look at the set per wake, as any of its
 * hypercalls costs the core an answer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/futex.h>
#include <event2/event.h>

#include "common/util.h"
#include "core/core.h"

#define LIFE_PAGE      4096
#define LIFE_MAX       (FUTEX_WAITV_MAX - 1) /* one waiter is the control word */
#define PF_EXITING_    0x00000004u           /* include/linux/sched.h */
#define LIFE_CHURN_MAX 8

struct life_slot {
	uint32_t *word;
	uint16_t domid;
	uint32_t incarnation;
	bool fired;
	bool waiting;   /* FUTEX_WAITERS set by us once */
	unsigned churn; /* the word changed under us, not by the kernel's mark */
};

struct life_watch {
	struct core *c;
	pthread_mutex_t lock;
	pthread_t thread;
	bool stop, broken;
	uint32_t ctl; /* bumped at every change of the set (under lock) */
	struct life_slot slot[LIFE_MAX];
	unsigned n;
	int efd;
	struct event *ev;
};

int life_page_make(struct life_page *lp)
{
	void *p;

	lp->fd = -1;
	lp->word = NULL;
	if ((lp->fd = memfd_create("bh-life", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0)
		return -errno;
	if (ftruncate(lp->fd, LIFE_PAGE) < 0 ||
	    fcntl(lp->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ||
	    (p = mmap(NULL, LIFE_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, lp->fd, 0)) ==
	        MAP_FAILED) {
		int rc = -errno;
		bh_closep(&lp->fd);
		return rc;
	}
	lp->word = p;
	return 0;
}

void life_page_drop(struct life_page *lp)
{
	if (lp->word)
		munmap((void *)lp->word, LIFE_PAGE);
	lp->word = NULL;
	bh_closep(&lp->fd);
}

static void ctl_bump(struct life_watch *w)
{
	__atomic_add_fetch(&w->ctl, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &w->ctl, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *watch_thread(void *arg)
{
	struct life_watch *w = arg;
	struct futex_waitv wv[FUTEX_WAITV_MAX];
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		unsigned nw = 0;
		bool fired = false, again = false;

		for (unsigned i = 0; i < w->n; i++) {
			struct life_slot *s = &w->slot[i];
			uint32_t v = __atomic_load_n(s->word, __ATOMIC_SEQ_CST);

			if (s->fired || s->churn > LIFE_CHURN_MAX)
				continue;
			if (v & FUTEX_OWNER_DIED) {
				s->fired = fired = true;
				continue;
			}
			/* Only the domain itself changes the word while it lives
			 * (it never lets go of the mutex): one that plays with it
			 * loses the early notice, rather than keep this thread
			 * busy. */
			if (!(v & FUTEX_TID_MASK)) {
				s->churn++;
				continue;
			}
			if (!(v & FUTEX_WAITERS)) {
				/* Set it, or the kernel's mark wakes nobody. */
				if (s->waiting)
					s->churn++;
				if (!__atomic_compare_exchange_n(s->word, &v, v | FUTEX_WAITERS,
				                                 false, __ATOMIC_SEQ_CST,
				                                 __ATOMIC_SEQ_CST)) {
					s->churn++;
					again = true; /* changed meanwhile: look again */
					continue;
				}
				s->waiting = true;
			}
			wv[nw++] = (struct futex_waitv){ .val = v | FUTEX_WAITERS,
				                         .uaddr = (uintptr_t)s->word,
				                         .flags = FUTEX_32 };
		}
		if (fired && write(w->efd, &one, sizeof(one)) < 0) {
			/* an eventfd at its limit is readable anyway */
		}
		if (again)
			continue;
		wv[nw++] = (struct futex_waitv){ .val = __atomic_load_n(&w->ctl, __ATOMIC_SEQ_CST),
			                         .uaddr = (uintptr_t)&w->ctl,
			                         .flags = FUTEX_32 | FUTEX_PRIVATE_FLAG };
		pthread_mutex_unlock(&w->lock);
		long rc = syscall(SYS_futex_waitv, wv, nw, 0, NULL, CLOCK_MONOTONIC);
		pthread_mutex_lock(&w->lock);
		if (rc < 0 && errno == ENOSYS) {
			w->broken = true; /* before 5.16: pidfds only */
			break;
		}
		/* A woken index, EAGAIN (a value moved), EFAULT (a page
		 * dropped meanwhile), EINTR: look at the set again. */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void on_fired(evutil_socket_t fd, short what, void *arg)
{
	struct life_watch *w = arg;
	struct {
		uint16_t domid;
		uint32_t incarnation;
	} hit[LIFE_MAX];
	unsigned nhit = 0;
	uint64_t v;

	(void)what;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing new */
	}
	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < w->n;) {
		if (!w->slot[i].fired) {
			i++;
			continue;
		}
		hit[nhit].domid = w->slot[i].domid;
		hit[nhit++].incarnation = w->slot[i].incarnation;
		w->slot[i] = w->slot[--w->n];
	}
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < nhit; i++)
		domain_exiting(w->c, hit[i].domid, hit[i].incarnation);
}

static struct life_watch *watch_get(struct core *c)
{
	struct life_watch *w = c->life;

	if (w)
		return w->broken ? NULL : w;
	if (!(w = calloc(1, sizeof(*w))))
		return NULL;
	w->c = c;
	pthread_mutex_init(&w->lock, NULL);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0 ||
	    !(w->ev = event_new(c->base, w->efd, EV_READ | EV_PERSIST, on_fired, w)) ||
	    event_add(w->ev, NULL) < 0 || pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
		if (w->ev)
			event_free(w->ev);
		if (w->efd >= 0)
			close(w->efd);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return NULL;
	}
	c->life = w;
	return w;
}

bool life_arm(struct core *c, uint16_t domid, uint32_t incarnation, const struct life_page *lp)
{
	struct life_watch *w;
	bool ok = false;

	if (!lp->word || !(*lp->word & FUTEX_TID_MASK) || !(w = watch_get(c)))
		return false;
	pthread_mutex_lock(&w->lock);
	if (w->n < LIFE_MAX && !w->broken) {
		w->slot[w->n++] = (struct life_slot){ .word = lp->word,
			                              .domid = domid,
			                              .incarnation = incarnation };
		ctl_bump(w);
		ok = true;
	}
	pthread_mutex_unlock(&w->lock);
	return ok;
}

void life_disarm(struct core *c, uint32_t incarnation)
{
	struct life_watch *w = c->life;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < w->n; i++) {
		if (w->slot[i].incarnation == incarnation) {
			w->slot[i] = w->slot[--w->n];
			ctl_bump(w);
			break;
		}
	}
	pthread_mutex_unlock(&w->lock);
}

void life_dispose(struct core *c)
{
	struct life_watch *w = c->life;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	w->n = 0;
	ctl_bump(w);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	event_free(w->ev);
	close(w->efd);
	pthread_mutex_destroy(&w->lock);
	free(w);
	c->life = NULL;
}

/* Field FIELD (1-based, as proc(5) counts) of a /proc stat line, or -1. */
static long long stat_field(const char *line, unsigned field)
{
	const char *p = strrchr(line, ')'); /* the command may hold anything */
	unsigned at = 2;

	if (!p)
		return -1;
	p++;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (++at == field)
			return strtoll(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}

/* The field of a stat file: >= 0, -ENOENT if the task is gone, or -EIO. */
static long long read_stat_field(int dirfd, const char *path, unsigned field)
{
	char buf[1024];
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	long long v;
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -EIO;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 && errno == ESRCH ? -ENOENT : -EIO;
	buf[n] = '\0';
	v = stat_field(buf, field);
	return v < 0 ? -EIO : v;
}

int life_exit_status(pid_t pid, int *wstatus)
{
	char path[64];
	struct dirent *e;
	int pfd, tfd, rc = 0;
	long long code;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if ((pfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if ((tfd = openat(pfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(dir = fdopendir(tfd))) {
		rc = -errno;
		if (tfd >= 0)
			close(tfd);
		close(pfd);
		return rc;
	}
	/* Every thread past the start of its exit (a thread already gone
	 * is not listed; one we cannot read must not count as exiting). */
	while (rc == 0 && (e = readdir(dir))) {
		char sp[300];
		long long flags;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(sp, sizeof(sp), "%s/stat", e->d_name);
		flags = read_stat_field(dirfd(dir), sp, 9);
		if (flags == -EIO || (flags >= 0 && !((unsigned long long)flags & PF_EXITING_)))
			rc = -EAGAIN;
	}
	closedir(dir);
	/* exit_code (field 52, readable to whoever may ptrace it): 0 is an
	 * exit(0) or a field we may not read; leave those to the pidfd. */
	code = rc == 0 ? read_stat_field(pfd, "stat", 52) : -1;
	close(pfd);
	if (rc < 0)
		return rc;
	if (code <= 0 || code > 0xffff)
		return -EAGAIN;
	*wstatus = (int)code;
	return 0;
}
