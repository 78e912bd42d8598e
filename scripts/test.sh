#!/bin/sh
# The whole test suite: installs what is missing, builds with ASan and
# UBSan, and runs every test through ctest. Needs root (the core creates
# namespaces and cgroups). Usage: sudo scripts/test.sh [ctest args...]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/deps.sh"
bh_need_root
bh_install_deps

build="$here/build-asan"
cmake -S "$here" -B "$build" -G Ninja -DBH_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)"
# ASan's leak checker needs ptrace of the test process; UBSan findings fail.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
