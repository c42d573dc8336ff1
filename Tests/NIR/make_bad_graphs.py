#!/usr/bin/env python3
"""Writes broken NIR files for SNNKit's CLI tests (committed in fixtures/bad; needs nir, numpy, h5py).

    python make_bad_graphs.py [OUTDIR]

Each starts from a good MLP graph (input 4 -> fc 3x4 -> lif -> output) written by nir.write and is
then edited with h5py where `nir` itself would refuse to build the graph.
"""
import os
import sys

import h5py
import nir
import numpy as np


def good(path, edges=None):
    nodes = {
        "input": nir.Input(input_type=np.array([4])),
        "fc": nir.Linear(weight=np.full((3, 4), 0.5, dtype=np.float32)),
        "lif": nir.LIF(tau=np.full(3, 1e-3), r=np.full(3, 10.0), v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3)),
        "output": nir.Output(output_type=np.array([3])),
    }
    edges = edges or [("input", "fc"), ("fc", "lif"), ("lif", "output")]
    if ("lif", "fc") in edges:
        nodes["fc"] = nir.Linear(weight=np.full((3, 3), 0.5, dtype=np.float32))
        nodes["input"] = nir.Input(input_type=np.array([3]))
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))


def main(out):
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    good(p("good.nir"))
    good(p("unknown_type.nir"))
    with h5py.File(p("unknown_type.nir"), "r+") as f:
        del f["node/nodes/lif/type"]
        f.create_dataset("node/nodes/lif/type", data="Banana", dtype=h5py.string_dtype())
    good(p("missing_tau.nir"))
    with h5py.File(p("missing_tau.nir"), "r+") as f:
        del f["node/nodes/lif/tau"]
    good(p("mismatched_weight.nir"))
    with h5py.File(p("mismatched_weight.nir"), "r+") as f:
        del f["node/nodes/fc/weight"]
        f.create_dataset("node/nodes/fc/weight", data=np.full((3, 5), 0.5, dtype=np.float32))
    good(p("huge_weight.nir"))
    with h5py.File(p("huge_weight.nir"), "r+") as f:
        del f["node/nodes/fc/weight"]
        # Claims 2^40 elements in a few bytes (chunked, never written): must be an error, not an allocation.
        f.create_dataset("node/nodes/fc/weight", shape=(1 << 20, 1 << 20), dtype="f4", chunks=(1, 16))
    good(p("cycle.nir"), edges=[("input", "fc"), ("fc", "lif"), ("lif", "fc"), ("lif", "output")])
    with open(p("not_hdf5.nir"), "w") as f:
        f.write("this is not an HDF5 file\n")
    print("wrote", sorted(os.listdir(out)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "bad"))
