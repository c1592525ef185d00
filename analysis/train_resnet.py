#!/usr/bin/env python3
"""Train a small ResNet-8 on Fashion-MNIST (PyTorch, CPU) and export it to ONNX.

The network is a ResNet-8-style model for 1x28x28 images and 10 classes:

    Normalize  (x - 0.2860) / 0.3530, inside the graph (ONNX Sub, Div by constants)
    stem       conv3x3(1 -> C, pad 1, no bias) + BatchNorm + ReLU          28x28
    stage 1    BasicBlock(C  -> C,  stride 1, identity shortcut)            28x28
    stage 2    BasicBlock(C  -> 2C, stride 2, conv1x1 s2 + BN shortcut)     14x14
    stage 3    BasicBlock(2C -> 4C, stride 2, conv1x1 s2 + BN shortcut)      7x7
    head       global average pool, flatten, Linear(4C -> 10, bias)

A BasicBlock is conv3x3 + BN + ReLU + conv3x3 + BN, added to its shortcut, then ReLU.
The exported model takes float images [N, 1, 28, 28] with pixels in [0, 1] (x / 255) and
returns logits [N, 10]; the batch axis is dynamic. BatchNormalization stays a separate
node (it is not folded into the convolutions).

Data: the IDX gzip files of Debian's `dataset-fashion-mnist` package
(/usr/share/datasets/fashion-mnist), read with gzip + numpy. No downloads.

Training: SGD (momentum 0.9, Nesterov), weight decay 5e-4, batch 128, cosine learning-rate
decay per step from 0.1 to 0; augmentation is a random crop with 2-pixel zero padding and
a random horizontal flip. Everything random (initialisation, shuffling, augmentation)
comes from the seed, and `torch.use_deterministic_algorithms(True)` is on, so a run is
reproducible for a given seed and thread count on CPU (a different --threads may change
floating-point summation order, and so the last bits of the result).

After training the script evaluates the model on the full 10 000-image test split in
PyTorch, exports it to ONNX (opset 13, classic TorchScript exporter), runs the ONNX file
through onnxruntime on the same split, checks that both agree, stores the training
command, seed, test accuracy and torch version in the ONNX metadata_props, and writes a
JSON summary next to the model (same name, `.json`).

The shipped model models/resnet8.onnx was produced, from the repository root, with:

    python3 analysis/train_resnet.py --epochs 20 --seed 1 --channels 16 --threads 2 --output models/resnet8.onnx

Requirements: torch, onnx, onnxruntime, numpy.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import random
import shlex
import struct
import sys
import time

# Under CPU contention (e.g. a compiler running on the other core), OpenMP threads that
# spin-wait make torch with 2 threads up to 10x slower; passive waiting avoids that. This
# must be set before torch (and its OpenMP runtime) is loaded. It does not change results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = 0.2860
STD = 0.3530
NUM_CLASSES = 10
OPSET = 13

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


# ----------------------------------------------------------------------------- data

def read_idx(path: str) -> np.ndarray:
    """Read a (gzip-compressed) IDX file into a numpy array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4]!r})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) - offset != count:
        raise ValueError(f"{path}: expected {count} bytes of data, found {len(data) - offset}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_split(data_dir: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 [N, 1, 28, 28] in [0, 1] (x / 255), labels as int64 [N]."""
    images = read_idx(os.path.join(data_dir, FILES[f"{split}_images"]))
    labels = read_idx(os.path.join(data_dir, FILES[f"{split}_labels"]))
    if images.shape[0] != labels.shape[0] or images.shape[1:] != (28, 28):
        raise ValueError(f"unexpected {split} shapes {images.shape}, {labels.shape}")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1).contiguous()
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def augment(x: torch.Tensor, gen: torch.Generator, pad: int = 2) -> torch.Tensor:
    """Random crop with `pad`-pixel zero padding, then random horizontal flip (per image)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    rows = oy[:, None] + torch.arange(h)[None, :]                       # [n, h]
    cols = ox[:, None] + torch.arange(w)[None, :]                       # [n, w]
    cols = torch.where(flip[:, None], cols.flip(1), cols)               # flip = reversed columns
    idx_n = torch.arange(n)[:, None, None]
    out = padded[:, 0][idx_n, rows[:, :, None], cols[:, None, :]]      # [n, h, w]
    return out.unsqueeze(1).contiguous()


# ----------------------------------------------------------------------------- model

class Normalize(nn.Module):
    """(x - mean) / std with constant buffers: exported as ONNX Sub and Div."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor([mean], dtype=torch.float32).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor([std], dtype=torch.float32).view(1, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(cout),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet8(nn.Module):
    def __init__(self, channels: int = 16, num_classes: int = NUM_CLASSES):
        super().__init__()
        c = channels
        self.normalize = Normalize(MEAN, STD)
        self.stem = nn.Sequential(conv3x3(1, c), nn.BatchNorm2d(c), nn.ReLU())
        self.stage1 = BasicBlock(c, c, stride=1)
        self.stage2 = BasicBlock(c, 2 * c, stride=2)
        self.stage3 = BasicBlock(2 * c, 4 * c, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero-init the last BN of each residual branch: each block starts as (near) identity.
        for block in (self.stage1, self.stage2, self.stage3):
            nn.init.zeros_(block.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        x = self.stem(x)
        x = self.stage3(self.stage2(self.stage1(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


# ----------------------------------------------------------------------------- train / eval

@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> tuple[int, np.ndarray]:
    """Number of correct predictions and the logits, in eval mode."""
    model.eval()
    logits = []
    for i in range(0, x.shape[0], batch):
        logits.append(model(x[i:i + batch]))
    out = torch.cat(logits)
    correct = int((out.argmax(1) == y).sum())
    return correct, out.numpy()


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, args, gen: torch.Generator,
          test: tuple[torch.Tensor, torch.Tensor] | None) -> float:
    n = x.shape[0]
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)   # no weight decay on BN and biases
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": args.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1.0 + np.cos(np.pi * min(s, total_steps) / total_steps)))

    start = time.perf_counter()
    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb = augment(x[idx], gen) if args.augment else x[idx]
            yb = y[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            loss_sum += loss.item() * yb.shape[0]
            correct += int((out.argmax(1) == yb).sum())
            seen += yb.shape[0]
            if args.log_every and step % args.log_every == 0:
                print(f"  step {step}/{total_steps} loss {loss_sum / seen:.4f} "
                      f"({time.perf_counter() - t0:.1f}s into epoch)", flush=True)
        msg = (f"epoch {epoch}/{args.epochs}: train loss {loss_sum / seen:.4f} "
               f"train acc {100.0 * correct / seen:.2f}% lr {sched.get_last_lr()[0]:.5f} "
               f"time {time.perf_counter() - t0:.1f}s (total {time.perf_counter() - start:.1f}s)")
        if test is not None:
            c, _ = evaluate(model, *test)
            msg += f" | test acc {100.0 * c / test[1].shape[0]:.2f}% (monitoring only)"
        print(msg, flush=True)
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- export

def export_onnx(model: nn.Module, path: str) -> None:
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28, dtype=torch.float32)
    kwargs = dict(
        input_names=["images"],
        output_names=["logits"],
        dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=OPSET,
        do_constant_folding=True,
        # PRESERVE with the model in eval mode exports inference-mode BatchNormalization but
        # skips the eval peephole pass that would fold BN into the preceding Conv.
        training=torch.onnx.TrainingMode.PRESERVE,
    )
    import inspect
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False   # classic TorchScript exporter
    import warnings
    with warnings.catch_warnings():
        # The legacy exporter is deprecated, and it warns that constant folding with PRESERVE
        # could change trainable parameters: the model is in eval mode, so nothing is changed.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*constant folding.*", category=UserWarning)
        torch.onnx.export(model, (dummy,), path, **kwargs)


def onnx_op_counts(path: str) -> "collections.OrderedDict[str, int]":
    import onnx
    m = onnx.load(path)
    counts: "collections.OrderedDict[str, int]" = collections.OrderedDict()
    for node in m.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def onnxruntime_eval(path: str, x: torch.Tensor, y: torch.Tensor, threads: int,
                     batch: int = 1000) -> tuple[int, np.ndarray]:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    xs = x.numpy()
    outs = [sess.run(["logits"], {"images": xs[i:i + batch]})[0] for i in range(0, xs.shape[0], batch)]
    out = np.concatenate(outs)
    correct = int((out.argmax(1) == y.numpy()).sum())
    return correct, out


def set_metadata(path: str, props: dict[str, str]) -> None:
    """Add metadata_props, and replace initializer-only Identity nodes by initializers.

    In each projection block the residual branch's last BN bias and the shortcut BN bias
    always receive the same gradient (both are added right before the ReLU) and start at 0,
    so they stay equal; the exporter then deduplicates them and emits
    `Identity(bias_a) -> bias_b`. Here that Identity becomes a copy of the initializer, so
    every BatchNormalization reads its own parameters and the graph has no Identity nodes.
    """
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {t.name: t for t in m.graph.initializer}
    for node in list(m.graph.node):
        if node.op_type == "Identity" and len(node.input) == 1 and node.input[0] in inits:
            copy = numpy_helper.from_array(numpy_helper.to_array(inits[node.input[0]]), node.output[0])
            m.graph.initializer.append(copy)
            m.graph.node.remove(node)
    onnx.helper.set_model_props(m, props)
    onnx.checker.check_model(m)
    onnx.save(m, path)


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--output", required=True, help="ONNX path, e.g. models/resnet8.onnx")
    p.add_argument("--channels", type=int, default=16, choices=(16, 24, 32),
                   help="stem width C (stages are C, 2C, 4C); default 16")
    p.add_argument("--threads", type=int, default=2, help="torch / onnxruntime CPU threads")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--limit-train", type=int, default=0,
                   help="use only the first N training images (for quick timing runs)")
    p.add_argument("--eval-each-epoch", action="store_true",
                   help="print test accuracy after each epoch (monitoring only, no selection)")
    p.add_argument("--log-every", type=int, default=0, help="print a line every N steps")
    args = p.parse_args(argv)

    command = "python3 " + " ".join(shlex.quote(a) for a in ([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])))

    # Determinism.
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    try:
        torch.use_deterministic_algorithms(True)
        deterministic = True
    except Exception as e:  # pragma: no cover
        print(f"warning: use_deterministic_algorithms unavailable: {e}", file=sys.stderr)
        deterministic = False
    gen = torch.Generator().manual_seed(args.seed)

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, deterministic {deterministic}")
    x_train, y_train = load_split(args.data_dir, "train")
    x_test, y_test = load_split(args.data_dir, "test")
    if args.limit_train:
        x_train, y_train = x_train[:args.limit_train], y_train[:args.limit_train]
    print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}, "
          f"train mean {float(x_train.mean()):.4f} std {float(x_train.std()):.4f}", flush=True)

    model = ResNet8(args.channels)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"ResNet-8, C={args.channels}, {n_params} parameters", flush=True)

    train_seconds = train(model, x_train, y_train, args, gen,
                          (x_test, y_test) if args.eval_each_epoch else None)
    print(f"training took {train_seconds:.1f}s", flush=True)

    n_test = int(y_test.shape[0])
    correct_pt, logits_pt = evaluate(model, x_test, y_test)
    acc_pt = correct_pt / n_test
    print(f"PyTorch test accuracy: {100.0 * acc_pt:.2f}% ({correct_pt}/{n_test})", flush=True)

    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    export_onnx(model, args.output)
    set_metadata(args.output, {
        "training_command": command,
        "training_seed": str(args.seed),
        "test_accuracy": f"{acc_pt:.4f}",
        "trained_with": f"torch {torch.__version__}",
    })
    ops = onnx_op_counts(args.output)
    print("ONNX op types: " + ", ".join(f"{k} x{v}" for k, v in ops.items()), flush=True)
    if "BatchNormalization" not in ops:
        print("error: BatchNormalization was folded away in the ONNX graph", file=sys.stderr)
        return 1

    correct_ort, logits_ort = onnxruntime_eval(args.output, x_test, y_test, args.threads)
    acc_ort = correct_ort / n_test
    agree = int((logits_ort.argmax(1) == logits_pt.argmax(1)).sum())
    max_diff = float(np.abs(logits_ort - logits_pt).max())
    print(f"onnxruntime test accuracy: {100.0 * acc_ort:.2f}% ({correct_ort}/{n_test}); "
          f"predictions agree on {agree}/{n_test}, max |logit diff| {max_diff:.2e}", flush=True)

    summary = collections.OrderedDict(
        architecture=(f"ResNet-8 (normalize (x-{MEAN})/{STD}; stem conv3x3 1->{args.channels} + BN + ReLU; "
                      f"BasicBlocks {args.channels}->{args.channels} s1, {args.channels}->{2 * args.channels} s2, "
                      f"{2 * args.channels}->{4 * args.channels} s2; global avg pool; "
                      f"Linear {4 * args.channels}->{NUM_CLASSES}); input [N,1,28,28] in [0,1]"),
        command=command,
        seed=args.seed,
        epochs=args.epochs,
        channels=args.channels,
        parameters=n_params,
        threads=args.threads,
        pytorch_version=torch.__version__,
        onnx_opset=OPSET,
        test_accuracy_pytorch=acc_pt,
        test_correct_pytorch=correct_pt,
        test_accuracy_onnxruntime=acc_ort,
        test_correct_onnxruntime=correct_ort,
        test_images=n_test,
        training_seconds=round(train_seconds, 1),
        onnx_op_types=list(ops.keys()),
        onnx_op_counts=dict(ops),
    )
    json_path = os.path.splitext(args.output)[0] + ".json"
    with open(json_path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes) and {json_path}", flush=True)

    if correct_ort != correct_pt:
        print("error: PyTorch and onnxruntime accuracies differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
