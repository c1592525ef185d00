#!/usr/bin/env python3
"""Train a small Vision Transformer on Fashion-MNIST (PyTorch, CPU) and export it to ONNX.

The network is a small ViT for 1x28x28 images and 10 classes (defaults in brackets):

    Normalize   (x - 0.2860) / 0.3530, inside the graph (ONNX Sub, Div by constants)
    patches     Conv2d(1 -> D, kernel P, stride P) [D 64, P 7]: (28/P)^2 = 16 tokens of
                width D, flattened and transposed to [N, 16, D]
    class token learned [1, 1, D], prepended: 17 tokens
    positions   learned positional embedding [1, 17, D], added
    encoder     nn.TransformerEncoder of L [3] standard
                nn.TransformerEncoderLayer(D, H [4] heads, MLP width M [128], dropout 0,
                activation="gelu", batch_first=True, norm_first=True), i.e. pre-norm blocks
                    x = x + MHA(LayerNorm(x));  x = x + Linear(GELU(Linear(LayerNorm(x))))
                (GELU is the exact, erf-based one)
    head        final LayerNorm, then Linear(D -> 10) on the class token

The exported model takes float images [1, 1, 28, 28] with pixels in [0, 1] (x / 255) and
returns logits [1, 10]: the batch is fixed at 1, as the default exporter does it.

Data: the IDX gzip files of Debian's `dataset-fashion-mnist` package
(/usr/share/datasets/fashion-mnist), read with gzip + numpy. No downloads.

Training: AdamW (betas 0.9/0.999, weight decay 0.05 on matrices and convolution kernels
only, none on biases, LayerNorm, class token and positional embedding), batch 128,
learning rate warmed up linearly over the first epoch to --lr [2e-3] and then cosine-decayed
per step to 0, gradient norm clipped at 1, cross-entropy with label smoothing 0.1.
Augmentation: a random horizontal flip, and a random crop with --crop-pad pixels of zero
padding [2]; the shipped model uses --crop-pad 0 (flip only): with 7x7 patches the shifted
crops cost this small model accuracy (15 epochs with crops: 88.11 %; 20 epochs flip-only:
89.69 %). Everything random (initialisation, shuffling, augmentation) comes from the seed,
and `torch.use_deterministic_algorithms(True)` is on, so a run is reproducible for a given
seed and thread count on CPU (a different --threads may change floating-point summation
order, and so the last bits of the result). --eval-each-epoch only prints the test
accuracy after each epoch (no model selection, no randomness consumed).

After training the script evaluates the model on the full 10 000-image test split in
PyTorch, exports it with the DEFAULT exporter of torch >= 2.9, exactly as a user would:

    torch.onnx.export(model, (example,), path)          # example: zeros [1, 1, 28, 28]

(the torch.export-based "dynamo" exporter; opset, optimisation and external data all left
at their defaults). Its default external_data=True writes the weights to PATH.data beside
PATH, i.e. models/vit.onnx.data with the location "vit.onnx.data" (the larger tensors:
conv and Linear weights, positional embedding, some biases; the small ones, e.g. most
biases, LayerNorm parameters, the normalisation constants and the Reshape shapes, stay
inline in the .onnx, so the file mixes both kinds); the script checks that
and only falls back to onnx.save_model(..., save_as_external_data=True,
all_tensors_to_one_file=True, location="vit.onnx.data", size_threshold=0) if the exporter
left the weights inside the .onnx file (the JSON's "external_data_written_by" says which
happened). The training command, seed, test accuracy and torch version are then added to
the ONNX metadata_props (the graph proto alone is re-saved; the .data file is untouched).
Then onnxruntime runs the exported file on the same 10 000 images, one image at a time
(the file's batch is 1), the two accuracies must agree, and a JSON summary is written next
to the model (same name, `.json`).

The shipped model models/vit.onnx (+ models/vit.onnx.data) was produced, from the
repository root, with:

    python3 analysis/train_vit.py --epochs 20 --seed 1 --threads 2 --crop-pad 0 --eval-each-epoch --output models/vit.onnx

(test accuracy 89.69 % in PyTorch and in onnxruntime, 105 546 parameters, 544 s of
training, 9 min 17 s wall time in all on 2 CPU cores with torch 2.15.0, onnxruntime 1.32.0).

Requirements: torch (>= 2.9), onnxscript, onnx, onnxruntime, numpy.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import shlex
import sys
import time

# Under CPU contention OpenMP threads that spin-wait make torch much slower; passive
# waiting avoids that. It must be set before torch is loaded. It does not change results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Fashion-MNIST's normalisation, file names, IDX reading, splits and augmentation are
# train_resnet.py's (the same data for both shipped networks).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_resnet import FILES, MEAN, STD, augment, load_split, read_idx  # noqa: E402,F401

NUM_CLASSES = 10

# ----------------------------------------------------------------------------- model

class Normalize(nn.Module):
    """(x - mean) / std with constant buffers: exported as ONNX Sub and Div."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.register_buffer("mean", torch.tensor([mean], dtype=torch.float32).view(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor([std], dtype=torch.float32).view(1, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ViT(nn.Module):
    def __init__(self, dim: int = 64, depth: int = 3, heads: int = 4, mlp: int = 128,
                 patch: int = 7, image: int = 28, num_classes: int = NUM_CLASSES):
        super().__init__()
        if image % patch:
            raise ValueError(f"patch {patch} does not divide image size {image}")
        self.normalize = Normalize(MEAN, STD)
        self.patch_embed = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)
        tokens = (image // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=mlp, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        x = self.patch_embed(x).flatten(2).transpose(1, 2)              # [N, tokens, dim]
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed                 # [N, tokens + 1, dim]
        x = self.encoder(x)
        return self.head(self.norm(x)[:, 0])


# ----------------------------------------------------------------------------- train / eval

@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> tuple[int, np.ndarray]:
    """Number of correct predictions and the logits, in eval mode."""
    model.eval()
    logits = [model(x[i:i + batch]) for i in range(0, x.shape[0], batch)]
    out = torch.cat(logits)
    return int((out.argmax(1) == y).sum()), out.numpy()


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, args, gen: torch.Generator,
          test: tuple[torch.Tensor, torch.Tensor] | None) -> float:
    n = x.shape[0]
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    warmup = min(steps_per_epoch * args.warmup_epochs, total_steps // 2)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        # Weight decay on Linear / Conv weights only (not biases, LayerNorm, tokens, positions).
        (decay if p.ndim >= 2 and name.endswith("weight") else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.999))

    def lr_factor(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        t = min(s - warmup, total_steps - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * t))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    start = time.perf_counter()
    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb = augment(x[idx], gen, args.crop_pad) if args.augment else x[idx]
            yb = y[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if args.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
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
               f"train acc {100.0 * correct / seen:.2f}% lr {sched.get_last_lr()[0]:.6f} "
               f"time {time.perf_counter() - t0:.1f}s (total {time.perf_counter() - start:.1f}s)")
        if test is not None:
            c, _ = evaluate(model, *test)
            msg += f" | test acc {100.0 * c / test[1].shape[0]:.2f}% (monitoring only)"
        print(msg, flush=True)
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- export

def export_onnx(model: nn.Module, path: str) -> str:
    """Export with the default exporter, as a user would; make sure weights are external.

    Returns who wrote the external data file: "torch.onnx.export default" or
    "onnx.save_model fallback".
    """
    import onnx
    model.eval()
    example = torch.zeros(1, 1, 28, 28, dtype=torch.float32)
    data_name = os.path.basename(path) + ".data"
    data_path = os.path.join(os.path.dirname(os.path.abspath(path)), data_name)
    if os.path.exists(data_path):
        os.remove(data_path)          # never let a stale .data file pass the check below
    torch.onnx.export(model, (example,), path)
    m = onnx.load(path, load_external_data=False)
    locations = {e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"}
    inline = [t.name for t in m.graph.initializer if t.data_location != onnx.TensorProto.EXTERNAL]
    if os.path.exists(data_path) and locations == {data_name}:
        if inline:
            print(f"note: {len(inline)} small initializers stay inline in the .onnx: {inline}")
        return "torch.onnx.export default (external_data=True)"
    print(f"note: the exporter did not write {data_name} (locations {locations}); "
          f"re-saving with onnx.save_model(save_as_external_data=True)", flush=True)
    m = onnx.load(path)
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data_name, size_threshold=0)
    return "onnx.save_model fallback (save_as_external_data=True, size_threshold=0)"


def onnx_summary(path: str) -> tuple["collections.OrderedDict[str, int]", int, int, list]:
    """Op counts in graph order of first appearance, opset, IR version, external locations."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    counts: "collections.OrderedDict[str, int]" = collections.OrderedDict()
    for node in m.graph.node:
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
        counts[key] = counts.get(key, 0) + 1
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    locations = sorted({e.value for t in m.graph.initializer for e in t.external_data if e.key == "location"})
    return counts, opset, m.ir_version, locations


def set_metadata(path: str, props: dict[str, str]) -> None:
    """Add metadata_props, re-saving only the graph proto (the external .data stays as is)."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    existing = {p.key: p.value for p in m.metadata_props}
    existing.update(props)
    onnx.helper.set_model_props(m, existing)
    onnx.save(m, path)
    onnx.checker.check_model(path)    # by path, so the external data is checked too


def onnxruntime_eval(path: str, x: torch.Tensor, y: torch.Tensor, threads: int) -> tuple[int, np.ndarray]:
    """Run the exported (batch-1) file image by image."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    batch = inp.shape[0] if isinstance(inp.shape[0], int) else 1000
    xs = x.numpy()
    outs = [sess.run(None, {inp.name: xs[i:i + batch]})[0] for i in range(0, xs.shape[0], batch)]
    out = np.concatenate(outs)
    return int((out.argmax(1) == y.numpy()).sum()), out


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--output", required=True, help="ONNX path, e.g. models/vit.onnx")
    p.add_argument("--dim", type=int, default=64, help="token width D")
    p.add_argument("--depth", type=int, default=3, help="transformer blocks L")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp", type=int, default=128, help="MLP hidden width M")
    p.add_argument("--patch", type=int, default=7, choices=(4, 7, 14))
    p.add_argument("--threads", type=int, default=2, help="torch / onnxruntime CPU threads")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-epochs", type=int, default=1)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--clip-grad", type=float, default=1.0, help="max gradient norm (0: off)")
    p.add_argument("--crop-pad", type=int, default=2,
                   help="zero padding of the random crop (0: no crop, flip only)")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--limit-train", type=int, default=0,
                   help="use only the first N training images (for quick timing runs)")
    p.add_argument("--eval-each-epoch", action="store_true",
                   help="print test accuracy after each epoch (monitoring only, no selection)")
    p.add_argument("--log-every", type=int, default=0, help="print a line every N steps")
    args = p.parse_args(argv)

    wall_start = time.perf_counter()
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
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)

    import onnxruntime
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"threads {torch.get_num_threads()}, deterministic {torch.are_deterministic_algorithms_enabled()}")
    x_train, y_train = load_split(args.data_dir, "train")
    x_test, y_test = load_split(args.data_dir, "test")
    if args.limit_train:
        x_train, y_train = x_train[:args.limit_train], y_train[:args.limit_train]
    print(f"train {tuple(x_train.shape)}, test {tuple(x_test.shape)}", flush=True)

    model = ViT(args.dim, args.depth, args.heads, args.mlp, args.patch)
    n_params = sum(p.numel() for p in model.parameters())
    tokens = (28 // args.patch) ** 2
    print(f"ViT D={args.dim} L={args.depth} H={args.heads} M={args.mlp} P={args.patch} "
          f"({tokens}+1 tokens), {n_params} parameters", flush=True)

    train_seconds = train(model, x_train, y_train, args, gen,
                          (x_test, y_test) if args.eval_each_epoch else None)
    print(f"training took {train_seconds:.1f}s", flush=True)

    n_test = int(y_test.shape[0])
    correct_pt, logits_pt = evaluate(model, x_test, y_test)
    acc_pt = correct_pt / n_test
    print(f"PyTorch test accuracy: {100.0 * acc_pt:.2f}% ({correct_pt}/{n_test})", flush=True)

    out_dir = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    external_by = export_onnx(model, args.output)
    set_metadata(args.output, {
        "training_command": command,
        "training_seed": str(args.seed),
        "test_accuracy": f"{acc_pt:.4f}",
        "trained_with": f"torch {torch.__version__}",
        "exported_with": "torch.onnx.export(model, (example,), path) (default exporter, defaults)",
        "input": "images [1, 1, 28, 28] float32, pixels in [0, 1]",
        "output": "logits [1, 10]",
    })
    ops, opset, ir_version, locations = onnx_summary(args.output)
    print(f"ONNX opset {opset}, IR version {ir_version}, external data {locations} ({external_by})")
    print("ONNX op types: " + ", ".join(f"{k} x{v}" for k, v in ops.items()), flush=True)

    correct_ort, logits_ort = onnxruntime_eval(args.output, x_test, y_test, args.threads)
    acc_ort = correct_ort / n_test
    agree = int((logits_ort.argmax(1) == logits_pt.argmax(1)).sum())
    max_diff = float(np.abs(logits_ort - logits_pt).max())
    print(f"onnxruntime test accuracy: {100.0 * acc_ort:.2f}% ({correct_ort}/{n_test}); "
          f"predictions agree on {agree}/{n_test}, max |logit diff| {max_diff:.2e}", flush=True)

    data_file = os.path.join(out_dir, os.path.basename(args.output) + ".data")
    summary = collections.OrderedDict(
        architecture=(f"ViT (normalize (x-{MEAN})/{STD}; patch Conv2d 1->{args.dim} k{args.patch} "
                      f"s{args.patch} -> {tokens} tokens + class token; learned positional embedding; "
                      f"{args.depth} x nn.TransformerEncoderLayer(d_model {args.dim}, {args.heads} heads, "
                      f"MLP {args.mlp}, GELU, pre-norm, batch_first); final LayerNorm; "
                      f"Linear {args.dim}->{NUM_CLASSES} on the class token); input [1,1,28,28] in [0,1]"),
        command=command,
        seed=args.seed,
        epochs=args.epochs,
        dim=args.dim,
        depth=args.depth,
        heads=args.heads,
        mlp=args.mlp,
        patch=args.patch,
        parameters=n_params,
        threads=args.threads,
        pytorch_version=str(torch.__version__),
        onnxruntime_version=onnxruntime.__version__,
        exporter="torch.onnx.export(model, (example,), path) (default torch.export-based exporter)",
        onnx_opset=opset,
        onnx_ir_version=ir_version,
        external_data=os.path.basename(data_file),
        external_data_bytes=os.path.getsize(data_file),
        external_data_written_by=external_by,
        test_accuracy_pytorch=acc_pt,
        test_correct_pytorch=correct_pt,
        test_accuracy_onnxruntime=acc_ort,
        test_correct_onnxruntime=correct_ort,
        test_images=n_test,
        max_abs_logit_diff=max_diff,
        training_seconds=round(train_seconds, 1),
        wall_seconds=round(time.perf_counter() - wall_start, 1),
        onnx_op_types=list(ops.keys()),
        onnx_op_counts=dict(ops),
    )
    json_path = os.path.splitext(args.output)[0] + ".json"
    with open(json_path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes), {data_file} "
          f"({os.path.getsize(data_file)} bytes) and {json_path}", flush=True)

    if correct_ort != correct_pt:
        print("error: PyTorch and onnxruntime accuracies differ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
