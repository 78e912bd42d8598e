/* Fuzz target: any bytes as a config file (and as an override, a disk
 * spec and a vif spec); must never crash or leak, whatever it reports. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct xlcfg_diags d = { 0 };
	struct bh_domcfg *cfg = NULL;
	struct bh_disk disk;
	struct bh_vif vif;
	const char *ov[1];
	char *json;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (!xlcfg_parse_string("fuzz.cfg", text, NULL, 0, &cfg, &d)) {
		json = xlcfg_json_dump(cfg);
		free(json);
		xlcfg_free(cfg);
	}
	/* The same bytes as one override on top of a minimal file. */
	ov[0] = text;
	if (!xlcfg_parse_string("base.cfg", "name='f'\n", ov, 1, &cfg, &d))
		xlcfg_free(cfg);
	if (!xlcfg_disk_parse(text, "fuzz", &disk, &d))
		xlcfg_disk_free(&disk);
	if (!xlcfg_vif_parse(text, "fuzz", &vif, &d))
		xlcfg_vif_free(&vif);
	xlcfg_vdev_to_number(text);
	xlcfg_diags_free(&d);
	free(text);
	return 0;
}
