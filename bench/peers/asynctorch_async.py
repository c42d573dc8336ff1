#!/usr/bin/env python3
"""asynctorch peer benchmark for `snn bench`: asynchronous inference and unlayered (asynchronous) training.

asynctorch (https://github.com/RoelMK/asynctorch) is the PyTorch reference implementation of asynchronous,
unlayered SNN execution (forward groups of F spikes, random and momentum scheduling). It is not on PyPI and
is not part of this repository; set it up once, outside the repository:
    git clone https://github.com/RoelMK/asynctorch /tmp/asynctorch
and pass --asynctorch /tmp/asynctorch (the folder that holds the `asynctorch/` package), or set
ASYNCTORCH_PATH. It needs torch and snntorch (the venv of bench/peers/README.md); nothing is installed.

Network: the MLP 2312-64-64-64-10 of `snn bench`, no biases, one LIF population per weight layer,
as in asynctorch's examples/tutorial_training_linear.ipynb: SemiSparseFullyLinearArchitecture (input
weights 64x2312, plus one masked 202x202 matrix for the hidden and output layers), LIFState, a
SpikeSelector with prioritize_input=True (a frame's input events are delivered at once) and the
AsyncSimulator, run frame by frame with dt. `--arch mixed` uses the MixedArchitecture of
examples/FC_NMNIST.ipynb instead (one bias-free nn.Linear per layer).
Neurons (the defaults of the `snn` CLI, which are the notebook's): tau_m = 1 ms with dt = 10 ms, i.e.
beta = exp(-10); threshold 0.3; reset to zero; refractory for the rest of the frame after a spike
(asynctorch's apply_refrac, refrac_dropout 0 as in `snn bench`); snntorch's ATan surrogate (alpha 2);
sync_threshold 0 (a neuron must have received current in the step to fire).
Scheduling: MomentumSpikeScheduler (highest pre-spike potential first, noise lambda 1e-6, the default of
both) and RandomSpikeScheduler; F = forward_group_size. asynctorch has no F = infinity: "inf" is
F = n_neurons = 202, which lets every queued spike leave at once, i.e. layer-by-layer execution (one
population per forward step, as asynctorch's tests/simulator/test_linear_layer_sync_equiv.py uses it).
asynctorch still sorts the queue at every forward step at F = inf.
Weights: like `snn bench`, a briefly trained network so that activity is realistic: Xavier-uniform
init, then layered BPTT with snnTorch (bench/peers/snntorch_layered.py's MLP with beta exp(-10)) for
3 epochs over 128 samples in batches of 32, Adam lr 2e-3 (weight decay 1e-5), ce_rate_loss; the
weights are then copied into asynctorch. `--init random` skips the pre-training (Xavier init only).
`--weights FILE` runs the weights of an SNNKit model file instead, such as the MLP that
`snn bench --save-networks DIR` writes (DIR/mlp.snnmodel): both tools then run the same network, so
they do the same work (activity, and so forward steps and spikes, depends on the weights; two
separately trained networks can differ twofold). The file's magic, version, checksum, layer shapes and
neuron parameters are checked against this script's network.
Input: T = 10 frames of 2x34x34 (flattened to 2312), from snntorch_layered.make_input: the shipped
N-MNIST samples (event counts per pixel and polarity, first saccade, 10 ms frames) or, with
--data random, Bernoulli(0.08) spikes.
Inference: under torch.no_grad(), reset_state() then the T frames, output spike counts summed.
Training (asynctorch's notebook loop): reset_state(), the T frames through the simulator (autograd
records every forward step), snntorch.functional.ce_rate_loss on the output spikes of each frame,
loss.backward(), torch.optim.Adam step (lr 1e-3, weight decay 1e-5: `snn train`'s defaults), momentum
scheduler, F = 8 by default (--train-F).
Forward steps: asynctorch runs a batch in lockstep (a frame ends when every sample is quiescent), so
the steps it runs per frame are the batch's maximum ("lockstep"); "per sample" counts, per sample, the
steps in which it integrated current or still had spikes queued (what `snn bench` reports). Both come
from one extra untimed run with a monitoring extension; the timed runs have no extension.

Reports samples/s (best of --repeats timed runs of at least --min-seconds after two warm-up runs),
with torch.set_num_threads(--threads) (default 2). Run from the repository root:
    bench/peers/.venv/bin/python bench/peers/asynctorch_async.py --asynctorch /tmp/asynctorch
Add --json FILE to also write the numbers as JSON.
"""
import argparse
import json
import math
import os
import platform
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from snntorch_layered import MLP, T, add_common_options, input_kind, make_input, timed  # noqa: E402

SIZES = [2312, 64, 64, 64, 10]
N_NEURONS = sum(SIZES[1:])  # 202
N_OUT = SIZES[-1]
DT_MS = 10.0
TAU_M_MS = 1.0
THRESHOLD = 0.3
BETA = math.exp(-DT_MS / TAU_M_MS)


def import_asynctorch(path):
    if not path or not os.path.isdir(os.path.join(path, "asynctorch")):
        raise SystemExit("asynctorch not found: pass --asynctorch DIR (a clone of https://github.com/RoelMK/asynctorch, "
                         f"the folder holding the asynctorch/ package) or set ASYNCTORCH_PATH; got {path!r}")
    sys.path.insert(0, os.path.abspath(path))
    from asynctorch.simulator.async_simulator import AsyncSimulator
    from asynctorch.simulator.spike_selector import SpikeSelector
    from asynctorch.simulator.spike_scheduler import MomentumSpikeScheduler, RandomSpikeScheduler
    from asynctorch.simulator.extensions.forward_step_extension import ForwardStepMonitor
    from asynctorch.nn.neuron.lif_state import LIFState
    from asynctorch.nn.architecture.semi_sparse_fully_linear_architecture import SemiSparseFullyLinearArchitecture
    from asynctorch.nn.architecture.mixed_architecture import AsyncNetwork, MixedArchitecture
    return dict(AsyncSimulator=AsyncSimulator, SpikeSelector=SpikeSelector, momentum=MomentumSpikeScheduler,
                random=RandomSpikeScheduler, ForwardStepMonitor=ForwardStepMonitor, LIFState=LIFState,
                SemiSparse=SemiSparseFullyLinearArchitecture, AsyncNetwork=AsyncNetwork, Mixed=MixedArchitecture)


def pretrained_weights(kind, data_dir, epochs, init):
    """Weights [W1 (64x2312), W2, W3, W4 (10x64)]: Xavier-uniform, then (init == 'pretrained') layered BPTT."""
    torch.manual_seed(1)
    net = MLP(BETA)
    for fc in net.fcs:
        nn.init.xavier_uniform_(fc.weight)
    if init == "pretrained" and epochs > 0:
        import snntorch.functional as SF
        x, y = make_input(kind, 128, data_dir, np.random.default_rng(1))
        opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-5)
        loss_fn = SF.ce_rate_loss()
        for _ in range(epochs):
            for s in range(0, 128, 32):
                opt.zero_grad(set_to_none=True)
                loss_fn(net(x[:, s:s + 32]), y[s:s + 32]).backward()
                opt.step()
    return [fc.weight.detach().clone() for fc in net.fcs]


def snnkit_weights(path):
    """Weights [W1 (64x2312), W2, W3, W4 (10x64)] of an SNNKit model file (format versions 1 and 2; see
    Sources/SNNCore/ModelFile/ModelFile.swift): magic, version, JSON header, Float32 tensors, CRC-32."""
    import struct
    import zlib
    raw = open(path, "rb").read()
    fail = lambda why: SystemExit(f"--weights {path}: {why}")
    if len(raw) < 24 or raw[:8] != b"SNNKITMD":
        raise fail("not an SNNKit model file (no SNNKITMD magic)")
    version, = struct.unpack_from("<I", raw, 8)
    if version not in (1, 2):
        raise fail(f"format version {version}; this script reads plain networks (versions 1 and 2)")
    if zlib.crc32(raw[:-4]) != struct.unpack_from("<I", raw, len(raw) - 4)[0]:
        raise fail("checksum mismatch (damaged or truncated file)")
    hlen, = struct.unpack_from("<Q", raw, 12)
    header = json.loads(raw[20:20 + hlen])
    shapes = header["tensorShapes"]
    expected = [[a, b] for a, b in zip(SIZES[:-1], SIZES[1:])]
    if shapes != expected:
        raise fail(f"weight shapes {shapes}, this script's MLP needs {expected}")
    for layer in header["spec"]["layers"]:
        if "lif" in layer:
            p = layer["lif"]["_0"]
            if (abs(p["threshold"] - THRESHOLD) > 1e-6 or abs(p["beta"] - BETA) > 1e-9 or p["reset"] != "zero"
                    or p.get("perNeuronBeta") or p.get("normalization")):
                raise fail(f"neuron parameters {p} differ from this script's (threshold {THRESHOLD}, beta {BETA:.6g}, reset to zero)")
    weights, offset = [], 20 + hlen
    for a, b in shapes:
        w = np.frombuffer(raw, dtype="<f4", count=a * b, offset=offset).reshape(a, b)
        weights.append(torch.from_numpy(w.T.copy()))  # SNNKit stores [in, out]; torch [out, in]
        offset += 4 * a * b
    if offset + 4 * sum(int(np.prod(s)) for s in header.get("statisticsShapes") or []) + 4 != len(raw):
        raise fail("length does not match its header")
    return weights


def build_simulator(at, weights, F, scheduler, arch, extensions=()):
    from snntorch import surrogate
    dev = torch.device("cpu")
    layers = SIZES[1:]
    if arch == "semisparse":
        net = at["SemiSparse"](SIZES[0], layers, dev)
        net.load_state_dict(at["SemiSparse"].create_state_dict_from_weights_list([w.clone() for w in weights]))
    else:
        mods = []
        for w in weights:
            m = nn.Linear(w.shape[1], w.shape[0], bias=False)
            m.weight.data.copy_(w)
            mods.append(m)
        net = at["Mixed"](at["AsyncNetwork"].build_sequential(mods, [(n,) for n in SIZES]), dev)
    spike_grad = surrogate.atan(alpha=2.0)
    state = at["LIFState"](layers, tau_m=TAU_M_MS, membrane_threshold=THRESHOLD, sync_threshold=0.0,
                           spike_grad=spike_grad, sync_grad=spike_grad, device=dev, refrac_dropout=0.0)
    sched = at[scheduler](state)  # momentum: lambda_ = 1e-6 (default)
    selector = at["SpikeSelector"](net, sched, F, dev, prioritize_input=True)
    return at["AsyncSimulator"](state, selector, forward_step_extensions=list(extensions))


def make_step_monitor(at):
    class StepMonitor(at["ForwardStepMonitor"]):
        """Counts forward steps: lockstep (batch) and per sample (pending current or queued spikes)."""

        def __init__(self):
            super().__init__()
            self.selector = None
            self.reset_counts()

        def reset_counts(self):
            self.lockstep = 0
            self.per_sample = None
            self.pending = None
            self.spikes = 0.0

        def monitor_current(self, new_currents, n_new_currents, is_input):
            busy = n_new_currents.sum(1) > 0
            if self.selector is not None and self.selector.outgoing_spikes is not None:
                busy = busy | (self.selector.outgoing_spikes.sum(1) > 0)
            self.pending = busy

        def monitor_spike(self, new_spikes, all_current, all_previous, is_input):
            if is_input:
                return
            self.lockstep += 1
            self.spikes += float(new_spikes.sum())
            add = self.pending.to(torch.float64)
            self.per_sample = add if self.per_sample is None else self.per_sample + add

    return StepMonitor()


def run_frames(sim, x):
    sim.reset_state()
    return torch.stack([sim(x[t], dt=DT_MS)[:, N_NEURONS - N_OUT:] for t in range(x.shape[0])])


def f_label(F):
    return "inf" if F is None else str(F)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--asynctorch", default=os.environ.get("ASYNCTORCH_PATH"),
                    help="folder of an asynctorch clone (default: $ASYNCTORCH_PATH)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--schedulers", nargs="+", default=["momentum", "random"], choices=["momentum", "random"])
    ap.add_argument("--F", nargs="+", default=["inf", "32", "8", "2"],
                    help="inference forward group sizes; inf = n_neurons (202)")
    ap.add_argument("--train-F", type=int, nargs="*", default=[8], help="unlayered training F (momentum); none: skip")
    ap.add_argument("--modes", nargs="+", default=["inference", "training"], choices=["inference", "training"])
    ap.add_argument("--arch", choices=["semisparse", "mixed"], default="semisparse")
    ap.add_argument("--init", choices=["pretrained", "random"], default="pretrained")
    ap.add_argument("--pretrain-epochs", type=int, default=3)
    ap.add_argument("--weights", help="run the weights of this SNNKit model file (e.g. from snn bench --save-networks) "
                                      "instead of pre-training here")
    add_common_options(ap)
    args = ap.parse_args()
    kind = input_kind(args)
    at = import_asynctorch(args.asynctorch)
    fs = [None if f == "inf" else int(f) for f in args.F]

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    import snntorch as snn
    import snntorch.functional as SF
    print(f"torch {torch.__version__}, snntorch {snn.__version__}, asynctorch from {os.path.abspath(args.asynctorch)}, "
          f"threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}, cpus {os.cpu_count()}")
    print(f"MLP {'-'.join(map(str, SIZES))} ({args.arch}), LIF tau_m={TAU_M_MS} ms dt={DT_MS} ms (beta={BETA:.3g}) "
          f"threshold={THRESHOLD} reset=zero refractory ATan(alpha=2), T={T}, input={kind}, weights={args.init}")
    if args.weights:
        weights = snnkit_weights(args.weights)
        print(f"weights from {args.weights}")
    else:
        weights = pretrained_weights(kind, args.data_dir, args.pretrain_epochs, args.init)

    def stats(F, sched, x):
        """Forward steps and spikes of one untimed inference run with a step monitor."""
        mon = make_step_monitor(at)
        sim = build_simulator(at, weights, N_NEURONS if F is None else F, sched, args.arch, [mon])
        mon.selector = sim.spike_selector
        with torch.no_grad():
            out = run_frames(sim, x)
        b = x.shape[1]
        per_sample = float(mon.per_sample.mean()) if mon.per_sample is not None else 0.0
        return dict(lockstep_steps_per_frame=mon.lockstep / T, steps_per_sample=per_sample,
                    steps_per_frame=per_sample / T, spikes_per_sample=mon.spikes / b,
                    output_spikes_per_sample=float(out.sum()) / b)

    results = []
    for batch in args.batches:
        x5, y = make_input(kind, batch, args.data_dir, rng)
        x = x5.flatten(2)  # [T, B, 2312]
        density = float((x > 0).float().mean())
        configs = []
        if "inference" in args.modes:
            configs += [("inference", s, F) for s in args.schedulers for F in fs]
        if "training" in args.modes:
            configs += [("training", "momentum", F) for F in args.train_F]
        for mode, sched, F in configs:
            f_eff = N_NEURONS if F is None else F
            st = stats(F, sched, x)
            sim = build_simulator(at, weights, f_eff, sched, args.arch)
            if mode == "inference":
                sim.eval()

                def step():
                    with torch.no_grad():
                        run_frames(sim, x).sum(0)
            else:
                sim.train()
                opt = torch.optim.Adam(sim.parameters(), lr=1e-3, weight_decay=1e-5)
                loss_fn = SF.ce_rate_loss()

                def step():
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(run_frames(sim, x), y)
                    loss.backward()
                    opt.step()
            sec = timed(step, args.min_seconds, args.repeats)
            sps = batch / sec
            print(f"{mode:9s} {sched:8s} F={f_label(F):>3s} batch {batch:4d}: {sps:10.1f} samples/s "
                  f"({sec * 1e3:.1f} ms/batch); forward steps/frame {st['steps_per_frame']:.1f} per sample, "
                  f"{st['lockstep_steps_per_frame']:.1f} lockstep; {st['steps_per_sample']:.0f} steps/sample; "
                  f"{st['spikes_per_sample']:.0f} spikes/sample; input density {density:.3f}", flush=True)
            results.append(dict(mode=mode, scheduler=sched, F=F, forward_group_size=f_eff, batch=batch,
                                samples_per_s=sps, ms_per_batch=sec * 1e3, input_density=density, **st))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(torch=torch.__version__, snntorch=snn.__version__, asynctorch=os.path.abspath(args.asynctorch),
                           threads=args.threads, arch=args.arch, sizes=SIZES, tau_m_ms=TAU_M_MS, dt_ms=DT_MS, beta=BETA,
                           threshold=THRESHOLD, reset="zero", refractory=True, surrogate="atan(alpha=2)",
                           momentum_lambda=1e-6, T=T, input=kind, init=args.init, weights=args.weights,
                           pretrain_epochs=args.pretrain_epochs if args.init == "pretrained" else 0,
                           repeats=args.repeats, min_seconds=args.min_seconds, results=results), f, indent=2)


if __name__ == "__main__":
    main()
