# Sourced by the bench scripts: the Swift toolchain on PATH, this tree's setup,
# the peers from Debian (uWSGI, its python3 plugin, wrk) and from PyPI (gunicorn,
# granian, Django, in .build/venv-bench: `$venv`), and release builds of the
# zerg and the vassal (`$bin`).
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
bin="$(swift build -c release --show-bin-path)"
