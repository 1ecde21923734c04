#!/usr/bin/env bash
# Static files: a 10 KiB and a 1 MiB file served by the zerg (static-map),
# uWSGI (static-map) and nginx, side by side on loopback with wrk (keep-alive,
# 32 connections), median of alternating rounds. Not part of the test suite.
# BENCH_DURATION (seconds, default 10), BENCH_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
exec /usr/bin/python3 bench/static.py --zerg "$bin/zerg" "$@"
