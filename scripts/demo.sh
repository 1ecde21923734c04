#!/usr/bin/env bash
# The demo, one command on Debian 12 with the Swift toolchain: installs what is
# missing (nginx, python3-dev, a venv with Django), builds the release binaries,
# creates builds a and b of the example Django site with hactl, starts the
# emperor (vassals, zergs, the dashboard) and an nginx serving live and stage on
# unprivileged ports, deploys a build c under a request loop (stage, swap live,
# roll back) and then stays up until Ctrl-C (or DEMO_SECONDS), leaving nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
for p in emperor vassal zerg hactl; do swift build -c release --product $p >/dev/null; done
bin=$(swift build -c release --show-bin-path)
venv=$(bash scripts/python-env.sh)

nginx=$(command -v nginx || echo /usr/sbin/nginx)   # /usr/sbin is not on a user's PATH
live=${DEMO_LIVE_PORT:-8080} stage=${DEMO_STAGE_PORT:-8081} status=${DEMO_STATUS_PORT:-9999}
work=$(mktemp -d /tmp/hadjango-demo-XXXXXX)
chmod 755 "$work"   # nginx's workers read the upstream snippets
emperor_pid=""
cleanup() {
    [ -f "$work/nginx.pid" ] && "$nginx" -e "$work/nginx-error.log" -p "$work" -c "$work/nginx.conf" -s quit 2>/dev/null || true
    if [ -n "$emperor_pid" ]; then kill -TERM "$emperor_pid" 2>/dev/null; wait "$emperor_pid" 2>/dev/null || true; fi
    for _ in $(seq 1 50); do [ -f "$work/nginx.pid" ] && kill -0 "$(cat "$work/nginx.pid")" 2>/dev/null || break; sleep 0.1; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
cp -r examples/deploy "$work/deploy"
mkdir -p "$work/deploy/builds" "$work/deploy/logs" "$work/deploy/run"
cd "$work"
export DEMO_BASE_PORT="${DEMO_BASE_PORT:-2000}" DEMO_VENV="$venv"
export HACTL_DEPLOY="$work/deploy" HACTL_STATUS="127.0.0.1:$status" HACTL_LIVE="127.0.0.1:$live" \
    HACTL_BASE_PORT="$DEMO_BASE_PORT" HACTL_NGINX_RELOAD="$nginx -e $work/nginx-error.log -p $work -c $work/nginx.conf -s reload"
hactl() { "$bin/hactl" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "the emperor, with the seed's command line plus the dashboard"
"$bin/emperor" --master --thunder-lock --emperor 'deploy/builds/[a-z]*/vassal.ini' \
    --emperor 'deploy/builds/[a-z]*/zerg.ini' --status "127.0.0.1:$status" >"$work/deploy/logs/emperor.log" 2>&1 &
emperor_pid=$!

for b in a b; do
    step "hactl create $b (a copy of examples/django_site) and activate it: returns once it serves"
    hactl create $b --from "$repo/examples/django_site"
    hactl activate $b
done
ln -s a deploy/builds/_live
ln -s b deploy/builds/_stage

step "nginx: live on :$live, stage on :$stage (examples/deploy/nginx/hadjango.conf)"
sed -e "s|DEPLOY|$work/deploy|g; s|LIVE_PORT|$live|; s|STAGE_PORT|$stage|; s|STATUS_PORT|$status|g" \
    "$repo/examples/deploy/nginx/hadjango.conf" > "$work/hadjango.conf"
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; include $work/hadjango.conf; }
NGINX
# -e: its own error log from the start (a user cannot open /var/log/nginx).
"$nginx" -e "$work/nginx-error.log" -p "$work" -c "$work/nginx.conf"
curl -fsS -o /dev/null "http://127.0.0.1:$live/" && echo "live answers"

step "a deploy under a request loop: create c, stage it, swap it live, roll back"
( ok=0 bad=0; end=$((SECONDS + 30))
  while [ $SECONDS -lt $end ] && [ ! -f "$work/stop-loop" ]; do
      if curl -fsS -o /dev/null "http://127.0.0.1:$live/"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
  done; echo "request loop through nginx: $ok answered 2xx, $bad failed" ) &
loop=$!
hactl create c --from "$repo/examples/django_site"
hactl stage c
hactl swap-live
curl -fsS -D - -o /dev/null "http://127.0.0.1:$live/" | grep -i '^x-upstream' | sed 's/^/live now routes to /'
hactl swap-live
touch "$work/stop-loop"; wait $loop
hactl status

cat <<INFO

  live       http://127.0.0.1:$live/
  stage      http://127.0.0.1:$stage/
  dashboard  http://127.0.0.1:$status/   (also /status.json, /metrics; via nginx: /uwsgi/)
  hactl      HACTL_DEPLOY=$work/deploy HACTL_STATUS=127.0.0.1:$status HACTL_LIVE=127.0.0.1:$live \\
             HACTL_BASE_PORT=$DEMO_BASE_PORT HACTL_NGINX_RELOAD="$nginx -e $work/nginx-error.log -p $work -c $work/nginx.conf -s reload" \\
             $bin/hactl status

Up until Ctrl-C${DEMO_SECONDS:+ (or $DEMO_SECONDS s)}; then everything stops.
INFO
if [ -n "${DEMO_SECONDS:-}" ]; then sleep "$DEMO_SECONDS"; else while :; do sleep 3600; done; fi
