/* The console daemon, embedded in bulkhead-dom0's event loop: the glue
 * between the toolstack's hooks and consoled/ (docs/console.md). */
#ifndef BH_DOM0_CONSOLE_H
#define BH_DOM0_CONSOLE_H

#include <event2/event.h>

#include "toolstack/toolstack.h"

struct dom0_console;

/* Logs go to LOGDIR/<name>.log; `bh console` attaches through SOCKET. */
int dom0_console_start(struct event_base *base, const char *logdir, const char *socket,
                       struct dom0_console **out);
/* Fills the toolstack's console hooks. */
void dom0_console_hook(struct dom0_console *c, struct bhtool_console_ops *ops);
void dom0_console_stop(struct dom0_console *c);

#endif
