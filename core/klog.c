/* The core's log ring: the last CORE_KLOG_LINES lines, numbered, for
 * SYSCTL_READCONSOLE (`bh dmesg`), like Xen's console ring. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void klog_sink(void *arg, enum bh_log_level level, const char *line)
{
	struct klog *k = arg;
	char **slot = &k->lines[k->next_seq % CORE_KLOG_LINES];

	(void)level;
	free(*slot);
	*slot = strdup(line);
	k->next_seq++;
}

void klog_dispose(struct klog *k)
{
	for (size_t i = 0; i < CORE_KLOG_LINES; i++) {
		free(k->lines[i]);
		k->lines[i] = NULL;
	}
}

size_t klog_read(const struct klog *k, uint64_t *seq_inout, char *buf, size_t cap,
                 uint32_t *nlines_out)
{
	uint64_t seq = *seq_inout, oldest;
	size_t len = 0;
	uint32_t n = 0;

	oldest = k->next_seq > CORE_KLOG_LINES ? k->next_seq - CORE_KLOG_LINES : 0;
	if (seq < oldest)
		seq = oldest;
	for (; seq < k->next_seq; seq++) {
		const char *line = k->lines[seq % CORE_KLOG_LINES];
		size_t l = line ? strlen(line) : 0;
		if (len + l + 1 > cap)
			break;
		memcpy(buf + len, line ? line : "", l);
		buf[len + l] = '\n';
		len += l + 1;
		n++;
	}
	*seq_inout = seq;
	*nlines_out = n;
	return len;
}
