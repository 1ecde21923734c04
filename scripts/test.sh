#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/setup.sh
swift build --build-tests
swift test --no-parallel  # suites share 2 cores: timing tests must not compete with load tests
