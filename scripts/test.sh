#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --tests
swift build
swift test --disable-xctest   # the suite is Swift Testing only
