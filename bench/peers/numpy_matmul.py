#!/usr/bin/env python3
"""numpy matmul GFLOP/s (float32) at the sizes `snn bench` reports: 256x512x512 and 1024^3.

Run (from the repository root), without the OpenBLAS overrides some machines set:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/peers/.venv/bin/python bench/peers/numpy_matmul.py
Each size is timed `--repeats` times after a warm-up; the best run is reported (the machine may be shared).
"""
import argparse
import time

import numpy as np


def gflops(m: int, n: int, k: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = a @ b  # warm-up
    inner = max(1, int(2e9 // (2 * m * n * k)))  # about 1 s of work per repeat at 1 GFLOP/s... at least one product
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            np.matmul(a, b, out=c)
        best = min(best, (time.perf_counter() - t0) / inner)
    return 2.0 * m * n * k / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    try:
        import threadpoolctl  # optional

        info = threadpoolctl.threadpool_info()
    except Exception:
        info = None
    print(f"numpy {np.__version__}")
    if info:
        for lib in info:
            print(f"  {lib.get('internal_api')} {lib.get('version')} threads={lib.get('num_threads')} arch={lib.get('architecture')}")
    for (m, n, k) in [(256, 512, 512), (1024, 1024, 1024)]:
        print(f"matmul {m}x{n}x{k} float32: {gflops(m, n, k, args.repeats):.1f} GFLOP/s")


if __name__ == "__main__":
    main()
