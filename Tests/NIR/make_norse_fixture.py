#!/usr/bin/env python3
"""Makes the Norse fixture for SNNKit's NIR import test (run by hand; CI only reads its output).

    python make_norse_fixture.py [OUTDIR]      # needs torch (CPU), norse, nir, nirtorch, numpy

A Norse network (Linear -> LIFBoxCell -> Linear -> LIFCell, i.e. NIR's LIF and CubaLIF) simulated by
Norse itself at dt = 1 ms on fixed input spikes, exported with Norse's own `to_nir`. Norse 1.1's files
need `snn import --nir --from norse --dt 0.001`: its exporter writes every time constant as
`dt / tau_inv` (dt times the time constant in seconds; Norse's own importer reads it as the time
constant), and its CubaLIF adds the input to the synaptic current as a jump (`i <- i + x`), where NIR's
equation `tau_syn di/dt = -i + w_in x` integrated by Euler would add `dt / tau_syn * w_in * x`.
Per-neuron parameter tensors: with scalar ones Norse writes 0-d arrays that `nir.write` cannot store.
Writes norse_mlp.nir and norse_mlp.json (inputs [T, B, 12], Norse's output spikes).
"""
import json
import os
import sys

import nir
import norse.torch as norse
import torch
from norse.torch.utils.export_nir import to_nir


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(11)
    dt = 1e-3
    net = norse.SequentialState(
        torch.nn.Linear(12, 10, bias=False),
        norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.full((10,), 100.0), v_th=torch.full((10,), 0.25),
                                                       v_leak=torch.zeros(10), v_reset=torch.zeros(10)), dt=dt),
        torch.nn.Linear(10, 4, bias=False),
        norse.LIFCell(norse.LIFParameters(tau_syn_inv=torch.full((4,), 250.0), tau_mem_inv=torch.full((4,), 125.0), v_th=torch.full((4,), 0.2),
                                                 v_leak=torch.zeros(4), v_reset=torch.zeros(4)), dt=dt),
    )
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.data *= 4
    steps, batch = 30, 4
    x = (torch.rand(steps, batch, 12) < 0.5).float()
    with torch.no_grad():
        state = None
        spikes = []
        for t in range(steps):
            z, state = net(x[t], state)
            spikes.append(z)
        spikes = torch.stack(spikes)
        graph = to_nir(net, x[0, :1], dt=dt)
    nir.write(os.path.join(out, "norse_mlp.nir"), graph)
    with open(os.path.join(out, "norse_mlp.json"), "w") as f:
        json.dump({
            "source": "Tests/NIR/make_norse_fixture.py", "norse": norse.__version__ if hasattr(norse, "__version__") else "",
            "torch": torch.__version__, "nir": nir.version, "dt": dt, "discretization": "euler", "producer": "norse",
            "input_shape": [12], "steps": steps, "batch": batch,
            "inputs": [float(v) for v in x.reshape(-1)],
            "spikes": [float(v) for v in spikes.reshape(-1)],
        }, f)
    print(f"norse_mlp: nodes {[(k, type(v).__name__) for k, v in graph.nodes.items()]}, "
          f"hidden tau written {float(graph.nodes['1'].tau[0])} s, output spikes {int(spikes.sum())} of {spikes.numel()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "norse"))
