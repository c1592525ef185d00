#!/usr/bin/env bash
# Installs what cimcarlo needs on a fresh Debian 12 machine (run as root):
# the C libraries it links, Fashion-MNIST, and the Python packages of analysis/ (h5py and
# matplotlib for the figures, onnx and onnxruntime as the reference of the ONNX import tests).
# With --tests, also Slurm and munge, for the test that runs a real one-node cluster.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libopenblas-dev libhdf5-dev libdnnl-dev zlib1g-dev pkg-config dataset-fashion-mnist)
if [ "${1:-}" = "--tests" ]; then apt_packages+=(slurm-wlm munge); fi
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c "import h5py, numpy, matplotlib, xarray, h5netcdf, onnx, onnxruntime" 2>/dev/null; then
    echo "setup: installing analysis/requirements.txt" >&2
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r analysis/requirements.txt
fi

# Swift lives in /opt/swift on this machine type; make sure it is on PATH.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="$PATH:/opt/swift/usr/bin"
fi
command -v swift >/dev/null 2>&1 || { echo "setup: swift not found (expected on PATH or in /opt/swift)" >&2; exit 1; }
