#!/usr/bin/env python3
"""onnxruntime's clean inference time for one pass over N test images, as a user would run it.

Usage: python3 scripts/ort_timing.py MODEL.onnx --dataset (fashion-mnist | FILE.h5)
                                     --images N --threads T --repeats R

Session: CPUExecutionProvider, graph_optimization_level ORT_ENABLE_ALL, intra_op_num_threads T,
inter_op_num_threads 1, sequential execution. Images: for `fashion-mnist` the first N images of
Debian's /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz as float32 / 255,
[N, 1, 28, 28]; for an HDF5 file (cimcarlo's dataset format) the first N of its `images`
[N, C, H, W] (uint8 / 255, float32 as is). Batches: 250 images (the last one partial) when the
model's batch dimension is symbolic, one image at a time when it is fixed at 1. The batches are
prepared before timing; one warm-up pass over the first min(N, 500) images, then R timed passes
over all N (time.perf_counter). Prints one JSON line:

    {"model": ..., "images": N, "threads": T, "batch": 250 or 1, "seconds_per_pass": median,
     "seconds_all": [R passes], "onnxruntime": version}

Needs numpy and onnxruntime (and h5py for an HDF5 dataset); every failure (a missing package,
a model onnxruntime cannot load, a dataset that does not fit the model) exits non-zero with one
line on stderr.
"""

import argparse
import gzip
import importlib.util
import json
import statistics
import sys
import time

FASHION_MNIST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
BATCH = 250
WARMUP_IMAGES = 500


def fail(message):
    sys.exit(f"ort_timing.py: {message}")


def require(*names):
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        fail(
            "missing Python package(s): " + ", ".join(missing)
            + " (install with: python3 -m pip install " + " ".join(missing) + ")"
        )


def one_line(error):
    text = " ".join(str(error).split())
    return text if len(text) <= 400 else text[:397] + "..."


def fashion_mnist(count, np):
    try:
        with gzip.open(FASHION_MNIST, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        fail(f"{FASHION_MNIST} not found (install Debian's dataset-fashion-mnist)")
    except (OSError, EOFError) as error:
        fail(f"cannot read {FASHION_MNIST}: {one_line(error)}")
    header = np.frombuffer(raw[:16], dtype=">u4") if len(raw) >= 16 else None
    if header is None or header[0] != 0x00000803:
        fail(f"{FASHION_MNIST} is not an IDX file of uint8 images (magic 0x00000803)")
    available, height, width = (int(v) for v in header[1:4])
    if len(raw) < 16 + available * height * width:
        fail(f"{FASHION_MNIST} is truncated")
    if count > available:
        fail(f"--images {count}: {FASHION_MNIST} has {available} images")
    pixels = np.frombuffer(raw, dtype=np.uint8, count=count * height * width, offset=16)
    return pixels.reshape(count, 1, height, width).astype(np.float32) / np.float32(255)


def hdf5_images(path, count, np):
    require("h5py")
    import h5py

    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as error:
        fail(f"cannot open {path} as HDF5: {one_line(error)}")
    with f:
        if "images" not in f or not isinstance(f["images"], h5py.Dataset):
            fail(f"{path} has no dataset `images` ([N, C, H, W])")
        images = f["images"]
        if images.ndim != 4:
            fail(f"{path}: `images` must be [N, C, H, W], found {list(images.shape)}")
        if count > images.shape[0]:
            fail(f"--images {count}: {path} has {images.shape[0]} images")
        if images.dtype == np.uint8:
            return images[:count].astype(np.float32) / np.float32(255)
        if images.dtype.kind == "f":
            return np.asarray(images[:count], dtype=np.float32)
        fail(f"{path}: `images` must be uint8 or float, found {images.dtype}")


def main():
    parser = argparse.ArgumentParser(
        prog="ort_timing.py",
        description="onnxruntime's clean inference time for one pass over N test images (one JSON line).",
    )
    parser.add_argument("model", help="the ONNX model")
    parser.add_argument("--dataset", required=True, help="fashion-mnist, or an HDF5 file with `images` [N, C, H, W]")
    parser.add_argument("--images", type=int, required=True, help="test images per pass")
    parser.add_argument("--threads", type=int, required=True, help="onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, required=True, help="timed passes (the median is reported)")
    arguments = parser.parse_args()
    for name in ("images", "threads", "repeats"):
        if getattr(arguments, name) < 1:
            parser.error(f"--{name} must be at least 1")

    require("numpy", "onnxruntime")
    import numpy as np
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = arguments.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(arguments.model, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 — onnxruntime raises several kinds; all mean "cannot load"
        fail(f"onnxruntime cannot load {arguments.model}: {one_line(error)}")

    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        fail(f"{arguments.model}: expected one image input [batch, C, H, W], found "
             + ", ".join(f"{i.name} {i.shape}" for i in inputs))
    if inputs[0].type != "tensor(float)":
        fail(f"{arguments.model}: input {inputs[0].name} is {inputs[0].type}, expected tensor(float)")
    batch_dim, *image_dims = inputs[0].shape
    if isinstance(batch_dim, int) and batch_dim != 1:
        fail(f"{arguments.model}: batch dimension fixed at {batch_dim}; only a symbolic batch or 1 is supported")
    batch = 1 if batch_dim == 1 else BATCH

    if arguments.dataset == "fashion-mnist":
        images = fashion_mnist(arguments.images, np)
    else:
        images = hdf5_images(arguments.dataset, arguments.images, np)
    if any(isinstance(m, int) and m != d for m, d in zip(image_dims, images.shape[1:])):
        fail(f"{arguments.model} takes images {image_dims}, {arguments.dataset} has {list(images.shape[1:])}")

    name, output = inputs[0].name, [outputs[0].name]
    batches = [np.ascontiguousarray(images[i:i + batch]) for i in range(0, len(images), batch)]
    warmup_count = min(arguments.images, WARMUP_IMAGES)
    warmup = list(batches[: -(-warmup_count // batch)])
    warmup[-1] = warmup[-1][: warmup_count - batch * (len(warmup) - 1)]

    def run(pass_batches):
        for b in pass_batches:
            session.run(output, {name: b})

    try:
        run(warmup)
        seconds = []
        for _ in range(arguments.repeats):
            start = time.perf_counter()
            run(batches)
            seconds.append(time.perf_counter() - start)
    except Exception as error:  # noqa: BLE001
        fail(f"onnxruntime cannot run {arguments.model}: {one_line(error)}")

    print(json.dumps({
        "model": arguments.model,
        "images": arguments.images,
        "threads": arguments.threads,
        "batch": batch,
        "seconds_per_pass": statistics.median(seconds),
        "seconds_all": seconds,
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
