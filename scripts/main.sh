#!/usr/bin/env bash
# The main job: set up, build in release mode, and run the shipped default study
# (runs/quickstart.toml: LeNet-5 on Fashion-MNIST on 2-bit HfO2 RRAM, 200 chips),
# ending with its summary table. The result goes to runs/out/quickstart.h5.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release
cimcarlo=.build/release/cimcarlo

# The reference models ship in models/; retrain them only if they are missing.
[ -f models/mlp.h5 ] || $cimcarlo train --arch mlp --epochs 15 --seed 1 --output models/mlp.h5
[ -f models/lenet5.h5 ] || $cimcarlo train --arch lenet5 --epochs 15 --seed 1 --output models/lenet5.h5

$cimcarlo eval --model models/lenet5.h5
$cimcarlo map runs/quickstart.toml
# --force: the main job always recomputes its result from scratch.
$cimcarlo run runs/quickstart.toml --force
python3 analysis/validate_result.py runs/out/quickstart.h5
python3 analysis/plot_results.py runs/out/quickstart.h5
