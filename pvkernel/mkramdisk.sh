#!/bin/sh
# Builds Bulkhead's default PV guest ramdisk: an uncompressed newc cpio
# with busybox (Debian's busybox-static) and e2fsprogs' mkfs.ext4/e2fsck
# with the libraries they need. Usage: mkramdisk.sh OUTPUT.cpio
set -eu
out=$1
busybox=$(command -v busybox || echo /bin/busybox)
[ -x "$busybox" ] || { echo "mkramdisk: busybox-static is not installed" >&2; exit 1; }
file "$busybox" 2>/dev/null | grep -q "statically linked" || true

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" "$root/dev" \
  "$root/tmp" "$root/root" "$root/var/log" "$root/www" "$root/mnt" "$root/usr/bin" "$root/usr/sbin"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done

# e2fsprogs, with the shared libraries it links (guests have no /usr of
# the host: what they run must be in their ramdisk).
copy_with_libs() {
  bin=$(command -v "$1") || return 0
  cp -L "$bin" "$root/sbin/$1"
  ldd "$bin" 2>/dev/null | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
    [ -f "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
for tool in mke2fs e2fsck; do copy_with_libs "$tool"; done
for name in mkfs.ext4 mkfs.ext3 mkfs.ext2; do [ -e "$root/sbin/mke2fs" ] && ln -sf mke2fs "$root/sbin/$name"; done
for name in fsck.ext4 fsck.ext3 fsck.ext2; do [ -e "$root/sbin/e2fsck" ] && ln -sf e2fsck "$root/sbin/$name"; done
# busybox's own mke2fs/e2fsck links must not shadow the real ones
rm -f "$root/bin/mke2fs" "$root/bin/mkfs.ext2" "$root/bin/e2fsck" "$root/bin/fsck.ext2"

cat > "$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/:/bin/false
P
cat > "$root/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
echo "127.0.0.1 localhost" > "$root/etc/hosts"
: > "$root/etc/mtab"

# /init: what the PV kernel runs when the config names no other init. The
# command line's arguments (xl.cfg `cmdline`/`extra`) are run by sh; with
# none, an interactive shell on the console.
cat > "$root/init" <<'I'
#!/bin/sh
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
[ -x /etc/rc.local ] && /etc/rc.local
if [ $# -gt 0 ]; then
  exec /bin/sh -c "$*"
fi
echo "Bulkhead PV guest $(hostname): a shell on the console (exit powers off)"
exec /bin/sh
I
chmod 755 "$root/init"

tmp="$out.tmp.$$"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet --owner=0:0) > "$tmp"
mv "$tmp" "$out"
