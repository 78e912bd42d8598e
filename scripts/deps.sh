#!/bin/sh
# Installs the Debian packages Bulkhead needs to build and test, if missing.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -eu

BH_BUILD_DEPS="build-essential cmake ninja-build pkg-config git
 libevent-dev libyajl-dev liburing-dev libseccomp-dev libcmocka-dev libcap-dev
 libfuse3-dev fuse3 libxen-dev libnbd-dev libmnl-dev"
BH_RUN_DEPS="iproute2 busybox-static cpio e2fsprogs xenstore-utils procps psmisc iputils-ping iperf3 qemu-system-common curl"

bh_missing_pkgs() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
  done
}

bh_install_deps() {
  # shellcheck disable=SC2086
  missing=$(bh_missing_pkgs $BH_BUILD_DEPS $BH_RUN_DEPS ${BH_EXTRA_DEPS:-})
  if [ -n "$missing" ]; then
    echo "bulkhead: installing: $(echo $missing)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
  fi
}

bh_need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "bulkhead: this needs root (the core creates namespaces and cgroups); run it with sudo" >&2
    exit 1
  fi
}
