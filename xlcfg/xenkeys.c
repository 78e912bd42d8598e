/* Keys of Xen's xl.cfg(5) that Bulkhead reads but does not act on. They
 * get a warning naming the key (rather than "unknown key") so that a user
 * bringing a config from Xen knows the setting is understood and dropped.
 * Sorted, for bsearch. */
#include <stdlib.h>
#include <string.h>

#include "xlcfg/xlcfg_int.h"

static const char *const xen_keys[] = {
	"acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m",
	"altp2mhvm", "apic", "bios", "bios_path_override", "blkdev", "boot", "bootloader",
	"bootloader_args", "channel", "claim_mode", "cpuid", "cpus_soft", "device_model",
	"device_model_args_hvm", "device_model_args_pv", "device_model_override",
	"device_model_stubdomain_override", "device_model_stubdomain_seclabel",
	"device_model_user", "device_model_version", "direct_map", "dm_restrict", "dt_passthrough_nodes",
	"dtdev", "e820_host", "event_channels", "firmware", "gfx_passthru", "gic_version", "hap",
	"hdtype", "hpet", "init_seclabel", "iomem", "ioports", "irqs", "keymap", "llc_colors",
	"localtime", "max_event_channels", "max_grant_frames", "max_grant_version",
	"max_maptrack_frames", "mca_caps", "mmio_hole", "ms_vm_genid", "nestedhvm",
	"nographic", "nomigrate", "on_soft_reset", "oos", "opengl", "p9", "pae", "passthrough",
	"pci", "pci_msitranslate", "pci_permissive", "pci_power_mgmt", "pci_seize", "pool",
	"pvcalls", "pvh", "pvshim", "pvshim_cmdline", "pvshim_extra", "pvshim_path", "rdm",
	"rdm_mem_boundary", "rtc_timeoffset", "serial", "shadow_memory", "smbios_firmware",
	"soundhw", "spice", "spice_clipboard_sharing", "spice_image_compression",
	"spice_streaming_video", "spiceagent_mouse", "spicedisable_ticketing", "spicehost",
	"spicepasswd", "spiceport", "spicetls_port", "spiceusbredirection", "spicevdagent",
	"stdvga", "stubdomain_cmdline", "stubdomain_kernel", "stubdomain_memory",
	"stubdomain_ramdisk", "sve", "tee", "timer_mode", "trap_unmapped_accesses", "tsc_mode",
	"usb", "usbctrl", "usbdev", "usbdevice", "usbversion", "vcpu_hard_affinity", "vdispl",
	"vendor_device", "vfb", "vga", "videoram", "viridian", "vkb", "vnc", "vncconsole",
	"vncdisplay", "vnclisten", "vncpasswd", "vncunused", "vnuma", "vpmu", "vpt_align",
	"vsnd", "vtpm", "vuart", "xen_platform_pci", "xenstore_feature_mask", "xenstore_quota",
};

static int cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool xlcfg_xen_key_known(const char *key)
{
	return bsearch(&key, xen_keys, sizeof(xen_keys) / sizeof(xen_keys[0]), sizeof(xen_keys[0]),
		       cmp) != NULL;
}
