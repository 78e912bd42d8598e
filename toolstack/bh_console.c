/* `bh console`: the console daemon's client (consoled/consoled_client.h). */
#include <stdio.h>
#include <unistd.h>

#include "consoled/consoled_client.h"

int bh_console_attach(const char *socket, const char *dom, int escape);

int bh_console_attach(const char *socket, const char *dom, int escape)
{
	char err[256] = "";
	int rc = consoled_client_attach(socket, dom, STDIN_FILENO, STDOUT_FILENO, escape, err,
	                                sizeof(err));

	if (rc < 0)
		fprintf(stderr, "bh console: %s\n", err[0] ? err : "cannot attach");
	return rc;
}
