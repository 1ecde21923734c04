#!/usr/bin/env bash
# Installs what building and testing need on Debian 12, only what is missing
# (safe to run again). The Swift toolchain itself must already be on PATH.
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# python3-dev: the CPython the zerg embeds (pkg-config python3-embed); python3-venv:
# the example site's venv; util-linux: unshare, flock and script; pkg-config: to find Python;
# chromium: the test that renders the emperor's dashboard in a headless browser; nginx: the
# deploy test and the demo route live/stage through it; systemd: systemd-analyze checks
# the example units.
for pkg in python3 python3-dev python3-venv pkg-config util-linux procps curl chromium nginx systemd; do
    have "$pkg" || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "setup: installing ${need[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "setup: add the Swift toolchain to PATH: export PATH=/opt/swift/usr/bin:\$PATH" >&2
    else
        echo "setup: no Swift toolchain found; install Swift 6.x from swift.org and put it on PATH" >&2
    fi
    exit 1
fi
