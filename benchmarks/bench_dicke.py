"""Benchmark: a 2001-point open-Dicke sweep (GFL20 Fig. 3 quantities) with jaxent (the sweep
engine's jitted, vmapped batch function of the Dicke study, as ``jaxent dicke`` runs it, timed
after compilation) against a numpy/scipy loop (scipy.linalg.solve_continuous_lyapunov per
point, the same closed-form Wehrl split). Both produce the same numbers (checked).

    python benchmarks/bench_dicke.py [--points 2001] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

import jaxent  # noqa: F401  (float64)
from jaxent.models.dicke import dicke_critical_coupling
from jaxent.studies.dicke import DICKE_STUDY
from jaxent.sweep import batch_function

W0, W, K, GAMMA = 0.005, 0.01, 1.0, 1e-3


def scipy_point(lam: float, lc: float) -> tuple[float, float, float]:
    """Reference: the same physics written directly in numpy (GFL20 App. C) + scipy Lyapunov."""
    s = (lc / lam) ** 2 if lam > lc else 1.0
    bp = np.sqrt((1 + s) / 2)
    w0t = W0 * (1 + s) / (2 * s)
    lamt = lam * s / bp
    zeta = -W0 * (1 - s) / (4 * s) * (1 + (1 - s) / (2 * (1 + s)))
    # (C25) in the order (q_b, p_b, q_a, p_a)
    A = np.array([[-GAMMA, w0t, 0, 0], [4 * zeta - w0t, -GAMMA, -2 * lamt, 0],
                  [0, 0, -K, W], [-2 * lamt, 0, -W, -K]])
    D = np.diag([GAMMA, GAMMA, K, K])
    if np.max(np.linalg.eigvals(A).real) >= 0:
        raise ValueError("unstable")
    sig = scipy.linalg.solve_continuous_lyapunov(A, -D)
    G = np.array([[w0t - 4 * zeta, 0, 2 * lamt, 0], [0, w0t, 0, 0], [2 * lamt, 0, W, 0],
                  [0, 0, 0, W]])
    om = np.kron(np.eye(2), np.array([[0, 1], [-1, 0]]))
    sq_inv = np.linalg.inv(sig + 0.5 * np.eye(4))
    kap = np.array([GAMMA, K])
    tr = lambda X: np.array([X[0, 0] + X[1, 1], X[2, 2] + X[3, 3]])  # noqa: E731
    pi_u = 0.25 * np.trace((G @ om - om @ G) @ sq_inv)
    pi_d = np.sum(kap * (tr(sig) - 3 + tr(sq_inv)))
    phi_q = np.sum(kap * (tr(sig) - 1))
    return pi_u, pi_d, phi_q


def dicke_sweep(ratios, grad: bool = False) -> dict:
    """The Dicke study at ``lam = ratios * lam_c`` (one batch, as a sweep chunk runs it);
    ``grad`` adds the engine's ``d<output>_dlam_over_lamc`` columns (``jax.jacfwd``)."""
    ratios = jnp.asarray(ratios, dtype=float)
    fn = batch_function(DICKE_STUDY, (), ("lam_over_lamc",) if grad else ())
    return fn({"lam_over_lamc": ratios, "omega0": jnp.full_like(ratios, W0),
               "omega": jnp.full_like(ratios, W), "kappa": jnp.full_like(ratios, K),
               "gamma": jnp.full_like(ratios, GAMMA)}, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2001)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    lc = float(dicke_critical_coupling(W0, W, K))
    # `points` couplings in (0.5, 1.5] that avoid lambda_c itself (refused by design)
    ratios = np.linspace(0.5, 1.5, args.points + 1)[1:]
    ratios = ratios[ratios != 1.0]
    lams = ratios * lc

    t0 = time.perf_counter()
    jax.block_until_ready(dicke_sweep(ratios))
    t_first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(dicke_sweep(ratios))
        times.append(time.perf_counter() - t0)
    t_jax = min(times)
    t0 = time.perf_counter()
    gtimes = []
    jax.block_until_ready(dicke_sweep(ratios, grad=True))
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(dicke_sweep(ratios, grad=True))
        gtimes.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    ref = np.array([scipy_point(lam, lc) for lam in lams])
    t_ref = time.perf_counter() - t0

    mine = np.stack([np.asarray(out["Pi_U"]), np.asarray(out["Pi_d"]), np.asarray(out["Phi_q"])], 1)
    err = np.max(np.abs(mine - ref) / np.abs(ref))
    print(f"device: {jax.devices()[0].platform}, points: {len(lams)}")
    print(f"jaxent first call (compile + run): {t_first:.3f} s")
    print(f"jaxent sweep (jit+vmap, best of {args.repeat}): {t_jax:.4f} s")
    print(f"jaxent sweep + d(every output)/d(lam/lam_c) (--grad lam_over_lamc, jax.jacfwd): "
          f"{min(gtimes):.4f} s")
    print(f"numpy/scipy loop (solve_continuous_lyapunov per point): {t_ref:.4f} s")
    print(f"speed-up scipy/jaxent: {t_ref / t_jax:.1f}x")
    print(f"max relative difference (Pi_U, Pi_d, Phi_q): {err:.2e}")


if __name__ == "__main__":
    main()
