"""Whole-sweep timings on whatever device JAX sees (meant for a GPU), with correctness checks.

1. Kerr: every term for eps in 0.5:1.3:201 x N = 10..40 step 5 (1407 points) through
   :func:`jaxent.studies.kerr.kerr_sweep`, wall time including compilation (issue target on a GPU:
   under 20 s). Checked: max NESS identity residual, and Pi_d / Pi_U against a reference CSV
   computed on CPU at the pumps both sweeps share (``--ref``).
2. Dicke: 2001-point sweep (the engine's jitted, vmapped batch function of the Dicke study),
   without and with ``--grad lam_over_lamc`` (``jax.jacfwd``).
3. Chain: NESS + Pi_r + Pi_sc at L = 10^4.

    python benchmarks/bench_gpu.py --out DIR [--ref results/kerr/kerr.csv] [--chunk 64]

Smaller sizes for a quick check: ``--dicke-points 101 --chain-L 100 --kerr-N 10 15
--kerr-eps-points 5 --nmax-step 16``.
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


def dicke(n_points: int = 2001) -> None:
    import jax.numpy as jnp

    from jaxent.studies.dicke import DICKE_STUDY
    from jaxent.sweep import batch_function

    ratios = np.linspace(0.5, 1.5, n_points + 1)[1:]
    ratios = jnp.asarray(ratios[ratios != 1.0])
    batch = {"lam_over_lamc": ratios, "omega0": jnp.full_like(ratios, 0.005),
             "omega": jnp.full_like(ratios, 0.01), "kappa": jnp.full_like(ratios, 1.0),
             "gamma": jnp.full_like(ratios, 1e-3)}
    for grad in (False, True):
        # the engine's jitted, vmapped Dicke point, as one sweep chunk runs it; grad adds the
        # d<output>_dlam_over_lamc columns (jax.jacfwd)
        fn = batch_function(DICKE_STUDY, (), ("lam_over_lamc",) if grad else ())
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(batch, None))
        first = time.perf_counter() - t0
        best = min(_timed(lambda: fn(batch, None)) for _ in range(5))
        print(f"dicke {len(ratios)} points{' + grad' if grad else ''}: first call {first:.2f} s, "
              f"then {best:.4f} s", flush=True)
    resid = np.max(np.abs(np.asarray(out["ness_identity_residual"])))
    print(f"dicke max identity residual {resid:.1e}", flush=True)


def chain(L: int = 10_000) -> None:
    from jaxent.models.chain import Chain, chain_point

    c = Chain(L, 1e-6, 1e-7, 3e-7, 1.0, 2.0)
    f = jax.jit(chain_point)
    t0 = time.perf_counter()
    jax.block_until_ready(f(c))
    first = time.perf_counter() - t0
    best = min(_timed(lambda: f(c)) for _ in range(5))
    out = f(c)
    print(f"chain L={L}: first call {first:.2f} s, then {best:.4f} s; closed-form residual "
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
    ap.add_argument("--dicke-points", type=int, default=2001)
    ap.add_argument("--chain-L", type=int, default=10_000)
    ap.add_argument("--kerr-N", type=int, nargs="+", default=list(range(10, 41, 5)))
    ap.add_argument("--kerr-eps-points", type=int, default=201)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    print("devices:", jax.devices(), "jax", jax.__version__, flush=True)
    for name, fn in (("dicke", lambda: dicke(args.dicke_points)),
                     ("chain", lambda: chain(args.chain_L))):
        try:
            fn()
        except Exception as exc:  # report and go on: one failing part must not hide the others
            print(f"{name} FAILED: {type(exc).__name__}: {exc}", flush=True)
    for step in args.nmax_step:
        try:
            kerr(args.out, args.ref, args.chunk, step, tuple(args.kerr_N), args.kerr_eps_points)
        except Exception as exc:
            print(f"kerr (nmax_step={step}) FAILED: {type(exc).__name__}: {exc}", flush=True)


if __name__ == "__main__":
    main()
