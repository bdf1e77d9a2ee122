"""Whole-sweep timings on whatever device JAX sees (meant for a GPU), with correctness checks.

1. Kerr: every term for eps in 0.5:1.3:201 x N = 10..40 step 5 (1407 points) through
   :func:`jaxent.studies.kerr.kerr_sweep`, wall time including compilation (issue target on a GPU:
   under 20 s). Checked: max NESS identity residual, and Pi_d / Pi_U against a reference CSV
   computed on CPU at the pumps both sweeps share (``--ref``).
2. Dicke: 2001-point sweep (jit + vmap), with and without jax.grad.
3. Chain: NESS + Pi_r + Pi_sc at L = 10^4.

    python benchmarks/bench_gpu.py --out DIR [--ref results/kerr/kerr.csv] [--chunk 64]
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

import jaxent  # noqa: F401  (float64)
from jaxent.io import read_csv


def kerr(out: str, ref: str | None, chunk: int, nmax_step: int,
         N_values=tuple(range(10, 41, 5)), n_eps: int = 201) -> None:
    from jaxent.studies.kerr import kerr_sweep

    eps = np.linspace(0.5, 1.3, n_eps)
    path = os.path.join(out, f"kerr_gpu_step{nmax_step}.csv")
    if os.path.exists(path):
        os.remove(path)
    t0 = time.perf_counter()
    kerr_sweep(N_values, eps, path, chunk=chunk, nmax_step=nmax_step, progress=False)
    wall = time.perf_counter() - t0
    d = read_csv(path)
    resid = np.max(np.abs(d["ness_identity_residual"]))
    print(f"kerr sweep {len(d['N'])} points (N={N_values}, eps 0.5:1.3:{n_eps}), chunk={chunk}, "
          f"nmax_step={nmax_step}: {wall:.1f} s wall incl. compilation; "
          f"max identity residual {resid:.2e}", flush=True)
    if ref and os.path.exists(ref):
        r = read_csv(ref)
        key = {(n, round(e, 9)): i for i, (n, e) in enumerate(zip(r["N"], r["eps"]))}
        worst = 0.0
        hits = 0
        for i, (n, e) in enumerate(zip(d["N"], d["eps"])):
            j = key.get((n, round(e, 9)))
            if j is not None:
                hits += 1
                for col in ("Pi_d", "Pi_U", "S_wehrl", "n_photons"):
                    worst = max(worst, abs(d[col][i] - r[col][j]) / abs(r[col][j]))
        print(f"  vs CPU reference at {hits} shared points: max rel. diff (Pi_d, Pi_U, S, n) "
              f"{worst:.2e}", flush=True)


def dicke() -> None:
    from jaxent.models.dicke import critical_coupling, dicke_sweep

    lc = float(critical_coupling(0.005, 0.01, 1.0))
    ratios = np.linspace(0.5, 1.5, 2002)[1:]
    lams = ratios[ratios != 1.0] * lc
    for grad in (False, True):
        t0 = time.perf_counter()
        jax.block_until_ready(dicke_sweep(lams, with_grad=grad))
        first = time.perf_counter() - t0
        best = min(_timed(lambda: dicke_sweep(lams, with_grad=grad)) for _ in range(5))
        print(f"dicke {len(lams)} points{' + grad' if grad else ''}: first call {first:.2f} s, "
              f"then {best:.4f} s", flush=True)
    out = dicke_sweep(lams)
    print(f"dicke max identity residual {np.max(np.abs(np.asarray(out['identity_residual']))):.1e}",
          flush=True)


def chain() -> None:
    from jaxent.models.chain import Chain, chain_point

    c = Chain(10_000, 1e-6, 1e-7, 3e-7, 1.0, 2.0)
    f = jax.jit(chain_point)
    t0 = time.perf_counter()
    jax.block_until_ready(f(c))
    first = time.perf_counter() - t0
    best = min(_timed(lambda: f(c)) for _ in range(5))
    out = f(c)
    print(f"chain L=1e4: first call {first:.2f} s, then {best:.4f} s; closed-form residual "
          f"{float(out['closed_form_residual']):.1e}", flush=True)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--ref", default=None, help="CPU kerr.csv to compare with")
    ap.add_argument("--chunk", type=int, default=64)
    ap.add_argument("--nmax-step", type=int, nargs="+", default=[16, 96])
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("devices:", jax.devices(), "jax", jax.__version__, flush=True)
    for name, fn in (("dicke", dicke), ("chain", chain)):
        try:
            fn()
        except Exception as exc:  # report and go on: one failing part must not hide the others
            print(f"{name} FAILED: {type(exc).__name__}: {exc}", flush=True)
    for step in args.nmax_step:
        try:
            kerr(args.out, args.ref, args.chunk, step)
        except Exception as exc:
            print(f"kerr (nmax_step={step}) FAILED: {type(exc).__name__}: {exc}", flush=True)


if __name__ == "__main__":
    main()
