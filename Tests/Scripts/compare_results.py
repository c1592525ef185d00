"""Compares two cimcarlo result files dataset by dataset and attribute by attribute.

Usage: python3 compare_results.py A.h5 B.h5 [--ignore-attribute NAME ...]

Every dataset must exist in both with the same dtype, shape and bytes (NaN equal to NaN);
every attribute too, except the ones named with --ignore-attribute and HDF5's dimension-scale
bookkeeping (DIMENSION_LIST, REFERENCE_LIST hold object addresses, which differ between any
two files). Prints the differences and exits 1 if there are any, else prints the number of
datasets compared and exits 0.
"""
import argparse
import sys

import h5py
import numpy as np

BOOKKEEPING = {"DIMENSION_LIST", "REFERENCE_LIST"}


def objects(file):
    found = {}
    file.visititems(lambda name, obj: found.__setitem__("/" + name, obj))
    found["/"] = file
    return found


def same_value(a, b):
    """Same dtype, shape and bytes for numbers (so NaN equals NaN, 0.0 differs from -0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fiub":
        return a.tobytes() == b.tobytes()
    return bool(np.array_equal(a, b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--ignore-attribute", action="append", default=[])
    args = parser.parse_args()
    ignored = BOOKKEEPING | set(args.ignore_attribute)
    problems = []
    datasets = 0
    with h5py.File(args.first, "r") as first, h5py.File(args.second, "r") as second:
        a, b = objects(first), objects(second)
        for name in sorted(set(a) ^ set(b)):
            problems.append(f"{name}: only in {args.first if name in a else args.second}")
        for name in sorted(set(a) & set(b)):
            x, y = a[name], b[name]
            if isinstance(x, h5py.Dataset) != isinstance(y, h5py.Dataset):
                problems.append(f"{name}: a dataset in one file only")
                continue
            if isinstance(x, h5py.Dataset):
                datasets += 1
                if x.dtype != y.dtype or x.shape != y.shape:
                    problems.append(f"{name}: {x.dtype}{x.shape} against {y.dtype}{y.shape}")
                elif not same_value(x[()], y[()]):
                    problems.append(f"{name}: values differ")
            keys = (set(x.attrs) | set(y.attrs)) - ignored
            for key in sorted(keys):
                if key not in x.attrs or key not in y.attrs:
                    problems.append(f"{name} attribute {key}: only in one file")
                elif not same_value(x.attrs[key], y.attrs[key]):
                    problems.append(f"{name} attribute {key}: {x.attrs[key]!r} against {y.attrs[key]!r}")
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)
    print(f"identical: {datasets} datasets")


if __name__ == "__main__":
    main()
