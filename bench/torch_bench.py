#!/usr/bin/python3
"""The benchmark's PyTorch side: exports the benchmark models to ONNX (into --out) and times a
PyTorch autograd analysis that computes the same per-layer figures the same way as Gradient Doctor
(same sample, layers, exact threshold, Lanczos steps and Hutchinson probes; one backward pass for
the gradient flow; the end-to-end Jacobian; the Hessian's top eigenvalue by 20 Lanczos steps on
Hessian-vector products). Prints one JSON line per model with the seconds taken.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

EXACT_MAX_DIM = 1024
LANCZOS_STEPS = 32
HUTCHINSON = 16
torch.set_num_threads(os.cpu_count() or 1)


class MLP(nn.Module):
    def __init__(self, depth, width=64):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        for l in self.layers:
            x = torch.tanh(l(x))
        return x

    def layer_fns(self):
        return [(lambda l: lambda z: torch.tanh(l(z)))(l) for l in self.layers]


def resnet18():
    import torchvision
    m = torchvision.models.resnet18(weights=None)

    def layer_fns():
        # the engine's 'layer' granularity on the EVAL export (BatchNorm folded into Conv):
        # conv1 + relu, then per block conv1 + relu, conv2 (merge ends it), downsample conv; fc.
        fns = [lambda z: torch.relu(m.bn1(m.conv1(z)))]
        for stage in (m.layer1, m.layer2, m.layer3, m.layer4):
            for b in stage:
                fns.append((lambda b: lambda z: torch.relu(b.bn1(b.conv1(z))))(b))
                fns.append((lambda b: lambda z: b.bn2(b.conv2(z)))(b))
                if b.downsample is not None:
                    fns.append((lambda b: lambda z: b.downsample(z))(b))
        fns.append(lambda z: m.fc(z))
        return fns

    def trace(x):
        inputs = [x]
        h = m.maxpool(torch.relu(m.bn1(m.conv1(x))))
        for stage in (m.layer1, m.layer2, m.layer3, m.layer4):
            for b in stage:
                inputs.append(h)
                a = torch.relu(b.bn1(b.conv1(h)))
                inputs.append(a)
                if b.downsample is not None:
                    inputs.append(h)
                h = torch.relu(b.bn2(b.conv2(a)) + (h if b.downsample is None else b.downsample(h)))
        h = torch.flatten(m.avgpool(h), 1)
        inputs.append(h)
        return inputs

    m.layer_fns = layer_fns
    m.trace = trace
    return m


def figures(fn, x):
    y = fn(x)
    n, mm = x.numel(), y.numel()
    if min(n, mm) <= EXACT_MAX_DIM:
        j = torch.autograd.functional.jacobian(fn, x, vectorize=True).reshape(mm, n)
        s = torch.linalg.svdvals(j.double())
        return float(s[0])
    # Golub-Kahan-Lanczos with full reorthogonalisation, as the engine does
    jvp = lambda v: torch.autograd.functional.jvp(fn, x, v.reshape(x.shape))[1].reshape(-1)
    vjp = lambda u: torch.autograd.functional.vjp(fn, x, u.reshape(y.shape))[1].reshape(-1)
    v = torch.randn(n); v /= v.norm()
    V, U = [v], []
    u = jvp(v); a = u.norm(); u /= a
    for _ in range(LANCZOS_STEPS):
        U.append(u)
        w = vjp(u) - a * v
        for _ in range(2):
            for q in V:
                w -= (w @ q) * q
        b = w.norm(); v = w / b; V.append(v)
        u = jvp(v) - b * u
        for _ in range(2):
            for q in U:
                u -= (u @ q) * q
        a = u.norm(); u /= a
    for _ in range(HUTCHINSON):
        z = torch.randint(0, 2, (n,)).float() * 2 - 1
        jvp(z)
    return float(a)


CURVATURE_STEPS = 20


def top_hessian_eigenvalue(model, x):
    """Lanczos with full reorthogonalisation on Hessian-vector products (double backward) of the sum
    loss in the parameters: the engine's default curvature, 20 steps."""
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(model(x).sum(), params, create_graph=True)
    n = sum(p.numel() for p in params)

    def hvp(v):
        parts, k = [], 0
        for p in params:
            parts.append(v[k:k + p.numel()].view_as(p))
            k += p.numel()
        # gradients that do not depend on the parameters (a last bias's) have no graph: their rows of H are 0
        live = [i for i, g in enumerate(grads) if g.requires_grad]
        hv = torch.autograd.grad([grads[i] for i in live], params, grad_outputs=[parts[i] for i in live], retain_graph=True, allow_unused=True)
        return torch.cat([(h if h is not None else torch.zeros_like(p)).reshape(-1) for h, p in zip(hv, params)])

    q = torch.randn(n)
    q /= q.norm()
    Q, alphas, betas = [q], [], []
    for _ in range(CURVATURE_STEPS):
        w = hvp(Q[-1])
        a = float(w @ Q[-1])
        alphas.append(a)
        for v in Q:
            w -= (w @ v) * v
        b = float(w.norm())
        if b < 1e-10:
            break
        betas.append(b)
        Q.append(w / b)
    k = len(alphas)
    T = torch.diag(torch.tensor(alphas)) + torch.diag(torch.tensor(betas[:k - 1]), 1) + torch.diag(torch.tensor(betas[:k - 1]), -1)
    return float(torch.linalg.eigvalsh(T)[-1])


def analyse(model, x, layer_inputs_fn):
    t0 = time.perf_counter()
    with torch.no_grad():
        inputs = layer_inputs_fn(x)
    for fn, h in zip(model.layer_fns(), inputs):
        figures(fn, h.detach())
    xg = x.clone().requires_grad_(True)
    model(xg).sum().backward()
    figures(lambda z: model(z), x)
    top_hessian_eigenvalue(model, x)
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="mlp10,mlp20,mlp40,mlp80,resnet18")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.models.split(","):
        torch.manual_seed(0)
        if name.startswith("mlp"):
            m = MLP(int(name[3:])).eval()
            x = torch.randn(1, 64)
            trace = mlp_trace_for(m)
        else:
            m = resnet18().eval()
            x = torch.randn(1, 3, 224, 224)
            trace = m.trace
        path = os.path.join(args.out, name + ".onnx")
        torch.onnx.export(m, x, path, opset_version=17, input_names=["x"], output_names=["y"])
        np.save(os.path.join(args.out, name + "_input.npy"), x.numpy())
        seconds = analyse(m, x, trace)
        print(json.dumps({"model": name, "torchSeconds": seconds, "onnx": path, "input": os.path.join(args.out, name + "_input.npy")}), flush=True)


def mlp_trace_for(m):
    def trace(x):
        out = []
        for l in m.layers:
            out.append(x)
            x = torch.tanh(l(x))
        return out
    return trace


if __name__ == "__main__":
    sys.exit(main())
