#!/usr/bin/python3
"""Ground truth for the diagnosis (issue #14): does each model train?

Trains a fixed set of models, each from a seeded initial state, for the same small budget with the
same recipe, and records whether it learns. The recipe: 300 steps of SGD with heavy-ball momentum
0.9, batch 32, no weight decay, the learning rate warmed up linearly to 0.01 over 20 steps and then
decayed to 0 on a cosine (regnet's loss spikes late at a constant rate, and the decay settles it);
gradient-norm clipping at 1 for the recurrent nets alone (a vanilla RNN is never trained without
it: the orthogonal one learns and then diverges at a constant rate), none for the others. SGD and
not Adam, because under SGD a layer's step is proportional to its gradient, which is what the
diagnosis measures: Adam rescales every parameter's step to about the learning rate and so hides a
vanishing gradient (and makes the movement criterion below meaningless). Each model is exported
to ONNX at its INITIAL state (before the first update), as a user's `torch.onnx.export` writes it,
for bench/calibration.ts to analyse.

Tasks (fresh samples every step, so the loss measures learning, not memorisation):
  - vectors (MLPs): x ~ N(0, I_16); label = argmax of a random linear teacher's 4 scores.
  - images (torchvision, 3x32x32): 10 classes of procedural gratings (5 orientations x 2 spatial
    frequencies), random phase and colour, plus Gaussian noise.
  - tokens (transformers, 16 tokens of width 32): a label per token (4 classes), argmax of a random linear
    teacher over the token and the mean of the sequence (so the token must attend to the others).
  - sequences (recurrent nets, 30 steps of width 8): delayed recall, 4 classes: the first step
    holds x ~ N(0, I), the other 29 are zero, and the label is argmax of a random linear teacher
    over the first step. The net has to carry it (and its gradient) through the 29 steps.

A model TRAINS when all three hold (the criteria are stated in the output as well):
  1. its losses stay finite;
  2. the final loss (mean of the last 10 steps) is at most LOSS_FACTOR = 0.5 x the smaller of the
     initial loss (the loss at the initial weights, averaged over 4 batches) and the chance loss
     (the entropy of the labels, which is what a model that predicts the class frequencies gets).
     The chance loss matters for over-scaled models: their initial loss is huge, and shrinking the
     output alone halves it without learning anything. Half the chance loss (1.15 nats of 2.30 for
     10 classes, 0.69 of 1.39 for 4) is out of reach of any model that ignores its input, and
     well within reach of any that learns the task in the budget;
  3. its first weight layer moves: ||W_first(T) - W_first(0)|| / ||W_first(0)|| is at least
     MOVE_FACTOR = 0.01 x the same relative movement of its last weight layer. Under SGD a
     parameter moves in proportion to its gradient, so this tells a network that learns
     throughout from one where only the layers near the loss learn (a vanishing gradient: the
     head alone can fit part of a task from random features).

Writes --out/<model>.onnx (keep them out of git) and, with --table, the JSON table (model, file,
input shape, trains, loss ratio, movement, seconds, notes). One JSON line per model on stdout.
Takes a few minutes on one thread; --models NAME,NAME --merge reruns only those rows and keeps the
table's others; --quick trains 40 steps for a smoke test (its table is not
the ground truth and is not written unless --table is given).

    /usr/bin/python3 bench/training_table.py --out /tmp/gd-train --table bench/training_table.json
"""
import argparse
import copy
import json
import math
import os
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

STEPS = 300
BATCH = 32
LR = 0.01  # the peak: linear warm-up over WARMUP steps, then a cosine decay to 0
MOMENTUM = 0.9
LOSS_FACTOR = 0.5
MOVE_FACTOR = 0.01
WARMUP = 20
CLIP = 1.0  # gradient-norm clipping for the recurrent nets (as they are always trained); none for the others
TAIL = 10  # the final loss is the mean of the last TAIL steps

VEC_IN, VEC_CLASSES = 16, 4
IMG, IMG_CLASSES = 32, 10
TOKENS, WIDTH, TOK_CLASSES = 16, 32, 4
SEQ_T, SEQ_IN, SEQ_HIDDEN, SEQ_CLASSES = 30, 8, 64, 4


# ---------------------------------------------------------------- tasks

class VectorTask:
    """x ~ N(0, I); label = argmax of a random linear teacher's scores."""

    def __init__(self, g):
        self.w = torch.randn(VEC_IN, VEC_CLASSES, generator=g)
        self.g = g
        self.shape = (VEC_IN,)

    def batch(self, n):
        x = torch.randn(n, VEC_IN, generator=self.g)
        return x, (x @ self.w).argmax(-1)


class ImageTask:
    """Gratings: class = (orientation index, frequency index); random phase, per-channel colour, noise."""

    def __init__(self, g):
        self.g = g
        self.shape = (3, IMG, IMG)
        ys, xs = torch.meshgrid(torch.arange(IMG, dtype=torch.float32), torch.arange(IMG, dtype=torch.float32), indexing="ij")
        self.ys, self.xs = ys, xs

    def batch(self, n):
        y = torch.randint(0, IMG_CLASSES, (n,), generator=self.g)
        theta = (y % 5).float() * math.pi / 5
        freq = torch.where(y // 5 == 0, torch.tensor(2 * math.pi / 8), torch.tensor(2 * math.pi / 4))
        phase = torch.rand(n, generator=self.g) * 2 * math.pi
        proj = torch.cos(theta)[:, None, None] * self.xs + torch.sin(theta)[:, None, None] * self.ys
        wave = torch.sin(freq[:, None, None] * proj + phase[:, None, None])  # n x H x W
        colour = 0.5 + torch.rand(n, 3, generator=self.g)
        x = colour[:, :, None, None] * wave[:, None] + 0.5 * torch.randn(n, 3, IMG, IMG, generator=self.g)
        return x, y


class TokenTask:
    """A label per token: argmax of a random linear teacher over the token and the sequence mean."""

    def __init__(self, g):
        self.a = torch.randn(WIDTH, TOK_CLASSES, generator=g) / math.sqrt(WIDTH)
        self.b = torch.randn(WIDTH, TOK_CLASSES, generator=g) / math.sqrt(WIDTH) * math.sqrt(TOKENS)
        self.g = g
        self.shape = (TOKENS, WIDTH)

    def batch(self, n):
        x = torch.randn(n, TOKENS, WIDTH, generator=self.g)
        return x, (x @ self.a + x.mean(1, keepdim=True) @ self.b).argmax(-1)


class SequenceTask:
    """Delayed recall: the first of SEQ_T steps holds x ~ N(0, I), the others are zero; label =
    argmax of a random linear teacher over the first step. The net must carry it SEQ_T - 1 steps."""

    def __init__(self, g):
        self.w = torch.randn(SEQ_IN, SEQ_CLASSES, generator=g)
        self.g = g
        self.shape = (SEQ_T, SEQ_IN)

    def batch(self, n):
        x = torch.zeros(n, SEQ_T, SEQ_IN)
        x[:, 0] = torch.randn(n, SEQ_IN, generator=self.g)
        return x, (x[:, 0] @ self.w).argmax(-1)


# ---------------------------------------------------------------- models

class MLP(nn.Module):
    """`depth` linear layers (depth - 1 hidden of `width`), the activation between them."""

    def __init__(self, depth, act, std, width=64, bias=True, init="normal"):
        super().__init__()
        dims = [VEC_IN] + [width] * (depth - 1) + [VEC_CLASSES]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(dims, dims[1:]))
        self.act = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}[act]
        if init == "normal":  # weight std = std / sqrt(fan_in), bias 0; init="default" keeps PyTorch's
            for l in self.layers:
                nn.init.normal_(l.weight, 0.0, std / math.sqrt(l.in_features))
                if l.bias is not None:
                    nn.init.zeros_(l.bias)

    def forward(self, x):
        for l in self.layers[:-1]:
            x = self.act(l(x))
        return self.layers[-1](x)


class Transformer(nn.Module):
    """An encoder over 16 embedded tokens (bench/export_models.py's), a linear head per token."""

    def __init__(self, depth, norm_first):
        super().__init__()
        layer = nn.TransformerEncoderLayer(WIDTH, 4, dim_feedforward=4 * WIDTH, dropout=0.0, batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.head = nn.Linear(WIDTH, TOK_CLASSES)

    def forward(self, x):
        return self.head(self.encoder(x))


class Recurrent(nn.Module):
    """One recurrent layer over the sequence (batch first), a linear head on the last hidden state."""

    def __init__(self, kind, radius=None, orthogonal=False):
        super().__init__()
        cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = cls(SEQ_IN, SEQ_HIDDEN, batch_first=True)
        self.head = nn.Linear(SEQ_HIDDEN, SEQ_CLASSES)
        w = self.rnn.weight_hh_l0
        with torch.no_grad():
            if orthogonal:
                nn.init.orthogonal_(w)
            if radius is not None:  # a Gaussian matrix rescaled to this spectral radius
                m = torch.randn(SEQ_HIDDEN, SEQ_HIDDEN)
                w.copy_(m * radius / torch.linalg.eigvals(m).abs().max())

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def vision(name):
    import torchvision
    return getattr(torchvision.models, name)(weights=None, num_classes=IMG_CLASSES)


# name -> (builder, task, expected, notes). "expected" is what the literature predicts; the table
# records what the training run measured, and says where the two differ.
MODELS = {
    # architectures that are trained from exactly this state
    "resnet18": (lambda: vision("resnet18"), ImageTask, True, "torchvision, weights=None (fan-out He init, BatchNorm)"),
    "mobilenet_v3_small": (lambda: vision("mobilenet_v3_small"), ImageTask, True, "torchvision, weights=None"),
    "shufflenet_v2_x1_0": (lambda: vision("shufflenet_v2_x1_0"), ImageTask, True, "torchvision, weights=None"),
    "regnet_x_400mf": (lambda: vision("regnet_x_400mf"), ImageTask, True, "torchvision, weights=None"),
    "mlp_relu_he10": (lambda: MLP(10, "relu", math.sqrt(2)), VectorTask, True, "10 linear layers, ReLU, He init (std sqrt(2/fan_in)), width 64"),
    "mlp_relu_default10": (lambda: MLP(10, "relu", None, init="default"), VectorTask, False, "10 linear layers, ReLU, PyTorch's default Linear init "
                           "(weights uniform with std 1/sqrt(3 fan_in), biases uniform in +-1/sqrt(fan_in)): each layer keeps 1/6 of the signal's "
                           "second moment, and after 9 the biases have drowned the input"),
    "mlp_tanh_edge20": (lambda: MLP(20, "tanh", 1.0, bias=False), VectorTask, True, "20 linear layers, tanh, weight variance 1/fan_in, no bias (edge of chaos)"),
    "transformer_prenorm4": (lambda: Transformer(4, True), TokenTask, True, "pre-norm encoder, 4 layers, width 32, 4 heads, 16 tokens"),
    "transformer_prenorm12": (lambda: Transformer(12, True), TokenTask, True, "pre-norm encoder, 12 layers, width 32, 4 heads, 16 tokens"),
    "rnn_orthogonal": (lambda: Recurrent("rnn", orthogonal=True), SequenceTask, True, "tanh RNN, hidden 64, orthogonal recurrent weight (spectral radius 1), 30 steps"),
    "lstm_default": (lambda: Recurrent("lstm"), SequenceTask, None, "LSTM, hidden 64, PyTorch's default init (forget-gate bias 0, so the cell keeps "
                     "about half of its state a step), 30 steps: the recall 29 steps back is beyond it"),
    # architectures that are known not to train from this state
    "mlp_sigmoid16": (lambda: MLP(16, "sigmoid", None, init="default"), VectorTask, False, "16 linear layers, sigmoid, PyTorch's default Linear init"),
    "mlp_tanh_over20": (lambda: MLP(20, "tanh", 3.0, bias=False), VectorTask, False, "20 linear layers, tanh, weight std 3/sqrt(fan_in) (chaotic)"),
    "mlp_tanh_under20": (lambda: MLP(20, "tanh", 0.5, bias=False), VectorTask, False, "20 linear layers, tanh, weight std 0.5/sqrt(fan_in) (ordered)"),
    "plain_relu32_over": (lambda: MLP(32, "relu", 2.5), VectorTask, False, "32 linear layers, ReLU, no normalisation, weight std 2.5/sqrt(fan_in) (He is 1.41)"),
    "plain_relu32_under": (lambda: MLP(32, "relu", 0.5), VectorTask, False, "32 linear layers, ReLU, no normalisation, weight std 0.5/sqrt(fan_in) (He is 1.41)"),
    "rnn_radius3": (lambda: Recurrent("rnn", radius=3.0), SequenceTask, False, "tanh RNN, hidden 64, recurrent spectral radius 3, 30 steps"),
    "rnn_radius0.2": (lambda: Recurrent("rnn", radius=0.2), SequenceTask, False, "tanh RNN, hidden 64, recurrent spectral radius 0.2, 30 steps"),
    "transformer_postnorm6": (lambda: Transformer(6, False), TokenTask, True, "post-norm encoder, 6 layers, width 32, 4 heads, 16 tokens (the original Transformer's depth) "
                              "(measured to place the depth at which post-norm stops training under this recipe)"),
    "transformer_postnorm12": (lambda: Transformer(12, False), TokenTask, None, "post-norm encoder, 12 layers, width 32, 4 heads, 16 tokens "
                               "(measured to place the depth at which post-norm stops training under this recipe)"),
    "transformer_postnorm24": (lambda: Transformer(24, False), TokenTask, False, "post-norm encoder, 24 layers, width 32, 4 heads, 16 tokens "
                               "(the pre-norm 12-layer one reaches a third of the chance loss in the same budget)"),
}


# ---------------------------------------------------------------- training and export

def weight_layers(m):
    """The first and the last weight matrices (2-D or more) in the module's registration order."""
    ws = [(n, p) for n, p in m.named_parameters() if p.dim() >= 2]
    return ws[0], ws[-1]


def export(m, shape, path):
    """Exports at the current (initial) state as a user would: eval mode (the exporter then folds
    BatchNorm into the convolutions); the transformers fall back to training mode (dropout 0, no
    BatchNorm), since nn.TransformerEncoder's eval fast path has no export in PyTorch 1.13.
    Returns (mode, batchnorm), batchnorm: 'folded' (BatchNorm modules, none left in the graph),
    'kept', or 'none'."""
    import onnx
    m = copy.deepcopy(m)
    x = torch.randn(1, *shape)
    mode = "eval"
    try:
        m.eval()
        with torch.no_grad():
            torch.onnx.export(m, x, path, opset_version=17, input_names=["x"], output_names=["y"], training=torch.onnx.TrainingMode.EVAL)
    except Exception:  # nn.TransformerEncoder's eval fast path has no ONNX export in PyTorch 1.13
        if any(isinstance(mod, nn.modules.batchnorm._BatchNorm) for mod in m.modules()):
            raise
        mode = "training"
        m.train()
        with torch.no_grad():
            torch.onnx.export(m, x, path, opset_version=17, input_names=["x"], output_names=["y"], training=torch.onnx.TrainingMode.PRESERVE)
    has_bn = any(isinstance(mod, nn.modules.batchnorm._BatchNorm) for mod in m.modules())
    in_graph = any(n.op_type == "BatchNormalization" for n in onnx.load(path, load_external_data=False).graph.node)
    return mode, ("kept" if in_graph else "folded") if has_bn else "none"


def lr_at(step, steps):
    """Linear warm-up to LR over WARMUP steps, then a cosine decay to 0 at the last step."""
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    return LR * 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / max(1, steps - WARMUP)))


def train(m, task, steps, clip=None):
    """SGD with momentum; the model in training mode (BatchNorm on batch statistics)."""
    m.train()

    def loss_of(x, y):
        out = m(x)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))

    with torch.no_grad():  # the loss at the initial weights, over 4 batches (BatchNorm on batch statistics, as in training)
        initial = sum(loss_of(*task.batch(BATCH)).item() for _ in range(4)) / 4
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM)
    losses = []
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps)
        loss = loss_of(*task.batch(BATCH))
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            break
        opt.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(m.parameters(), clip)
        opt.step()
    return initial, losses


def chance_loss(task):
    """Entropy of the labels' marginal (nats): the loss of a model that predicts the class frequencies."""
    _, y = task.batch(8192)
    p = torch.bincount(y.reshape(-1)).float()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


def finite(v):
    return v if v is not None and math.isfinite(v) else None


def run(name, out_dir, steps):
    build, task_cls, expected, notes = MODELS[name]
    t0 = time.time()
    torch.manual_seed(0)
    m = build()
    g = torch.Generator().manual_seed(1)
    task = task_cls(g)
    chance = chance_loss(task)
    path = os.path.join(out_dir, f"{name}.onnx")
    mode, bn = export(m, task.shape, path)
    (first_name, first), (last_name, last) = weight_layers(m)
    w0_first, w0_last = first.detach().clone(), last.detach().clone()
    t1 = time.time()
    initial, losses = train(m, task, steps, CLIP if task_cls is SequenceTask else None)
    ok = len(losses) == steps and all(math.isfinite(v) for v in losses)
    final = sum(losses[-TAIL:]) / len(losses[-TAIL:]) if ok else float("nan")
    move_first = float((first.detach() - w0_first).norm() / w0_first.norm())
    move_last = float((last.detach() - w0_last).norm() / w0_last.norm())
    ratio = final / initial if ok else None
    movement = move_first / move_last if ok and move_last > 0 else None
    loss_ok = ok and final <= LOSS_FACTOR * min(initial, chance)
    move_ok = movement is not None and movement >= MOVE_FACTOR
    trains = bool(loss_ok and move_ok)
    why = "losses became non-finite" if not ok else (
        "learns" if trains else
        ("the loss did not fall to %.2f x min(initial, chance)" % LOSS_FACTOR if not loss_ok else "") +
        (" and " if not loss_ok and not move_ok else "") +
        ("the first layer moved < %.2f x the last layer" % MOVE_FACTOR if not move_ok else ""))
    row = {
        "model": name,
        "file": f"{name}.onnx",
        "inputShape": [1, *task.shape],
        "trains": trains,
        "expected": expected,
        "initialLoss": round(initial, 4),
        "finalLoss": round(final, 4) if ok else None,
        "chanceLoss": round(chance, 4),
        "lossRatio": round(ratio, 4) if ratio is not None else None,
        "chanceRatio": round(final / chance, 4) if ok else None,
        "firstLayer": first_name,
        "lastLayer": last_name,
        "firstMovement": finite(round(move_first, 6)) if ok else None,
        "lastMovement": finite(round(move_last, 6)) if ok else None,
        "firstLastMovement": round(movement, 4) if movement is not None else None,
        "exportMode": mode,
        "batchnorm": bn,
        "seconds": round(time.time() - t1, 1),
        "exportSeconds": round(t1 - t0, 1),
        "verdictReason": why,
        "notes": notes,
    }
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the exported ONNX files (keep it out of git)")
    p.add_argument("--table", help="write the JSON table here (bench/training_table.json)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    p.add_argument("--merge", action="store_true", help="with --table and --models: replace or add only these models' rows in the "
                   "existing table (kept in the order of MODELS), keeping the other rows as they are")
    p.add_argument("--steps", type=int, default=STEPS)
    p.add_argument("--quick", action="store_true", help="40 steps: a smoke test, not the ground truth")
    args = p.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # the exporter's advice on constant folding and RNN batch sizes
    steps = 40 if args.quick else args.steps
    os.makedirs(args.out, exist_ok=True)
    rows = []
    t0 = time.time()
    for name in args.models.split(","):
        row = run(name, args.out, steps)
        rows.append(row)
        print(json.dumps(row), flush=True)
        print(f"{name:24s} trains={'yes' if row['trains'] else 'no ':3s} loss {row['initialLoss']:.3f} -> {row['finalLoss']} "
              f"(ratio {row['lossRatio']}, chance {row['chanceLoss']:.2f}) movement first/last {row['firstLastMovement']} "
              f"[{row['seconds']} s + export {row['exportSeconds']} s]", file=sys.stderr, flush=True)
    total = round(time.time() - t0, 1)
    print(f"total {total} s", file=sys.stderr)
    if args.table:
        previous = []
        if args.merge and os.path.exists(args.table):
            with open(args.table) as f:
                old = json.load(f)
            if old["criteria"]["steps"] != steps:
                sys.exit(f"--merge: the table was trained for {old['criteria']['steps']} steps, this run for {steps}")
            previous = old["models"]
            total = round(old["criteria"]["totalSeconds"] + total, 1)  # the runs that produced the rows, together
        fresh = {r["model"]: r for r in rows}
        kept = {r["model"]: r for r in previous if r["model"] not in fresh}
        merged = {**kept, **fresh}
        order = list(MODELS) + [n for n in merged if n not in MODELS]
        rows = [merged[n] for n in order if n in merged]
        table = {
            "criteria": {
                "optimizer": f"SGD, momentum {MOMENTUM}, no weight decay; learning rate warmed up linearly to {LR} over {WARMUP} steps, "
                             f"then a cosine decay to 0; gradient-norm clipping at {CLIP} for the recurrent nets only",
                "steps": steps,
                "batch": BATCH,
                "trains": f"finite losses, final loss (mean of the last {TAIL} steps) <= {LOSS_FACTOR} x min(initial loss, chance loss), "
                          f"and the first weight layer's relative movement >= {MOVE_FACTOR} x the last weight layer's",
                "export": "at the initial state, opset 17, eval mode (BatchNorm folded into the convolutions by the exporter); "
                          "training mode (dropout 0) where the eval export fails (nn.TransformerEncoder in PyTorch 1.13)",
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "totalSeconds": total,
            },
            "models": rows,
        }
        with open(args.table, "w") as f:
            json.dump(table, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
