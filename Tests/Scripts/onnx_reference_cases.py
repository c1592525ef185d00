#!/usr/bin/env python3
"""Reference cases for cimcarlo's ONNX importer: small ONNX graphs and onnxruntime's logits.

Usage: python3 Tests/Scripts/onnx_reference_cases.py OUTDIR

Needs the Python packages numpy, onnx, onnxruntime and h5py
(`python3 -m pip install onnx onnxruntime h5py numpy`); exits non-zero naming the missing ones.

Every graph is built with the `onnx.helper` API, passes `onnx.checker.check_model(full_check=True)`
and is run by onnxruntime (CPUExecutionProvider, graph optimisations off, one thread) on
deterministic inputs. The output is the same bytes on every run for a given onnx/onnxruntime/h5py
version: weights and data come from numpy generators seeded by the case name (CRC-32), so adding
a case does not change the others.

Layout of OUTDIR (the contract with Tests/CimCarloTests/ONNXImporterTests.swift):

    OUTDIR/cases.json      a JSON list of {"name", "description", "opset", "ops"} — `ops` is the
                           op types the graph uses, in order of first appearance
    OUTDIR/NAME.onnx       the model. One graph input "images", float32 [N, C, H, W] with the
                           symbolic batch dimension "N" (mlp_flat_input alone has a rank-2 input
                           [N, F], the images flattened in C·H·W order); one graph output
                           "logits", float32 [N, K]. Every node has a distinct name.
    OUTDIR/NAME.h5         datasets `images` float32 [5, C, H, W] (uniform in [0, 1); for a
                           rank-2 graph input still [5, C, H, W], fed to onnxruntime reshaped to
                           [5, C·H·W]), `labels` int64 [5] (uniform in [0, K)) and `logits`
                           float32 [5, K] (onnxruntime's output for `images`)

    OUTDIR/bad/cases.json  a JSON list of {"name", "file", "reason", "node", "op_type"}: models
                           cimcarlo must refuse; `file` is relative to OUTDIR/bad, `node` is the
                           name of the offending node and `op_type` its op type, or null when no
                           node is at fault (the error must name them when they are given)
    OUTDIR/bad/FILE        the bad model's bytes (most are valid ONNX that cimcarlo cannot map;
                           `truncated.onnx` and `not_onnx.onnx` are not ONNX at all)

Weights are He-scaled normals (`normal · sqrt(2 / fan_in)`), so activations and logits stay O(1);
BatchNormalization has scales and running variances uniform in [0.5, 1.5) and means and shifts
of order 0.1. Each model is tiny (≤ 8 channels, ≤ 12×12 pixels except cifar_shaped's 32×32), so
the whole script takes a few seconds.
"""

import importlib.util
import json
import os
import sys
import zlib

_MISSING = [name for name in ("numpy", "onnx", "onnxruntime", "h5py") if importlib.util.find_spec(name) is None]
if _MISSING:
    sys.exit(
        "onnx_reference_cases.py: missing Python package(s): " + ", ".join(_MISSING)
        + " (install with: python3 -m pip install onnx onnxruntime h5py numpy)"
    )

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

BATCH = 5
PRODUCER = "cimcarlo Tests/Scripts/onnx_reference_cases.py"

ort.set_default_logger_severity(3)


def ir_version_for(opset):
    """The IR version written for `opset`: 8 up to opset 17, the release's own from 18 on (10 for 21)."""
    return max(8, helper.find_min_ir_version_for([helper.make_opsetid("", opset)]))


def session(model):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def first_seen(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


class Case:
    """One graph under construction: nodes, initializers and a generator seeded by the name."""

    def __init__(self, name, description, opset=13, input_shape=(3, 8, 8), classes=10, data_shape=None):
        self.name = name
        self.description = description
        self.opset = opset
        self.input_shape = tuple(input_shape)
        self.data_shape = tuple(data_shape or input_shape)
        self.classes = classes
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.nodes = []
        self.initializers = []
        self.names = {"images", "logits"}
        self.shapes = {"images": (1,) + self.input_shape}

    # Names, tensors, nodes.

    def fresh(self, stem):
        name, index = stem, 1
        while name in self.names:
            name, index = f"{stem}_{index}", index + 1
        self.names.add(name)
        return name

    def const(self, name, array):
        name = self.fresh(name)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, name=None, **attributes):
        """Appends a node (attributes that are None are left out); returns its output, named as the node."""
        name = name or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], name=name, **attributes))
        return name

    # Random parameters.

    def he(self, shape, fan_in, scale=1.0):
        return (self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in) * scale).astype(np.float32)

    def small(self, shape, scale=0.1):
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    # Layers.

    def conv(self, x, outputs, kernel=(3, 3), bias=True, scale=1.0, group=None, explicit=False, **attributes):
        """A Conv with He-scaled weights [outputs, C / group, kH, kW] and, when `bias`, a bias.
        `explicit` writes every attribute as PyTorch's exporter does (strides, dilations, group)."""
        channels = self.shape(x)[1]
        groups = group or 1
        name = self.fresh("conv")
        weight = self.const(f"{name}.weight", self.he((outputs, channels // groups, *kernel), channels // groups * kernel[0] * kernel[1], scale))
        inputs = [x, weight] + ([self.const(f"{name}.bias", self.small(outputs))] if bias else [])
        if explicit:
            attributes.setdefault("strides", [1, 1])
            attributes.setdefault("dilations", [1, 1])
            attributes.setdefault("pads", [0, 0, 0, 0])
            group = groups
        return self.op("Conv", inputs, name, kernel_shape=list(kernel), group=group, **attributes)

    def batchnorm(self, x, epsilon=1e-3, **attributes):
        channels = self.shape(x)[1]
        name = self.fresh("batchnorm")
        scale = self.const(f"{name}.scale", self.rng.uniform(0.5, 1.5, channels).astype(np.float32))
        shift = self.const(f"{name}.bias", self.small(channels))
        mean = self.const(f"{name}.running_mean", self.small(channels))
        variance = self.const(f"{name}.running_var", self.rng.uniform(0.5, 1.5, channels).astype(np.float32))
        return self.op("BatchNormalization", [x, scale, shift, mean, variance], name, epsilon=epsilon, **attributes)

    def gemm(self, x, outputs=None, bias=True, **attributes):
        """Gemm(transB=1) to `outputs` features (the case's classes by default), weight [outputs, F]."""
        outputs = outputs or self.classes
        features = self.shape(x)[1]
        name = self.fresh("gemm")
        weight = self.const(f"{name}.weight", self.he((outputs, features), features, 0.7))
        inputs = [x, weight] + ([self.const(f"{name}.bias", self.small(outputs))] if bias else [])
        attributes.setdefault("transB", 1)
        return self.op("Gemm", inputs, name, **attributes)

    def head(self, x, **attributes):
        """Flatten then Gemm(transB=1) to the classes."""
        return self.gemm(self.op("Flatten", [x]), **attributes)

    # Shapes and the finished model.

    def graph_model(self, outputs):
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", *self.input_shape])],
            outputs, initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)], producer_name=PRODUCER)
        model.ir_version = ir_version_for(self.opset)
        return model

    def shape(self, x):
        """The shape of tensor `x` for a batch of one, as onnxruntime computes it."""
        if x not in self.shapes:
            model = self.graph_model([helper.make_tensor_value_info(x, TensorProto.FLOAT, None)])
            probe = np.zeros((1,) + self.input_shape, np.float32)
            self.shapes[x] = tuple(session(model).run([x], {"images": probe})[0].shape)
        return self.shapes[x]

    def finish(self, x):
        """The checked model whose output "logits" is `x` ([N, classes])."""
        shape = self.shape(x)
        assert shape == (1, self.classes), f"{self.name}: output {x} has shape {shape}, expected (1, {self.classes})"
        producer = next(node for node in self.nodes if x in node.output)
        producer.output[list(producer.output).index(x)] = "logits"
        model = self.graph_model([helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", self.classes])])
        onnx.checker.check_model(model, full_check=True)
        return model


CASES = []


def case(function):
    CASES.append(function)
    return function


# 1-5: convolutions.

@case
def conv_basic():
    c = Case("conv_basic", "Conv 3x3 pads [1,1,1,1] with bias -> Relu -> Flatten -> Gemm(transB=1)")
    x = c.op("Relu", [c.conv("images", 6, pads=[1, 1, 1, 1])])
    return c, c.head(x)


@case
def conv_asymmetric_pads():
    c = Case("conv_asymmetric_pads",
             "Conv kernel [3,2], strides [2,1], pads [0,1,2,1] (top, left, bottom, right), no bias, "
             "on a non-square 9x7 input -> Flatten -> Gemm",
             input_shape=(2, 9, 7), classes=6)
    x = c.conv("images", 4, kernel=(3, 2), bias=False, strides=[2, 1], pads=[0, 1, 2, 1])
    return c, c.head(x)


@case
def conv_dilation():
    c = Case("conv_dilation",
             "Conv 3x3 dilations [2,2] strides [2,2] pads 2 -> Relu -> Conv 3x3 dilations [2,1] strides [1,2] "
             "pads [2,1,2,1] on a non-square 11x10 input -> Flatten -> Gemm",
             input_shape=(3, 11, 10))
    x = c.op("Relu", [c.conv("images", 4, dilations=[2, 2], strides=[2, 2], pads=[2, 2, 2, 2])])
    x = c.conv(x, 4, dilations=[2, 1], strides=[1, 2], pads=[2, 1, 2, 1])
    return c, c.head(x)


@case
def conv_groups():
    c = Case("conv_groups", "Conv group=2, 4 -> 6 channels (weight [6, 2, 3, 3]), pads 1 -> Relu -> Flatten -> Gemm",
             input_shape=(4, 8, 8))
    x = c.op("Relu", [c.conv("images", 6, group=2, pads=[1, 1, 1, 1])])
    return c, c.head(x)


@case
def conv_depthwise():
    c = Case("conv_depthwise",
             "depthwise Conv group=C (4 -> 4, weight [4, 1, 3, 3]) -> Relu -> pointwise 1x1 Conv 4 -> 6 -> Relu "
             "-> Flatten -> Gemm", input_shape=(4, 8, 8))
    x = c.op("Relu", [c.conv("images", 4, group=4, pads=[1, 1, 1, 1])])
    x = c.op("Relu", [c.conv(x, 6, kernel=(1, 1))])
    return c, c.head(x)


@case
def conv_depthwise_multiplier():
    c = Case("conv_depthwise_multiplier",
             "depthwise Conv with multiplier 2: group=C, 4 -> 8 channels (weight [8, 1, 3, 3]), stride 2 pads 1 "
             "-> Relu -> Flatten -> Gemm", input_shape=(4, 8, 8))
    x = c.op("Relu", [c.conv("images", 8, group=4, strides=[2, 2], pads=[1, 1, 1, 1])])
    return c, c.head(x)


def conv_auto_pad(mode):
    name = "conv_auto_pad_" + mode.lower()
    c = Case(name,
             f"Conv kernel [3,2] stride 2 auto_pad={mode} (no pads attribute) on an 8x9 input "
             "(odd total padding on both axes, so SAME_UPPER and SAME_LOWER differ) -> Flatten -> Gemm",
             input_shape=(3, 8, 9))
    x = c.conv("images", 4, kernel=(3, 2), strides=[2, 2], auto_pad=mode)
    return c, c.head(x)


for _mode in ("SAME_UPPER", "SAME_LOWER", "VALID"):
    case(lambda mode=_mode: conv_auto_pad(mode))


# 6-7: batch normalisation.

def batchnorm(opset):
    attributes = {11: {"momentum": 0.9}, 14: {}, 15: {"training_mode": 0}}[opset]
    written = ", ".join(f"{key}={value}" for key, value in attributes.items()) or "no other attribute"
    version = {11: 9, 14: 14, 15: 15}[opset]
    c = Case(f"batchnorm_opset{opset}",
             f"Conv (no bias) -> BatchNormalization-{version} (epsilon 1e-3, {written}) "
             f"-> Relu -> Flatten -> Gemm, opset {opset}", opset=opset)
    x = c.conv("images", 6, bias=False, pads=[1, 1, 1, 1])
    x = c.op("Relu", [c.batchnorm(x, epsilon=1e-3, **attributes)])
    return c, c.head(x)


for _opset in (11, 14, 15):
    case(lambda opset=_opset: batchnorm(opset))


@case
def conv_bn_fanout():
    c = Case("conv_bn_fanout",
             "Conv (no bias) whose output feeds both a BatchNormalization -> Relu and a 1x1 Conv (so the BN cannot "
             "be folded into the conv); the branches are added -> Relu -> Flatten -> Gemm")
    t = c.conv("images", 6, bias=False, pads=[1, 1, 1, 1])
    u = c.op("Relu", [c.batchnorm(t)])
    v = c.conv(t, 6, kernel=(1, 1))
    x = c.op("Relu", [c.op("Add", [u, v])])
    return c, c.head(x)


# 8: activations.

@case
def clip_relu6_opset11():
    c = Case("clip_relu6_opset11",
             "Conv (weights x8, so values run past both bounds) -> Clip with min 0 and max 6 as initializer inputs "
             "(ReLU6), opset 11 -> Flatten -> Gemm", opset=11)
    x = c.conv("images", 4, pads=[1, 1, 1, 1], scale=8.0)
    low = c.const("clip.min", np.array(0.0, np.float32))
    high = c.const("clip.max", np.array(6.0, np.float32))
    return c, c.head(c.op("Clip", [x, low, high]))


@case
def clip_max_only_opset13():
    c = Case("clip_max_only_opset13",
             "Conv -> Clip with an empty-string `min` input and `max` 0.5 as an initializer (clips above only, "
             "negatives pass), opset 13 -> Flatten -> Gemm")
    x = c.conv("images", 4, pads=[1, 1, 1, 1], scale=2.0)
    high = c.const("clip.max", np.array(0.5, np.float32))
    return c, c.head(c.op("Clip", [x, "", high]))


@case
def activations():
    c = Case("activations",
             "Conv -> LeakyRelu(alpha 0.1) -> Conv -> Sigmoid -> Conv -> Tanh -> Flatten -> Gemm; every "
             "activation's input holds negative and positive values")
    x = c.op("LeakyRelu", [c.conv("images", 6, pads=[1, 1, 1, 1])], alpha=0.1)
    x = c.op("Sigmoid", [c.conv(x, 6, pads=[1, 1, 1, 1], scale=2.0)])
    x = c.op("Tanh", [c.conv(x, 4, strides=[2, 2], pads=[1, 1, 1, 1], scale=2.0)])
    return c, c.head(x)


# 9-10: residuals and concatenation.

@case
def residual_projection():
    c = Case("residual_projection",
             "ResNet downsampling block: x -> Conv 3x3 stride 2 -> Relu -> Conv 3x3, added to a 1x1 stride-2 "
             "projection Conv of x -> Relu -> Flatten -> Gemm", input_shape=(4, 8, 8))
    main = c.conv("images", 6, strides=[2, 2], pads=[1, 1, 1, 1])
    main = c.conv(c.op("Relu", [main]), 6, pads=[1, 1, 1, 1])
    shortcut = c.conv("images", 6, kernel=(1, 1), strides=[2, 2])
    x = c.op("Relu", [c.op("Add", [main, shortcut])])
    return c, c.head(x)


@case
def residual_identity():
    c = Case("residual_identity",
             "identity shortcut: a = Relu(Conv(x)); b = Conv(Relu(Conv(a))); Add(a, b) (the earlier node first) "
             "-> Relu -> Flatten -> Gemm")
    a = c.op("Relu", [c.conv("images", 4, pads=[1, 1, 1, 1])])
    b = c.conv(c.op("Relu", [c.conv(a, 4, pads=[1, 1, 1, 1])]), 4, pads=[1, 1, 1, 1])
    x = c.op("Relu", [c.op("Add", [a, b])])
    return c, c.head(x)


@case
def sum_three_branches():
    c = Case("sum_three_branches",
             "three Conv branches (3x3, 1x1, 3x3 dilation 2) of the input summed by one Sum node -> Relu -> "
             "Flatten -> Gemm")
    branches = [c.conv("images", 4, pads=[1, 1, 1, 1]),
                c.conv("images", 4, kernel=(1, 1)),
                c.conv("images", 4, dilations=[2, 2], pads=[2, 2, 2, 2])]
    return c, c.head(c.op("Relu", [c.op("Sum", branches)]))


@case
def concat_two_branches():
    c = Case("concat_two_branches",
             "Relu(Conv 3x3 -> 3 ch) and Relu(Conv 1x1 -> 5 ch) concatenated on axis 1 -> Conv 8 -> 4 -> Relu "
             "-> Flatten -> Gemm")
    a = c.op("Relu", [c.conv("images", 3, pads=[1, 1, 1, 1])])
    b = c.op("Relu", [c.conv("images", 5, kernel=(1, 1))])
    x = c.op("Concat", [a, b], axis=1)
    x = c.op("Relu", [c.conv(x, 4, pads=[1, 1, 1, 1])])
    return c, c.head(x)


@case
def concat_three_way():
    c = Case("concat_three_way",
             "Conv 3x3 (2 ch), Conv 1x1 (2 ch) and Conv [1,3] (3 ch) branches concatenated on axis 1 (7 ch) -> "
             "Relu -> Conv 7 -> 4 -> Flatten -> Gemm")
    branches = [c.conv("images", 2, pads=[1, 1, 1, 1]),
                c.conv("images", 2, kernel=(1, 1)),
                c.conv("images", 3, kernel=(1, 3), pads=[0, 1, 0, 1])]
    x = c.op("Relu", [c.op("Concat", branches, axis=1)])
    return c, c.head(c.conv(x, 4, pads=[1, 1, 1, 1]))


# 11-13: pooling.

def maxpool_asymmetric(ceil_mode):
    c = Case(f"maxpool_asymmetric_ceil{ceil_mode}",
             f"Conv (no Relu, so padding must act as -inf) -> MaxPool kernel [3,2] strides [2,1] pads [1,0,1,1] "
             f"ceil_mode={ceil_mode} on 10x7 -> Flatten -> Gemm", input_shape=(3, 10, 7))
    x = c.conv("images", 4, pads=[1, 1, 1, 1])
    x = c.op("MaxPool", [x], kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], ceil_mode=ceil_mode)
    return c, c.head(x)


for _ceil in (0, 1):
    case(lambda ceil_mode=_ceil: maxpool_asymmetric(ceil_mode))


@case
def maxpool_2x2():
    c = Case("maxpool_2x2", "Conv -> Relu -> MaxPool kernel 2x2 stride 2 (no pads) -> Flatten -> Gemm")
    x = c.op("Relu", [c.conv("images", 6, pads=[1, 1, 1, 1])])
    return c, c.head(c.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]))


def avgpool(count_include_pad, ceil_mode):
    c = Case(f"avgpool_include_pad{count_include_pad}_ceil{ceil_mode}",
             f"Conv -> AveragePool kernel 3x3 strides 2 pads [1,1,1,1] count_include_pad={count_include_pad} "
             f"ceil_mode={ceil_mode} on 8x8 (ceil mode adds a last window that runs past the padding) "
             "-> Flatten -> Gemm")
    x = c.conv("images", 4, pads=[1, 1, 1, 1])
    x = c.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             count_include_pad=count_include_pad, ceil_mode=ceil_mode)
    return c, c.head(x)


for _include in (0, 1):
    for _ceil in (0, 1):
        case(lambda include=_include, ceil_mode=_ceil: avgpool(include, ceil_mode))


@case
def global_avgpool():
    c = Case("global_avgpool", "Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm", input_shape=(3, 12, 12))
    x = c.op("Relu", [c.conv("images", 8, strides=[2, 2], pads=[1, 1, 1, 1])])
    return c, c.head(c.op("GlobalAveragePool", [x]))


# 14-17: reshapes, dense layers, pass-through and constant nodes.

@case
def reshape_zero_minus_one():
    c = Case("reshape_zero_minus_one",
             "Conv -> Relu -> Reshape with a constant shape initializer [0, -1] (keep the batch, flatten the rest) "
             "-> Gemm")
    x = c.op("Relu", [c.conv("images", 4, strides=[2, 2], pads=[1, 1, 1, 1])])
    x = c.op("Reshape", [x, c.const("reshape.shape", np.array([0, -1], np.int64))])
    return c, c.gemm(x)


@case
def reshape_minus_one_features():
    c = Case("reshape_minus_one_features",
             "Conv -> Relu -> Reshape with a constant shape initializer [-1, F] (F = 64, the feature count) -> Gemm")
    x = c.op("Relu", [c.conv("images", 4, strides=[2, 2], pads=[1, 1, 1, 1])])
    features = int(np.prod(c.shape(x)[1:]))
    x = c.op("Reshape", [x, c.const("reshape.shape", np.array([-1, features], np.int64))])
    return c, c.gemm(x)


@case
def flatten_axis1():
    c = Case("flatten_axis1", "Conv -> Relu -> Flatten with an explicit axis=1 -> Gemm")
    x = c.op("Relu", [c.conv("images", 4, strides=[2, 2], pads=[1, 1, 1, 1])])
    return c, c.gemm(c.op("Flatten", [x], axis=1))


@case
def gemm_transb0_alpha_beta():
    c = Case("gemm_transb0_alpha_beta",
             "Conv -> Relu -> Flatten -> Gemm with transB=0 (B is [F, K]), alpha=0.5, beta=2.0 and a C bias of "
             "shape [K]", classes=7)
    x = c.op("Flatten", [c.op("Relu", [c.conv("images", 4, strides=[2, 2], pads=[1, 1, 1, 1])])])
    features = c.shape(x)[1]
    weight = c.const("gemm.weight", c.he((features, c.classes), features))
    bias = c.const("gemm.bias", c.small(c.classes, 0.3))
    return c, c.op("Gemm", [x, weight, bias], alpha=0.5, beta=2.0, transB=0)


@case
def gemm_no_bias():
    c = Case("gemm_no_bias",
             "Conv -> Relu -> Flatten -> Gemm(transB=1) with 16 outputs and no C input -> Relu -> Gemm with no C "
             "input", classes=7)
    x = c.op("Relu", [c.conv("images", 4, strides=[2, 2], pads=[1, 1, 1, 1])])
    x = c.op("Relu", [c.head(x, outputs=16, bias=False)])
    return c, c.gemm(x, bias=False)


@case
def matmul_add():
    c = Case("matmul_add",
             "PyTorch-style Linear layers: Conv -> Relu -> Flatten -> MatMul (constant B [F, 16]) -> Add(constant "
             "[16] vector first, product second) -> Relu -> MatMul (constant [16, K]) -> Add(product, constant [K])")
    x = c.op("Flatten", [c.op("Relu", [c.conv("images", 4, strides=[2, 2], pads=[1, 1, 1, 1])])])
    features = c.shape(x)[1]
    x = c.op("MatMul", [x, c.const("fc1.weight", c.he((features, 16), features))])
    x = c.op("Relu", [c.op("Add", [c.const("fc1.bias", c.small(16)), x])])
    x = c.op("MatMul", [x, c.const("fc2.weight", c.he((16, c.classes), 16, 0.7))])
    return c, c.op("Add", [x, c.const("fc2.bias", c.small(c.classes))])


@case
def identity_dropout():
    c = Case("identity_dropout",
             "Identity on the graph input -> Conv -> Relu -> Dropout (data input only) -> Identity -> Flatten -> "
             "Dropout (with a constant ratio input 0.3, no training_mode: inference) -> Gemm; opset 13")
    x = c.op("Identity", ["images"])
    x = c.op("Relu", [c.conv(x, 4, strides=[2, 2], pads=[1, 1, 1, 1])])
    x = c.op("Identity", [c.op("Dropout", [x])])
    x = c.op("Flatten", [x])
    x = c.op("Dropout", [x, c.const("dropout.ratio", np.array(0.3, np.float32))])
    return c, c.gemm(x)


@case
def constant_nodes():
    c = Case("constant_nodes",
             "Conv whose weight and bias come from Constant nodes (value attribute) -> Relu -> Reshape whose shape "
             "[0, -1] comes from a Constant node -> Gemm whose B and C come from Constant nodes")

    def constant(name, array):
        return c.op("Constant", [], c.fresh(name), value=numpy_helper.from_array(np.asarray(array), name + ".value"))

    weight = constant("conv.weight", c.he((4, 3, 3, 3), 27))
    bias = constant("conv.bias", c.small(4))
    x = c.op("Relu", [c.op("Conv", ["images", weight, bias], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])])
    x = c.op("Reshape", [x, constant("reshape.shape", np.array([0, -1], np.int64))])
    features = c.shape(x)[1]
    gemm_weight = constant("gemm.weight", c.he((c.classes, features), features, 0.7))
    gemm_bias = constant("gemm.bias", c.small(c.classes))
    return c, c.op("Gemm", [x, gemm_weight, gemm_bias], transB=1)


# 18: input normalisation.

MEAN = np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)


@case
def input_normalization_sub_div():
    c = Case("input_normalization_sub_div",
             "Sub(images, mean const [1,3,1,1]) -> Div(., std const [1,3,1,1]) -> Conv pads 1 (the padding is 0 "
             "in the normalised domain) -> Relu -> Flatten -> Gemm")
    x = c.op("Sub", ["images", c.const("input.mean", MEAN)])
    x = c.op("Div", [x, c.const("input.std", STD)])
    x = c.op("Relu", [c.conv(x, 4, strides=[2, 2], pads=[1, 1, 1, 1], scale=0.3)])
    return c, c.head(x)


@case
def input_normalization_sub_mul():
    c = Case("input_normalization_sub_mul",
             "Sub(images, mean const [1,3,1,1]) -> Mul(., 1/std const [1,3,1,1]) -> Conv without padding -> Relu "
             "-> Flatten -> Gemm")
    x = c.op("Sub", ["images", c.const("input.mean", MEAN)])
    x = c.op("Mul", [x, c.const("input.inverse_std", (1 / STD).astype(np.float32))])
    x = c.op("Relu", [c.conv(x, 4, strides=[2, 2], scale=0.3)])
    return c, c.head(x)


@case
def input_normalization_scalar():
    c = Case("input_normalization_scalar",
             "Sub(images, scalar 0.5) -> Div(., scalar 0.25) (rank-0 initializers) -> Conv pads 1 -> Relu -> "
             "Flatten -> Gemm")
    x = c.op("Sub", ["images", c.const("input.mean", np.array(0.5, np.float32))])
    x = c.op("Div", [x, c.const("input.std", np.array(0.25, np.float32))])
    x = c.op("Relu", [c.conv(x, 4, strides=[2, 2], pads=[1, 1, 1, 1], scale=0.3)])
    return c, c.head(x)


# 19-21: opsets, a CIFAR-shaped network, a flat input.

def opset_variant(opset):
    c = Case(f"opset{opset}_conv_bn_pool",
             f"conv_basic with BatchNormalization and MaxPool, PyTorch-style explicit attributes: Conv 3x3 pads 1 "
             f"-> BatchNormalization -> Relu -> MaxPool 2x2 -> Flatten -> Gemm(transB=1), opset {opset} "
             f"(IR version {ir_version_for(opset)})", opset=opset)
    x = c.conv("images", 6, explicit=True, pads=[1, 1, 1, 1])
    x = c.op("Relu", [c.batchnorm(x, epsilon=1e-5, momentum=0.9)])
    x = c.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0)
    return c, c.gemm(c.op("Flatten", [x], axis=1), alpha=1.0, beta=1.0)


for _opset in (11, 13, 17, 21):
    case(lambda opset=_opset: opset_variant(opset))


@case
def cifar_shaped():
    c = Case("cifar_shaped",
             "CIFAR-shaped [N,3,32,32]: Conv-BN-Relu (a), Conv-BN added to a -> Relu, MaxPool 2x2, Conv 3x3 "
             "stride 2 -> BN -> Relu, GlobalAveragePool -> Flatten -> Gemm to 10", input_shape=(3, 32, 32))
    a = c.op("Relu", [c.batchnorm(c.conv("images", 8, bias=False, explicit=True, pads=[1, 1, 1, 1]), epsilon=1e-5)])
    b = c.batchnorm(c.conv(a, 8, bias=False, explicit=True, pads=[1, 1, 1, 1]), epsilon=1e-5)
    x = c.op("Relu", [c.op("Add", [b, a])])
    x = c.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
    x = c.conv(x, 8, bias=False, explicit=True, strides=[2, 2], pads=[1, 1, 1, 1])
    x = c.op("Relu", [c.batchnorm(x, epsilon=1e-5)])
    return c, c.head(c.op("GlobalAveragePool", [x]))


@case
def mlp_flat_input():
    c = Case("mlp_flat_input",
             "MLP on a rank-2 graph input images [N, 64]: the data is [N,1,8,8] images flattened in C*H*W order "
             "(the .h5 holds them as [N,1,8,8]) -> Gemm 64 -> 16 -> Relu -> Gemm 16 -> 10",
             input_shape=(64,), data_shape=(1, 8, 8))
    x = c.op("Relu", [c.gemm("images", outputs=16)])
    return c, c.gemm(x)


# Models cimcarlo must refuse.

def bad_model(name, nodes, inputs, outputs, initializers=(), opset=13):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name=PRODUCER)
    model.ir_version = ir_version_for(opset)
    return model


def image_input(shape=("N", 3, 8, 8), name="images"):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def logits_output(classes=10):
    return helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])


def bad_cases(conv_basic_bytes):
    """(name, file name, bytes, reason, node, op_type, model or None) for each bad case."""
    rng = np.random.default_rng(zlib.crc32(b"bad"))

    def tensor(name, array):
        return numpy_helper.from_array(np.asarray(array, np.float32), name)

    def conv_weight(name):
        return tensor(name, rng.standard_normal((4, 3, 3, 3)) * np.sqrt(2 / 27))

    def head_nodes(source, features, classes=10):
        """Flatten `source` then Gemm to logits; returns nodes and initializers."""
        nodes = [helper.make_node("Flatten", [source], ["flat"], name="flatten"),
                 helper.make_node("Gemm", ["flat", "gemm.weight", "gemm.bias"], ["logits"], name="gemm", transB=1)]
        weights = [tensor("gemm.weight", rng.standard_normal((classes, features)) * np.sqrt(1 / features)),
                   tensor("gemm.bias", rng.standard_normal(classes) * 0.1)]
        return nodes, weights

    cases = []
    cases.append(("truncated", "truncated.onnx", conv_basic_bytes[: len(conv_basic_bytes) * 2 // 5],
                  "the first 40 % of conv_basic.onnx's bytes: the protobuf does not parse", None, None, None))
    cases.append(("not_onnx", "not_onnx.onnx", rng.integers(0, 256, 200, dtype=np.uint8).tobytes(),
                  "200 random bytes, not a protobuf", None, None, None))

    nodes = [helper.make_node("Conv", ["images", "conv.weight", "conv.bias"], ["conv_out"], name="conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("HardSwish", ["conv_out"], ["swish_out"], name="unsupported_node")]
    head, weights = head_nodes("swish_out", 4 * 8 * 8)
    model = bad_model("unsupported_op", nodes + head, [image_input()], [logits_output()],
                      [conv_weight("conv.weight"), tensor("conv.bias", np.zeros(4))] + weights, opset=14)
    cases.append(("unsupported_op", "unsupported_op.onnx", None,
                  "a HardSwish node (opset 14) between the Conv and the Flatten", "unsupported_node", "HardSwish",
                  model))

    nodes = [helper.make_node("Relu", ["images"], ["weight_from_images"], name="weight_relu"),
             helper.make_node("Conv", ["images", "weight_from_images"], ["conv_out"], name="dynamic_conv",
                              kernel_shape=[8, 8]),
             helper.make_node("Flatten", ["conv_out"], ["logits"], name="flatten")]
    model = bad_model("dynamic_weight", nodes, [image_input()],
                      [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", "N"])])
    cases.append(("dynamic_weight", "dynamic_weight.onnx", None,
                  "the Conv's weight input is Relu(images), computed at run time (weight [N, 3, 8, 8], logits "
                  "[N, N]); the graph still has one input, so the error is the Conv's", "dynamic_conv", "Conv",
                  model))

    head, weights = head_nodes("images", 28 * 28)
    model = bad_model("wrong_input_rank", head, [image_input(("N", 28, 28))], [logits_output()], weights)
    cases.append(("wrong_input_rank", "wrong_input_rank.onnx", None,
                  "the graph input `images` has rank 3 [N, 28, 28] (Flatten -> Gemm)", None, None, model))

    weight = rng.standard_normal((4, 3, 3, 3)) * np.sqrt(2 / 27)
    weight[1, 2, 0, 1] = np.nan
    nodes = [helper.make_node("Conv", ["images", "nan_conv.weight", "nan_conv.bias"], ["conv_out"], name="nan_conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["conv_out"], ["relu_out"], name="relu")]
    head, weights = head_nodes("relu_out", 4 * 8 * 8)
    model = bad_model("nan_initializer", nodes + head, [image_input()], [logits_output()],
                      [tensor("nan_conv.weight", weight), tensor("nan_conv.bias", np.zeros(4))] + weights)
    cases.append(("nan_initializer", "nan_initializer.onnx", None,
                  "the Conv's weight initializer holds a NaN", "nan_conv", "Conv", model))

    model = bad_model("empty_graph", [], [image_input()],
                      [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 8, 8])])
    cases.append(("empty_graph", "empty_graph.onnx", None,
                  "a graph with no nodes whose output is its input", None, None, model))
    return cases


# Writing.

def write_case(directory, c, model):
    images = c.rng.random((BATCH,) + c.data_shape, dtype=np.float32)
    labels = c.rng.integers(0, c.classes, size=BATCH, dtype=np.int64)
    logits = session(model).run(["logits"], {"images": images.reshape((BATCH,) + c.input_shape)})[0]
    if logits.shape != (BATCH, c.classes) or logits.dtype != np.float32 or not np.all(np.isfinite(logits)):
        raise SystemExit(f"onnx_reference_cases.py: {c.name}: bad onnxruntime logits {logits.shape} {logits.dtype}")
    onnx.save(model, os.path.join(directory, c.name + ".onnx"))
    with h5py.File(os.path.join(directory, c.name + ".h5"), "w") as file:
        file.create_dataset("images", data=images, track_times=False)
        file.create_dataset("labels", data=labels, track_times=False)
        file.create_dataset("logits", data=logits.astype(np.float32), track_times=False)
    ops = first_seen(node.op_type for node in model.graph.node)
    print(f"{c.name}: opset {c.opset}, images {list(images.shape)}, logits {list(logits.shape)}, ops {' '.join(ops)}")
    return {"name": c.name, "description": c.description, "opset": c.opset, "ops": ops}


def main(arguments):
    if len(arguments) != 1 or arguments[0].startswith("-"):
        sys.exit("usage: python3 Tests/Scripts/onnx_reference_cases.py OUTDIR")
    directory = arguments[0]
    bad_directory = os.path.join(directory, "bad")
    os.makedirs(bad_directory, exist_ok=True)

    listing = []
    for build in CASES:
        c, output = build()
        listing.append(write_case(directory, c, c.finish(output)))
    names = [entry["name"] for entry in listing]
    assert len(set(names)) == len(names), "duplicate case names"
    with open(os.path.join(directory, "cases.json"), "w") as file:
        json.dump(listing, file, indent=2)
        file.write("\n")

    with open(os.path.join(directory, "conv_basic.onnx"), "rb") as file:
        conv_basic_bytes = file.read()
    bad_listing = []
    for name, file_name, data, reason, node, op_type, model in bad_cases(conv_basic_bytes):
        if model is not None:
            data = model.SerializeToString()
        with open(os.path.join(bad_directory, file_name), "wb") as file:
            file.write(data)
        bad_listing.append({"name": name, "file": file_name, "reason": reason, "node": node, "op_type": op_type})
        print(f"bad/{file_name}: {reason}")
    with open(os.path.join(bad_directory, "cases.json"), "w") as file:
        json.dump(bad_listing, file, indent=2)
        file.write("\n")
    print(f"{len(listing)} cases and {len(bad_listing)} bad models in {directory} "
          f"(onnx {onnx.__version__}, onnxruntime {ort.__version__})")


if __name__ == "__main__":
    main(sys.argv[1:])
