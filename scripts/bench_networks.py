#!/usr/bin/env python3
"""The networks users bring, as ONNX files with random weights, for cimcarlo's benchmarks.

Usage: python3 scripts/bench_networks.py OUTDIR [--images N]

Needs only numpy, onnx, onnxruntime and h5py (no PyTorch); exits non-zero with one line naming
any that is missing. Every graph is built with the `onnx.helper` API the way PyTorch's exporters
write it, passes `onnx.checker.check_model(full_check=True)` and is run once by onnxruntime
before it is written. Weights are He-scaled normals (`normal · sqrt(2 / fan_in)`) from numpy
generators seeded by the model's name (CRC-32), so the files are the same bytes on every run
for a given onnx version. Writes, printing one line per file:

    OUTDIR/resnet18_cifar.onnx  ResNet-18 with the CIFAR stem (3×3 stride-1 conv, no max-pool),
                                torchvision's module names; input "images" float32 [N, 3, 32, 32]
    OUTDIR/mobilenet_v2.onnx    torchvision's MobileNetV2 (width 1.0) adapted to 32×32 inputs: first
                                conv and the first stride-2 bottleneck stage at stride 1;
                                input "images" float32 [N, 3, 32, 32]
    OUTDIR/vit_small.onnx       a small ViT (7×7 patches, 16 tokens + class token, width 64, 4 heads,
                                3 pre-norm blocks, MLP 128) as torch's default (dynamo) exporter writes
                                it at opset 18: batch fixed at 1, input "images" float32 [1, 1, 28, 28]
    OUTDIR/lenet5.onnx, mlp.onnx  the shipped models/lenet5.h5 and models/mlp.h5 (cimcarlo's model
                                file: chains of conv2d, maxpool2d, relu, flatten, dense) as ONNX with
                                their trained weights and input normalisation (Sub, Div), so the bench
                                compares their passes with onnxruntime too
    OUTDIR/cifar_like.h5        cimcarlo's HDF5 dataset format: `images` uint8 [N, 3, 32, 32] and
                                `labels` int64 [N] in 0..9, both seeded random (N = --images, 10 000)

The two CNNs are written as torch's legacy exporter writes an eval-mode model
(`torch.onnx.export(model.eval(), x, dynamo=False, opset_version=17, input_names=["images"],
output_names=["logits"], dynamic_axes={"images": {0: "N"}, "logits": {0: "N"}})`): IR version 8,
BatchNormalization folded into the convolutions (every Conv has a bias, initializers
`onnx::Conv_K`), ReLU6 as Clip with two Constant nodes (0 and 6) per Clip, residual Add, and the
head GlobalAveragePool → Flatten → Gemm (transB=1) to output "logits" float32 [N, 10]. The
folded biases are random (a real folded BatchNormalization's are not all equal), so there are
none of the Identity nodes torch adds when it deduplicates equal initializers of an untrained
model. The ViT is written with the dynamo exporter's node and value names, IR version 10,
Reshape allowzero=1, the linear layers as MatMul with a transposed constant weight plus Add of
the bias, GELU in its Erf form (Gelu is an operator only from opset 20), and value_info for
every intermediate.
"""

import argparse
import importlib.util
import math
import os
import sys
import zlib

_MISSING = [name for name in ("numpy", "onnx", "onnxruntime", "h5py") if importlib.util.find_spec(name) is None]
if _MISSING:
    sys.exit(
        "bench_networks.py: missing Python package(s): " + ", ".join(_MISSING)
        + " (install with: python3 -m pip install numpy onnx onnxruntime h5py)"
    )

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

CLASSES = 10
PRODUCER = "cimcarlo scripts/bench_networks.py"


def generator(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def he_normal(rng, shape, fan_in, gain=1.0):
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(gain * math.sqrt(2.0 / fan_in))).astype(
        np.float32
    )


def small(rng, shape, scale=0.05):
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(np.float32)


def parameter_count(model):
    """Float initializers of rank ≥ 1 (the ViT's scalar constants 0.25, √2, 1 and 0.5 are not parameters)."""
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type == TensorProto.FLOAT and t.dims)


# ---------------------------------------------------------------------------------------------
# Legacy-exporter CNNs (opset 17)


class LegacyGraph:
    """Nodes and initializers named as torch.onnx.export(dynamo=False) names them."""

    def __init__(self, name):
        self.rng = generator(name)
        self.nodes = []
        self.named = []  # module parameters kept by name (the classifier), first in the file
        self.folded = []  # folded Conv weights and biases, `onnx::Conv_K`
        self.next_id = 190

    def conv(self, scope, x, cin, cout, kernel, stride=1, group=1, gain=1.0):
        """Conv with its BatchNormalization folded in: He-scaled weight, small random bias."""
        fan_in = cin // group * kernel * kernel
        weight = he_normal(self.rng, (cout, cin // group, kernel, kernel), fan_in, gain)
        bias = small(self.rng, (cout,))
        weight_name, bias_name = f"onnx::Conv_{self.next_id}", f"onnx::Conv_{self.next_id + 1}"
        self.next_id += 3  # the exporter skips one number per folded conv
        self.folded += [numpy_helper.from_array(weight, weight_name), numpy_helper.from_array(bias, bias_name)]
        pad = kernel // 2
        return self.node(
            "Conv", scope, [x, weight_name, bias_name],
            dilations=[1, 1], group=group, kernel_shape=[kernel, kernel], pads=[pad] * 4, strides=[stride] * 2,
        )

    def node(self, op, scope, inputs, output=None, suffix="", **attributes):
        name = f"{scope}/{op}{suffix}"
        output = output or f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attributes))
        return output

    def relu6(self, scope, x):
        low = self.node("Constant", scope, [], value=numpy_helper.from_array(np.array(0.0, np.float32)))
        high = self.node("Constant", scope, [], suffix="_1", value=numpy_helper.from_array(np.array(6.0, np.float32)))
        return self.node("Clip", scope, [x, low, high])

    def head(self, x, channels, pool_scope, gemm_scope, parameter):
        x = self.node("GlobalAveragePool", pool_scope, [x])
        x = self.node("Flatten", "", [x], axis=1)
        weight = he_normal(self.rng, (CLASSES, channels), channels, gain=math.sqrt(0.5))
        bias = small(self.rng, (CLASSES,))
        self.named += [
            numpy_helper.from_array(weight, f"{parameter}.weight"),
            numpy_helper.from_array(bias, f"{parameter}.bias"),
        ]
        return self.node(
            "Gemm", gemm_scope, [x, f"{parameter}.weight", f"{parameter}.bias"], output="logits",
            alpha=1.0, beta=1.0, transB=1,
        )

    def model(self, graph_name, input_shape):
        graph = helper.make_graph(
            self.nodes, graph_name,
            [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", *input_shape])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])],
            initializer=self.named + self.folded,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name=PRODUCER)
        model.ir_version = 8
        return model


def resnet18_cifar():
    """torchvision's resnet18 with conv1 = Conv2d(3, 64, 3, 1, 1) and maxpool = Identity."""
    g = LegacyGraph("resnet18_cifar")
    x = g.conv("/conv1", "images", 3, 64, 3)
    x = g.node("Relu", "/relu", [x])
    cin = 64
    for stage, cout in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            scope = f"/layer{stage}/layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            y = g.conv(f"{scope}/conv1", x, cin, cout, 3, stride)
            y = g.node("Relu", f"{scope}/relu", [y])
            # The residual branch's last conv scaled down, as a trained BatchNormalization's
            # small scales do, so the 8 residual Adds do not blow the activations up.
            y = g.conv(f"{scope}/conv2", y, cout, cout, 3, gain=math.sqrt(0.5))
            shortcut = x
            if stride != 1 or cin != cout:
                shortcut = g.conv(f"{scope}/downsample/downsample.0", x, cin, cout, 1, stride, gain=math.sqrt(0.5))
            x = g.node("Add", scope, [y, shortcut])
            x = g.node("Relu", f"{scope}/relu_1", [x])
            cin = cout
    g.head(x, 512, "/avgpool", "/fc", "fc")
    return g.model("main_graph", (3, 32, 32))


def mobilenet_v2_cifar():
    """torchvision's mobilenet_v2(num_classes=10) with features[0] and features[2]'s depthwise conv at stride 1."""
    g = LegacyGraph("mobilenet_v2")
    # features.0: Conv2dNormActivation(3, 32, stride 2 → 1 for 32×32 inputs)
    x = g.conv("/features/features.0/features.0.0", "images", 3, 32, 3, 1)
    x = g.relu6("/features/features.0/features.0.2", x)
    settings = [  # t, c, n, s — torchvision's inverted_residual_setting
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]
    cin, index = 32, 1
    for stage, (t, c, n, s) in enumerate(settings):
        for i in range(n):
            stride = s if i == 0 else 1
            if stage == 1:
                stride = 1  # the first stride-2 stage kept at stride 1 on 32×32 inputs
            scope = f"/features/features.{index}"
            hidden = cin * t
            y, part = x, 0
            if t != 1:
                y = g.conv(f"{scope}/conv/conv.0/conv.0.0", y, cin, hidden, 1)
                y = g.relu6(f"{scope}/conv/conv.0/conv.0.2", y)
                part = 1
            y = g.conv(f"{scope}/conv/conv.{part}/conv.{part}.0", y, hidden, hidden, 3, stride, group=hidden)
            y = g.relu6(f"{scope}/conv/conv.{part}/conv.{part}.2", y)
            residual = stride == 1 and cin == c
            # The linear projection (no activation after it): unit gain, halved again on a
            # residual branch so the stacked Adds keep the activations O(1).
            y = g.conv(f"{scope}/conv/conv.{part + 1}", y, hidden, c, 1, gain=math.sqrt(0.5) * (0.5 if residual else 1))
            x = g.node("Add", scope, [x, y]) if residual else y
            cin, index = c, index + 1
    x = g.conv(f"/features/features.{index}/features.{index}.0", x, cin, 1280, 1)
    x = g.relu6(f"/features/features.{index}/features.{index}.2", x)
    g.head(x, 1280, "", "/classifier/classifier.1", "classifier.1")
    return g.model("main_graph", (3, 32, 32))


# ---------------------------------------------------------------------------------------------
# Dynamo-exporter ViT (opset 18, batch 1)


class DynamoGraph:
    """Nodes named `node_<aten op>[_k]`, values `<aten op>[_k]` or `val_K`, as torch's default exporter names them."""

    def __init__(self, name):
        self.rng = generator(name)
        self.nodes = []
        self.parameters = []
        self.constants = []
        self.scalars = []
        self.counts = {}
        self.next_val = 4

    def fresh(self, base):
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return base if k == 0 else f"{base}_{k}"

    def val(self):
        name = f"val_{self.next_val}"
        self.next_val += 1
        return name

    def node(self, op, inputs, aten=None, **attributes):
        """A node for an aten op (named after it) or, with aten None, an inner node of a decomposition."""
        if aten is None:
            output = self.val()
            name = f"node_{op}_{self.next_val}"
        else:
            output = self.fresh(aten)
            name = f"node_{output}"
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attributes))
        return output

    def parameter(self, name, array):
        self.parameters.append(numpy_helper.from_array(array, name))
        return name

    def constant(self, array, scalar=False):
        name = self.val()
        (self.scalars if scalar else self.constants).append(numpy_helper.from_array(array, name))
        return name

    def linear(self, x, prefix, fan_in, fan_out, gain=1.0):
        """aten.linear on a rank-3 input: MatMul with the transposed weight folded into a constant, Add of the bias."""
        weight = self.constant(he_normal(self.rng, (fan_out, fan_in), fan_in, gain).T.copy())
        bias = self.parameter(f"{prefix}.bias", small(self.rng, (fan_out,)))
        product = self.node("MatMul", [x, weight])
        return self.node("Add", [product, bias], aten="linear")

    def layer_norm(self, x, prefix, width):
        scale = self.parameter(f"{prefix}.weight", (1 + small(self.rng, (width,), 0.1)).astype(np.float32))
        shift = self.parameter(f"{prefix}.bias", small(self.rng, (width,)))
        return self.node("LayerNormalization", [x, scale, shift], aten="layer_norm", stash_type=1, epsilon=1e-5, axis=-1)


def vit_small():
    width, heads, depth, hidden, patch, image = 64, 4, 3, 128, 7, 28
    tokens = (image // patch) ** 2
    head_width = width // heads
    g = DynamoGraph("vit_small")
    g.parameter("pos_embed", small(g.rng, (1, tokens + 1, width), 0.5))
    weight = g.parameter("patch_embed.weight", he_normal(g.rng, (width, 1, patch, patch), patch * patch))
    bias = g.parameter("patch_embed.bias", small(g.rng, (width,)))
    x = g.node(
        "Conv", ["images", weight, bias], aten="conv2d",
        group=1, pads=[0, 0, 0, 0], auto_pad="NOTSET", strides=[patch, patch], dilations=[1, 1],
        kernel_shape=[patch, patch],
    )
    x = g.node("Reshape", [x, g.constant(np.array([1, width, tokens], np.int64))], aten="view", allowzero=1)
    x = g.node("Transpose", [x], aten="transpose", perm=[0, 2, 1])
    cls_token = "expand"  # the class token, expanded to the batch of 1 and folded to a constant
    g.constants.append(numpy_helper.from_array(small(g.rng, (1, 1, width), 0.5), cls_token))
    x = g.node("Concat", [cls_token, x], aten="cat", axis=1)
    x = g.node("Add", [x, "pos_embed"], aten="add")
    qkv_shape = select = None
    for block in range(depth):
        prefix = f"blocks.{block}"
        y = g.layer_norm(x, f"{prefix}.norm1", width)
        y = g.linear(y, f"{prefix}.attn.qkv", width, 3 * width)
        if qkv_shape is None:
            qkv_shape = g.constant(np.array([1, tokens + 1, 3, heads, head_width], np.int64))
            select = [g.constant(np.array(i, np.int64), scalar=True) for i in range(3)]
            scale = g.constant(np.array(head_width ** -0.5, np.float32), scalar=True)
            merged_shape = g.constant(np.array([1, tokens + 1, width], np.int64))
        y = g.node("Reshape", [y, qkv_shape], aten="view", allowzero=1)
        y = g.node("Transpose", [y], aten="permute", perm=[2, 0, 3, 1, 4])
        q, k, v = (g.node("Gather", [y, select[i]], aten="select", axis=0) for i in range(3))
        k = g.node("Transpose", [k], aten="transpose", perm=[0, 1, 3, 2])
        a = g.node("MatMul", [q, k], aten="matmul")
        a = g.node("Mul", [a, scale], aten="mul")
        a = g.node("Softmax", [a], aten="softmax", axis=-1)
        y = g.node("MatMul", [a, v], aten="matmul")
        y = g.node("Transpose", [y], aten="transpose", perm=[0, 2, 1, 3])
        y = g.node("Reshape", [y, merged_shape], aten="_unsafe_view", allowzero=1)
        y = g.linear(y, f"{prefix}.attn.proj", width, width, gain=math.sqrt(0.5))
        x = g.node("Add", [x, y], aten="add")
        y = g.layer_norm(x, f"{prefix}.norm2", width)
        y = g.linear(y, f"{prefix}.mlp.0", width, hidden)
        if block == 0:
            sqrt2 = g.constant(np.array(math.sqrt(2.0), np.float32), scalar=True)
            one = g.constant(np.array(1.0, np.float32), scalar=True)
            half = g.constant(np.array(0.5, np.float32), scalar=True)
        # aten.gelu (approximate="none") below opset 20: x · (0.5 · (1 + erf(x / √2)))
        erf = g.node("Erf", [g.node("Div", [y, sqrt2])])
        gate = g.node("Mul", [half, g.node("Add", [erf, one])])
        y = g.node("Mul", [y, gate], aten="gelu")
        y = g.linear(y, f"{prefix}.mlp.2", hidden, width, gain=math.sqrt(0.5))
        x = g.node("Add", [x, y], aten="add")
    x = g.layer_norm(x, "norm", width)
    x = g.node("Gather", [x, select[0]], aten="select", axis=1)
    head_weight = g.parameter("head.weight", he_normal(g.rng, (CLASSES, width), width, gain=math.sqrt(0.5)))
    head_bias = g.parameter("head.bias", small(g.rng, (CLASSES,)))
    g.nodes.append(
        helper.make_node(
            "Gemm", [x, head_weight, head_bias], ["logits"], name="node_linear_" + str(g.counts["linear"]),
            beta=1.0, transB=1, alpha=1.0, transA=0,
        )
    )
    graph = helper.make_graph(
        g.nodes, "main_graph",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 1, image, image])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])],
        initializer=g.parameters + g.constants + g.scalars,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name=PRODUCER)
    model.ir_version = 10
    # The dynamo exporter records every intermediate's type and shape.
    return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)


# ---------------------------------------------------------------------------------------------


def verify(name, model):
    """check_model(full_check=True), then one onnxruntime run on seeded images; returns the node count."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # noqa: BLE001 — report whatever the checker says, on one line
        sys.exit(f"bench_networks.py: {name} fails onnx.checker: {str(error).splitlines()[0]}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    shape = [d.dim_value if d.HasField("dim_value") else 2 for d in model.graph.input[0].type.tensor_type.shape.dim]
    images = generator(name + ".check").random(shape, dtype=np.float32)
    (logits,) = session.run(["logits"], {"images": images})
    peak = float(np.max(np.abs(logits))) if np.all(np.isfinite(logits)) else math.inf
    if logits.shape != (shape[0], CLASSES) or not 0.05 <= peak <= 100:
        sys.exit(f"bench_networks.py: {name} gives logits of shape {logits.shape} and max |logit| {peak}")


def write_model(outdir, name, model):
    verify(name, model)
    path = os.path.join(outdir, name + ".onnx")
    onnx.save_model(model, path)
    ops = len({n.op_type for n in model.graph.node})
    print(
        f"{path}: {parameter_count(model)} parameters, {len(model.graph.node)} nodes of {ops} op types, "
        f"opset {model.opset_import[0].version}"
    )


def from_model_file(path):
    """A cimcarlo model file (a chain of conv2d, maxpool2d, avgpool2d, relu, flatten and dense layers)
    as an ONNX graph computing the same: input "images" [N, C, H, W] with pixels in [0, 1], the
    file's input normalisation as Sub and Div, output "logits" [N, K]."""
    with h5py.File(path, "r") as f:
        channels, height, width = (int(v) for v in f.attrs["input_shape"])
        mean = np.atleast_1d(np.asarray(f.attrs["input_mean"], dtype=np.float32))
        std = np.atleast_1d(np.asarray(f.attrs["input_std"], dtype=np.float32))
        shape = [1, channels, 1, 1] if mean.size > 1 else []
        initializers = [
            numpy_helper.from_array(mean.reshape(shape) if shape else mean.reshape(()), "input_mean"),
            numpy_helper.from_array(std.reshape(shape) if shape else std.reshape(()), "input_std"),
        ]
        nodes = [
            helper.make_node("Sub", ["images", "input_mean"], ["centred"], name="normalise_sub"),
            helper.make_node("Div", ["centred", "input_std"], ["normalised"], name="normalise_div"),
        ]
        previous = "normalised"
        layers = f["layers"]
        for index, key in enumerate(sorted(layers)):
            layer = layers[key]
            kind = layer.attrs["kind"]
            kind = kind.decode() if isinstance(kind, bytes) else str(kind)
            name = f"{kind}{index}"
            output = "logits" if index == len(layers) - 1 else name
            if kind == "conv2d":
                kernel = [int(k) for k in np.atleast_1d(layer.attrs["kernel"])]
                kernel = kernel * 2 if len(kernel) == 1 else kernel
                stride = int(np.atleast_1d(layer.attrs["stride"])[0])
                padding = int(np.atleast_1d(layer.attrs["padding"])[0])
                initializers += [
                    numpy_helper.from_array(layer["weight"][...].astype(np.float32), name + ".weight"),
                    numpy_helper.from_array(layer["bias"][...].astype(np.float32), name + ".bias"),
                ]
                nodes.append(helper.make_node(
                    "Conv", [previous, name + ".weight", name + ".bias"], [output], name=name, kernel_shape=kernel,
                    strides=[stride, stride], pads=[padding] * 4))
            elif kind == "dense":
                initializers += [
                    numpy_helper.from_array(layer["weight"][...].astype(np.float32), name + ".weight"),
                    numpy_helper.from_array(layer["bias"][...].astype(np.float32), name + ".bias"),
                ]
                nodes.append(helper.make_node(
                    "Gemm", [previous, name + ".weight", name + ".bias"], [output], name=name, transB=1))
            elif kind in ("maxpool2d", "avgpool2d"):
                kernel = int(np.atleast_1d(layer.attrs["kernel"])[0])
                stride = int(np.atleast_1d(layer.attrs.get("stride", kernel))[0])
                nodes.append(helper.make_node(
                    "MaxPool" if kind == "maxpool2d" else "AveragePool", [previous], [output], name=name,
                    kernel_shape=[kernel, kernel], strides=[stride, stride]))
            elif kind == "relu":
                nodes.append(helper.make_node("Relu", [previous], [output], name=name))
            elif kind == "flatten":
                nodes.append(helper.make_node("Flatten", [previous], [output], name=name, axis=1))
            else:
                sys.exit(f"bench_networks.py: {path}: layer kind {kind} has no ONNX twin here")
            previous = output
        classes = int(f.attrs["num_classes"])
    graph = helper.make_graph(
        nodes, os.path.basename(path),
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", channels, height, width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="cimcarlo")
    model.ir_version = 8
    return model


def write_dataset(outdir, count):
    rng = generator("cifar_like")
    images = rng.integers(0, 256, size=(count, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, size=(count,), dtype=np.int64)
    path = os.path.join(outdir, "cifar_like.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images)
        f.create_dataset("labels", data=labels)
    print(f"{path}: images uint8 [{count}, 3, 32, 32], labels int64 [{count}]")


def main():
    parser = argparse.ArgumentParser(
        prog="bench_networks.py",
        description="Write ResNet-18 (CIFAR), MobileNetV2 (32×32) and a small ViT as ONNX with random "
        "weights, and a CIFAR-shaped HDF5 dataset, for cimcarlo's benchmarks.",
    )
    parser.add_argument("outdir", help="directory to write into (created if missing)")
    parser.add_argument("--images", type=int, default=10000, help="images in cifar_like.h5 (default 10000)")
    arguments = parser.parse_args()
    if arguments.images < 1:
        parser.error("--images must be at least 1")
    try:
        os.makedirs(arguments.outdir, exist_ok=True)
    except OSError as error:
        sys.exit(f"bench_networks.py: cannot create {arguments.outdir}: {error.strerror}")
    ort.set_default_logger_severity(3)
    write_model(arguments.outdir, "resnet18_cifar", resnet18_cifar())
    write_model(arguments.outdir, "mobilenet_v2", mobilenet_v2_cifar())
    write_model(arguments.outdir, "vit_small", vit_small())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in ("lenet5", "mlp"):
        write_model(arguments.outdir, name, from_model_file(os.path.join(root, "models", name + ".h5")))
    write_dataset(arguments.outdir, arguments.images)


if __name__ == "__main__":
    main()
