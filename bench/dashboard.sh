#!/usr/bin/env bash
# The dashboard at scale: an emperor over BUILDS builds (default 20), each a
# vassal and a zerg of WORKERS workers (default 14) running bench/hello.py, a
# little load on every build, for DURATION seconds (default 120). Prints the emperor's
# RSS and CPU (the history's sampling included), the size of /history.json and
# /events.json, and what a refresh of the page costs headless Chromium
# (bench/page_render.py: the page's own measure, in real time).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
for p in emperor vassal zerg; do swift build -c release --product $p >&2; done
bin=$(swift build -c release --show-bin-path)
builds=${BUILDS:-20} workers=${WORKERS:-14} seconds=${DURATION:-120}
work=$(mktemp -d /tmp/hadjango-dash-XXXXXX)
emperor_pid="" load_pid=""
cleanup() {
    set +e
    [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
    [ -n "$emperor_pid" ] && kill -TERM "$emperor_pid" 2>/dev/null && wait "$emperor_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
status=127.0.0.1:9997 base=4000
names=$(/usr/bin/python3 -c "import string; print(' '.join(string.ascii_lowercase[:$builds]))")
i=0
for b in $names; do
    mkdir -p "$work/builds/$b"
    cat > "$work/builds/$b/vassal.ini" <<INI
[uwsgi]
http = 127.0.0.1:$((base + i * 10))
zerg-server = $work/builds/$b/zerg.sock
stats = $work/builds/$b/vassal.stats
INI
    cat > "$work/builds/$b/zerg.ini" <<INI
[uwsgi]
zerg = $work/builds/$b/zerg.sock
wsgi-file = $repo/bench/hello.py
processes = $workers
disable-logging = true
stats = $work/builds/$b/zerg.stats
INI
    i=$((i + 1))
done
ln -s a "$work/builds/_live"
cd "$work"
"$bin/emperor" --emperor 'builds/[a-z]*/vassal.ini' --emperor 'builds/[a-z]*/zerg.ini' --status $status >"$work/emperor.log" 2>&1 &
emperor_pid=$!
# Every build serves (all its workers up).
for _ in $(seq 1 600); do
    ready=$(curl -fsS "http://$status/status.json" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(sum(1 for b in doc["builds"] for i in b["instances"] if i["kind"] == "zerg" and i["stats"]
          and sum(w["accepting"] for w in i["stats"]["workers"]) == '"$workers"'))' 2>/dev/null || echo 0)
    [ "$ready" = "$builds" ] && break
    sleep 0.5
done
echo "$builds builds × $workers workers serving ($((builds * workers)) workers)"
# A little load on every build: 5 requests/s each.
( set +e; while :; do for ((j = 0; j < builds; j++)); do curl -s -o /dev/null "http://127.0.0.1:$((base + j * 10))/" & done; wait; sleep 0.2; done ) >/dev/null 2>&1 &
load_pid=$!
cpu() { awk '{print $14 + $15}' "/proc/$emperor_pid/stat"; }
start_cpu=$(cpu); start=$(date +%s.%N)
rss_start=$(awk '/VmRSS/ {print $2}' "/proc/$emperor_pid/status")
sleep "$seconds"
end_cpu=$(cpu); end=$(date +%s.%N)
rss_end=$(awk '/VmRSS/ {print $2}' "/proc/$emperor_pid/status")
hz=$(getconf CLK_TCK)
/usr/bin/python3 - "$start_cpu" "$end_cpu" "$start" "$end" "$hz" "$rss_start" "$rss_end" <<'PY'
import sys
c0, c1, t0, t1, hz, r0, r1 = map(float, sys.argv[1:])
print(f"emperor CPU: {100 * (c1 - c0) / hz / (t1 - t0):.1f} % of a core over {t1 - t0:.0f} s (sampling 40 stats sockets a second, serving the page)")
print(f"emperor RSS: {r0 / 1024:.1f} MB at the start of the run, {r1 / 1024:.1f} MB after it")
PY
for path in "history.json?step=1" "events.json" "status.json"; do
    printf '/%s: %s bytes\n' "$path" "$(curl -fsS "http://$status/$path" | wc -c)"
done
# A real browser on the page for 20 s: what its refresh costs (the page's own measure).
/usr/bin/python3 "$repo/bench/page_render.py" "http://$status/" 20 "$work/chromium"
