#!/usr/bin/env python3
"""Makes the snnTorch fixture for SNNKit's NIR import test (run by hand; CI only reads its output).

    python make_snntorch_fixture.py [OUTDIR]      # needs torch (CPU), snntorch, nir, nirtorch, numpy

For each small snnTorch network (Leaky neurons with reset to zero; layers without bias, and the same
networks with PyTorch's default bias=True, which snnTorch exports as Affine / Conv2d bias; and an MLP of
Synaptic neurons, exported as CubaLIF) it writes NAME.nir with snnTorch's own `export_to_nir`, and NAME.json with the
fixed input spikes [T, B, ...] and the output spikes snnTorch computes on them. Per-neuron beta and
threshold tensors: with scalar ones snnTorch 1.0's exporter writes 0-d LIF parameters that nir's
type inference rejects. SNNKit imports the
.nir file with --dt 1e-4 (snnTorch's export frame) and must give the same spikes.
"""
import json
import os
import sys

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch import utils
from snntorch.export_nir import export_to_nir


def mlp(bias=False):
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(12, 10, bias=bias),
        snn.Leaky(beta=torch.full((10,), 0.8), threshold=torch.full((10,), 0.5), reset_mechanism="zero", init_hidden=True),
        torch.nn.Linear(10, 4, bias=bias),
        snn.Leaky(beta=torch.full((4,), 0.9), threshold=torch.full((4,), 0.5), reset_mechanism="zero", init_hidden=True),
    ), (12,)


def conv(bias=False):
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1, bias=bias),
        snn.Leaky(beta=torch.full((4, 8, 8), 0.7), threshold=torch.full((4, 8, 8), 0.4), reset_mechanism="zero", init_hidden=True),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 5, bias=bias),
        snn.Leaky(beta=torch.full((5,), 0.85), threshold=torch.full((5,), 0.6), reset_mechanism="zero", init_hidden=True),
    ), (1, 8, 8)


def synaptic():
    # snnTorch's Synaptic (current-based synapse) exports as CubaLIF: tau_syn = dt/(1-alpha), w_in = tau_syn/dt.
    # reset_delay=False: with its default (True) and reset "zero", Synaptic zeroes the whole membrane of the step
    # after a spike, beta*mem + syn, dropping that step's input (its Leaky zeroes only the old membrane); NIR's
    # CubaLIF and SNNKit reset at the spike, which is what reset_delay=False computes.
    return torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(12, 10, bias=False),
        snn.Synaptic(alpha=torch.full((10,), 0.75), beta=torch.full((10,), 0.8), threshold=torch.full((10,), 1.0),
                     reset_mechanism="zero", reset_delay=False, init_hidden=True),
        torch.nn.Linear(10, 4, bias=False),
        snn.Synaptic(alpha=torch.full((4,), 0.5), beta=torch.full((4,), 0.9), threshold=torch.full((4,), 1.0),
                     reset_mechanism="zero", reset_delay=False, init_hidden=True),
    ), (12,)


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, make in [("snntorch_mlp", mlp), ("snntorch_conv", conv),
                       ("snntorch_mlp_bias", lambda: mlp(True)), ("snntorch_conv_bias", lambda: conv(True)),
                       ("snntorch_synaptic", synaptic)]:
        torch.manual_seed(7)
        net, shape = make()
        # Larger weights than PyTorch's default init, so that every layer spikes often enough to compare.
        for m in net.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.data *= 3
                if m.bias is not None:  # biases of both signs, large enough to change which neurons spike
                    m.bias.data = torch.rand(m.bias.shape) * 0.45
        steps, batch = 20, 4
        x = (torch.rand(steps, batch, *shape) < 0.5).float()
        with torch.no_grad():
            utils.reset(net)
            spikes = torch.stack([net(x[t]) for t in range(steps)])
            utils.reset(net)
            graph = export_to_nir(net, x[0, :1], ignore_dims=[0])
        nir.write(os.path.join(out, name + ".nir"), graph)
        with open(os.path.join(out, name + ".json"), "w") as f:
            json.dump({
                "source": "Tests/NIR/make_snntorch_fixture.py",
                "snntorch": snn.__version__, "torch": torch.__version__, "nir": nir.version,
                "dt": 1e-4, "discretization": "euler",
                "input_shape": list(shape), "steps": steps, "batch": batch,
                "inputs": [float(v) for v in x.reshape(-1)],
                "spikes": [float(v) for v in spikes.reshape(-1)],
            }, f)
        print(f"{name}: nodes {[(k, type(v).__name__) for k, v in graph.nodes.items()]}, output spikes {int(spikes.sum())} of {spikes.numel()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "snntorch"))
