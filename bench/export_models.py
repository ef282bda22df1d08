#!/usr/bin/python3
"""Exports the benchmark's real architectures to ONNX at their initial state (torchvision models at
random init in eval mode, as a user's `torch.onnx.export` writes them, and small pre-norm
transformers), one file per model in --out. Prints one JSON line per model: name, path, input shape.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

VISION = ["resnet18", "resnet50", "efficientnet_b0", "mobilenet_v3_small", "shufflenet_v2_x1_0",
          "regnet_x_400mf", "convnext_tiny", "densenet121", "vgg11_bn"]


class Transformer(nn.Module):
    """A pre-norm encoder over a sequence of vectors (tokens already embedded)."""

    def __init__(self, depth, width, heads=4):
        super().__init__()
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Linear(width, width)

    def forward(self, x):
        return self.head(self.encoder(x))


def build(name, size):
    import torchvision
    if name.startswith("transformer"):
        depth = int(name[len("transformer"):])
        return Transformer(depth, 32), torch.randn(1, 16, 32)
    return getattr(torchvision.models, name)(weights=None), torch.randn(1, 3, size, size)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--models", default=",".join(VISION + ["transformer4", "transformer12"]))
    p.add_argument("--size", type=int, default=64, help="image height and width")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.models.split(","):
        torch.manual_seed(0)
        m, x = build(name, args.size)
        # the transformer's eval-mode fast path has no ONNX export: export it in training mode (dropout 0, no BatchNorm)
        training = name.startswith("transformer")
        m.train(training)
        mode = torch.onnx.TrainingMode.PRESERVE if training else torch.onnx.TrainingMode.EVAL
        suffix = "" if name.startswith("transformer") else f"@{args.size}"
        path = os.path.join(args.out, f"{name}{suffix}.onnx")
        if not os.path.exists(path):
            try:
                with torch.no_grad():
                    torch.onnx.export(m, x, path, opset_version=17, input_names=["x"], output_names=["y"], training=mode)
            except Exception as e:  # an exporter limit (vgg's 7x7 adaptive pool at 64x64): skip the model, say why
                print(json.dumps({"model": f"{name}{suffix}", "error": str(e).splitlines()[0][:300]}), flush=True)
                continue
        print(json.dumps({"model": f"{name}{suffix}", "onnx": path, "shape": list(x.shape)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
