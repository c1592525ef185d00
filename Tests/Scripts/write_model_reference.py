"""A small conv network written with analysis/write_model.py, and its logits computed with NumPy.

Usage: python3 write_model_reference.py MODEL.h5 IMAGES.f32 LOGITS.f32

Writes MODEL.h5 (conv 3@3x3 padding 1 -> relu -> maxpool 2 -> flatten -> dense 4, input
[1, 6, 6], mean 0.5, std 0.25, PyTorch weight layouts), five random images in [0, 1]
([5, 6, 6]) and NumPy's logits for them ([5, 4]), both raw little-endian float32: the
reference the model file's reader is checked against.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "analysis"))
import write_model  # noqa: E402


def main(model, images_path, logits_path):
    rng = np.random.default_rng(3)
    conv_w = rng.normal(0, 0.5, (3, 1, 3, 3)).astype(np.float32)
    conv_b = rng.normal(0, 0.1, 3).astype(np.float32)
    fc_w = rng.normal(0, 0.3, (4, 27)).astype(np.float32)
    fc_b = rng.normal(0, 0.1, 4).astype(np.float32)
    write_model.write_model(model, (1, 6, 6), mean=0.5, std=0.25, layers=[
        ("conv2d", "conv1", {"weight": conv_w, "bias": conv_b, "stride": 1, "padding": 1}),
        ("relu",), ("maxpool2d", {"kernel": 2}), ("flatten",),
        ("dense", "fc", {"weight": fc_w, "bias": fc_b}),
    ])
    images = rng.random((5, 6, 6)).astype(np.float32)
    x = (images.astype(np.float64) - 0.5) / 0.25
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    conv = np.zeros((5, 3, 6, 6))
    for c in range(3):
        for y in range(6):
            for z in range(6):
                conv[:, c, y, z] = (padded[:, y:y + 3, z:z + 3] * conv_w[c, 0]).sum(axis=(1, 2)) + conv_b[c]
    pooled = np.maximum(conv, 0).reshape(5, 3, 3, 2, 3, 2).max(axis=(3, 5))
    logits = pooled.reshape(5, 27) @ fc_w.T.astype(np.float64) + fc_b
    images.astype("<f4").tofile(images_path)
    logits.astype("<f4").tofile(logits_path)


if __name__ == "__main__":
    main(*sys.argv[1:4])
