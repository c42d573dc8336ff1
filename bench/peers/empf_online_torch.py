#!/usr/bin/env python3
"""PyTorch peer of `snn train --method empf-online`: EM-PF online training, samples/s and peak memory.

The same method as SNNKit's (docs/ALGORITHMS.md, "EM-PF"): per time step, forward one step of the whole network
with the membrane of the previous step detached, cross-entropy of that step's read-out divided by T, backward
within the step (gradients accumulate in .grad), Adam step after the last step.
Neuron: m = lambda * v_prev.detach() + I; u = BN(m) (per channel, batch statistics of the step); excess spike
s = relu(u - theta) (exact gradient); v = u - s. Learnable lambda and theta per channel. Binary weights
alpha * sign(W) per output channel with a clipped straight-through gradient.
Networks (no biases): mlp  784 -> 128 (BN, EM-PF) -> 10 read-out;
                      conv 1x28x28 -> conv 8 k3 p1 (BN, EM-PF) -> avgpool 2 -> 10 read-out.
Input: random graded values in [0, 1], batch 32. Each configuration runs in its own process so that its peak
resident memory (ru_maxrss) is its own; samples/s is the best of --repeats timed runs of --min-seconds.
    /path/to/venv/bin/python bench/peers/empf_online_torch.py [--threads 2] [--json FILE]
"""
import argparse
import json
import resource
import subprocess
import sys
import time

BATCH = 32


def child(net: str, steps: int, threads: int, min_seconds: float, repeats: int) -> dict:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    class BinarySign(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w, per_channel_dim):
            ctx.save_for_backward(w)
            dims = [d for d in range(w.dim()) if d != per_channel_dim]
            alpha = w.abs().mean(dim=dims, keepdim=True)
            return torch.where(w < 0, -alpha, alpha)

        @staticmethod
        def backward(ctx, g):
            (w,) = ctx.saved_tensors
            return g * (w.abs() <= 1).float(), None

    class EMPF(nn.Module):
        def __init__(self, channels, conv):
            super().__init__()
            shape = (1, channels, 1, 1) if conv else (1, channels)
            self.decay = nn.Parameter(torch.full(shape, 0.5))
            self.theta = nn.Parameter(torch.full(shape, 0.5))
            self.bn = nn.BatchNorm2d(channels) if conv else nn.BatchNorm1d(channels)

        def forward(self, current, v):
            m = self.decay * v.detach() + current
            u = self.bn(m)
            s = F.relu(u - self.theta)
            return s, u - s

    class Net(nn.Module):
        def __init__(self, kind):
            super().__init__()
            self.kind = kind
            if kind == "mlp":
                self.w1 = nn.Parameter(torch.empty(128, 784).uniform_(-0.087, 0.087))
                self.n1 = EMPF(128, False)
                self.w2 = nn.Parameter(torch.empty(10, 128).uniform_(-0.2, 0.2))
            else:
                self.w1 = nn.Parameter(torch.empty(8, 1, 3, 3).uniform_(-0.8, 0.8))
                self.n1 = EMPF(8, True)
                self.w2 = nn.Parameter(torch.empty(10, 8 * 14 * 14).uniform_(-0.05, 0.05))

        def forward(self, x, v):
            w1 = BinarySign.apply(self.w1, 0)
            w2 = BinarySign.apply(self.w2, 0)
            if self.kind == "mlp":
                s, v = self.n1(x @ w1.t(), v)
                return s @ w2.t(), v
            s, v = self.n1(F.conv2d(x, w1, padding=1), v)
            return F.avg_pool2d(s, 2).flatten(1) @ w2.t(), v

    model = Net(net)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    shape = (steps, BATCH, 784) if net == "mlp" else (steps, BATCH, 1, 28, 28)
    x = torch.rand(shape)
    y = torch.randint(0, 10, (BATCH,))

    def train_step():
        opt.zero_grad(set_to_none=False)
        v = torch.zeros((BATCH, 128) if net == "mlp" else (BATCH, 8, 28, 28))
        for t in range(steps):
            out, v = model(x[t], v)
            loss = F.cross_entropy(out, y) / steps
            loss.backward()
        opt.step()

    train_step(); train_step()
    best = 0.0
    for _ in range(repeats):
        n = 0
        start = time.perf_counter()
        while True:
            train_step(); n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = max(best, n * BATCH / elapsed)
    return {"net": net, "T": steps, "batch": BATCH, "threads": threads, "samplesPerSecond": best,
            "maxRSSMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--child", nargs=2)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]), a.threads, a.min_seconds, a.repeats)))
        return
    rows = []
    for net in ["mlp", "conv"]:
        for steps in [4, 16]:
            out = subprocess.run([sys.executable, __file__, "--child", net, str(steps), "--threads", str(a.threads),
                                  "--min-seconds", str(a.min_seconds), "--repeats", str(a.repeats)],
                                 check=True, capture_output=True, text=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            rows.append(row)
            print(f"torch empf-online {net} T={steps}: {row['samplesPerSecond']:.1f} samples/s, max RSS {row['maxRSSMiB']:.1f} MiB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
