#!/usr/bin/env python3
"""snnTorch peer of `snn bench --parts bntt`: BPTT training and inference of the small VGG (`vgg5`) with BNTT.

Network (no biases), input 3x32x32, T = 10, batch 64:
  Conv(3->16,k3,p1) -> BNTT -> LIF -> AvgPool2 -> Conv(16->32,k3,p1) -> BNTT -> LIF -> AvgPool2
  -> Linear(2048->128) -> BNTT -> LIF -> Linear(128->10) read-out (its output averaged over T are the logits).
BNTT: one torch.nn.BatchNorm{2,1}d per time step (eps 1e-4, momentum 0.1), learnable weight (gamma), bias frozen
at 0 (no shift), as in the BNTT reference code.
Neurons: snntorch.Leaky(beta=0.95, threshold=1, reset_mechanism="subtract") with a triangle surrogate
0.3 * max(0, 1 - |U - 1|) (custom autograd function passed as spike_grad).
Input: signed spikes, each element -1 or +1 with probability 0.2 and 0 otherwise (what `snn bench` uses).
Training: forward over T steps, cross-entropy of the mean read-out, loss.backward(), SGD (lr 0.05, momentum 0.9,
weight decay 1e-4). Inference: forward under torch.no_grad() in eval mode (running statistics).

torch.set_num_threads(--threads) (default 2). Each mode is warmed up twice, then timed in --repeats runs of at
least --min-seconds; the best run is reported as samples/s. Run from the repository root:
    bench/peers/.venv/bin/python bench/peers/bntt_snntorch.py [--json FILE]
"""
import argparse
import json
import platform
import time

import torch
import torch.nn as nn
import snntorch as snn

T, BATCH = 10, 64


class Triangle(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).float()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 0.3 * torch.clamp(1.0 - x.abs(), min=0.0)


def bntt(kind, channels):
    layers = nn.ModuleList([kind(channels, eps=1e-4, momentum=0.1) for _ in range(T)])
    for bn in layers:
        bn.bias.requires_grad_(False)
    return layers


class VGG5BNTT(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = bntt(nn.BatchNorm2d, 16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = bntt(nn.BatchNorm2d, 32)
        self.fc1 = nn.Linear(32 * 8 * 8, 128, bias=False)
        self.bn3 = bntt(nn.BatchNorm1d, 128)
        self.out = nn.Linear(128, 10, bias=False)
        self.pool = nn.AvgPool2d(2)
        grad = Triangle.apply
        self.lif1 = snn.Leaky(beta=0.95, threshold=1.0, spike_grad=grad, reset_mechanism="subtract")
        self.lif2 = snn.Leaky(beta=0.95, threshold=1.0, spike_grad=grad, reset_mechanism="subtract")
        self.lif3 = snn.Leaky(beta=0.95, threshold=1.0, spike_grad=grad, reset_mechanism="subtract")
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight, gain=2)

    def forward(self, x):  # x: [T, B, 3, 32, 32]
        m1, m2, m3 = self.lif1.init_leaky(), self.lif2.init_leaky(), self.lif3.init_leaky()
        acc = 0
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.bn1[t](self.conv1(x[t])), m1)
            s2, m2 = self.lif2(self.bn2[t](self.conv2(self.pool(s1))), m2)
            s3, m3 = self.lif3(self.bn3[t](self.fc1(self.pool(s2).flatten(1))), m3)
            acc = acc + self.out(s3)
        return acc / x.shape[0]


def timed(fn, min_seconds, repeats, batch):
    fn(); fn()
    best = 0.0
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn(); calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = max(best, calls * batch / elapsed)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    u = torch.rand(T, BATCH, 3, 32, 32)
    x = torch.zeros_like(u)
    x[u < 0.2] = -1.0
    x[(u >= 0.2) & (u < 0.4)] = 1.0
    labels = torch.arange(BATCH) % 10
    net = VGG5BNTT()
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.05, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()

    def train_step():
        net.train()
        opt.zero_grad()
        loss = loss_fn(net(x), labels)
        loss.backward()
        opt.step()

    def infer():
        net.eval()
        with torch.no_grad():
            net(x)

    train = timed(train_step, args.min_seconds, args.repeats, BATCH)
    inference = timed(infer, args.min_seconds, args.repeats, BATCH)
    result = {"peer": f"snntorch {snn.__version__}, torch {torch.__version__}", "network": "vgg5+bntt", "steps": T,
              "batch": BATCH, "threads": args.threads, "machine": platform.processor() or platform.machine(),
              "trainingSamplesPerSecond": train, "inferenceSamplesPerSecond": inference}
    print(f"snnTorch BNTT vgg5 (3x32x32, T={T}, batch {BATCH}, {args.threads} threads): "
          f"training {train:.1f} samples/s, inference {inference:.1f} samples/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
