#!/usr/bin/env python3
"""Writes small NIR graphs with the `nir` package and the spikes a numpy simulation of NIR's own
equations gives on fixed inputs, for SNNKit's import test (SNNNIRTests reads OUTDIR/cases.json).

    python make_graphs.py OUTDIR

Graphs: an MLP with LIF neurons (Norse-style r = 1, and snnTorch-style r = tau/dt with per-neuron
time constants) and an Affine bias, a conv net with IF neurons, sum pooling and biases, a conv net
with average pooling and a Threshold node, and a conv whose bias passes sum pooling (which scales it)
and flatten (which repeats it per position) before its neurons, and an MLP of CubaLIF neurons (current-based
synapses in Norse's and snnTorch's gain conventions), and an MLP with per-element Scale nodes after a layer
and on spikes. The reference follows NIR's equations with forward Euler at frame dt:
  LIF:  v <- v + dt/tau (v_leak - v + r I);  IF: v <- v + r I;  spike z = v > v_threshold;  v <- v_reset where z
  CubaLIF: I <- I + dt/tau_syn (-I + w_in x), then v <- v + dt/tau_mem (v_leak - v + r I) with that I
Weights are multiples of 1/16 and inputs 0/1, and every membrane stays at least MARGIN away from its
threshold, so float32 (SNNKit) and float64 (numpy) give the same spikes.
"""
import json
import os
import sys

import nir
import numpy as np

MARGIN = 1e-3


def conv2d(x, w, stride, padding):
    c_in, h, wd = x.shape
    c_out, _, k, _ = w.shape
    xp = np.zeros((c_in, h + 2 * padding, wd + 2 * padding))
    xp[:, padding:padding + h, padding:padding + wd] = x
    ho, wo = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    y = np.zeros((c_out, ho, wo))
    for o in range(c_out):
        for i in range(ho):
            for j in range(wo):
                y[o, i, j] = np.sum(xp[:, i * stride:i * stride + k, j * stride:j * stride + k] * w[o])
    return y


def pool2d(x, k, s, average):
    c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    y = np.zeros((c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            y[:, i, j] = x[:, i * s:i * s + k, j * s:j * s + k].sum(axis=(1, 2))
    return y / (k * k) if average else y


class Margin(Exception):
    pass


def simulate(graph, order, inputs, dt):
    """Runs `graph` (nodes in chain order) on inputs [T, B, ...]; returns output spikes [T, B, n] and spike counts per neuron node."""
    T, B = inputs.shape[:2]
    outs = []
    counts = {}
    state = {}
    for t in range(T):
        row = []
        for b in range(B):
            x = inputs[t, b].astype(np.float64)
            for name in order:
                n = graph.nodes[name]
                if isinstance(n, (nir.Input, nir.Output)):
                    continue
                if isinstance(n, nir.Affine):
                    x = n.weight.astype(np.float64) @ x + n.bias
                elif isinstance(n, nir.Linear):
                    x = n.weight.astype(np.float64) @ x
                elif isinstance(n, nir.Conv2d):
                    x = conv2d(x, n.weight.astype(np.float64), int(n.stride[0]), int(n.padding[0])) + n.bias.reshape(-1, 1, 1)
                elif isinstance(n, nir.SumPool2d):
                    x = pool2d(x, int(n.kernel_size[0]), int(n.stride[0]), average=False)
                elif isinstance(n, nir.AvgPool2d):
                    x = pool2d(x, int(n.kernel_size[0]), int(n.stride[0]), average=True)
                elif isinstance(n, nir.Scale):
                    x = x * n.scale.reshape(x.shape)
                elif isinstance(n, nir.Flatten):
                    x = x.reshape(-1)
                elif isinstance(n, nir.Threshold):
                    if np.min(np.abs(x - n.threshold)) < MARGIN:
                        raise Margin(name)
                    x = (x > n.threshold).astype(np.float64)
                    counts[name] = counts.get(name, 0) + int(x.sum())
                elif isinstance(n, nir.CubaLIF):
                    i_syn, v = state.get((name, b), (np.zeros_like(x), np.zeros_like(x)))
                    i_syn = i_syn + dt / n.tau_syn * (-i_syn + n.w_in * x)
                    v = v + dt / n.tau_mem * (n.v_leak - v + n.r * i_syn)
                    if np.min(np.abs(v - n.v_threshold)) < MARGIN:
                        raise Margin(name)
                    z = v > n.v_threshold
                    reset = n.v_reset if n.v_reset is not None else 0
                    state[(name, b)] = (i_syn, np.where(z, reset, v))
                    x = z.astype(np.float64)
                    counts[name] = counts.get(name, 0) + int(x.sum())
                elif isinstance(n, (nir.LIF, nir.IF)):
                    v = state.get((name, b), np.zeros_like(x))
                    if isinstance(n, nir.LIF):
                        v = v + dt / n.tau * (n.v_leak - v + n.r * x)
                    else:
                        v = v + n.r * x
                    if np.min(np.abs(v - n.v_threshold)) < MARGIN:
                        raise Margin(name)
                    z = v > n.v_threshold
                    state[(name, b)] = np.where(z, n.v_reset, v)
                    x = z.astype(np.float64)
                    counts[name] = counts.get(name, 0) + int(x.sum())
                else:
                    raise TypeError(type(n))
            row.append(x.reshape(-1))
        outs.append(row)
    return np.array(outs), counts


def sixteenths(rng, shape, scale):
    return (np.round(rng.uniform(-1, 1, shape) * 16 * scale) / 16).astype(np.float32)


def mlp(rng):
    dt = 1e-3
    w1 = sixteenths(rng, (8, 6), 1.0)
    w2 = sixteenths(rng, (4, 8), 1.0)
    tau2 = np.array([2e-3, 4e-3, 8e-3, 1.6e-2])  # per-neuron time constants, r = tau/dt (snnTorch's gain 1)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([6])),
        "fc1": nir.Affine(weight=w1, bias=sixteenths(rng, 8, 0.5)),
        # Norse-style: r = 1, so the input gain is dt/tau = 0.25.
        "lif1": nir.LIF(tau=np.full(8, 4e-3), r=np.ones(8), v_leak=np.zeros(8), v_threshold=np.full(8, 0.25), v_reset=np.zeros(8)),
        "fc2": nir.Linear(weight=w2),
        "lif2": nir.LIF(tau=tau2, r=tau2 / dt, v_leak=np.zeros(4), v_threshold=np.full(4, 1.0), v_reset=np.zeros(4)),
        "output": nir.Output(output_type=np.array([4])),
    }, edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")])
    order = ["input", "fc1", "lif1", "fc2", "lif2", "output"]
    x = (rng.uniform(0, 1, (12, 3, 6)) < 0.5).astype(np.float32)
    return g, order, x, dt


def conv_if_sumpool(rng):
    dt = 1e-4
    wc = sixteenths(rng, (4, 2, 3, 3), 0.75)
    wf = sixteenths(rng, (5, 36), 0.5)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([2, 6, 6])),
        "conv": nir.Conv2d(input_shape=(6, 6), weight=wc, stride=1, padding=1, dilation=1, groups=1, bias=sixteenths(rng, 4, 0.5)),
        "if1": nir.IF(r=np.ones((4, 6, 6)), v_threshold=np.full((4, 6, 6), 1 + 1 / 64), v_reset=np.zeros((4, 6, 6))),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=wf, bias=sixteenths(rng, 5, 0.25)),
        "if2": nir.IF(r=np.full(5, 0.5), v_threshold=np.full(5, 0.75 + 1 / 128), v_reset=np.zeros(5)),
        "output": nir.Output(output_type=np.array([5])),
    }, edges=[("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "if2"), ("if2", "output")])
    order = ["input", "conv", "if1", "pool", "flat", "fc", "if2", "output"]
    x = (rng.uniform(0, 1, (10, 2, 2, 6, 6)) < 0.4).astype(np.float32)
    return g, order, x, dt


def conv_avgpool_threshold(rng):
    dt = 1e-4
    wc = sixteenths(rng, (3, 1, 2, 2), 1.0)
    wf = sixteenths(rng, (4, 12), 1.0)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([1, 8, 8])),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=wc, stride=2, padding=0, dilation=1, groups=1, bias=np.zeros(3, dtype=np.float32)),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([3, 2, 2])}, start_dim=0, end_dim=-1),
        "fc": nir.Linear(weight=wf),
        "thr": nir.Threshold(threshold=np.full(4, 0.125 + 1 / 64)),
        "output": nir.Output(output_type=np.array([4])),
    }, edges=[("input", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "thr"), ("thr", "output")])
    order = ["input", "conv", "pool", "flat", "fc", "thr", "output"]
    x = (rng.uniform(0, 1, (6, 2, 1, 8, 8)) < 0.5).astype(np.float32)
    return g, order, x, dt


def conv_bias_sumpool_flatten(rng):
    dt = 1e-3
    wc = sixteenths(rng, (3, 2, 3, 3), 0.5)
    wf = sixteenths(rng, (4, 27), 0.5)
    tau = np.full(4, 5e-3)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([2, 6, 6])),
        "conv": nir.Conv2d(input_shape=(6, 6), weight=wc, stride=1, padding=0, dilation=1, groups=1, bias=sixteenths(rng, 3, 0.25)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0, end_dim=-1),
        "if1": nir.IF(r=np.ones(27), v_threshold=np.full(27, 1 + 1 / 64), v_reset=np.zeros(27)),
        "fc": nir.Affine(weight=wf, bias=sixteenths(rng, 4, 0.25)),
        "lif": nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(4), v_threshold=np.full(4, 0.5 + 1 / 128), v_reset=np.zeros(4)),
        "output": nir.Output(output_type=np.array([4])),
    }, edges=[("input", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "if1"), ("if1", "fc"), ("fc", "lif"), ("lif", "output")])
    order = ["input", "conv", "pool", "flat", "if1", "fc", "lif", "output"]
    x = (rng.uniform(0, 1, (10, 2, 2, 6, 6)) < 0.4).astype(np.float32)
    return g, order, x, dt


def mlp_cubalif(rng):
    dt = 1e-3
    w1 = sixteenths(rng, (8, 6), 0.5)
    w2 = sixteenths(rng, (3, 8), 0.75)
    # Synaptic time constants 4 and 8 frames (alpha = 0.75, 0.875), membranes 2 and 4 frames; Norse-style
    # gains (w_in = 1, r = 1) on the first, snnTorch-style (w_in = tau_syn/dt, r = tau_mem/dt) on the second.
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([6])),
        "fc1": nir.Affine(weight=w1, bias=sixteenths(rng, 8, 0.25)),
        "cuba1": nir.CubaLIF(tau_syn=np.full(8, 4e-3), tau_mem=np.full(8, 2e-3), r=np.ones(8), v_leak=np.zeros(8),
                             v_threshold=np.full(8, 0.125), v_reset=np.zeros(8), w_in=np.ones(8)),
        "fc2": nir.Linear(weight=w2),
        "cuba2": nir.CubaLIF(tau_syn=np.full(3, 8e-3), tau_mem=np.full(3, 4e-3), r=np.full(3, 4.0), v_leak=np.zeros(3),
                             v_threshold=np.full(3, 1.0), v_reset=np.zeros(3), w_in=np.full(3, 8.0)),
        "output": nir.Output(output_type=np.array([3])),
    }, edges=[("input", "fc1"), ("fc1", "cuba1"), ("cuba1", "fc2"), ("fc2", "cuba2"), ("cuba2", "output")])
    order = ["input", "fc1", "cuba1", "fc2", "cuba2", "output"]
    x = (rng.uniform(0, 1, (16, 3, 6)) < 0.4).astype(np.float32)
    return g, order, x, dt


def mlp_scale(rng):
    dt = 1e-4
    w1 = sixteenths(rng, (8, 6), 0.75)
    w2 = sixteenths(rng, (4, 8), 0.75)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([6])),
        "fc1": nir.Affine(weight=w1, bias=sixteenths(rng, 8, 0.25)),
        "gain": nir.Scale(scale=np.array([0.5, 1, 2, 0.25, 1.5, 1, 0.75, 2])),   # per output: weights and bias
        "if1": nir.IF(r=np.ones(8), v_threshold=np.full(8, 1 + 1 / 64), v_reset=np.zeros(8)),
        "spike_gain": nir.Scale(scale=np.array([1, 2, 0.5, 1, 3, 1, 0.25, 2])),  # on spikes: next layer's input rows
        "fc2": nir.Linear(weight=w2),
        "if2": nir.IF(r=np.ones(4), v_threshold=np.full(4, 0.5 + 1 / 128), v_reset=np.zeros(4)),
        "output": nir.Output(output_type=np.array([4])),
    }, edges=[("input", "fc1"), ("fc1", "gain"), ("gain", "if1"), ("if1", "spike_gain"), ("spike_gain", "fc2"), ("fc2", "if2"),
              ("if2", "output")])
    order = ["input", "fc1", "gain", "if1", "spike_gain", "fc2", "if2", "output"]
    x = (rng.uniform(0, 1, (12, 3, 6)) < 0.5).astype(np.float32)
    return g, order, x, dt


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = []
    for name, make in [("mlp_lif", mlp), ("conv_if_sumpool", conv_if_sumpool), ("conv_avgpool_threshold", conv_avgpool_threshold),
                       ("conv_bias_sumpool_flatten", conv_bias_sumpool_flatten), ("mlp_cubalif", mlp_cubalif),
                       ("mlp_scale", mlp_scale)]:
        for seed in range(200):
            rng = np.random.default_rng(seed)
            g, order, x, dt = make(rng)
            try:
                spikes, counts = simulate(g, order, x, dt)
            except Margin:
                continue
            neuron_nodes = [k for k in order if isinstance(g.nodes[k], (nir.LIF, nir.IF, nir.CubaLIF, nir.Threshold))]
            total = spikes.size
            # Every population must spike, and the output must be neither silent nor saturated.
            if all(counts.get(k, 0) > 0 for k in neuron_nodes) and 0 < spikes.sum() < total:
                break
        else:
            sys.exit(f"\n{name}: no seed gives spikes with margin {MARGIN}")
        nir.write(os.path.join(out, name + ".nir"), g)
        cases.append({
            "name": name, "nir": name + ".nir", "seed": seed, "dt": dt, "discretization": "euler",
            "input_shape": list(x.shape[2:]), "steps": int(x.shape[0]), "batch": int(x.shape[1]),
            "inputs": [float(v) for v in x.reshape(-1)],
            "spikes": [float(v) for v in spikes.reshape(-1)],
            "spike_counts": counts,
        })
        print(f"{name}: seed {seed}, output spikes {int(spikes.sum())} of {spikes.size}, per node {counts}")
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump({"source": "Tests/NIR/make_graphs.py", "nir_version": nir.version, "cases": cases}, f)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "python"))
