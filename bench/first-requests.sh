#!/usr/bin/env bash
# p99 of the first 100 requests after a zerg starts, with and without warm-up (Django example).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
venv=$(bash scripts/python-env.sh)
swift build -c release --product zerg >&2 && swift build -c release --product vassal >&2
bin=$(swift build -c release --show-bin-path)
exec /usr/bin/python3 bench/first-requests.py --zerg "$bin/zerg" --vassal "$bin/vassal" --venv "$venv" "$@"
