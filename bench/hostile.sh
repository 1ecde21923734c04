#!/usr/bin/env bash
# Hostile clients (slowloris heads, trickled bodies, an idle-connection flood)
# against this vassal and standalone zerg, uWSGI (http-socket and the seed's
# zerg topology), gunicorn and granian, with what a normal client sees
# meanwhile, side by side (bench/hostile.py). Installs what is missing, as
# bench/run.sh does. Not part of the test suite; about 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
need=()
for pkg in uwsgi uwsgi-plugin-python3; do
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
bin="$(swift build -c release --show-bin-path)"
exec /usr/bin/python3 bench/hostile.py --zerg "$bin/zerg" --vassal "$bin/vassal" --venv "$venv" "$@"
