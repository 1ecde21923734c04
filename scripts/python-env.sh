#!/usr/bin/env bash
# Creates (once) a virtualenv from Debian's python3 with the example site's
# requirements, at .build/venv-django (or $1). Re-created only when the
# requirements change. Prints the venv's path.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-$PWD/.build/venv-django}
reqs=examples/requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$reqs" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$venv"
    exit 0
fi
mkdir -p "$(dirname "$venv")"
# One creator at a time (tests may ask in parallel).
exec 9>"$venv.lock"
flock 9
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "$venv"
    exit 0
fi
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv" >&2
"$venv/bin/pip" install --disable-pip-version-check -q -r "$reqs" >&2
echo "$want" > "$stamp"
echo "$venv"
