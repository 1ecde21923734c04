#!/usr/bin/env bash
# Benchmarks the zerg against uWSGI, gunicorn and granian, side by side on
# loopback, with wrk. Installs what is missing (Debian: uwsgi, its python3
# plugin, wrk; PyPI into .build/venv-bench: gunicorn, granian, Django).
# Not part of the test suite. BENCH_DURATION (seconds, default 10) shortens runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
exec /usr/bin/python3 bench/run.py --zerg "$bin/zerg" --vassal "$bin/vassal" --venv "$venv" "$@"
