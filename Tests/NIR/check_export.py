#!/usr/bin/env python3
"""Checks the NIR files SNNKit wrote (SNNNIRTests' writesFilesForThePythonChecker, SNNKIT_NIR_EXPORT_DIR)
with Python's `nir`: node types, shapes and parameters against SNNKit's own layers converted here
(weights transposed, tau = dt / (1 - beta), r = tau / dt, IF for beta = 1), then a numpy simulation
of the graph read (NIR's equations, make_graphs.simulate) must give SNNKit's spikes.

    python check_export.py DIR       # exits non-zero on any mismatch
"""
import json
import os
import sys

import nir
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_graphs  # noqa: E402
from make_graphs import simulate  # noqa: E402

# SNNKit's exported test networks use weights, decays and thresholds that are short binary fractions, so
# float32 (SNNKit) and float64 (numpy) agree to round-off; only values within round-off of a threshold
# could flip (make_graphs' own margin, 1e-3, is for its random graphs).
make_graphs.MARGIN = 1e-6

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def close(a, b, what, rtol=1e-6):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    check(a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=1e-12), f"{what}: {a.reshape(-1)[:4]}... vs expected {b.reshape(-1)[:4]}... (shapes {a.shape}, {b.shape})")


def chain(g):
    succ = dict(g.edges)
    check(len(succ) == len(g.edges), "edges form a chain (one successor per node)")
    order = ["input"]
    while order[-1] in succ:
        order.append(succ[order[-1]])
    check(order[-1] == "output" and len(order) == len(g.nodes), f"chain input -> output covers all nodes: {order}")
    return order


def main(d):
    cases = json.load(open(os.path.join(d, "export_cases.json")))["cases"]
    check(len(cases) >= 4, "at least four exported models")
    for c in cases:
        name = c["nir"]
        g = nir.read(os.path.join(d, name))  # type_check=True: nir's own shape inference must agree
        order = chain(g)
        dt = c["dt"]
        nodes = [g.nodes[k] for k in order]
        check(isinstance(nodes[0], nir.Input) and list(nodes[0].input_type["input"]) == c["input_shape"], f"{name}: Input shape {c['input_shape']}")
        layers = [l for l in c["layers"] if l["kind"] != "dropout"]
        check(len(nodes) == len(layers) + 2, f"{name}: {len(nodes) - 2} nodes between input and output for {len(layers)} layers (dropout left out)")
        for node, l in zip(nodes[1:-1], layers):
            k = l["kind"]
            what = f"{name}: {k} -> {type(node).__name__}"
            if k == "linear":
                n_in, n_out = l["shape"]
                if l.get("bias") is not None:
                    check(isinstance(node, nir.Affine), what + " (Affine: the next population has a bias current)")
                    close(getattr(node, "bias", np.zeros(n_out)), np.array(l["bias"]), what + " bias")
                else:
                    check(isinstance(node, nir.Linear) and not isinstance(node, nir.Affine), what)
                close(node.weight, np.array(l["weight"]).reshape(n_in, n_out).T, what + " weight (transposed)")
            elif k == "conv2d":
                check(isinstance(node, nir.Conv2d), what)
                close(node.weight, np.array(l["weight"]).reshape(l["shape"]), what + " weight")
                check(list(node.stride) == [l["stride"]] * 2 and list(node.padding) == [l["padding"]] * 2, what + " stride/padding")
                check(list(node.dilation) == [1, 1] and int(node.groups) == 1, what + " dilation/groups")
                close(node.bias, np.array(l["bias"]) if l.get("bias") is not None else np.zeros(l["shape"][0]), what + " bias")
            elif k == "avgpool":
                check(isinstance(node, nir.AvgPool2d), what)
                check(list(node.kernel_size) == [l["kernel"]] * 2 and list(node.stride) == [l["stride"]] * 2, what + " kernel/stride")
            elif k == "flatten":
                check(isinstance(node, nir.Flatten) and node.start_dim == 0 and node.end_dim == -1, what)
            elif k == "lif":
                n = int(np.prod(l["shape"]))
                beta = np.broadcast_to(np.array(l["beta"], dtype=np.float64), (n,))
                if l.get("alpha") is not None:
                    check(isinstance(node, nir.CubaLIF), what + " (CubaLIF: a current-based synapse)")
                    tau_syn = dt / (1 - l["alpha"])
                    close(node.tau_syn, np.full(l["shape"], tau_syn), what + " tau_syn = dt/(1-alpha)")
                    close(node.w_in, np.full(l["shape"], tau_syn / dt), what + " w_in = tau_syn/dt")
                    tau = dt / (1 - beta)
                    close(node.tau_mem, tau.reshape(l["shape"]), what + " tau_mem = dt/(1-beta)")
                    close(node.r, (tau / dt).reshape(l["shape"]), what + " r = tau_mem/dt")
                    close(node.v_leak, np.zeros(l["shape"]), what + " v_leak")
                elif np.all(beta == 1):
                    check(isinstance(node, nir.IF), what + " (beta 1 is IF)")
                    close(node.r, np.ones(l["shape"]), what + " r")
                else:
                    check(isinstance(node, nir.LIF), what)
                    tau = dt / (1 - beta)
                    close(node.tau, tau.reshape(l["shape"]), what + " tau = dt/(1-beta)")
                    close(node.r, (tau / dt).reshape(l["shape"]), what + " r = tau/dt")
                    close(node.v_leak, np.zeros(l["shape"]), what + " v_leak")
                close(node.v_threshold, np.full(l["shape"], l["threshold"]), what + " v_threshold")
                close(node.v_reset, np.zeros(l["shape"]), what + " v_reset")
            else:
                check(False, f"{name}: unknown layer kind {k}")
        x = np.array(c["inputs"], dtype=np.float64).reshape([c["steps"], c["batch"]] + c["input_shape"])
        spikes, _ = simulate(g, order, x, dt)
        want = np.array(c["spikes"]).reshape(spikes.shape)
        check(np.array_equal(spikes, want), f"{name}: numpy simulation of the NIR graph gives SNNKit's spikes ({int((spikes != want).sum())} differ)")
        print(f"{name}: {len(nodes)} nodes {[type(n).__name__ for n in nodes]}, {int(want.sum())} output spikes compared")
    print(f"{len(cases) - len(set(f.split(':')[0] for f in failures))} passed, {len(set(f.split(':')[0] for f in failures))} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1])
