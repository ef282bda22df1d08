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


class AdaptivePoolAsMatMul(nn.Module):
    """adaptive_avg_pool2d to a fixed size, written as the linear map it is (P x P^T per channel):
    the same function, but exportable where ONNX has no adaptive pool (vgg's 2x2 -> 7x7 at 64x64)."""

    def __init__(self, size_in, size_out):
        super().__init__()
        p = torch.zeros(size_out, size_in)
        for i in range(size_out):  # PyTorch's bins: [floor(i n / m), ceil((i + 1) n / m))
            start, end = (i * size_in) // size_out, -((-(i + 1) * size_in) // size_out)
            p[i, start:end] = 1.0 / (end - start)
        self.register_buffer("p", p)

    def forward(self, x):
        return self.p @ x @ self.p.t()


def build(name, size):
    import torchvision
    if name.startswith("transformer"):
        depth = int(name[len("transformer"):])
        return Transformer(depth, 32), torch.randn(1, 16, 32)
    m, x = getattr(torchvision.models, name)(weights=None), torch.randn(1, 3, size, size)
    if name.startswith("vgg"):
        with torch.no_grad():  # in eval mode: a training-mode pass would move BatchNorm's running statistics
            features = m.eval().features(x)
            reference = m.avgpool(features)
            m.avgpool = AdaptivePoolAsMatMul(features.shape[-1], 7)
            assert torch.allclose(m.avgpool(features), reference, atol=1e-6), "the pool's rewrite changed its values"
    return m, x


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
            except Exception as e:  # an exporter limit: skip the model, say why
                print(json.dumps({"model": f"{name}{suffix}", "error": str(e).splitlines()[0][:300]}), flush=True)
                continue
        print(json.dumps({"model": f"{name}{suffix}", "onnx": path, "shape": list(x.shape)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
