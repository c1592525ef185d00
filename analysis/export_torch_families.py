#!/usr/bin/env python3
"""Export a zoo of PyTorch networks to ONNX with both exporters (development tool).

This is a tool for the developers of the Swift ONNX importer, not part of the shipped
models. It builds common PyTorch network families in eval mode with random weights from a
fixed seed, exports each one with BOTH exporters of the installed torch, runs every
exported file through onnxruntime on five seeded random images, and writes a reference
file plus an op-type inventory, so that the importer can be tested against what real
users' files look like.

Families (input 3x32x32, 10 classes, unless noted):

    resnet18, mobilenet_v2, mobilenet_v3_small, efficientnet_b0, shufflenet_v2_x0_5,
    regnet_x_400mf, squeezenet1_1, mnasnet0_5, densenet121      torchvision, num_classes=10
    vit_torch     small ViT: Conv2d 4x4 patch embedding (64 tokens, dim 64), class token,
                  learned positional embedding, nn.TransformerEncoder of 2
                  nn.TransformerEncoderLayer(d_model 64, 4 heads, MLP 128, norm_first=True,
                  activation="gelu", batch_first=True), final LayerNorm, Linear head
    vit_timm      the same ViT written by hand, timm style: explicit q/k/v Linear layers,
                  reshape to heads, (q @ k.transpose(-2, -1)) * scale, softmax, @ v,
                  transpose/reshape back, proj Linear; MLP fc1 + nn.GELU + fc2
    logsoftmax    small conv net ending in nn.LogSoftmax(dim=1)
    casual        conv/ReLU/MaxPool net flattening with x.view(x.size(0), -1)

BatchNorm running statistics and affine parameters are re-drawn from the seed (instead
of the identity-like defaults) so that a wrong BatchNormalization import shows.

Exporters:

    dynamo   torch.onnx.export(model, (x,), path) with every default of the installed torch
             (on torch >= 2.9 this is the torch.export-based exporter; batch fixed at 1;
             weights may go to an external PATH.data file, as the defaults decide)
    legacy   torch.onnx.export(..., dynamo=False, opset_version=17, input_names=["input"],
             output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})

Outputs, in --out (default /tmp/usermodels):

    <family>_<dynamo|legacy>.onnx   (+ .onnx.data when the exporter externalises weights)
    <family>_<dynamo|legacy>.h5      datasets: images float32 [5, C, H, W] uniform in [0, 1)
                                     (seeded), labels int64 [5] (seeded, arbitrary),
                                     logits float32 [5, K] = onnxruntime's output (batch-1
                                     files are run one image at a time); attribute
                                     torch_max_abs_diff = max |onnxruntime - PyTorch|
    OPS.md                           per file: opset, IR version, external data, declared
                                     input/output shapes, op types with counts; the union of
                                     op types; failed exports and onnxruntime failures
    vit_block_<family>.txt           node list of the first transformer block of the dynamo
                                     export of vit_torch and vit_timm
    status.json                      per-export status (the report is rebuilt from it)

Reproducibility: weights and data come from --seed (torch.manual_seed before each model,
a separate numpy generator for the images); torch runs with --threads threads.

Usage (from the repository root):

    python3 analysis/export_torch_families.py --out /tmp/usermodels --threads 2
    python3 analysis/export_torch_families.py --families vit_torch vit_timm   # a subset
    python3 analysis/export_torch_families.py --report-only                   # rebuild OPS.md

Requirements: torch, torchvision, onnxscript, onnx, onnxruntime, h5py, numpy.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import math
import os
import sys
import time
import traceback
import contextlib

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn as nn

NUM_CLASSES = 10
N_IMAGES = 5


# ----------------------------------------------------------------------------- models

class TorchViT(nn.Module):
    """ViT with the standard nn.TransformerEncoderLayer (pre-norm, GELU, batch_first)."""

    def __init__(self, in_ch=3, img=32, patch=4, dim=64, heads=4, mlp=128, depth=2,
                 num_classes=NUM_CLASSES):
        super().__init__()
        self.patch_embed = nn.Conv2d(in_ch, dim, kernel_size=patch, stride=patch)
        n = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, mlp, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)          # [B, n, dim]
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.encoder(x)
        return self.head(self.norm(x)[:, 0])


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        h = self.heads
        q = self.q(x).reshape(B, N, h, C // h).permute(0, 2, 1, 3)
        k = self.k(x).reshape(B, N, h, C // h).permute(0, 2, 1, 3)
        v = self.v(x).reshape(B, N, h, C // h).permute(0, 2, 1, 3)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


class TimmViT(nn.Module):
    def __init__(self, in_ch=3, img=32, patch=4, dim=64, heads=4, mlp=128, depth=2,
                 num_classes=NUM_CLASSES):
        super().__init__()
        self.patch_embed = nn.Conv2d(in_ch, dim, kernel_size=patch, stride=patch)
        n = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class LogSoftmaxNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(32, NUM_CLASSES)
        self.out = nn.LogSoftmax(dim=1)

    def forward(self, x):
        return self.out(self.fc(self.features(x)))


class CasualNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5)
        self.conv2 = nn.Conv2d(8, 16, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 5 * 5, 64)
        self.fc2 = nn.Linear(64, NUM_CLASSES)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = torch.relu(self.fc1(x))
        return self.fc2(x)


def tv(name):
    def build():
        import torchvision.models as M
        return getattr(M, name)(weights=None, num_classes=NUM_CLASSES)
    return build


FAMILIES = {
    "resnet18": (tv("resnet18"), (3, 32, 32)),
    "mobilenet_v2": (tv("mobilenet_v2"), (3, 32, 32)),
    "mobilenet_v3_small": (tv("mobilenet_v3_small"), (3, 32, 32)),
    "efficientnet_b0": (tv("efficientnet_b0"), (3, 32, 32)),
    "shufflenet_v2_x0_5": (tv("shufflenet_v2_x0_5"), (3, 32, 32)),
    "regnet_x_400mf": (tv("regnet_x_400mf"), (3, 32, 32)),
    "squeezenet1_1": (tv("squeezenet1_1"), (3, 32, 32)),
    "mnasnet0_5": (tv("mnasnet0_5"), (3, 32, 32)),
    "densenet121": (tv("densenet121"), (3, 32, 32)),
    "vit_torch": (TorchViT, (3, 32, 32)),
    "vit_timm": (TimmViT, (3, 32, 32)),
    "logsoftmax": (LogSoftmaxNet, (3, 32, 32)),
    "casual": (CasualNet, (3, 32, 32)),
}

# Where the first transformer block lives (module path prefix) for the block dumps.
BLOCK_SCOPES = {"vit_torch": "encoder.layers.0", "vit_timm": "blocks.0"}


def build_model(family: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = FAMILIES[family][0]()
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
    return model.eval()


# ----------------------------------------------------------------------------- export

def export(model, x, path, kind):
    if kind == "dynamo":
        torch.onnx.export(model, (x,), path)
    else:
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})


def dims_of(value_info):
    t = value_info.type.tensor_type
    out = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            out.append(d.dim_value)
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append("?")
    return out


def run_ort(path, images):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    batch = inp.shape[0]
    if isinstance(batch, int):
        outs = [sess.run(None, {inp.name: images[i:i + batch]})[0] for i in range(0, len(images), batch)]
        return np.concatenate(outs, axis=0)
    return sess.run(None, {inp.name: images})[0]


def do_family(family, kind, out, seed, status):
    key = f"{family}_{kind}"
    path = os.path.join(out, key + ".onnx")
    for stale in (path, path + ".data", os.path.join(out, key + ".h5")):
        if os.path.exists(stale):
            os.remove(stale)
    shape = FAMILIES[family][1]
    rng = np.random.default_rng(seed)
    images = rng.random((N_IMAGES,) + shape, dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=N_IMAGES).astype(np.int64)
    entry = {"family": family, "exporter": kind, "file": path}
    t0 = time.time()
    model = build_model(family, seed)
    x = torch.from_numpy(images[:1].copy())
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            export(model, x, path, kind)
    except Exception as e:  # noqa: BLE001
        lines = [l for l in traceback.format_exception_only(type(e), e)[-1].strip().splitlines() if l.strip()]
        entry["export_error"] = lines[-1] if lines else repr(e)
        entry["export_log_tail"] = buf.getvalue()[-2000:]
        traceback.print_exc()
    entry["export_seconds"] = round(time.time() - t0, 1)
    if "export_error" not in entry:
        try:
            logits = run_ort(path, images)
        except Exception as e:  # noqa: BLE001
            entry["ort_error"] = (str(e).strip().splitlines() or [repr(e)])[-1]
            traceback.print_exc()
    if "export_error" not in entry and "ort_error" not in entry:
        try:
            with torch.no_grad():
                ref = model(torch.from_numpy(images)).numpy()
            entry["torch_max_abs_diff"] = float(np.max(np.abs(logits - ref)))
            import h5py
            with h5py.File(os.path.join(out, key + ".h5"), "w") as f:
                f.create_dataset("images", data=images)
                f.create_dataset("labels", data=labels)
                f.create_dataset("logits", data=logits.astype(np.float32))
                f.attrs["family"] = family
                f.attrs["exporter"] = kind
                f.attrs["seed"] = seed
                f.attrs["torch_version"] = str(torch.__version__)
                f.attrs["torch_max_abs_diff"] = entry["torch_max_abs_diff"]
        except Exception as e:  # noqa: BLE001
            entry["h5_error"] = (str(e).strip().splitlines() or [repr(e)])[-1]
            traceback.print_exc()
    status[key] = entry
    print(f"{key}: {json.dumps({k: v for k, v in entry.items() if k != 'export_log_tail'})}", flush=True)


# ----------------------------------------------------------------------------- report

def attr_str(a):
    import onnx
    v = onnx.helper.get_attribute_value(a)
    if isinstance(v, onnx.TensorProto):
        arr = onnx.numpy_helper.to_array(v)
        return f"{a.name}=tensor<{onnx.TensorProto.DataType.Name(v.data_type)}{list(arr.shape)}>" + (
            f"{arr.tolist()}" if arr.size <= 8 else "")
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, onnx.GraphProto):
        return f"{a.name}=<graph {v.name}>"
    return f"{a.name}={v}"


def node_scope(node):
    """Module path of a node (dynamo exporter metadata), e.g. 'encoder.layers.0.self_attn'."""
    props = {p.key: p.value for p in node.metadata_props}
    if "pkg.torch.onnx.name_scopes" in props:
        import ast
        try:
            scopes = ast.literal_eval(props["pkg.torch.onnx.name_scopes"])
            return scopes[-2] if len(scopes) >= 2 else ""
        except (ValueError, SyntaxError):
            pass
    return props.get("namespace", "")


def node_aten(node):
    props = {p.key: p.value for p in node.metadata_props}
    if "pkg.torch.onnx.class_hierarchy" in props:
        import ast
        try:
            return ast.literal_eval(props["pkg.torch.onnx.class_hierarchy"])[-1]
        except (ValueError, SyntaxError):
            pass
    return ""


def all_nodes(graph):
    for n in graph.node:
        yield n
        for a in n.attribute:
            if a.type == a.GRAPH:
                yield from all_nodes(a.g)
            for g in a.graphs:
                yield from all_nodes(g)


def describe(path):
    import onnx
    m = onnx.load(path, load_external_data=False)
    n_ext = sum(init.data_location == onnx.TensorProto.EXTERNAL for init in m.graph.initializer)
    ext = n_ext > 0
    locations = sorted({e.value for init in m.graph.initializer for e in init.external_data
                        if e.key == "location"})
    counts = collections.Counter()
    for n in all_nodes(m.graph):
        counts[(n.domain + "::" if n.domain not in ("", "ai.onnx") else "") + n.op_type] += 1
    for fn in m.functions:
        for n in fn.node:
            counts[f"(fn {fn.name}) " + n.op_type] += 1
    opsets = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    return {
        "opset": opsets,
        "ir_version": m.ir_version,
        "external_data": ext,
        "external_count": n_ext,
        "external_locations": locations,
        "inputs": [(i.name, dims_of(i)) for i in m.graph.input],
        "outputs": [(o.name, dims_of(o)) for o in m.graph.output],
        "ops": dict(sorted(counts.items())),
        "nodes": sum(counts.values()),
        "initializers": len(m.graph.initializer),
        "functions": [f.name for f in m.functions],
        "producer": f"{m.producer_name} {m.producer_version}",
    }


def dump_block(path, scope, dest):
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {i.name: i for i in m.graph.initializer}
    shapes = {v.name: dims_of(v) for v in list(m.graph.value_info) + list(m.graph.output)
              + list(m.graph.input)}
    sel = [n for n in m.graph.node if node_scope(n) == scope or node_scope(n).startswith(scope + ".")]
    lines = [f"# first transformer block ({scope}) of {os.path.basename(path)}",
             f"# producer {m.producer_name} {m.producer_version}, IR {m.ir_version}, opsets "
             + ", ".join(f"{o.domain or 'ai.onnx'}:{o.version}" for o in m.opset_import),
             "# one line per node:  op_type  inputs -> outputs[shape]  [attributes]  {module path | aten op}",
             "# an initializer input is written init:NAME[dims](ext = stored in the .onnx.data file),",
             "# with its values when it has at most 8 elements and is stored inline", ""]
    if not sel:
        lines.append("# (no node carries the block's module path; dumping the whole graph)")
        sel = list(m.graph.node)

    def nm(x):
        if x in inits:
            t = inits[x]
            ext = t.data_location == onnx.TensorProto.EXTERNAL
            txt = f"init:{x}{list(t.dims)}" + ("(ext)" if ext else "")
            if not ext:
                arr = onnx.numpy_helper.to_array(t)
                if arr.size <= 8:
                    txt += "=" + str(arr.tolist())
            return txt
        return x or "<none>"

    def out(x):
        return f"{x}{shapes[x]}" if x in shapes else x

    counts = collections.Counter(n.op_type for n in sel)
    for n in sel:
        attrs = ", ".join(attr_str(a) for a in n.attribute)
        dom = n.domain + "::" if n.domain else ""
        lines.append(f"{dom}{n.op_type:18s} {', '.join(nm(i) for i in n.input)} -> "
                     f"{', '.join(out(o) for o in n.output)}" + (f"  [{attrs}]" if attrs else "")
                     + f"  {{{node_scope(n)} | {node_aten(n)}}}")
    lines += ["", "# op counts in this block: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))]
    with open(dest, "w") as f:
        f.write("\n".join(lines) + "\n")
    return dict(sorted(counts.items()))


def write_report(out, status):
    import onnx
    import onnxruntime
    import torchvision
    rows, union, block_ops = [], collections.Counter(), {}
    for fam in FAMILIES:
        for kind in ("dynamo", "legacy"):
            key = f"{fam}_{kind}"
            if key not in status:
                continue
            st = status[key]
            if "export_error" in st or not os.path.exists(st["file"]):
                continue
            st["desc"] = describe(st["file"])
            for k, v in st["desc"]["ops"].items():
                union[k] += v
            if kind == "dynamo" and fam in BLOCK_SCOPES:
                block_ops[fam] = dump_block(st["file"], BLOCK_SCOPES[fam],
                                            os.path.join(out, f"vit_block_{fam}.txt"))
    L = ["# ONNX files exported from PyTorch families",
         "",
         f"Made by `analysis/export_torch_families.py` with torch {torch.__version__}, "
         f"torchvision {torchvision.__version__}, onnx {onnx.__version__}, "
         f"onnxruntime {onnxruntime.__version__}"
         + (f", onnxscript {__import__('onnxscript').__version__}" if _has("onnxscript") else "") + ".",
         "",
         "`dynamo` = `torch.onnx.export(model, (x,), path)` with all defaults (batch fixed at 1); "
         "`legacy` = `dynamo=False, opset_version=17`, dynamic batch axis `N`. Random weights "
         "(seeded), BatchNorm statistics re-drawn. Each NAME.h5 holds images [5,C,H,W], labels [5], "
         "logits [5,K] from onnxruntime. `maxdiff` = max |onnxruntime - PyTorch| over the 5 images.",
         ""]
    L += ["## Failures", ""]
    fails = [(k, s) for k, s in status.items()
             if "export_error" in s or "ort_error" in s or "h5_error" in s]
    missing = [f"{f}_{k}" for f in FAMILIES for k in ("dynamo", "legacy") if f"{f}_{k}" not in status]
    if not fails and not missing:
        L.append("None: every export succeeded and onnxruntime ran every file.")
    for k, s in fails:
        if "export_error" in s:
            L.append(f"- `{k}`: export FAILED: `{s['export_error']}`")
        elif "ort_error" in s:
            L.append(f"- `{k}`: onnxruntime FAILED: `{s['ort_error']}`")
        else:
            L.append(f"- `{k}`: writing the .h5 FAILED: `{s['h5_error']}`")
    for k in missing:
        L.append(f"- `{k}`: not run (skipped)")
    L += ["", "## Union of op types over all files (total node count)", ""]
    L.append(", ".join(f"{k} ({v})" for k, v in sorted(union.items())))
    L += ["", f"{len(union)} distinct op types.", ""]
    dyn = collections.Counter()
    leg = collections.Counter()
    for k, s in status.items():
        if "desc" in s:
            (dyn if s["exporter"] == "dynamo" else leg).update(s["desc"]["ops"].keys())
    L.append("Only in dynamo exports: " + (", ".join(sorted(set(dyn) - set(leg))) or "-"))
    L.append("")
    L.append("Only in legacy exports: " + (", ".join(sorted(set(leg) - set(dyn))) or "-"))
    L.append("")
    if block_ops:
        L += ["## One transformer block, dynamo export", ""]
        for fam, c in block_ops.items():
            L.append(f"- `{fam}` (see vit_block_{fam}.txt): " + ", ".join(f"{k} {v}" for k, v in c.items()))
        L.append("")
    L += ["## Per file", ""]
    for fam in FAMILIES:
        for kind in ("dynamo", "legacy"):
            key = f"{fam}_{kind}"
            s = status.get(key)
            if s is None or "desc" not in s:
                continue
            d = s["desc"]
            L.append(f"### {key}.onnx")
            L.append("")
            L.append(f"- opset {', '.join(f'{k}:{v}' for k, v in d['opset'].items())}; IR version "
                     f"{d['ir_version']}; producer {d['producer']}")
            ext = (f"yes ({', '.join(d['external_locations'])}: {d['external_count']} of "
                   f"{d['initializers']} initializers, the others inline)") if d["external_data"] else \
                f"no ({d['initializers']} initializers inline)"
            L.append(f"- external data: {ext}; {d['nodes']} nodes"
                     + (f"; functions: {', '.join(d['functions'])}" if d["functions"] else ""))
            L.append("- inputs: " + "; ".join(f"`{n}` {v}" for n, v in d["inputs"]))
            L.append("- outputs: " + "; ".join(f"`{n}` {v}" for n, v in d["outputs"]))
            L.append(f"- export {s['export_seconds']} s; maxdiff "
                     + (f"{s['torch_max_abs_diff']:.2e}" if "torch_max_abs_diff" in s else
                        f"n/a (onnxruntime: {s.get('ort_error')})"))
            L.append("- ops: " + ", ".join(f"{k} {v}" for k, v in d["ops"].items()))
            L.append("")
    notes = os.path.join(out, "NOTES.md")
    if os.path.exists(notes):           # hand-written observations, kept across re-runs
        with open(notes) as f:
            L += ["", f.read()]
    with open(os.path.join(out, "OPS.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def _has(mod):
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/usermodels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--exporters", nargs="*", default=["dynamo", "legacy"], choices=["dynamo", "legacy"])
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    status_path = os.path.join(args.out, "status.json")
    status = {}
    if os.path.exists(status_path):
        with open(status_path) as f:
            status = json.load(f)
    if not args.report_only:
        for fam in args.families:
            for kind in args.exporters:
                do_family(fam, kind, args.out, args.seed, status)
                with open(status_path, "w") as f:
                    json.dump({k: {kk: vv for kk, vv in v.items() if kk != "desc"}
                               for k, v in status.items()}, f, indent=1)
    write_report(args.out, status)
    print(f"wrote {os.path.join(args.out, 'OPS.md')}")


if __name__ == "__main__":
    main()
