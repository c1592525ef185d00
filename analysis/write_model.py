#!/usr/bin/env python3
"""Write a network in cimcarlo's model file format (README, "Model file format") with h5py.

The path in for PyTorch users: weights use PyTorch's layouts (dense [out, in], conv2d
[out, in, kH, kW]), so a `state_dict` converts directly:

    import torch, write_model
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    write_model.write_model("net.h5", input_shape=(1, 28, 28), mean=0.2860, std=0.3530, layers=[
        ("conv2d", "conv1", {"weight": sd["conv1.weight"], "bias": sd["conv1.bias"], "stride": 1, "padding": 2}),
        ("relu",), ("maxpool2d", {"kernel": 2}),
        ("flatten",),
        ("dense", "fc1", {"weight": sd["fc1.weight"], "bias": sd["fc1.bias"]}),
    ])

Run as a script, it writes a small random MLP (a quick way to get a test model):

    python3 analysis/write_model.py OUT.h5 [--inputs 784] [--hidden 32] [--classes 10] [--seed 0]
"""
import argparse
import sys

import h5py
import numpy as np


def write_model(path, input_shape, layers, mean=0.0, std=1.0, provenance=None):
    """layers: tuples (kind,), (kind, params) or (kind, name, params) in execution order."""
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "cimcarlo.model"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["input_shape"] = np.asarray(input_shape, dtype=np.int64)
        f.attrs["input_mean"] = np.float32(mean)
        f.attrs["input_std"] = np.float32(std)
        f.attrs["layer_count"] = np.int64(len(layers))
        for key, value in (provenance or {}).items():
            f.attrs[key] = str(value)
        classes = None
        for index, layer in enumerate(layers):
            kind = layer[0]
            name = layer[1] if len(layer) == 3 else f"{kind}{index}"
            params = layer[-1] if len(layer) > 1 and isinstance(layer[-1], dict) else {}
            group = f.create_group(f"layers/{index:02d}")
            group.attrs["kind"] = kind
            group.attrs["name"] = name
            if kind == "dense":
                weight = np.asarray(params["weight"], dtype=np.float32)
                group.attrs["inputs"] = np.int64(weight.shape[1])
                group.attrs["outputs"] = np.int64(weight.shape[0])
                group["weight"] = weight
                group["bias"] = np.asarray(params["bias"], dtype=np.float32)
                classes = weight.shape[0]
            elif kind == "conv2d":
                weight = np.asarray(params["weight"], dtype=np.float32)
                group.attrs["in_channels"] = np.int64(weight.shape[1])
                group.attrs["out_channels"] = np.int64(weight.shape[0])
                group.attrs["kernel"] = np.asarray(weight.shape[2:], dtype=np.int64)
                group.attrs["stride"] = np.int64(params.get("stride", 1))
                group.attrs["padding"] = np.int64(params.get("padding", 0))
                group["weight"] = weight
                group["bias"] = np.asarray(params["bias"], dtype=np.float32)
            elif kind in ("maxpool2d", "avgpool2d"):
                group.attrs["kernel"] = np.int64(params["kernel"])
                group.attrs["stride"] = np.int64(params.get("stride", params["kernel"]))
            elif kind not in ("relu", "flatten"):
                raise ValueError(f"unknown layer kind {kind}")
        f.attrs["num_classes"] = np.int64(classes or 0)


def main(argv):
    parser = argparse.ArgumentParser(description="Write a small random MLP in cimcarlo's model format.")
    parser.add_argument("output")
    parser.add_argument("--inputs", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    rng = np.random.default_rng(arguments.seed)
    side = int(round(np.sqrt(arguments.inputs)))
    shape = (1, side, side) if side * side == arguments.inputs else (arguments.inputs, 1, 1)

    def dense(name, fan_in, fan_out):
        bound = np.sqrt(6 / fan_in)
        return ("dense", name, {"weight": rng.uniform(-bound, bound, (fan_out, fan_in)), "bias": np.zeros(fan_out)})

    write_model(arguments.output, shape, [
        ("flatten",), dense("fc1", arguments.inputs, arguments.hidden), ("relu",),
        dense("fc2", arguments.hidden, arguments.classes),
    ], mean=0.2860, std=0.3530, provenance={"architecture": "random mlp", "trained_with": "analysis/write_model.py"})
    print(arguments.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
