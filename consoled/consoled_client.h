/* The client side of the console daemon's socket, for `bh console` and
 * bulkhead-consoled's own --attach/--tail/--list. Blocking calls; no event
 * loop needed. TARGET is a domid ("3") or a domain name ("web"). */
#ifndef BH_CONSOLED_CLIENT_H
#define BH_CONSOLED_CLIENT_H

#include <stddef.h>

#define CONSOLED_ESCAPE_DEFAULT 0x1d /* Ctrl-], as `xl console` */

/* Attach to TARGET's console: input from in_fd goes to the guest, its
 * output to out_fd. If in_fd is a terminal it is put in raw mode and
 * restored before returning. Returns
 *    0  detached: the escape byte was typed, or in_fd reached its end
 *    1  the console closed (the domain ended, or the daemon stopped)
 *   <0  a negative errno; with -EBUSY, -ENOENT, -EPROTO etc. the daemon's
 *       "error: ..." text is copied into err (may be NULL).
 * escape < 0: no escape byte (only end of input detaches). */
int consoled_client_attach(const char *sock_path, const char *target, int in_fd, int out_fd,
                           int escape, char *err, size_t errcap);

/* Write the last `lines` lines of TARGET's log to out_fd (0: the whole log,
 * up to its last 4 MiB). Works for domains that have ended too. */
int consoled_client_tail(const char *sock_path, const char *target, unsigned lines, int out_fd,
                         char *err, size_t errcap);

/* One request line (without "\n"), e.g. "list" or "add 3 web 7"; what the
 * daemon sends after its "ok" goes to out_fd (-1: discarded). */
int consoled_client_request(const char *sock_path, const char *request, int out_fd, char *err,
                            size_t errcap);

#endif
