#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --tests
# Formatting: the project's .swift-format (120 columns), the generated protobuf code aside.
find Sources Tests Package.swift -name '*.swift' -not -path '*/Generated/*' -print0 \
    | xargs -0 swift format lint --strict --configuration .swift-format
swift build
swift test --disable-xctest   # the suite is Swift Testing only
