#include "xenstored/xs_testlib.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

void peer_init(struct peer *p, struct xsd *s, unsigned domid, bool priv)
{
	memset(p, 0, sizeof(*p));
	p->c = xsd_conn_new(s, domid, priv, NULL);
}

static bool pop(struct peer *p, struct xsd_sockmsg *h, char *buf)
{
	struct evbuffer *out = xsd_conn_output(p->c);

	if (evbuffer_get_length(out) < sizeof(*h))
		return false;
	evbuffer_remove(out, h, sizeof(*h));
	evbuffer_remove(out, buf, h->len);
	buf[h->len] = '\0';
	return true;
}

static void note_event(struct peer *p, const char *buf)
{
	if (p->nev < 256)
		snprintf(p->ev[p->nev++], sizeof(p->ev[0]), "%.60s %.60s", buf,
		         buf + strlen(buf) + 1);
}

void peer_drain(struct peer *p)
{
	struct xsd_sockmsg h;
	char buf[XENSTORE_PAYLOAD_MAX + 1];

	while (pop(p, &h, buf))
		if (h.type == XS_WATCH_EVENT)
			note_event(p, buf);
}

int peer_call(struct peer *p, uint32_t type, uint32_t tx, const void *payload, size_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = 7, .tx_id = tx, .len = (uint32_t)len };
	char msg[sizeof(h) + XENSTORE_PAYLOAD_MAX];
	char buf[XENSTORE_PAYLOAD_MAX + 1];

	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), payload, len);
	if (xsd_conn_input(p->c, msg, sizeof(h) + len) < 0)
		return -1;
	while (pop(p, &h, buf)) {
		if (h.type == XS_WATCH_EVENT) {
			note_event(p, buf);
			continue;
		}
		p->rtype = h.type;
		p->rlen = h.len;
		memcpy(p->reply, buf, h.len + 1);
		if (h.type == XS_ERROR)
			return xsd_errnum(buf);
		return 0;
	}
	return -2; /* no reply */
}

int peer_callv(struct peer *p, uint32_t type, uint32_t tx, int n, ...)
{
	char buf[XENSTORE_PAYLOAD_MAX + 16];
	size_t len = 0;
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		const char *s = va_arg(ap, const char *);
		size_t l = strlen(s) + 1;

		memcpy(buf + len, s, l);
		len += l;
	}
	va_end(ap);
	return peer_call(p, type, tx, buf, len);
}

bool peer_has_event(struct peer *p, const char *path, const char *token)
{
	char want[256];

	peer_drain(p);
	snprintf(want, sizeof(want), "%s %s", path, token);
	for (int i = 0; i < p->nev; i++)
		if (strcmp(p->ev[i], want) == 0)
			return true;
	return false;
}

void peer_clear(struct peer *p)
{
	peer_drain(p);
	p->nev = 0;
}

int xs_write(struct peer *p, uint32_t tx, const char *path, const char *val)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t pl = strlen(path) + 1, vl = strlen(val);

	memcpy(buf, path, pl);
	memcpy(buf + pl, val, vl);
	return peer_call(p, XS_WRITE, tx, buf, pl + vl);
}

int xs_read(struct peer *p, uint32_t tx, const char *path)
{
	return peer_callv(p, XS_READ, tx, 1, path);
}

uint32_t xs_tx_start(struct peer *p)
{
	if (peer_call(p, XS_TRANSACTION_START, 0, "", 1) != 0)
		return 0;
	return (uint32_t)strtoul(p->reply, NULL, 10);
}

int xs_tx_end(struct peer *p, uint32_t tx, bool commit)
{
	return peer_callv(p, XS_TRANSACTION_END, tx, 1, commit ? "T" : "F");
}
