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

    OUTDIR/cases.json      a JSON list of {"name", "description", "opset", "ops", "batch",
                           "external_data", "output"}: `ops` is the op types the graph uses, in
                           order of first appearance; `batch` is "N" (a symbolic batch dimension)
                           or 1 (fixed, as torch >= 2.9's default exporter writes it); `external_data`
                           is true when the initializers are in NAME.onnx.data; `output` is
                           "logits", "log_probabilities" (the graph ends in LogSoftmax) or
                           "probabilities" (it ends in Softmax)
    OUTDIR/NAME.onnx       the model. One graph input "images", float32 [B, C, H, W] with B the
                           symbolic dimension "N" or the fixed 1 (mlp_flat_input alone has a rank-2
                           input [N, F], the images flattened in C·H·W order); one graph output
                           "logits", float32 [B, K] (logits, or log-probabilities or probabilities
                           as `output` says). Every node has a distinct name.
    OUTDIR/NAME.onnx.data  when `external_data`: every initializer, however small (shape and axes
                           tensors too), in this one file beside the model, written by
                           onnx.save_model(save_as_external_data=True, all_tensors_to_one_file=True,
                           location="NAME.onnx.data", size_threshold=0)
    OUTDIR/NAME.h5         datasets `images` float32 [5, C, H, W] (uniform in [0, 1); for a
                           rank-2 graph input still [5, C, H, W], fed to onnxruntime reshaped to
                           [5, C·H·W]), `labels` int64 [5] (uniform in [0, K)) and `logits`
                           float32 [5, K]: onnxruntime's output for `images` as is (log-
                           probabilities or probabilities when the graph ends in LogSoftmax or
                           Softmax). With `batch` 1 the five images are fed one at a time and the
                           outputs stacked.

    OUTDIR/bad/cases.json  a JSON list of {"name", "file", "reason", "node", "op_type"} and, for
                           some, "nodes", "op_types" and "tensor": models cimcarlo must refuse.
                           `file` is relative to OUTDIR/bad; `node` is the name of the offending
                           node and `op_type` its op type, or null when no node is at fault (the
                           error must name them when they are given). When several nodes are at
                           fault, `nodes` and `op_types` list them all (the error must name every
                           one) and `node`/`op_type` repeat the first. `tensor` names the
                           initializer or graph input the error must name (unreadable external
                           data, an input whose size overflows Int64).
    OUTDIR/bad/FILE        the bad model's bytes (most are valid ONNX that cimcarlo cannot map;
                           `truncated.onnx` and `not_onnx.onnx` are not ONNX at all;
                           `duplicate_output.onnx` and `cycle.onnx` are graphs the checker and
                           onnxruntime refuse). External data of the bad models:
                           bad/external_short.onnx.data (too short), and OUTDIR/outside.data, the
                           correct bytes at a location (`../outside.data`) outside bad/.
                           bad/external_missing.onnx.data does not exist.

The reasons of the bad models from external_missing on say what onnxruntime does with them, and
the script checks it (it fails if onnxruntime loads or runs a model it should refuse).

Weights are He-scaled normals (`normal · sqrt(2 / fan_in)`), so activations and logits stay O(1)
(the script checks 0.05 <= max |logit| <= 30 and that the images' outputs differ);
BatchNormalization has scales and running variances uniform in [0.5, 1.5) and means and shifts
of order 0.1. Each model is tiny (≤ 16 channels, ≤ 12×12 pixels except cifar_shaped's 32×32,
≤ 17 tokens of ≤ 16 features), so the whole script takes a few seconds.

Opsets and what changes with them: 11 and 12 take Squeeze/Unsqueeze axes, Split's split,
every Reduce's axes as attributes, and Softmax/LogSoftmax coerce the input
to 2-D at `axis` (default 1); from 13 Squeeze/Unsqueeze axes, Split's split and ReduceSum's axes
are inputs and Softmax works on one axis (default -1); from 18 ReduceMean/ReduceMax axes are
inputs, Split may have num_outputs (the last part smaller when uneven) and Pad an axes input;
LayerNormalization exists from 17, HardSwish from 14, Gelu from 20, Shape start/end from 15.
The IR version is 8 up to opset 18, 9 for 19 and 20, 10 for 21.

Only external_data_opset13 keeps its weights outside: onnxruntime 1.32 refuses to load a model
whose Reshape shape initializer is in external data (ONNX shape inference cannot read it), so a
graph with a constant-shape Reshape cannot be saved with size_threshold=0.
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
OUTPUT_KINDS = ("logits", "log_probabilities", "probabilities")
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

    def __init__(self, name, description, opset=13, input_shape=(3, 8, 8), classes=10, data_shape=None, batch="N",
                 external_data=False, output="logits"):
        assert batch in ("N", 1) and output in OUTPUT_KINDS
        self.name = name
        self.description = description
        self.opset = opset
        self.input_shape = tuple(input_shape)
        self.data_shape = tuple(data_shape or input_shape)
        self.classes = classes
        self.batch = batch
        self.external_data = external_data
        self.output = output
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

    def outputs(self, op_type, inputs, count, name=None, **attributes):
        """Appends a node with `count` outputs (NAME_0, NAME_1, ...); returns their names."""
        name = name or self.fresh(op_type.lower())
        outputs = [self.fresh(f"{name}_{index}") for index in range(count)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=name, **attributes))
        return outputs

    def constant(self, name, array):
        """A Constant node (value attribute) holding `array`, as the legacy exporter writes scalars and shapes."""
        name = self.fresh(name)
        value = numpy_helper.from_array(np.asarray(array), name + ".value")
        self.nodes.append(helper.make_node("Constant", [], [name], name=name, value=value))
        return name

    def ints(self, name, values):
        """An int64 initializer (a shape, axes, indices, pads); a scalar when `values` is a number."""
        return self.const(name, np.array(values, np.int64))

    def scalar(self, name, value):
        """A rank-0 float32 initializer."""
        return self.const(name, np.array(value, np.float32))

    # Ops whose axes moved from an attribute to an input.

    def reduce(self, op_type, x, axes, keepdims=1):
        """ReduceMean/Sum/Max over `axes`: an `axes` input from opset 18 (ReduceSum: 13), else the attribute."""
        if self.opset >= 18 or (op_type == "ReduceSum" and self.opset >= 13):
            return self.op(op_type, [x, self.ints(op_type.lower() + ".axes", axes)], keepdims=keepdims)
        return self.op(op_type, [x], axes=list(axes), keepdims=keepdims)

    def squeeze(self, op_type, x, axes):
        """Squeeze/Unsqueeze: an `axes` input from opset 13, else the attribute."""
        if self.opset >= 13:
            return self.op(op_type, [x, self.ints(op_type.lower() + ".axes", axes)])
        return self.op(op_type, [x], axes=list(axes))

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

    def gemm(self, x, outputs=None, bias=True, scale=0.7, **attributes):
        """Gemm(transB=1) to `outputs` features (the case's classes by default), weight [outputs, F]."""
        outputs = outputs or self.classes
        features = self.shape(x)[1]
        name = self.fresh("gemm")
        weight = self.const(f"{name}.weight", self.he((outputs, features), features, scale))
        inputs = [x, weight] + ([self.const(f"{name}.bias", self.small(outputs))] if bias else [])
        attributes.setdefault("transB", 1)
        return self.op("Gemm", inputs, name, **attributes)

    def head(self, x, **attributes):
        """Flatten then Gemm(transB=1) to the classes."""
        return self.gemm(self.op("Flatten", [x]), **attributes)

    def linear(self, x, outputs, bias=True, scale=1.0):
        """A PyTorch Linear on the last axis of `x` (any rank): MatMul by a constant [F, outputs], Add a bias."""
        features = self.shape(x)[-1]
        name = self.fresh("linear")
        y = self.op("MatMul", [x, self.const(f"{name}.weight", self.he((features, outputs), features, scale))], name)
        return self.op("Add", [y, self.const(f"{name}.bias", self.small(outputs))]) if bias else y

    def layernorm(self, x, epsilon=1e-5):
        """Layer normalisation over the last axis: LayerNormalization from opset 17, else the legacy exporter's
        decomposition ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul gamma, Add beta."""
        features = self.shape(x)[-1]
        name = self.fresh("layernorm")
        gamma = self.const(f"{name}.weight", self.rng.uniform(0.5, 1.5, features).astype(np.float32))
        beta = self.const(f"{name}.bias", self.small(features))
        if self.opset >= 17:
            return self.op("LayerNormalization", [x, gamma, beta], name, axis=-1, epsilon=epsilon)
        centred = self.op("Sub", [x, self.reduce("ReduceMean", x, [-1])])
        squared = self.op("Pow", [centred, self.constant("pow.exponent", np.array(2.0, np.float32))])
        variance = self.reduce("ReduceMean", squared, [-1])
        epsilon = self.constant("layernorm.epsilon", np.array(epsilon, np.float32))
        deviation = self.op("Sqrt", [self.op("Add", [variance, epsilon])])
        return self.op("Add", [self.op("Mul", [self.op("Div", [centred, deviation]), gamma]), beta])

    def gelu(self, x, form):
        """GELU: the legacy exporter's erf form x * (erf(x / sqrt 2) + 1) * 0.5 ("erf"), or a Gelu node
        (opset 20) with approximate "none" or "tanh"."""
        if form != "erf":
            return self.op("Gelu", [x], approximate=form)
        scaled = self.op("Div", [x, self.constant("gelu.sqrt2", np.array(1.4142135, np.float32))])
        shifted = self.op("Add", [self.op("Erf", [scaled]), self.constant("gelu.one", np.array(1.0, np.float32))])
        return self.op("Mul", [self.op("Mul", [x, shifted]), self.constant("gelu.half", np.array(0.5, np.float32))])

    def batch_size(self, x):
        """PyTorch's x.size(0) as a 1-D int64 tensor [N]: Shape -> Gather(0) -> Unsqueeze(0)."""
        size = self.op("Gather", [self.op("Shape", [x]), self.constant("gather.index", np.array(0, np.int64))], axis=0)
        return self.squeeze("Unsqueeze", size, [0])

    # Shapes and the finished model.

    def graph_model(self, outputs):
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("images", TensorProto.FLOAT, [self.batch, *self.input_shape])],
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
        output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [self.batch, self.classes])
        model = self.graph_model([output])
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


# 22-24: elementwise arithmetic and broadcasting.

@case
def binary_computed_opset11():
    c = Case("binary_computed_opset11",
             "two Conv branches a, b (2 ch each) combined elementwise: Add, Sub, Mul, Div(a, Abs(b) + 1), Max, Min, "
             "Pow(a, 2) and Sub(a, GlobalAveragePool(b)) ([N,C,1,1] against [N,C,H,W]), concatenated on axis 1 "
             "(16 ch) -> Conv 1x1 -> Relu -> Flatten -> Gemm, opset 11", opset=11)
    a = c.conv("images", 2, pads=[1, 1, 1, 1])
    b = c.conv("images", 2, pads=[1, 1, 1, 1])
    results = [c.op("Add", [a, b]), c.op("Sub", [a, b]), c.op("Mul", [a, b]),
               c.op("Div", [a, c.op("Add", [c.op("Abs", [b]), c.scalar("one", 1.0)])]),
               c.op("Max", [a, b]), c.op("Min", [a, b]), c.op("Pow", [a, c.scalar("two", 2.0)]),
               c.op("Sub", [a, c.op("GlobalAveragePool", [b])])]
    x = c.op("Relu", [c.conv(c.op("Concat", results, axis=1), 4, kernel=(1, 1))])
    return c, c.head(x)


@case
def binary_constants_opset13():
    c = Case("binary_constants_opset13",
             "x = Conv (2 ch), p = Sigmoid(x) (positive); constants on either side with broadcasting: Sub(scalar, x), "
             "Div(scalar, p + 0.5), Mul([C,1,1], x), Add(x, [1,C,1,1]), Max(x, scalar 0), Min([C,1,1], x), "
             "Div(x, [W]) (last axis), Pow(p, 0.5), concatenated on axis 1 (16 ch) -> Conv 1x1 -> Flatten -> Gemm",
             input_shape=(3, 8, 6))
    x = c.conv("images", 2, pads=[1, 1, 1, 1], scale=1.5)
    p = c.op("Sigmoid", [x])
    results = [c.op("Sub", [c.scalar("one", 1.0), x]),
               c.op("Div", [c.scalar("numerator", 0.75), c.op("Add", [p, c.scalar("half", 0.5)])]),
               c.op("Mul", [c.const("channel.scale", c.rng.uniform(0.5, 2, (2, 1, 1)).astype(np.float32)), x]),
               c.op("Add", [x, c.const("channel.shift", c.small((1, 2, 1, 1), 0.5))]),
               c.op("Max", [x, c.scalar("zero", 0.0)]),
               c.op("Min", [c.const("channel.ceiling", c.small((2, 1, 1), 0.5)), x]),
               c.op("Div", [x, c.const("column.divisor", c.rng.uniform(0.5, 2, 6).astype(np.float32))]),
               c.op("Pow", [p, c.scalar("square_root", 0.5)])]
    x = c.conv(c.op("Concat", results, axis=1), 4, kernel=(1, 1))
    return c, c.head(x)


@case
def binary_tokens_opset18():
    c = Case("binary_tokens_opset18",
             "tokens: images [N,4,4,4] -> Reshape [0, 4, -1] ([N, T=4, F=16]); y = Linear(x) (MatMul + Add [F]); "
             "Mul([F], x), Sub(x, [T,1]), Div(y, scalar 2), Max(x, y), Min(y, x), Pow(x - y, 2) combined by Add "
             "-> Flatten -> Gemm, opset 18", opset=18, input_shape=(4, 4, 4))
    x = c.op("Reshape", ["images", c.ints("reshape.shape", [0, 4, -1])])
    y = c.linear(x, 16)
    terms = [c.op("Mul", [c.const("feature.scale", c.rng.uniform(0.5, 1.5, 16).astype(np.float32)), x]),
             c.op("Sub", [x, c.const("token.shift", c.small((4, 1), 0.5))]),
             c.op("Div", [y, c.scalar("two", 2.0)]),
             c.op("Max", [x, y]), c.op("Min", [y, x]),
             c.op("Pow", [c.op("Sub", [x, y]), c.scalar("two", 2.0)])]
    total = terms[0]
    for term in terms[1:]:
        total = c.op("Add", [total, term])
    return c, c.head(total, scale=0.4)


# 25-26: unary activations.

@case
def unary_opset11():
    c = Case("unary_opset11",
             "x = Conv (4 ch, values about +-2); four groups of four activations of x, each concatenated (16 ch) "
             "-> Conv 1x1 and the groups summed -> Relu -> Flatten -> Gemm: [Sigmoid, HardSigmoid (default "
             "alpha 0.2 beta 0.5), HardSigmoid(alpha 1/6, beta 0.5), Erf], [Exp, Log(Sigmoid(x) + 1), Sqrt(Abs(x) + "
             "0.1), Reciprocal(Abs(x) + 1)], [Neg, Abs, Softplus, Relu], [Tanh, LeakyRelu(alpha 0.2), Clip(-1, 1), "
             "x], opset 11", opset=11)
    x = c.conv("images", 4, pads=[1, 1, 1, 1], scale=2.0)
    absolute = c.op("Abs", [x])
    groups = [
        [c.op("Sigmoid", [x]), c.op("HardSigmoid", [x]), c.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5),
         c.op("Erf", [x])],
        [c.op("Exp", [x]), c.op("Log", [c.op("Add", [c.op("Sigmoid", [x]), c.scalar("one", 1.0)])]),
         c.op("Sqrt", [c.op("Add", [absolute, c.scalar("tenth", 0.1)])]),
         c.op("Reciprocal", [c.op("Add", [absolute, c.scalar("one", 1.0)])])],
        [c.op("Neg", [x]), absolute, c.op("Softplus", [x]), c.op("Relu", [x])],
        [c.op("Tanh", [x]), c.op("LeakyRelu", [x], alpha=0.2),
         c.op("Clip", [x, c.scalar("clip.min", -1.0), c.scalar("clip.max", 1.0)]), x]]
    total = None
    for group in groups:
        y = c.conv(c.op("Concat", group, axis=1), 4, kernel=(1, 1), scale=0.5)
        total = y if total is None else c.op("Add", [total, y])
    return c, c.head(c.op("Relu", [total]), scale=0.4)


@case
def unary_opset20():
    c = Case("unary_opset20",
             "x = Conv (4 ch, values about +-2) -> [Gelu (approximate \"none\"), Gelu (approximate \"tanh\"), "
             "HardSwish, Clip with a min input only (-0.5) and no max] concatenated on axis 1 (16 ch) -> Conv 1x1 "
             "-> Flatten -> Gemm, opset 20", opset=20)
    x = c.conv("images", 4, pads=[1, 1, 1, 1], scale=2.0)
    group = [c.op("Gelu", [x], approximate="none"), c.gelu(x, "tanh"), c.op("HardSwish", [x]),
             c.op("Clip", [x, c.scalar("clip.min", -0.5)])]
    return c, c.head(c.conv(c.op("Concat", group, axis=1), 4, kernel=(1, 1)))


# 27-30: softmax.

def softmax_axes(opset):
    coerced = opset < 13
    c = Case(f"softmax_axes_opset{opset}",
             f"x = Conv (4 ch) on [N,4,8,8]; Softmax with no axis attribute (default {1 if coerced else -1}: "
             + ("over C*H*W, the input coerced to 2-D at axis 1" if coerced else "over W") + "), times 64; "
             "Softmax axis 1 (" + ("over C*H*W" if coerced else "over C at each pixel") + "); LogSoftmax axis 2 ("
             + ("over H*W" if coerced else "over H") + "); LogSoftmax axis -1 (over W); concatenated on axis 1 "
             f"(16 ch) -> Conv 1x1 -> Flatten -> Gemm, opset {opset}", opset=opset)
    x = c.conv("images", 4, pads=[1, 1, 1, 1], scale=2.0)
    default = c.op("Mul", [c.op("Softmax", [x]), c.scalar("scale", 64.0 if coerced else 8.0)])
    channels = c.op("Softmax", [x], axis=1)
    if coerced:
        channels = c.op("Mul", [channels, c.scalar("scale", 64.0)])
    group = [default, channels, c.op("LogSoftmax", [x], axis=2), c.op("LogSoftmax", [x], axis=-1)]
    return c, c.head(c.conv(c.op("Concat", group, axis=1), 4, kernel=(1, 1), scale=0.5))


for _opset in (11, 13):
    case(lambda opset=_opset: softmax_axes(opset))


@case
def logsoftmax_head_opset11():
    c = Case("logsoftmax_head_opset11",
             "a model ending in LogSoftmax (log-probabilities): Conv -> Relu -> MaxPool 2x2 -> Flatten -> Gemm -> "
             "LogSoftmax axis 1, opset 11", opset=11, output="log_probabilities")
    x = c.op("MaxPool", [c.op("Relu", [c.conv("images", 6, pads=[1, 1, 1, 1])])], kernel_shape=[2, 2], strides=[2, 2])
    return c, c.op("LogSoftmax", [c.head(x)], axis=1)


@case
def softmax_head_opset20():
    c = Case("softmax_head_opset20",
             "a model ending in Softmax (probabilities): Conv stride 2 -> Relu -> ReduceMean (axes input [3], keepdims "
             "0) -> Flatten -> Gemm -> Softmax axis -1, opset 20", opset=20, output="probabilities")
    x = c.op("Relu", [c.conv("images", 8, strides=[2, 2], pads=[1, 1, 1, 1], scale=2.0)])
    x = c.reduce("ReduceMean", x, [3], keepdims=0)
    return c, c.op("Softmax", [c.gemm(c.op("Flatten", [x]), scale=1.5)], axis=-1)


# 31-34: reductions.

def reductions(opset):
    where = ("axes input" if opset >= 18 else
             "axes attribute (ReduceSum: axes input)" if opset >= 13 else "axes attribute")
    c = Case(f"reduce_opset{opset}",
             f"x = Conv (4 ch) on [N,4,8,6]; ReduceMean axes [2,3] keepdims 1 -> Flatten; ReduceSum axes [1] "
             f"keepdims 0 -> Reshape [0, -1]; ReduceMax axes [3] keepdims 0 -> Flatten; ReduceMax axes [-1, -2] "
             f"keepdims 1 -> Flatten; ReduceMean axes [-2] keepdims 0 -> Flatten; the five concatenated on axis 1 -> Gemm; {where}, "
             f"opset {opset}", opset=opset, input_shape=(3, 8, 6))
    x = c.conv("images", 4, pads=[1, 1, 1, 1], scale=1.5)
    parts = [c.op("Flatten", [c.reduce("ReduceMean", x, [2, 3], keepdims=1)]),
             c.op("Reshape", [c.reduce("ReduceSum", x, [1], keepdims=0), c.ints("reshape.shape", [0, -1])]),
             c.op("Flatten", [c.reduce("ReduceMax", x, [3], keepdims=0)]),
             c.op("Flatten", [c.reduce("ReduceMax", x, [-1, -2], keepdims=1)]),
             c.op("Flatten", [c.reduce("ReduceMean", x, [-2], keepdims=0)])]
    return c, c.gemm(c.op("Concat", parts, axis=1))


for _opset in (11, 13, 18):
    case(lambda opset=_opset: reductions(opset))


@case
def global_maxpool():
    c = Case("global_maxpool",
             "CBAM-style pooling: Conv -> Relu -> GlobalAveragePool and GlobalMaxPool concatenated on axis 1 -> "
             "Flatten -> Gemm", input_shape=(3, 10, 10))
    x = c.op("Relu", [c.conv("images", 6, strides=[2, 2], pads=[1, 1, 1, 1], scale=1.5)])
    pooled = c.op("Concat", [c.op("GlobalAveragePool", [x]), c.op("GlobalMaxPool", [x])], axis=1)
    return c, c.head(pooled)


# 35-36: layer normalisation.

def layernorm(opset):
    form = "LayerNormalization (axis -1, epsilon 1e-5)" if opset >= 17 else (
        "the decomposed layer norm the legacy exporter writes (ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, "
        "Div, Mul gamma, Add beta; scalars from Constant nodes)")
    c = Case(f"layernorm_opset{opset}" if opset >= 17 else f"layernorm_decomposed_opset{opset}",
             f"tokens: images [N,4,4,4] -> Reshape [0, 4, 16] -> Linear 16 -> 12 (MatMul + Add) -> {form} -> Relu "
             f"-> Linear 12 -> 8 -> {form} -> Flatten -> Gemm, opset {opset}", opset=opset, input_shape=(4, 4, 4))
    x = c.op("Reshape", ["images", c.ints("reshape.shape", [0, 4, 16])])
    x = c.op("Relu", [c.layernorm(c.linear(x, 12, scale=2.0))])
    x = c.layernorm(c.linear(x, 8))
    return c, c.head(x)


for _opset in (11, 17):
    case(lambda opset=_opset: layernorm(opset))


# 37-46: shape ops.

INT64_MAX = 2 ** 63 - 1


@case
def transpose_perms_opset13():
    c = Case("transpose_perms_opset13",
             "x = Conv (4 ch) on [N,4,8,6]; Transpose [0,2,3,1] (NHWC) -> Linear over channels (rank-4 MatMul + "
             "Add) -> Transpose [0,3,1,2]; Transpose [0,1,3,2] -> Conv 3x3 -> Transpose [0,1,3,2]; Reshape "
             "[0,2,2,8,6] -> Transpose [0,2,1,4,3] (rank 5) -> Reshape [0,4,8,6]; the three added -> Relu -> Flatten, "
             "concatenated with Reshape(x, [0,4,48]) -> Transpose [0,2,1] -> Flatten -> Gemm",
             input_shape=(3, 8, 6))
    x = c.conv("images", 4, pads=[1, 1, 1, 1])
    channels_last = c.linear(c.op("Transpose", [x], perm=[0, 2, 3, 1]), 4)
    a = c.op("Transpose", [channels_last], perm=[0, 3, 1, 2])
    swapped = c.conv(c.op("Transpose", [x], perm=[0, 1, 3, 2]), 4, pads=[1, 1, 1, 1])
    b = c.op("Transpose", [swapped], perm=[0, 1, 3, 2])
    five = c.op("Transpose", [c.op("Reshape", [x, c.ints("reshape.shape", [0, 2, 2, 8, 6])])], perm=[0, 2, 1, 4, 3])
    d = c.op("Reshape", [five, c.ints("reshape.shape", [0, 4, 8, 6])])
    summed = c.op("Relu", [c.op("Add", [c.op("Add", [a, b]), d])])
    tokens = c.op("Transpose", [c.op("Reshape", [x, c.ints("reshape.shape", [0, 4, 48])])], perm=[0, 2, 1])
    x = c.op("Concat", [c.op("Flatten", [summed]), c.op("Flatten", [tokens])], axis=1)
    return c, c.gemm(x)


@case
def reshape_flatten_axes_opset13():
    c = Case("reshape_flatten_axes_opset13",
             "x = Conv (4 ch) on [N,4,8,8]; Reshape [0, 2, -1, 8] -> Relu -> Flatten (axis 1); Flatten axis 2 "
             "([N*4, 64]) -> Gemm 64 -> 6 -> Relu -> Reshape [-1, 24]; Flatten axis 3 ([N*32, 8]) -> Gemm 8 -> 2 "
             "-> Reshape [-1, 64]; the three concatenated on axis 1 -> Gemm")
    x = c.conv("images", 4, pads=[1, 1, 1, 1])
    a = c.op("Flatten", [c.op("Relu", [c.op("Reshape", [x, c.ints("reshape.shape", [0, 2, -1, 8])])])], axis=1)
    b = c.op("Relu", [c.gemm(c.op("Flatten", [x], axis=2), outputs=6)])
    b = c.op("Reshape", [b, c.ints("reshape.shape", [-1, 24])])
    d = c.gemm(c.op("Flatten", [x], axis=3), outputs=2)
    d = c.op("Reshape", [d, c.ints("reshape.shape", [-1, 64])])
    return c, c.gemm(c.op("Concat", [a, b, d], axis=1), scale=0.5)


def squeeze_unsqueeze(opset):
    where = "axes inputs" if opset >= 13 else "axes attributes"
    last = "[-1, -2]" if opset >= 13 else "[2, 3]"
    c = Case(f"squeeze_unsqueeze_opset{opset}",
             f"x = Relu(Conv 8 ch stride 2); GlobalAveragePool -> Squeeze {last} ([N,8]) -> Unsqueeze [1] ([N,1,8]) "
             f"-> Linear 8 -> 8 (rank 3) -> Squeeze [1] -> Unsqueeze {last} ([N,8,1,1]) -> Conv 1x1 -> Sigmoid -> "
             f"Mul with x -> Flatten -> Gemm; {where}, opset {opset}", opset=opset)
    x = c.op("Relu", [c.conv("images", 8, strides=[2, 2], pads=[1, 1, 1, 1], scale=1.5)])
    axes = [-1, -2] if opset >= 13 else [2, 3]
    v = c.squeeze("Squeeze", c.op("GlobalAveragePool", [x]), axes)
    v = c.squeeze("Squeeze", c.linear(c.squeeze("Unsqueeze", v, [1]), 8, scale=2.0), [1])
    gate = c.op("Sigmoid", [c.conv(c.squeeze("Unsqueeze", v, axes), 8, kernel=(1, 1), scale=2.0)])
    return c, c.head(c.op("Mul", [x, gate]))


for _opset in (11, 13):
    case(lambda opset=_opset: squeeze_unsqueeze(opset))


@case
def split_opset11():
    c = Case("split_opset11",
             "x = Conv (6 ch); Split axis 1 with the split attribute [2, 4] -> (Sigmoid of the first, Conv 1x1 4 -> 2 "
             "of Relu of the second) concatenated on axis 1 in reverse order -> Flatten -> Gemm, opset 11", opset=11)
    x = c.conv("images", 6, pads=[1, 1, 1, 1], scale=1.5)
    a, b = c.outputs("Split", [x], 2, axis=1, split=[2, 4])
    x = c.op("Concat", [c.conv(c.op("Relu", [b]), 2, kernel=(1, 1)), c.op("Sigmoid", [a])], axis=1)
    return c, c.head(x)


@case
def split_opset13():
    c = Case("split_opset13",
             "x = Conv (4 ch); Split axis 2 with a split input [3, 5] -> Concat axis 2 in reverse order; Split axis "
             "1 with a split input [1, 3] -> Concat axis 1 in reverse order; the two added -> Relu -> Flatten -> Gemm")
    x = c.conv("images", 4, pads=[1, 1, 1, 1])
    top, bottom = c.outputs("Split", [x, c.ints("split.sizes", [3, 5])], 2, axis=2)
    first, rest = c.outputs("Split", [x, c.ints("split.sizes", [1, 3])], 2, axis=1)
    x = c.op("Add", [c.op("Concat", [bottom, top], axis=2), c.op("Concat", [rest, first], axis=1)])
    return c, c.head(c.op("Relu", [x]))


@case
def split_opset18():
    c = Case("split_opset18",
             "x = Conv (7 ch) on [N,7,8,6]; Split axis 1 num_outputs 2 (uneven: 4 and 3 channels); the first Split "
             "axis 3 num_outputs 3 (2, 2, 2) -> Concat axis 3 as (third, first, second); the second -> Conv 1x1 "
             "3 -> 4; the two added -> Relu -> Flatten -> Gemm, opset 18", opset=18, input_shape=(3, 8, 6))
    x = c.conv("images", 7, pads=[1, 1, 1, 1])
    a, b = c.outputs("Split", [x], 2, axis=1, num_outputs=2)
    p, q, r = c.outputs("Split", [a], 3, axis=3, num_outputs=3)
    x = c.op("Add", [c.op("Concat", [r, p, q], axis=3), c.conv(b, 4, kernel=(1, 1))])
    return c, c.head(c.op("Relu", [x]))


def slices(opset):
    c = Case(f"slice_opset{opset}",
             "x = Conv (6 ch) on [N,6,8,8]; Slice (starts/ends/axes/steps inputs) channels 1:4; H and W from 0 "
             "and 1 to INT64_MAX with steps [2, 2]; axes [-1, -2] starts [-4, -7] ends [-1, 1000] (negative "
             "indices, an end past the size); no axes or steps input, starts [0, 0, 2] ends [INT64_MAX, 2, -2] "
             f"(axes 0, 1, 2); each Flattened, concatenated on axis 1 -> Gemm, opset {opset}", opset=opset)
    x = c.conv("images", 6, pads=[1, 1, 1, 1])

    def sliced(starts, ends, axes=None, steps=None):
        inputs = [x, c.ints("slice.starts", starts), c.ints("slice.ends", ends)]
        if axes is not None:
            inputs.append(c.ints("slice.axes", axes))
        if steps is not None:
            inputs.append(c.ints("slice.steps", steps))
        return c.op("Flatten", [c.op("Slice", inputs)])

    parts = [sliced([1], [4], [1], [1]),
             sliced([0, 1], [INT64_MAX, INT64_MAX], [2, 3], [2, 2]),
             sliced([-4, -7], [-1, 1000], [-1, -2]),
             sliced([0, 0, 2], [INT64_MAX, 2, -2])]
    return c, c.gemm(c.op("Concat", parts, axis=1), scale=0.7)


for _opset in (11, 13):
    case(lambda opset=_opset: slices(opset))


def gathers(opset):
    c = Case(f"gather_opset{opset}",
             "x = Conv (6 ch) on [N,6,8,8]; Gather axis 1 scalar index 2 ([N,8,8], the axis removed); Gather axis 1 "
             "indices [4, 0, 3] -> Relu; Gather axis 3 scalar index -1 ([N,6,8]); Gather axis 2 indices [-1, 0]; "
             "each Flattened, concatenated on axis 1 -> Gemm; indices from "
             + ("Constant nodes" if opset < 13 else "initializers") + f", opset {opset}", opset=opset)
    x = c.conv("images", 6, pads=[1, 1, 1, 1])
    index = c.constant if opset < 13 else c.ints

    def gathered(indices, axis):
        return c.op("Gather", [x, index("gather.indices", np.array(indices, np.int64))], axis=axis)

    parts = [c.op("Flatten", [gathered(2, 1)]), c.op("Flatten", [c.op("Relu", [gathered([4, 0, 3], 1)])]),
             c.op("Flatten", [gathered(-1, 3)]), c.op("Flatten", [gathered([-1, 0], 2)])]
    return c, c.gemm(c.op("Concat", parts, axis=1), scale=0.7)


for _opset in (11, 13):
    case(lambda opset=_opset: gathers(opset))


@case
def concat_axes_opset13():
    c = Case("concat_axes_opset13",
             "a = Conv 3x3, b = Conv 1x1 (4 ch each, [N,4,8,8]); Concat axis 2 (a, b) -> Conv stride 2 ([N,4,8,4]) "
             "-> Transpose [0,1,3,2]; Concat axis 3 (b, a) -> Conv stride 2 ([N,4,4,8]); these two Concat axis -1 "
             "([N,4,4,16]) -> Flatten; tokens Reshape(a, [0,4,-1]) and Reshape(b, [0,4,-1]) Concat on the token axis "
             "1 ([N,8,64]) -> Linear 64 -> 4 -> Flatten; the two Concat axis -1 -> Gemm")
    a = c.conv("images", 4, pads=[1, 1, 1, 1])
    b = c.conv("images", 4, kernel=(1, 1))
    h = c.conv(c.op("Concat", [a, b], axis=2), 4, strides=[2, 2], pads=[1, 1, 1, 1])
    w = c.conv(c.op("Concat", [b, a], axis=3), 4, strides=[2, 2], pads=[1, 1, 1, 1])
    n = c.op("Flatten", [c.op("Concat", [c.op("Transpose", [h], perm=[0, 1, 3, 2]), w], axis=-1)])
    tokens = c.op("Concat", [c.op("Reshape", [a, c.ints("reshape.shape", [0, 4, -1])]),
                             c.op("Reshape", [b, c.ints("reshape.shape", [0, 4, -1])])], axis=1)
    t = c.op("Flatten", [c.linear(tokens, 4)])
    return c, c.gemm(c.op("Concat", [n, t], axis=-1), scale=0.7)


# 47-48: dense layers on every rank, attention.

@case
def matmul_constant_ranks_opset13():
    c = Case("matmul_constant_ranks_opset13",
             "x = Conv (4 ch) on [N,4,8,8]; Linear on the last axis of the rank-4 x (MatMul [8,6] + Add [6]); "
             "Reshape [0,4,-1] -> Linear 64 -> 8 (rank 3); Flatten -> MatMul [256, 6] without bias (rank 2); "
             "Flatten -> Gemm transB=1 alpha 0.8 beta 0.5 to 12; all Flattened, concatenated -> Relu -> Gemm")
    x = c.conv("images", 4, pads=[1, 1, 1, 1])
    flat = c.op("Flatten", [x])
    parts = [c.op("Flatten", [c.linear(x, 6)]),
             c.op("Flatten", [c.linear(c.op("Reshape", [x, c.ints("reshape.shape", [0, 4, -1])]), 8)]),
             c.linear(flat, 6, bias=False),
             c.gemm(flat, outputs=12, alpha=0.8, beta=0.5)]
    return c, c.gemm(c.op("Relu", [c.op("Concat", parts, axis=1)]))


def to_tokens(c, x, batch_one=False):
    """[N, D, h, w] -> [N, h*w, D] as PyTorch's x.flatten(2).transpose(1, 2): Reshape then Transpose."""
    channels = c.shape(x)[1]
    shape = [1, channels, -1] if batch_one else [0, 0, -1]
    return c.op("Transpose", [c.op("Reshape", [x, c.ints("tokens.shape", shape)])], perm=[0, 2, 1])


@case
def attention_opset11():
    c = Case("attention_opset11",
             "self-attention with 2 heads on 16 tokens of 8 features: patch Conv 2x2 stride 2 -> Reshape [0,0,-1] -> "
             "Transpose [0,2,1]; q, k, v Linear; q, v Reshape [0,0,2,4] -> Transpose [0,2,1,3]; k Reshape -> "
             "Transpose [0,2,3,1]; scores MatMul(q, kT) ([N,2,16,16]) times 1/sqrt(d) computed from the shape "
             "(Shape -> Gather(3) -> Cast float -> Sqrt -> Div(1, .)) -> Softmax axis -1 -> MatMul with v -> "
             "Transpose [0,2,1,3] -> Reshape [0,0,-1] -> Linear -> residual Add -> Flatten -> Gemm, opset 11",
             opset=11)
    x = to_tokens(c, c.conv("images", 8, kernel=(2, 2), strides=[2, 2]))

    def heads(t, perm):
        return c.op("Transpose", [c.op("Reshape", [t, c.ints("heads.shape", [0, 0, 2, 4])])], perm=perm)

    q, k, v = (heads(c.linear(x, 8), perm) for perm in ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3]))
    size = c.op("Gather", [c.op("Shape", [q]), c.constant("gather.index", np.array(3, np.int64))], axis=0)
    root = c.op("Sqrt", [c.op("Cast", [size], to=TensorProto.FLOAT)])
    scale = c.op("Div", [c.constant("one", np.array(1.0, np.float32)), root])
    weights = c.op("Softmax", [c.op("Mul", [c.op("MatMul", [q, k]), scale])], axis=-1)
    attended = c.op("Transpose", [c.op("MatMul", [weights, v])], perm=[0, 2, 1, 3])
    attended = c.op("Reshape", [attended, c.ints("merge.shape", [0, 0, -1])])
    x = c.op("Add", [x, c.linear(attended, 8)])
    return c, c.head(x, scale=0.5)


# 49-53: Resize and Pad.

def resize_node(c, x, mode, transform, scales=None, sizes=None):
    """Resize as PyTorch writes it: cubic_coeff_a -0.75, nearest_mode floor for nearest; opset 11 needs roi and
    scales inputs (empty tensors when unused), later opsets take empty names."""
    if c.opset < 13:
        roi = c.constant("resize.roi", np.zeros(0, np.float32))
        scale_input = c.constant("resize.scales", np.array(scales if scales else [], np.float32))
    else:
        roi = ""
        scale_input = c.const("resize.scales", np.array(scales, np.float32)) if scales else ""
    inputs = [x, roi, scale_input] + ([sizes] if sizes else [])
    extra = {"nearest_mode": "floor"} if mode == "nearest" else {}
    return c.op("Resize", inputs, mode=mode, coordinate_transformation_mode=transform, cubic_coeff_a=-0.75, **extra)


@case
def resize_nearest_scales_opset11():
    c = Case("resize_nearest_scales_opset11",
             "x = Relu(Conv 4 ch) on [N,4,6,6]; Resize mode nearest, coordinate_transformation_mode asymmetric, "
             "nearest_mode floor, roi and scales [1,1,2,2] from Constant nodes (12x12) -> Conv stride 2; the same "
             "with scales [1,1,1.5,1.5] (9x9) -> Conv stride 2; both Flattened, concatenated -> Gemm, opset 11",
             opset=11, input_shape=(3, 6, 6))
    x = c.op("Relu", [c.conv("images", 4, pads=[1, 1, 1, 1])])
    parts = [c.op("Flatten", [c.conv(resize_node(c, x, "nearest", "asymmetric", scales=[1, 1, s, s]), 4,
                                     strides=[2, 2], pads=[1, 1, 1, 1])]) for s in (2.0, 1.5)]
    return c, c.gemm(c.op("Concat", parts, axis=1), scale=0.7)


@case
def resize_nearest_sizes_opset13():
    c = Case("resize_nearest_sizes_opset13",
             "x = Relu(Conv 4 ch) on [N,4,6,6]; sizes = Cast(Concat(Slice(Shape(x), 0, 2), [10, 9]), int64) "
             "(the batch is dynamic); Resize(x, \"\", \"\", sizes) mode nearest, asymmetric, floor ([N,4,10,9]) -> "
             "Conv stride 2 -> Flatten -> Gemm", input_shape=(3, 6, 6))
    x = c.op("Relu", [c.conv("images", 4, pads=[1, 1, 1, 1])])
    leading = c.op("Slice", [c.op("Shape", [x]), c.ints("slice.starts", [0]), c.ints("slice.ends", [2]),
                             c.ints("slice.axes", [0])])
    sizes = c.op("Cast", [c.op("Concat", [leading, c.ints("resize.size", [10, 9])], axis=0)], to=TensorProto.INT64)
    x = c.conv(resize_node(c, x, "nearest", "asymmetric", sizes=sizes), 4, strides=[2, 2], pads=[1, 1, 1, 1])
    return c, c.head(x)


def resize_linear(opset, transform):
    c = Case(f"resize_linear_{transform}_opset{opset}",
             f"x = Relu(Conv 4 ch) on [N,4,6,6]; Resize mode linear, coordinate_transformation_mode {transform}, "
             f"scales [1,1,2,2] (12x12) -> Conv stride 2, and scales [1,1,1.5,1.5] (9x9) -> Conv stride 2; both "
             f"Flattened, concatenated -> Gemm, opset {opset}", opset=opset, input_shape=(3, 6, 6))
    x = c.op("Relu", [c.conv("images", 4, pads=[1, 1, 1, 1])])
    parts = [c.op("Flatten", [c.conv(resize_node(c, x, "linear", transform, scales=[1, 1, s, s]), 4,
                                     strides=[2, 2], pads=[1, 1, 1, 1])]) for s in (2.0, 1.5)]
    return c, c.gemm(c.op("Concat", parts, axis=1), scale=0.7)


case(lambda: resize_linear(11, "pytorch_half_pixel"))
case(lambda: resize_linear(18, "half_pixel"))


@case
def pad_opset11():
    c = Case("pad_opset11",
             "x = Conv (4 ch, no padding) on [N,4,6,6]; Pad mode constant, pads input [0,0,1,2,0,0,2,1], "
             "constant_value input 0.5; Pad mode reflect pads [0,0,2,1,0,0,1,2]; Pad mode edge pads "
             "[0,0,1,0,0,0,2,3]; concatenated on axis 1 ([N,12,9,9]) -> Conv stride 2 -> Flatten -> Gemm, opset 11",
             opset=11)
    x = c.conv("images", 4)
    a = c.op("Pad", [x, c.ints("pad.pads", [0, 0, 1, 2, 0, 0, 2, 1]), c.scalar("pad.value", 0.5)], mode="constant")
    b = c.op("Pad", [x, c.ints("pad.pads", [0, 0, 2, 1, 0, 0, 1, 2])], mode="reflect")
    d = c.op("Pad", [x, c.ints("pad.pads", [0, 0, 1, 0, 0, 0, 2, 3])], mode="edge")
    x = c.conv(c.op("Concat", [a, b, d], axis=1), 4, strides=[2, 2], pads=[1, 1, 1, 1])
    return c, c.head(x)


@case
def pad_opset18():
    c = Case("pad_opset18",
             "x = Conv (4 ch, no padding) on [N,4,6,6]; Pad mode constant with no constant_value (0) and an axes "
             "input [2, 3], pads [1,2,2,1]; Pad mode reflect pads [0,0,2,1,0,0,1,2] (no axes); concatenated on "
             "axis 1 ([N,8,9,9]) -> Conv stride 2 -> Flatten -> Gemm, opset 18", opset=18)
    x = c.conv("images", 4)
    a = c.op("Pad", [x, c.ints("pad.pads", [1, 2, 2, 1]), "", c.ints("pad.axes", [2, 3])], mode="constant")
    b = c.op("Pad", [x, c.ints("pad.pads", [0, 0, 2, 1, 0, 0, 1, 2])], mode="reflect")
    x = c.conv(c.op("Concat", [a, b], axis=1), 4, strides=[2, 2], pads=[1, 1, 1, 1])
    return c, c.head(x)


# 54-57: shape arithmetic that folds away.

def view_dynamic_batch(opset):
    cast = opset >= 13
    c = Case(f"view_dynamic_batch_opset{opset}",
             "PyTorch's x.view(x.size(0), -1) with a dynamic batch: Conv -> Relu -> Shape -> Gather(Constant 0) -> "
             "Unsqueeze [0] -> Concat with Constant [-1] " + ("-> Cast int64 " if cast else "") + "-> Reshape -> "
             f"Gemm, opset {opset}", opset=opset)
    x = c.op("Relu", [c.conv("images", 4, strides=[2, 2], pads=[1, 1, 1, 1])])
    shape = c.op("Concat", [c.batch_size(x), c.constant("view.rest", np.array([-1], np.int64))], axis=0)
    if cast:
        shape = c.op("Cast", [shape], to=TensorProto.INT64)
    return c, c.gemm(c.op("Reshape", [x, shape]))


for _opset in (11, 13):
    case(lambda opset=_opset: view_dynamic_batch(opset))


@case
def shape_ops_opset15():
    c = Case("shape_ops_opset15",
             "x = Conv (4 ch) on [N,4,8,8]; Add Cast(Range(0, Squeeze(Shape(x, start=-1), [0]), 1), float) * 0.1 "
             "(a [W] vector); Add ConstantOfShape(Shape(x, start=1), value 0.25) ([C,H,W]); Add a [4,1,1] constant "
             "Expanded to Where(Concat([true], Equal(Shape(x, start=2), [8, 8])), Concat([4], Shape(x, start=2)), "
             "[4,1,1]) = [4,8,8]; -> Relu -> Reshape(Concat(Shape(x, start=0, end=1), [-1])) -> Gemm, opset 15",
             opset=15)
    x = c.conv("images", 4, pads=[1, 1, 1, 1])
    width = c.squeeze("Squeeze", c.op("Shape", [x], start=-1), [0])
    positions = c.op("Range", [c.constant("range.start", np.array(0, np.int64)), width,
                               c.constant("range.delta", np.array(1, np.int64))])
    ramp = c.op("Mul", [c.op("Cast", [positions], to=TensorProto.FLOAT), c.scalar("ramp.scale", 0.1)])
    filled = c.op("ConstantOfShape", [c.op("Shape", [x], start=1)],
                  value=numpy_helper.from_array(np.array([0.25], np.float32), "value"))
    spatial = c.op("Shape", [x], start=2)
    full = c.op("Concat", [c.ints("expand.channels", [4]), spatial], axis=0)
    matches = c.op("Equal", [spatial, c.ints("expected.spatial", [8, 8])])
    target = c.op("Where", [c.op("Concat", [c.const("expand.true", np.array([True])), matches], axis=0), full,
                            c.ints("expand.fallback", [4, 1, 1])])
    bias = c.op("Expand", [c.const("expand.bias", c.small((4, 1, 1), 0.5)), target])
    x = c.op("Add", [c.op("Add", [c.op("Add", [x, ramp]), filled]), bias])
    shape = c.op("Concat", [c.op("Shape", [x], start=0, end=1), c.ints("view.rest", [-1])], axis=0)
    return c, c.gemm(c.op("Reshape", [c.op("Relu", [x]), shape]))


# 58-67: the families users bring.

def silu(c, x):
    """SiLU as exported: x * Sigmoid(x)."""
    return c.op("Mul", [x, c.op("Sigmoid", [x])])


def squeeze_excite(c, x, gate, activation="Relu", pool="GlobalAveragePool"):
    """Squeeze-excitation: pool -> Conv 1x1 (C -> C/2) -> activation -> Conv 1x1 (-> C) -> gate -> Mul with x."""
    channels = c.shape(x)[1]
    s = c.op("GlobalAveragePool", [x]) if pool == "GlobalAveragePool" else c.reduce("ReduceMean", x, [2, 3])
    s = c.conv(s, channels // 2, kernel=(1, 1), scale=1.5)
    s = silu(c, s) if activation == "SiLU" else c.op(activation, [s])
    s = c.conv(s, channels, kernel=(1, 1), scale=1.5)
    g = c.op("HardSigmoid", [s], alpha=1 / 6, beta=0.5) if gate == "HardSigmoid" else c.op(gate, [s])
    return c.op("Mul", [x, g])


@case
def se_hardswish_opset14():
    c = Case("se_hardswish_opset14",
             "MobileNetV3-style: Conv 3x3 stride 2 (8 ch) -> HardSwish -> squeeze-excitation (GlobalAveragePool -> "
             "Conv 1x1 8 -> 4 -> Relu -> Conv 1x1 4 -> 8 -> HardSigmoid(alpha 1/6, beta 0.5) -> Mul with the "
             "feature map) -> Conv 1x1 -> HardSwish -> GlobalAveragePool -> Flatten -> Gemm, opset 14",
             opset=14, input_shape=(3, 12, 12))
    x = c.op("HardSwish", [c.conv("images", 8, strides=[2, 2], pads=[1, 1, 1, 1], scale=1.5)])
    x = squeeze_excite(c, x, "HardSigmoid")
    x = c.op("HardSwish", [c.conv(x, 8, kernel=(1, 1), scale=1.5)])
    return c, c.head(c.op("GlobalAveragePool", [x]))


@case
def se_silu_opset13():
    c = Case("se_silu_opset13",
             "EfficientNet-style with SiLU written as x * Sigmoid(x): Conv 3x3 (8 ch) -> SiLU -> depthwise Conv 3x3 "
             "group 8 -> SiLU -> squeeze-excitation (GlobalAveragePool -> Conv 1x1 8 -> 4 -> SiLU -> Conv 1x1 4 -> "
             "8 -> Sigmoid -> Mul with the feature map) -> Conv 1x1 -> GlobalAveragePool -> Flatten -> Gemm")
    x = silu(c, c.conv("images", 8, pads=[1, 1, 1, 1], scale=1.5))
    x = silu(c, c.conv(x, 8, group=8, pads=[1, 1, 1, 1], scale=1.5))
    x = squeeze_excite(c, x, "Sigmoid", activation="SiLU")
    x = c.conv(x, 8, kernel=(1, 1), scale=1.5)
    return c, c.head(c.op("GlobalAveragePool", [x]))


@case
def channel_shuffle_opset11():
    c = Case("channel_shuffle_opset11",
             "ShuffleNet-style: Conv 3x3 (8 ch) -> Relu -> Conv 1x1 group 2 -> channel shuffle: Reshape to "
             "Concat(Unsqueeze(Gather(Shape(x), 0)), [2, 4, 8, 8]) -> Transpose [0,2,1,3,4] -> Reshape to "
             "Concat(batch, [-1, 8, 8]) -> Conv 3x3 group 2 -> Relu -> Flatten -> Gemm, opset 11", opset=11)
    x = c.op("Relu", [c.conv("images", 8, pads=[1, 1, 1, 1])])
    x = c.conv(x, 8, kernel=(1, 1), group=2)
    batch = c.batch_size(x)
    grouped = c.op("Reshape", [x, c.op("Concat", [batch, c.constant("shuffle.shape", np.array([2, 4, 8, 8], np.int64))],
                                       axis=0)])
    shuffled = c.op("Transpose", [grouped], perm=[0, 2, 1, 3, 4])
    x = c.op("Reshape", [shuffled, c.op("Concat", [batch, c.constant("merge.shape", np.array([-1, 8, 8], np.int64))],
                                        axis=0)])
    x = c.op("Relu", [c.conv(x, 8, group=2, strides=[2, 2], pads=[1, 1, 1, 1])])
    return c, c.head(x)


@case
def inverted_residual_bn_opset17():
    c = Case("inverted_residual_bn_opset17",
             "MobileNetV2 inverted residual, batch norm kept as its own node (BatchNormalization-15 with running "
             "statistics as initializers, training_mode 0, momentum 0.9, epsilon 1e-5), ReLU6 as Clip(0, 6) with "
             "min/max inputs: stem Conv (no bias) 3 -> 8 -> BN -> Clip; expand Conv 1x1 8 -> 16 -> BN -> Clip; "
             "depthwise Conv 3x3 group 16 -> BN -> Clip; project Conv 1x1 16 -> 8 -> BN; Add with the stem -> "
             "GlobalAveragePool -> Flatten -> Gemm, opset 17", opset=17)
    low, high = c.scalar("relu6.min", 0.0), c.scalar("relu6.max", 6.0)

    def conv_bn(x, outputs, **attributes):
        x = c.conv(x, outputs, bias=False, explicit=True, scale=1.5, **attributes)
        return c.batchnorm(x, epsilon=1e-5, momentum=0.9, training_mode=0)

    stem = c.op("Clip", [conv_bn("images", 8, pads=[1, 1, 1, 1]), low, high])
    x = c.op("Clip", [conv_bn(stem, 16, kernel=(1, 1)), low, high])
    x = c.op("Clip", [conv_bn(x, 16, group=16, pads=[1, 1, 1, 1]), low, high])
    x = c.op("Add", [stem, conv_bn(x, 8, kernel=(1, 1))])
    return c, c.head(c.op("GlobalAveragePool", [x]))


@case
def densenet_concat_opset13():
    c = Case("densenet_concat_opset13",
             "DenseNet-style (pre-activation: BatchNormalization -> Relu -> Conv, so BN follows a Concat, not a "
             "Conv): x0 = Conv 3 -> 4; y1 = layer(x0); y2 = layer(Concat(x0, y1)); Concat(x0, y1, y2) (12 ch) -> "
             "BN -> Relu -> Conv 1x1 12 -> 8 -> AveragePool 2x2 -> Flatten -> Gemm")
    x0 = c.conv("images", 4, pads=[1, 1, 1, 1])

    def layer(x, outputs, **attributes):
        return c.conv(c.op("Relu", [c.batchnorm(x, epsilon=1e-5)]), outputs, **attributes)

    y1 = layer(x0, 4, pads=[1, 1, 1, 1])
    y2 = layer(c.op("Concat", [x0, y1], axis=1), 4, pads=[1, 1, 1, 1])
    x = layer(c.op("Concat", [x0, y1, y2], axis=1), 8, kernel=(1, 1))
    x = c.op("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2])
    return c, c.head(x)


@case
def cnn_batch1_opset18():
    c = Case("cnn_batch1_opset18",
             "as torch >= 2.9's default exporter writes it, the batch fixed at 1 (input [1,3,12,12], output [1,10]): "
             "Conv stride 2 (no bias) -> BatchNormalization (training_mode 0) -> Relu -> Conv -> Relu -> ReduceMean "
             "(axes input [-1, -2], keepdims 1) instead of GlobalAveragePool -> Flatten axis 0 ([1, 8], as the batch "
             "is 1) -> Gemm; ReduceMean keepdims 0 -> Reshape [1, -1] -> Gemm; the two added, opset 18",
             opset=18, input_shape=(3, 12, 12), batch=1)
    x = c.conv("images", 8, bias=False, explicit=True, strides=[2, 2], pads=[1, 1, 1, 1])
    x = c.op("Relu", [c.batchnorm(x, epsilon=1e-5, momentum=0.9, training_mode=0)])
    x = c.op("Relu", [c.conv(x, 8, explicit=True, pads=[1, 1, 1, 1], scale=1.5)])
    a = c.gemm(c.op("Flatten", [c.reduce("ReduceMean", x, [-1, -2], keepdims=1)], axis=0))
    b = c.reduce("ReduceMean", x, [2, 3], keepdims=0)
    b = c.gemm(c.op("Reshape", [b, c.ints("reshape.shape", [1, -1])]))
    return c, c.op("Add", [a, b])


@case
def mobilenetv3_batch1_opset21():
    c = Case("mobilenetv3_batch1_opset21",
             "MobileNetV3 block at opset 21 (IR 10), batch fixed at 1: Conv 3x3 stride 2 -> HardSwish -> depthwise "
             "Conv 3x3 group 8 -> HardSwish -> squeeze-excitation with ReduceMean (axes input [2,3], keepdims 1) -> "
             "Conv 1x1 -> Relu -> Conv 1x1 -> HardSigmoid -> Mul; project Conv 1x1 added to the stem -> ReduceMean "
             "keepdims 0 -> Gemm", opset=21, input_shape=(3, 12, 12), batch=1)
    stem = c.op("HardSwish", [c.conv("images", 8, strides=[2, 2], pads=[1, 1, 1, 1], scale=1.5)])
    x = c.op("HardSwish", [c.conv(stem, 8, group=8, pads=[1, 1, 1, 1], scale=1.5)])
    x = squeeze_excite(c, x, "HardSigmoid", pool="ReduceMean")
    x = c.op("Add", [stem, c.conv(x, 8, kernel=(1, 1))])
    return c, c.gemm(c.reduce("ReduceMean", x, [2, 3], keepdims=0))


@case
def external_data_opset13():
    c = Case("external_data_opset13",
             "every initializer in an external data file beside the model (external_data_opset13.onnx.data, one "
             "file, no size threshold): Conv (no bias) -> BatchNormalization -> Relu -> Conv -> Relu -> MaxPool 2x2 "
             "-> Flatten -> Gemm", external_data=True)
    x = c.op("Relu", [c.batchnorm(c.conv("images", 8, bias=False, pads=[1, 1, 1, 1]), epsilon=1e-5)])
    x = c.op("Relu", [c.conv(x, 8, pads=[1, 1, 1, 1])])
    return c, c.head(c.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]))


# 68-70: vision transformers (12x12 images, 3x3 patches: 16 patch tokens and a class token of 16 features).

def transformer_block(c, x, qkv, scale, gelu):
    """A pre-norm transformer block on x [N, T, 16], 2 heads of 8: attention and a 16 -> 16 -> 16 MLP."""
    _, tokens, features = c.shape(x)
    heads, size = 2, features // 2
    h = c.layernorm(x)
    if qkv == "fused":  # timm: one Linear, Reshape [N, T, 3, heads, d] with a computed shape, Transpose, Gather.
        batch = c.batch_size(h)
        count = c.op("Gather", [c.op("Shape", [h]), c.constant("gather.index", np.array(1, np.int64))], axis=0)
        count = c.squeeze("Unsqueeze", count, [0])
        shape = c.op("Concat", [batch, count, c.constant("qkv.shape", np.array([3, heads, size], np.int64))], axis=0)
        t = c.op("Transpose", [c.op("Reshape", [c.linear(h, 3 * features), shape])], perm=[2, 0, 3, 1, 4])
        q, k, v = (c.op("Gather", [t, c.constant("qkv.index", np.array(i, np.int64))], axis=0) for i in range(3))
        k = c.op("Transpose", [k], perm=[0, 1, 3, 2])
        merge = c.op("Concat", [batch, count, c.constant("merge.shape", np.array([features], np.int64))], axis=0)
    else:
        if qkv == "split":  # one Linear, Split num_outputs 3, static shapes (batch 1).
            parts = c.outputs("Split", [c.linear(h, 3 * features)], 3, axis=-1, num_outputs=3)
            shape, merge = [1, tokens, heads, size], c.ints("merge.shape", [1, tokens, features])
        else:  # three Linears, Reshape [0, 0, heads, d].
            parts = [c.linear(h, features) for _ in range(3)]
            shape, merge = [0, 0, heads, size], c.ints("merge.shape", [0, 0, -1])
        q, k, v = (c.op("Transpose", [c.op("Reshape", [part, c.ints("heads.shape", shape)])], perm=perm)
                   for part, perm in zip(parts, ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3])))
    scores = c.op("MatMul", [q, k])
    if scale == "shape":  # 1 / sqrt(q.size(-1)) from the shape.
        root = c.op("Sqrt", [c.op("Cast", [c.op("Shape", [q], start=-1)], to=TensorProto.FLOAT)])
        factor = c.op("Div", [c.constant("one", np.array(1.0, np.float32)), root])
    else:
        factor = c.scalar("attention.scale", 1 / np.sqrt(size))
    weights = c.op("Softmax", [c.op("Mul", [scores, factor])], axis=-1)
    attended = c.op("Transpose", [c.op("MatMul", [weights, v])], perm=[0, 2, 1, 3])
    x = c.op("Add", [x, c.linear(c.op("Reshape", [attended, merge]), features)])
    hidden = c.gelu(c.linear(c.layernorm(x), 16, scale=1.5), gelu)
    return c.op("Add", [x, c.linear(hidden, features, scale=0.7)])


@case
def vit_opset13():
    c = Case("vit_opset13",
             "ViT block as the legacy exporter writes it, opset 13, dynamic batch: patch Conv 3x3 stride 3 (16 ch) -> "
             "Reshape [0,0,-1] -> Transpose [0,2,1] (16 tokens); class token [1,1,16] Expanded to the batch via "
             "Concat(Unsqueeze(Gather(Shape, 0)), [-1], [-1]) with -1 replaced by 1 (ConstantOfShape, Mul, Equal, "
             "Where) -> Concat on the token axis (17 tokens) -> Add positions [1,17,16]; pre-norm block with the "
             "decomposed layer norm, fused qkv Linear -> Reshape to Concat(N, T, [3, 2, 8]) -> Transpose "
             "[2,0,3,1,4] -> Gather 0/1/2 -> k Transpose [0,1,3,2], scores MatMul * 1/sqrt(8) -> Softmax -1 -> "
             "MatMul v -> Transpose -> Reshape -> Linear, residual; MLP with erf-based GELU, residual; layer norm "
             "-> Gather axis 1 index 0 (class token) -> Gemm", input_shape=(3, 12, 12))
    x = to_tokens(c, c.conv("images", 16, kernel=(3, 3), strides=[3, 3]))
    target = c.op("Concat", [c.batch_size(x), c.constant("expand.rest", np.array([-1, -1], np.int64))], axis=0)
    ones = c.op("ConstantOfShape", [c.constant("expand.rank", np.array([3], np.int64))],
                value=numpy_helper.from_array(np.array([1], np.int64), "value"))
    minus = c.op("Mul", [ones, c.constant("minus_one", np.array(-1, np.int64))])
    target = c.op("Where", [c.op("Equal", [target, minus]), ones, target])
    cls = c.op("Expand", [c.const("cls_token", c.small((1, 1, 16), 0.5)), target])
    x = c.op("Add", [c.op("Concat", [cls, x], axis=1), c.const("position", c.small((1, 17, 16), 0.5))])
    x = c.layernorm(transformer_block(c, x, "fused", "constant", "erf"))
    x = c.op("Gather", [x, c.constant("cls.index", np.array(0, np.int64))], axis=1)
    return c, c.gemm(x)


@case
def vit_opset20():
    c = Case("vit_opset20",
             "ViT block, opset 20, dynamic batch: patch Conv -> tokens; class token Expanded to Concat(Shape(x, "
             "end=1), [1, 16]) -> Concat on the token axis; positions Gather(table [17,16], Range(0, Gather(Shape, 1), "
             "1)) added ([T,16] against [N,T,16]); LayerNormalization; separate q/k/v Linears -> Reshape [0,0,2,8] "
             "-> Transpose [0,2,1,3] (k: [0,2,3,1]); scores * 1/Sqrt(Cast(Shape(q, start=-1))) -> Softmax -> "
             "weighted sum -> Reshape [0,0,-1] -> Linear, residual; MLP with Gelu (approximate none), residual; "
             "LayerNormalization -> class token by Slice [0:1] on axis 1 -> Squeeze [1] -> Gemm",
             opset=20, input_shape=(3, 12, 12))
    x = to_tokens(c, c.conv("images", 16, kernel=(3, 3), strides=[3, 3]))
    target = c.op("Concat", [c.op("Shape", [x], end=1), c.ints("expand.rest", [1, 16])], axis=0)
    x = c.op("Concat", [c.op("Expand", [c.const("cls_token", c.small((1, 1, 16), 0.5)), target]), x], axis=1)
    count = c.op("Gather", [c.op("Shape", [x]), c.ints("gather.index", 1)], axis=0)
    positions = c.op("Range", [c.ints("range.start", 0), count, c.ints("range.delta", 1)])
    table = c.const("position.table", c.small((17, 16), 0.5))
    x = c.op("Add", [x, c.op("Gather", [table, positions], axis=0)])
    x = c.layernorm(transformer_block(c, x, "separate", "shape", "none"))
    first = c.op("Slice", [x, c.ints("slice.starts", [0]), c.ints("slice.ends", [1]), c.ints("slice.axes", [1])])
    return c, c.gemm(c.squeeze("Squeeze", first, [1]))


@case
def vit_batch1_opset18():
    c = Case("vit_batch1_opset18",
             "ViT block as torch >= 2.9's default exporter writes it: batch fixed at 1, static shapes, opset 18: "
             "patch Conv -> Reshape [1,16,-1] -> Transpose; Concat(class "
             "token [1,1,16], tokens) -> Add positions [17,16]; LayerNormalization; qkv Linear -> Split num_outputs 3 "
             "-> Reshape [1,17,2,8] -> Transpose; scores * 1/sqrt(8) -> Softmax -> weighted sum -> Reshape [1,17,16] "
             "-> Linear, residual; MLP with erf-based GELU (no Gelu before opset 20), residual; LayerNormalization "
             "-> Gather axis 1 index 0 -> Gemm", opset=18, input_shape=(3, 12, 12), batch=1)
    x = to_tokens(c, c.conv("images", 16, kernel=(3, 3), strides=[3, 3]), batch_one=True)
    x = c.op("Concat", [c.const("cls_token", c.small((1, 1, 16), 0.5)), x], axis=1)
    x = c.op("Add", [x, c.const("position", c.small((17, 16), 0.5))])
    x = c.layernorm(transformer_block(c, x, "split", "constant", "erf"))
    return c, c.gemm(c.op("Gather", [x, c.ints("cls.index", 0)], axis=1))


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
             helper.make_node("CumSum", ["conv_out", "cumsum.axis"], ["cumsum_out"], name="unsupported_node")]
    head, weights = head_nodes("cumsum_out", 4 * 8 * 8)
    model = bad_model("unsupported_op", nodes + head, [image_input()], [logits_output()],
                      [conv_weight("conv.weight"), tensor("conv.bias", np.zeros(4)),
                       numpy_helper.from_array(np.array(3, np.int64), "cumsum.axis")] + weights, opset=14)
    cases.append(("unsupported_op", "unsupported_op.onnx", None,
                  "a CumSum node (opset 14, axis 3) between the Conv and the Flatten", "unsupported_node", "CumSum",
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
    model = bad_model("wrong_input_rank", head, [image_input(("N", 1, 1, 1, 28, 28))], [logits_output()], weights)
    cases.append(("wrong_input_rank", "wrong_input_rank.onnx", None,
                  "the graph input `images` has rank 6 [N, 1, 1, 1, 28, 28] (Flatten -> Gemm); cimcarlo reads at most"
                  " rank 4 per sample", None, None, model))

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
    return [{"name": name, "file": file_name, "data": data, "reason": reason, "node": node, "op_type": op_type,
             "model": model} for name, file_name, data, reason, node, op_type, model in cases] + more_bad_cases()


def external(tensor, location, offset):
    """Moves `tensor`'s bytes out to `location` at `offset`; returns the bytes."""
    data = tensor.raw_data
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(len(data)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return data


def small_model(name, middle=None, features=4 * 64, conv_weight=None, extra=(), body=None,
                input_shape=("N", 3, 8, 8)):
    """A conv_basic-shaped model for a bad case, unchecked: Conv "conv" 3 -> 4 (3x3, pads 1) writing conv_out, then
    `middle` (nodes from conv_out to `features`; a Relu by default), Flatten, Gemm "gemm" [10, features] to logits.
    `body` replaces the Conv and the middle. Initializers: conv.weight and conv.bias (without `body`), `extra`,
    gemm.weight and gemm.bias, drawn from a generator seeded by `name`."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    initializers = []
    if body is None:
        weight = conv_weight if conv_weight is not None else rng.standard_normal((4, 3, 3, 3)) * np.sqrt(2 / 27)
        body = [helper.make_node("Conv", ["images", "conv.weight", "conv.bias"], ["conv_out"], name="conv",
                                 kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
        body += middle or [helper.make_node("Relu", ["conv_out"], ["features"], name="relu")]
        initializers = [numpy_helper.from_array(np.asarray(weight, np.float32), "conv.weight"),
                        numpy_helper.from_array((rng.standard_normal(len(weight)) * 0.1).astype(np.float32),
                                                "conv.bias")]
    nodes = body + [helper.make_node("Flatten", ["features"], ["flat"], name="flatten"),
                    helper.make_node("Gemm", ["flat", "gemm.weight", "gemm.bias"], ["logits"], name="gemm", transB=1)]
    initializers += list(extra) + [
        numpy_helper.from_array((rng.standard_normal((10, features)) * np.sqrt(1 / max(features, 1)))
                                .astype(np.float32), "gemm.weight"),
        numpy_helper.from_array((rng.standard_normal(10) * 0.1).astype(np.float32), "gemm.bias")]
    return bad_model(name, nodes, [image_input(input_shape)],
                     [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [input_shape[0], 10])], initializers)


def more_bad_cases():
    """The bad models added with external data, graph-structure and multi-op errors (see bad_cases)."""
    cases = []

    def add(name, model, reason, node=None, op_type=None, **fields):
        cases.append({"name": name, "file": name + ".onnx", "data": None, "reason": reason, "node": node,
                      "op_type": op_type, "model": model, **fields})

    # External data that cannot be read. Only the named tensors are external; the rest are inline.
    model = small_model("external_missing")
    external(model.graph.initializer[0], "external_missing.onnx.data", 0)
    add("external_missing", model,
        "conv.weight's data is in external_missing.onnx.data (offset 0, 432 bytes), which does not exist; "
        "onnxruntime refuses to load it", tensor="conv.weight", onnxruntime="refuses at load")

    model = small_model("external_short")
    tensors = {tensor.name: tensor for tensor in model.graph.initializer}
    conv_bytes = external(tensors["conv.weight"], "external_short.onnx.data", 0)
    gemm_bytes = external(tensors["gemm.weight"], "external_short.onnx.data", len(conv_bytes))
    add("external_short", model,
        f"conv.weight (offset 0, {len(conv_bytes)} bytes) and gemm.weight (offset {len(conv_bytes)}, "
        f"{len(gemm_bytes)} bytes) are in external_short.onnx.data, which holds only "
        f"{len(conv_bytes) + len(gemm_bytes) // 2} bytes: gemm.weight runs past its end; onnxruntime refuses to "
        "load it", tensor="gemm.weight", onnxruntime="refuses at load",
        files={"external_short.onnx.data": conv_bytes + gemm_bytes[: len(gemm_bytes) // 2]})

    model = small_model("external_escape")
    conv_bytes = external(model.graph.initializer[0], "../outside.data", 0)
    add("external_escape", model,
        "conv.weight's external data location is ../outside.data, outside the model's folder (the file exists, "
        "OUTDIR/outside.data, with the right bytes, so only the location is wrong); onnxruntime refuses to load it",
        tensor="conv.weight", onnxruntime="refuses at load", files={"../outside.data": conv_bytes})

    # Broken graphs (put together without the checker, which refuses them too).
    middle = [helper.make_node("Relu", ["conv_out"], ["features"], name="relu_writer"),
              helper.make_node("Sigmoid", ["conv_out"], ["features"], name="sigmoid_writer")]
    add("duplicate_output", small_model("duplicate_output", middle),
        "two nodes, relu_writer (Relu) and sigmoid_writer (Sigmoid), both write the tensor `features` that the "
        "Flatten reads; onnxruntime refuses to load it (duplicate definition)", node="relu_writer", op_type="Relu",
        nodes=["relu_writer", "sigmoid_writer"], op_types=["Relu", "Sigmoid"], onnxruntime="refuses at load")

    middle = [helper.make_node("Add", ["conv_out", "loop_b"], ["loop_a"], name="cycle_add"),
              helper.make_node("Relu", ["loop_a"], ["loop_b"], name="cycle_relu"),
              helper.make_node("Identity", ["loop_b"], ["features"], name="identity")]
    add("cycle", small_model("cycle", middle),
        "cycle_add (Add) reads cycle_relu's output and cycle_relu (Relu) reads cycle_add's: a cycle; "
        "onnxruntime refuses to load it (the graph is not acyclic)", node="cycle_add", op_type="Add",
        nodes=["cycle_add", "cycle_relu"], op_types=["Add", "Relu"], onnxruntime="refuses at load")

    middle = [helper.make_node("Relu", ["conv_out"], ["relu_out"], name="relu"),
              helper.make_node("GlobalAveragePool", ["relu_out"], ["features"], name="pool")]
    model = small_model("zero_channels", middle, features=0, conv_weight=np.zeros((0, 3, 3, 3), np.float32))
    model.graph.node[0].name = "zero_conv"
    onnx.checker.check_model(model, full_check=True)
    add("zero_channels", model,
        "the Conv zero_conv has zero output channels (weight [0, 3, 3, 3], bias [0], output [N, 0, 8, 8]) -> Relu "
        "-> GlobalAveragePool -> Flatten -> Gemm with weight [10, 0]: valid ONNX, and onnxruntime loads it and runs "
        "the Conv, but fails at run time in the GlobalAveragePool (\"Only N can be zero\"); without the pooling "
        "(Conv -> Flatten -> Gemm) onnxruntime runs it and returns the Gemm's bias", node="zero_conv",
        op_type="Conv", onnxruntime="refuses at run")

    body = [helper.make_node("GlobalAveragePool", ["images"], ["pooled"], name="pool"),
            helper.make_node("ReduceMean", ["pooled"], ["features"], name="mean", axes=[1], keepdims=1)]
    model = small_model("input_overflow", body=body, features=1, input_shape=(1, 2 ** 40, 2 ** 40, 3))
    onnx.checker.check_model(model, full_check=True)
    add("input_overflow", model,
        "the graph input images is declared [1, 2^40, 2^40, 3], 3 * 2^80 elements, past Int64 "
        "(GlobalAveragePool -> ReduceMean over channels -> Flatten -> Gemm [10, 1]); valid ONNX that onnxruntime "
        "loads, but no input can be fed (it checks every fed dimension against the declared ones)",
        tensor="images", onnxruntime="loads; cannot run")

    # Three unsupported ops, each on the way to the logits.
    rng = np.random.default_rng(zlib.crc32(b"three_unsupported.extra"))
    hidden = 8
    middle = [helper.make_node("Einsum", ["conv_out", "einsum.weight"], ["mixed"], name="projection_einsum",
                               equation="nchw,oc->nohw"),
              helper.make_node("Reshape", ["mixed", "sequence.shape"], ["sequence_batch_first"], name="reshape"),
              helper.make_node("Transpose", ["sequence_batch_first"], ["sequence"], name="transpose", perm=[1, 0, 2]),
              helper.make_node("LSTM", ["sequence", "lstm.W", "lstm.R", "lstm.B"], ["", "lstm_h"],
                               name="sequence_lstm", hidden_size=hidden),
              helper.make_node("Squeeze", ["lstm_h", "squeeze.axes"], ["last_state"], name="squeeze"),
              helper.make_node("Flatten", ["mixed"], ["mixed_flat"], name="flatten_mixed"),
              helper.make_node("TopK", ["mixed_flat", "topk.k"], ["top_values", "top_indices"], name="feature_topk"),
              helper.make_node("Concat", ["last_state", "top_values"], ["features"], name="concat", axis=1)]
    extra = [numpy_helper.from_array((rng.standard_normal((6, 4)) * 0.5).astype(np.float32), "einsum.weight"),
             numpy_helper.from_array(np.array([0, 6, 64], np.int64), "sequence.shape"),
             numpy_helper.from_array((rng.standard_normal((1, 4 * hidden, 64)) * 0.1).astype(np.float32), "lstm.W"),
             numpy_helper.from_array((rng.standard_normal((1, 4 * hidden, hidden)) * 0.3).astype(np.float32),
                                     "lstm.R"),
             numpy_helper.from_array((rng.standard_normal((1, 8 * hidden)) * 0.1).astype(np.float32), "lstm.B"),
             numpy_helper.from_array(np.array([0], np.int64), "squeeze.axes"),
             numpy_helper.from_array(np.array([8], np.int64), "topk.k")]
    model = small_model("three_unsupported", middle, features=2 * hidden, extra=extra)
    onnx.checker.check_model(model, full_check=True)
    add("three_unsupported", model,
        "three unsupported ops on the way to the logits: Einsum projection_einsum (a 1x1 convolution, equation "
        "nchw,oc->nohw), LSTM sequence_lstm over its 6 channels as a sequence, TopK feature_topk (k 8) of its "
        "flattened output; the LSTM's last state and the top values are concatenated -> Flatten -> Gemm. Valid "
        "ONNX that onnxruntime runs; the one error line must name all three", node="projection_einsum",
        op_type="Einsum", nodes=["projection_einsum", "sequence_lstm", "feature_topk"],
        op_types=["Einsum", "LSTM", "TopK"], onnxruntime="runs")
    return cases


def check_bad_with_onnxruntime(path, entry):
    """Raises when onnxruntime's behaviour on a bad model is not the one its reason states."""
    expected = entry.pop("onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    try:
        runner = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - any refusal will do
        if expected != "refuses at load":
            raise
        return
    if expected == "refuses at load":
        raise SystemExit(f"onnx_reference_cases.py: bad/{entry['file']}: onnxruntime loads it")
    if expected == "loads; cannot run":
        return
    images = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    try:
        runner.run(None, {"images": images})
    except Exception:  # noqa: BLE001
        if expected == "refuses at run":
            return
        raise
    if expected == "refuses at run":
        raise SystemExit(f"onnx_reference_cases.py: bad/{entry['file']}: onnxruntime runs it")


# Writing.

def run_case(c, model_or_path, images):
    """onnxruntime's output for the BATCH images: one run, or one run per image when the batch is fixed at 1."""
    if isinstance(model_or_path, str):
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        runner = ort.InferenceSession(model_or_path, options, providers=["CPUExecutionProvider"])
    else:
        runner = session(model_or_path)
    feed = images.reshape((BATCH,) + c.input_shape)
    if c.batch == 1:
        return np.concatenate([runner.run(["logits"], {"images": feed[i: i + 1]})[0] for i in range(BATCH)])
    return runner.run(["logits"], {"images": feed})[0]


def write_case(directory, c, model):
    images = c.rng.random((BATCH,) + c.data_shape, dtype=np.float32)
    labels = c.rng.integers(0, c.classes, size=BATCH, dtype=np.int64)
    logits = run_case(c, model, images)
    if logits.shape != (BATCH, c.classes) or logits.dtype != np.float32 or not np.all(np.isfinite(logits)):
        raise SystemExit(f"onnx_reference_cases.py: {c.name}: bad onnxruntime logits {logits.shape} {logits.dtype}")
    magnitude = float(np.abs(logits).max())
    spread = float(np.abs(logits - logits[:1]).max())
    if not 0.05 <= magnitude <= 30 or spread < 1e-3 * magnitude:
        raise SystemExit(f"onnx_reference_cases.py: {c.name}: logits not O(1) or the same for every image "
                         f"(max |logit| {magnitude:.3g}, largest difference from the first image's {spread:.3g})")
    ops = first_seen(node.op_type for node in model.graph.node)  # before saving moves the weights out
    path = os.path.join(directory, c.name + ".onnx")
    if c.external_data:
        location = c.name + ".onnx.data"
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=location,
                        size_threshold=0)
        onnx.checker.check_model(path)  # the data file's references; shape inference cannot read it (done above)
        if not np.array_equal(run_case(c, path, images), logits):
            raise SystemExit(f"onnx_reference_cases.py: {c.name}: the saved model with external data differs")
    else:
        onnx.save(model, path)
    with h5py.File(os.path.join(directory, c.name + ".h5"), "w") as file:
        file.create_dataset("images", data=images, track_times=False)
        file.create_dataset("labels", data=labels, track_times=False)
        file.create_dataset("logits", data=logits.astype(np.float32), track_times=False)
    extras = (", weights in " + c.name + ".onnx.data") if c.external_data else ""
    print(f"{c.name}: opset {c.opset}, batch {c.batch}{extras}, images {list(images.shape)}, "
          f"{c.output} {list(logits.shape)}, ops {' '.join(ops)}")
    return {"name": c.name, "description": c.description, "opset": c.opset, "ops": ops, "batch": c.batch,
            "external_data": c.external_data, "output": c.output}


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
    for entry in bad_cases(conv_basic_bytes):
        data, model = entry.pop("data"), entry.pop("model")
        if model is not None:
            data = model.SerializeToString()
        path = os.path.join(bad_directory, entry["file"])
        with open(path, "wb") as file:
            file.write(data)
        for relative, contents in entry.pop("files", {}).items():
            with open(os.path.normpath(os.path.join(bad_directory, relative)), "wb") as file:
                file.write(contents)
        if "onnxruntime" in entry:
            check_bad_with_onnxruntime(path, entry)
        bad_listing.append(entry)
        print(f"bad/{entry['file']}: {entry['reason']}")
    with open(os.path.join(bad_directory, "cases.json"), "w") as file:
        json.dump(bad_listing, file, indent=2)
        file.write("\n")
    print(f"{len(listing)} cases and {len(bad_listing)} bad models in {directory} "
          f"(onnx {onnx.__version__}, onnxruntime {ort.__version__})")


if __name__ == "__main__":
    main(sys.argv[1:])
