/* CPU lists of "cpus=": "all", "3", "0-3", "^2" (exclude), comma-separated
 * and applied left to right; a list of only exclusions starts from all.
 * Bulkhead maps up to 256 host CPUs (struct bh_domcfg.cpumap). NUMA node
 * forms ("nodes:0-1") are Xen-only and refused with a clear message. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

#define NCPUS 256

static int cpu_number(const char **s, unsigned *out, const char **why)
{
	unsigned long v = 0;
	const char *p = *s;

	if (!isdigit((unsigned char)*p)) {
		*why = "expected a CPU number, a range like 0-3, ^N or \"all\"";
		return -EINVAL;
	}
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long)(*p++ - '0');
		if (v >= NCPUS) {
			*why = "CPU number out of range (Bulkhead supports CPUs 0 to 255)";
			return -ERANGE;
		}
	}
	*s = p;
	*out = (unsigned)v;
	return 0;
}

static void set_range(uint64_t map[4], unsigned a, unsigned b, bool on)
{
	for (unsigned c = a; c <= b; c++) {
		if (on)
			map[c / 64] |= 1ull << (c % 64);
		else
			map[c / 64] &= ~(1ull << (c % 64));
	}
}

/* One item: all | N | N-M, with an optional leading ^. */
static int item(const char **s, uint64_t map[4], const char **why)
{
	bool neg = **s == '^';
	unsigned a, b;

	if (neg)
		(*s)++;
	if (!strncmp(*s, "all", 3)) {
		*s += 3;
		a = 0;
		b = NCPUS - 1;
	} else {
		if (cpu_number(s, &a, why))
			return -EINVAL;
		b = a;
		if (**s == '-') {
			(*s)++;
			if (cpu_number(s, &b, why))
				return -EINVAL;
			if (b < a) {
				*why = "range goes backwards (write the low CPU first)";
				return -EINVAL;
			}
		}
	}
	set_range(map, a, b, !neg);
	return 0;
}

/* Does the list have an item that adds CPUs? */
static bool has_positive(const char *s)
{
	for (const char *p = s; *p; p++) {
		while (*p == ' ')
			p++;
		if (*p && *p != '^')
			return true;
		p = strchr(p, ',');
		if (!p)
			break;
	}
	return false;
}

int xlcfg_cpus_parse(const char *s, uint64_t map[4], const char **why)
{
	memset(map, 0, 4 * sizeof(*map));
	if (!strncmp(s, "nodes:", 6) || !strncmp(s, "node:", 5)) {
		*why = "NUMA node affinity is not supported by Bulkhead";
		return -EINVAL;
	}
	if (!*s) {
		*why = "empty CPU list";
		return -EINVAL;
	}
	if (!has_positive(s))
		set_range(map, 0, NCPUS - 1, true); /* only exclusions: from all */
	for (;;) {
		while (*s == ' ')
			s++;
		if (item(&s, map, why))
			return -EINVAL;
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		if (*s++ != ',') {
			*why = "expected ',' between CPU items";
			return -EINVAL;
		}
	}
	if (!(map[0] | map[1] | map[2] | map[3])) {
		*why = "the list leaves no CPU";
		return -EINVAL;
	}
	return 0;
}
