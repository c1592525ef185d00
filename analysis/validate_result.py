#!/usr/bin/env python3
"""Check a cimcarlo result file against the documented schema (README, "Result file format").

Reads the file with h5py only, independently of cimcarlo; the per-instance datasets come from
result_schema.json beside this script (`cimcarlo schema` writes it). Prints "ok: FILE" and
exits 0 when every name, shape, type, attribute and dimension scale of the contract is
present and every completed row holds values a run can write; otherwise prints one line per
problem and exits 1. A file that a run is still writing is read in HDF5's single-writer /
multiple-reader mode, as any reader should (README, "Faults and concurrent readers").

    python3 analysis/validate_result.py runs/out/quickstart.h5
"""
import json
import sys
from pathlib import Path

import h5py
import numpy as np

SCHEMA = json.loads((Path(__file__).with_name("result_schema.json")).read_text())

ROOT_ATTRIBUTES = ["format", "format_version", "tool_version", "seed", "spec", "device_model",
                   "model_sha256", "dataset_sha256", "created_utc", "instances_completed"]
QUANTILES = ["p50", "p10", "p05", "p01", "p001", "p0001"]
SUMMARY = (["mean", "std", "ci95_low", "ci95_high", "p01", "p05", "p50", "yield", "yield_low", "yield_high",
            "p10", "p001", "p0001"] + [f"{q}_{side}" for q in QUANTILES for side in ("low", "high")])
MAPPING = ["name", "rows", "cols", "arrays", "devices", "utilization"]


def dimension_names(dataset):
    names = []
    for dim in dataset.dims:
        scales = list(dim.keys())
        names.append(scales[0] if scales else None)
    return names


def validate(path):
    problems = []
    with h5py.File(path, "r", swmr=True) as f:
        for name in ROOT_ATTRIBUTES:
            if name not in f.attrs:
                problems.append(f"missing root attribute {name}")
        if f.attrs.get("format") not in (SCHEMA["format"], SCHEMA["format"].encode()):
            problems.append(f"format is not {SCHEMA['format']}")
        if int(f.attrs.get("format_version", -1)) != SCHEMA["format_version"]:
            problems.append(f"format_version is not {SCHEMA['format_version']}")
        per_instance = [entry for entry in SCHEMA["per_instance"]
                        if entry["name"] in f or "only_with_attribute" not in entry]
        for name in ["instance", "policy", "time", "policy_budget"] + [entry["name"] for entry in per_instance]:
            if name not in f:
                problems.append(f"missing dataset /{name}")
        if problems:
            return problems
        n, p, t = len(f["instance"]), len(f["policy"]), len(f["time"])
        sizes = {"instance": n, "policy": p, "time": t}
        expected = {
            "instance": ((n,), np.int64, None),
            "time": ((t,), np.float64, None),
            "policy_budget": ((p,), np.float64, ["policy"]),
        }
        for entry in per_instance:
            dims = entry["dimensions"]
            expected[entry["name"]] = (tuple(sizes[dim] for dim in dims), np.dtype(entry["type"]), dims)
            attribute = entry.get("only_with_attribute")
            if attribute is not None and attribute not in f[entry["name"]].attrs:
                problems.append(f"/{entry['name']} has no attribute {attribute}")
        for name, (shape, dtype, dims) in expected.items():
            dataset = f[name]
            if dataset.shape != shape:
                problems.append(f"/{name} has shape {dataset.shape}, expected {shape}")
            if dataset.dtype != dtype:
                problems.append(f"/{name} has type {dataset.dtype}, expected {np.dtype(dtype)}")
            if dims is not None and dimension_names(dataset) != dims:
                problems.append(f"/{name} has dimension scales {dimension_names(dataset)}, expected {dims}")
        if h5py.check_string_dtype(f["policy"].dtype) is None:
            problems.append("/policy is not a string dataset")
        for name in SUMMARY:
            key = f"summary/{name}"
            if key not in f:
                problems.append(f"missing dataset /{key}")
            elif f[key].shape != (p, t) or f[key].dtype != np.float64:
                problems.append(f"/{key} has shape {f[key].shape} and type {f[key].dtype}, expected {(p, t)} float64")
            elif dimension_names(f[key]) != ["policy", "time"]:
                problems.append(f"/{key} has dimension scales {dimension_names(f[key])}")
        for name in MAPPING:
            if f"mapping/{name}" not in f:
                problems.append(f"missing dataset /mapping/{name}")
        if f.attrs.get("status") == "complete" and all(f"summary/{name}" in f for name in SUMMARY):
            problems += check_summary(f)
        done = f["completed"][...] == 1
        for entry in per_instance:
            if "allowed" not in entry:
                continue
            low, high = entry["allowed"]
            values = f[entry["name"]][...][done].astype(np.float64)
            bad = ~np.isfinite(values) | (values < low) | (values > (np.inf if high is None else high))
            if bad.any():
                row = int(np.flatnonzero(done)[np.flatnonzero(bad.reshape(len(values), -1).any(axis=1))[0]])
                problems.append(f"/{entry['name']} row {row} holds a value outside {entry['allowed']}")
        completed = int(f.attrs["instances_completed"])
        finished = np.isfinite(f["accuracy"][...]).all(axis=(1, 2)).sum()
        if completed != finished:
            problems.append(f"instances_completed = {completed} but {finished} instances have results")
    return problems


def check_summary(f):
    """Recomputes /summary from /accuracy with NumPy: mean, sample std, the 1/5/10/50 % quantiles
    (linear interpolation), the yield by correct-image counts with its Wilson interval, a
    confidence interval centred on the mean (unless clipped to [0, 1]), and quantile intervals
    that hold their quantile."""
    problems = []
    accuracy = f["accuracy"][...].astype(np.float64)
    done = np.isfinite(accuracy).all(axis=(1, 2))
    if "tail" in f:  # the summary covers the plain chips, not scaled-sigma sampling's
        done &= f["instance"][...] < int(f["tail"].attrs["plain_chips"])
    accuracy = accuracy[done]
    n = accuracy.shape[0]
    images = int(f.attrs["test_images"])
    required = np.ceil(np.round(float(f.attrs["accuracy_threshold"]) * images, 9))
    successes = (np.rint(accuracy * images) >= required).sum(axis=0)
    z = 1.959963984540054
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    expected = {
        "mean": accuracy.mean(axis=0),
        "std": accuracy.std(axis=0, ddof=1) if n > 1 else np.zeros(accuracy.shape[1:]),
        "p01": np.quantile(accuracy, 0.01, axis=0),
        "p05": np.quantile(accuracy, 0.05, axis=0),
        "p50": np.quantile(accuracy, 0.5, axis=0),
        "p10": np.quantile(accuracy, 0.1, axis=0),
        "yield": share,
        "yield_low": np.maximum(0, centre - half),
        "yield_high": np.minimum(1, centre + half),
        "ci95_low": None,
    }
    for name, values in expected.items():
        stored = f[f"summary/{name}"][...]
        if name == "ci95_low":
            high = f["summary/ci95_high"][...]
            middle = (stored + high) / 2
            clipped = (stored == 0) | (high == 1)
            if not np.allclose(middle[~clipped], expected["mean"][~clipped], rtol=1e-9, atol=1e-12):
                problems.append("/summary/ci95_low and ci95_high are not centred on the mean of /accuracy")
        elif not np.allclose(stored, values, rtol=1e-9, atol=1e-12):
            problems.append(f"/summary/{name} differs from its recomputation from /accuracy")
    for q in QUANTILES:
        low, value, high = (f[f"summary/{q}{suffix}"][...] for suffix in ("_low", "", "_high"))
        if (low > value).any() or (value > high).any():
            problems.append(f"/summary/{q}_low and {q}_high do not hold /summary/{q}")
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[0])
        print("usage: validate_result.py FILE.h5 [FILE.h5 ...]")
        return 2
    status = 0
    for path in argv[1:]:
        problems = validate(path)
        for problem in problems:
            print(f"{path}: {problem}")
        if problems:
            status = 1
        else:
            print(f"ok: {path}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
