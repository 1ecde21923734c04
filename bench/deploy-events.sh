#!/usr/bin/env bash
# The deploy-event harness of the test suite (Tests/HandoffTests/DeployEventTests.swift),
# run for ROUNDS rounds of its 10 events (default 12: 120 events in a row: binaries
# replaced, zerg swap, zerg.ini removed and re-added, touches, kill -9 of a worker,
# the emperor's HUP, USR2 upgrade, kill -9 and restart, kill -9 of the vassal) under
# continuous load through build a's port (8 keep-alive + 8 `Connection: close` clients).
# Prints one line per event, a table per kind of event, and the vassal's CPU time per request.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
swift build --build-tests >&2
HANDOFF_EVENT_ROUNDS="${ROUNDS:-12}" swift test --skip-build \
    --filter 'DeployEventTests/everyDeployEventUnderLoadKeepsEveryRequest' 2>&1 |
    grep -E '^(failed: |event \||[a-zA-Z].* \| [0-9]|\|)|events, |vassal CPU|✔|✘'
