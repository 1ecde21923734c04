#!/usr/bin/env bash
# Paired rounds of this tree's zerg and vassal against another revision's
# (default: HEAD, the last commit), hello and Django, standalone and through
# the vassal: `bench/compare.sh [REV] [run.py options]`.
# The other revision is built (release) in a git worktree under .build/baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
rev="${1:-HEAD}"
[ $# -gt 0 ] && shift
base=.build/baseline
rm -rf "$base"
git worktree prune
git worktree add --detach -q "$base" "$rev"
trap 'git worktree remove --force "$base" 2>/dev/null || true' EXIT
(cd "$base" && swift build -c release --product zerg >&2 && swift build -c release --product vassal >&2)
# Not `exec`: the trap above removes the worktree once the bench is done.
bash bench/run.sh --only zerg,zerg-vassal,zerg@base,zerg-vassal@base \
    --baseline "$(cd "$base" && swift build -c release --show-bin-path)" "$@"
