/* Fuzz target for the store's message parser: arbitrary bytes, cut into
 * chunks, fed to a privileged and an unprivileged connection. Nothing may
 * crash or leak; a connection that breaks the protocol is replaced. */
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "xenstored/xsd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xsd *s = xsd_new(NULL, NULL);
	struct xsd_conn *c[2] = { xsd_conn_new(s, 0, true, NULL), xsd_conn_new(s, 5, false, NULL) };

	while (size > 0) {
		int which = data[0] & 1;
		size_t n = (size_t)(data[0] >> 1) * 8 + 1;

		data++;
		size--;
		if (n > size)
			n = size;
		if (xsd_conn_input(c[which], data, n) < 0) {
			xsd_conn_free(c[which]);
			c[which] = xsd_conn_new(s, which ? 5 : 0, !which, NULL);
		}
		for (int i = 0; i < 2; i++) {
			struct evbuffer *out = xsd_conn_output(c[i]);

			evbuffer_drain(out, evbuffer_get_length(out));
			xsd_conn_input(c[i], NULL, 0);
		}
		data += n;
		size -= n;
	}
	xsd_domain_released(s, 5);
	xsd_free(s);
	return 0;
}
