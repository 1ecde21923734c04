#!/usr/bin/env bash
# Threads: an I/O-bound app (50 ms per request) on 2 processes × 4 threads,
# against uWSGI (--processes 2 --threads 4), gunicorn gthread (2 × 4) and
# granian (2 workers × 4 blocking threads); and the example Django site with
# threads against without (no regression). Same run, alternating rounds, wrk.
# Not part of the test suite. BENCH_DURATION (seconds, default 10), BENCH_ROUNDS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
exec /usr/bin/python3 bench/threads.py --zerg "$bin/zerg" --vassal "$bin/vassal" --venv "$venv" "$@"
