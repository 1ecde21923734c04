#!/usr/bin/env bash
# Hostile clients (slowloris heads, trickled bodies, an idle-connection flood)
# against this vassal and standalone zerg, uWSGI (http-socket and the seed's
# zerg topology), gunicorn and granian, with what a normal client sees
# meanwhile, side by side (bench/hostile.py). Installs what is missing
# (bench/peers.sh). Not part of the test suite; about 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peers.sh
exec /usr/bin/python3 bench/hostile.py --zerg "$bin/zerg" --vassal "$bin/vassal" --venv "$venv" "$@"
