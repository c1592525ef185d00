#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh --tests
# Formatting: the project's .swift-format (120 columns), the generated protobuf code aside.
find Sources Tests Package.swift -name '*.swift' -not -path '*/Generated/*' -print0 \
    | xargs -0 swift format lint --strict --configuration .swift-format
# Optimised with testing enabled: the suite runs in about a minute instead of ten in debug (the
# sampler's SIMD code and the Monte-Carlo loops are slow unoptimised), at a few minutes more build.
# One build of the binary and the tests (`swift test` alone would build them again).
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build --disable-xctest   # Swift Testing only
