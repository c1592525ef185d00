#!/usr/bin/env bash
# Writes the reference result files a refactor must leave byte-identical, with the binary BIN,
# into OUT: quickstart, swim-study and resnet-study (a few chips), the ViT, tile mode (with and
# without per-read noise), per-read noise, PCM with global drift compensation, the measured
# RRAM presets (incremental write-verify, relaxation), random/variance/gradient selections,
# sequential stopping and a 3-shard merge. Compare two such folders with compare_results.py:
#   Tests/Scripts/reference_runs.sh OLD_BIN /tmp/before; Tests/Scripts/reference_runs.sh NEW_BIN /tmp/after
#   for f in /tmp/before/*.h5; do python3 Tests/Scripts/compare_results.py $f /tmp/after/$(basename $f) \
#       --ignore-attribute created_utc --ignore-attribute tool_version; done
set -euo pipefail
BIN=$(realpath "$1"); OUT=$2
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# A fixed folder: the specs' text (with the paths in it) is part of each result's plan digest.
SPECS=/tmp/cimcarlo-reference-specs
rm -rf "$SPECS"; mkdir -p "$SPECS"
for f in "$REPO"/Tests/Scripts/reference_runs/*.toml; do
    sed -e "s#@REPO@#$REPO#g" -e "s#@SPECS@#$SPECS#g" "$f" > "$SPECS/$(basename "$f")"
done
mkdir -p "$OUT"; rm -f "$OUT"/*.h5
run() { name=$1; shift; "$BIN" run "$@" --output "$OUT/$name.h5" --quiet --threads 2 --force > "$OUT/$name.txt"; }
run quickstart "$SPECS/quickstart.toml" --instances 3 --test-limit 1000
run swim "$SPECS/swim.toml" --instances 2 --test-limit 1000
run resnet "$SPECS/resnet.toml" --instances 2 --test-limit 300
run vit "$SPECS/vit.toml" --instances 1 --test-limit 200
run tile "$SPECS/tile.toml"
run tile-perread "$SPECS/tile-perread.toml"
run perread "$SPECS/perread.toml"
run pcm-global "$SPECS/pcm-global.toml"
for d in rram-neurram rram-milo reram-cmo-hfox; do run $d "$SPECS/$d.toml"; done
run rankings "$SPECS/rankings.toml" --instances 2 --test-limit 500
run sequential "$SPECS/quickstart.toml" --test-limit 300 --target-ci 8 --max-instances 24
for k in 0 1 2; do
    "$BIN" run "$SPECS/quickstart.toml" --instances 6 --test-limit 300 --shard $k/3 --output "$OUT/merged.h5" \
        --quiet --threads 2 --force > /dev/null
done
"$BIN" merge "$OUT"/merged.shard-*-of-3.h5 --output "$OUT/merged.h5" --force > /dev/null
rm -f "$OUT"/merged.shard-*
echo "$(ls "$OUT"/*.h5 | wc -l) result files in $OUT"
