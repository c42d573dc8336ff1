#!/usr/bin/env python3
"""snnTorch peer benchmark for `snn bench`: layered (time step by time step) inference and BPTT training.

Networks (no biases, a Leaky LIF layer after every weight layer):
  mlp: 2312-64-64-64-10
  cnn: Conv(2->8,k3,s2) -> Conv(8->16,k3,s2,p1) -> Conv(16->32,k3,s2,p1) -> Linear(512->10), input 2x34x34
Neurons: snntorch.Leaky(beta=0.9 by default, threshold=0.3, ATan surrogate (alpha=2), reset_mechanism="zero").
Input: T=10 frames of 2x34x34. With --data nmnist (default when the folder exists) the frames are real
N-MNIST event counts (first saccade, 10 ms frames) from /work/shared/data/nmnist-small/Train;
with --data random they are Bernoulli(0.08) spikes.
Training: BPTT through all T steps, Adam (lr 1e-3), rate cross-entropy loss (snntorch.functional.ce_rate_loss:
mean over time steps of CE on that step's output spikes).
Inference: forward under torch.no_grad(), output spike counts summed over time.

Reports samples/s (best of --repeats timed runs after warm-up) for each net x mode x batch, with
torch.set_num_threads(--threads) (default 2). Run from the repository root:
    bench/peers/.venv/bin/python bench/peers/snntorch_layered.py
Add --json FILE to also write the numbers as JSON.
"""
import argparse
import glob
import json
import math
import os
import platform
import time

import numpy as np
import torch
import torch.nn as nn
import snntorch as snn
from snntorch import surrogate
import snntorch.functional as SF

T = 10
DEFAULT_NMNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data",
                              "nmnist-small", "Train")


def read_nmnist_frames(path: str, frames: int = T, dt_us: int = 10_000) -> np.ndarray:
    """One N-MNIST .bin file -> [frames, 2, 34, 34] event counts (first saccade: t < frames*dt)."""
    raw = np.fromfile(path, dtype=np.uint8)
    raw = raw[: len(raw) // 5 * 5].reshape(-1, 5).astype(np.int64)
    x, y = raw[:, 0], raw[:, 1]
    pol = raw[:, 2] >> 7
    ts = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    keep = (ts < frames * dt_us) & (x < 34) & (y < 34)
    out = np.zeros((frames, 2, 34, 34), dtype=np.float32)
    np.add.at(out, (ts[keep] // dt_us, pol[keep], y[keep], x[keep]), 1.0)
    return out


def make_input(kind: str, batch: int, data_dir: str, rng: np.random.Generator):
    if kind == "nmnist":
        files = sorted(glob.glob(os.path.join(data_dir, "*", "*.bin")))
        if not files:
            raise SystemExit(f"no .bin files under {data_dir}")
        pick = rng.choice(len(files), size=batch, replace=len(files) < batch)
        frames = np.stack([read_nmnist_frames(files[i]) for i in pick], axis=1)  # [T, B, 2, 34, 34]
        labels = np.array([int(os.path.basename(os.path.dirname(files[i]))) for i in pick])
    else:
        frames = (rng.random((T, batch, 2, 34, 34)) < 0.08).astype(np.float32)
        labels = rng.integers(0, 10, size=batch)
    return torch.from_numpy(frames), torch.from_numpy(labels).long()


def lif(beta: float) -> snn.Leaky:
    return snn.Leaky(beta=beta, threshold=0.3, spike_grad=surrogate.atan(alpha=2.0), reset_mechanism="zero")


class MLP(nn.Module):
    def __init__(self, beta: float):
        super().__init__()
        sizes = [2312, 64, 64, 64, 10]
        self.fcs = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        self.lifs = nn.ModuleList(lif(beta) for _ in self.fcs)

    def forward(self, x):  # x: [T, B, 2, 34, 34]
        mems = [l.reset_mem() for l in self.lifs]
        out = []
        for t in range(x.shape[0]):
            h = x[t].flatten(1)
            for i, (fc, l) in enumerate(zip(self.fcs, self.lifs)):
                h, mems[i] = l(fc(h), mems[i])
            out.append(h)
        return torch.stack(out)  # [T, B, 10] output spikes


class CNN(nn.Module):
    def __init__(self, beta: float):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.Conv2d(2, 8, 3, stride=2, bias=False),
            nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),
            nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
            nn.Linear(512, 10, bias=False),
        ])
        self.lifs = nn.ModuleList(lif(beta) for _ in self.layers)

    def forward(self, x):
        mems = [l.reset_mem() for l in self.lifs]
        out = []
        for t in range(x.shape[0]):
            h = x[t]
            for i, (layer, l) in enumerate(zip(self.layers, self.lifs)):
                if isinstance(layer, nn.Linear):
                    h = h.flatten(1)
                h, mems[i] = l(layer(h), mems[i])
            out.append(h)
        return torch.stack(out)


def timed(fn, min_seconds: float, repeats: int) -> float:
    """Best seconds per call over `repeats` runs, each lasting at least min_seconds."""
    fn()  # warm-up
    fn()
    best = math.inf
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            el = time.perf_counter() - t0
            if el >= min_seconds:
                break
        best = min(best, el / n)
    return best


def add_common_options(ap: argparse.ArgumentParser) -> None:
    """Options shared by the peer scripts that time N-MNIST input: data, repetitions, JSON output."""
    ap.add_argument("--data", choices=["nmnist", "random"], default=None)
    ap.add_argument("--data-dir", default=DEFAULT_NMNIST)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--json", default=None)


def input_kind(args) -> str:
    """--data, or real N-MNIST when the folder holds recordings, else random spikes."""
    return args.data or ("nmnist" if glob.glob(os.path.join(args.data_dir, "*", "*.bin")) else "random")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beta", type=float, default=0.9)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--nets", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    add_common_options(ap)
    args = ap.parse_args()
    kind = input_kind(args)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__}, snntorch {snn.__version__}, threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}, cpus {os.cpu_count()}")
    print(f"Leaky beta={args.beta:.4g} threshold=0.3 ATan(alpha=2) reset=zero, T={T}, input={kind}")
    results = []
    for net_name in args.nets:
        for batch in args.batches:
            x, y = make_input(kind, batch, args.data_dir, rng)
            density = float((x > 0).float().mean())
            for mode in ["inference", "training"]:
                net = (MLP if net_name == "mlp" else CNN)(args.beta)
                if mode == "inference":
                    net.eval()

                    def step():
                        with torch.no_grad():
                            net(x).sum(0)
                else:
                    net.train()
                    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
                    loss_fn = SF.ce_rate_loss()

                    def step():
                        opt.zero_grad(set_to_none=True)
                        loss = loss_fn(net(x), y)
                        loss.backward()
                        opt.step()
                sec = timed(step, args.min_seconds, args.repeats)
                sps = batch / sec
                print(f"{net_name:4s} {mode:9s} batch {batch:4d}: {sps:10.1f} samples/s "
                      f"({sec * 1e3:.2f} ms/batch, input density {density:.3f})", flush=True)
                results.append(dict(net=net_name, mode=mode, batch=batch, samples_per_s=sps,
                                    ms_per_batch=sec * 1e3, input_density=density))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, snntorch=snn.__version__, threads=args.threads, beta=args.beta,
                           threshold=0.3, surrogate="atan(alpha=2)", reset="zero", T=T, input=kind,
                           results=results), f, indent=2)


if __name__ == "__main__":
    main()
