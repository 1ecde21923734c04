#!/usr/bin/env bash
# Benchmarks the zerg against uWSGI, gunicorn and granian, side by side on
# loopback, with wrk. Installs what is missing (Debian: uwsgi, its python3
# plugin, wrk; PyPI into .build/venv-bench: gunicorn, granian, Django).
# Not part of the test suite. BENCH_DURATION (seconds, default 10) shortens runs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
need=()
for pkg in uwsgi uwsgi-plugin-python3 wrk; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
venv=.build/venv-bench
if [ ! -x "$venv/bin/granian" ] || [ ! -x "$venv/bin/gunicorn" ]; then
    /usr/bin/python3 -m venv "$venv"
    (cd bench && "../$venv/bin/pip" install --disable-pip-version-check -q -r requirements.txt)
fi
swift build -c release --product zerg >&2 && swift build -c release --product vassal >&2
exec /usr/bin/python3 bench/run.py --zerg "$(swift build -c release --show-bin-path)/zerg" --vassal "$(swift build -c release --show-bin-path)/vassal" --venv "$venv" "$@"
