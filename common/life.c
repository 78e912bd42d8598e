/* The domain's side of the life page (common/life.h, core/life.c). */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulkhead/hypercall.h"
#include "common/life.h"

/* The core watches the page's first 32 bits: glibc's futex word comes
 * first in pthread_mutex_t (and is the kernel's robust futex word). */
_Static_assert(offsetof(pthread_mutex_t, __data.__lock) == 0, "the futex word leads");

int bh_life_hold(void)
{
	pthread_mutexattr_t a;
	pthread_mutex_t *m;
	struct stat st;
	int rc;

	if (fstat(BH_LIFE_FD, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(*m))
		return -EINVAL;
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, BH_LIFE_FD, 0);
	if (m == MAP_FAILED)
		return -errno;
	close(BH_LIFE_FD);
	if ((rc = pthread_mutexattr_init(&a)) == 0 &&
	    (rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0 &&
	    (rc = pthread_mutex_init(m, &a)) == 0)
		rc = pthread_mutex_lock(m);
	pthread_mutexattr_destroy(&a);
	if (rc != 0) {
		munmap(m, sizeof(*m));
		return -rc;
	}
	return 0; /* held, and mapped, until the process ends */
}
