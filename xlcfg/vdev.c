/* Virtual device names to xenstore device ids (xen-vbd-interface):
 *   xvdX[N]  202<<8 | disk<<4 | part      (disk <= 15, part <= 15)
 *            1<<28 | disk<<8 | part       (disk <= 2^20-1, part <= 255)
 *   sdX[N]   8<<8 | disk<<4 | part        (disk <= 15, part <= 15)
 *   hdX[N]   3<<8 | disk<<6 | part        (hda, hdb; part <= 63)
 *            22<<8 | (disk-2)<<6 | part   (hdc, hdd)
 * Disk letters count like Linux: a..z, aa..zz, ... (xvdaa is disk 26). */
#include <ctype.h>
#include <string.h>

#include "xlcfg/xlcfg.h"

/* Letters then an optional partition without leading zero. 0 or -1. */
static int split_name(const char *s, long *disk, long *part)
{
	long d = 0, p = 0;
	int letters = 0, digits = 0;

	while (*s >= 'a' && *s <= 'z') {
		if (++letters > 4)
			return -1;
		d = d * 26 + (*s - 'a' + 1);
		s++;
	}
	if (!letters)
		return -1;
	if (*s == '0')
		return -1; /* "xvda0": partition 0 is written as no number */
	while (isdigit((unsigned char)*s)) {
		if (++digits > 3)
			return -1;
		p = p * 10 + (*s - '0');
		s++;
	}
	if (*s)
		return -1;
	*disk = d - 1;
	*part = p;
	return 0;
}

int xlcfg_vdev_to_number(const char *vdev)
{
	long disk, part;

	if (!vdev)
		return -1;
	if (!strncmp(vdev, "xvd", 3)) {
		if (split_name(vdev + 3, &disk, &part))
			return -1;
		if (disk <= 15 && part <= 15)
			return (202 << 8) | (int)(disk << 4) | (int)part;
		if (disk < (1 << 20) && part <= 255)
			return (1 << 28) | (int)(disk << 8) | (int)part;
		return -1;
	}
	if (!strncmp(vdev, "sd", 2)) {
		if (split_name(vdev + 2, &disk, &part) || disk > 15 || part > 15)
			return -1;
		return (8 << 8) | (int)(disk << 4) | (int)part;
	}
	if (!strncmp(vdev, "hd", 2)) {
		if (split_name(vdev + 2, &disk, &part) || disk > 3 || part > 63)
			return -1;
		if (disk < 2)
			return (3 << 8) | (int)(disk << 6) | (int)part;
		return (22 << 8) | (int)((disk - 2) << 6) | (int)part;
	}
	return -1;
}
