"""Gradient cost against the forward computation: derivatives of the Kerr NESS pipeline.

For each size N (at eps = 0.95, inside the bistability window, where a solver would have to pin
the state, and at eps = 1.3), times after compilation, best of ``--repeat``:

- forward: the exact NESS + Husimi grid + every entropy term (``kerr_point``), jitted;
- ``jax.grad`` of Pi_d with respect to (eps, kappa, delta, u) (reverse mode through the exact
  state's matrix product);
- ``jax.jacfwd`` of all ten physics columns with respect to the same four parameters;
- the reference a QuTiP user would use for the same four derivatives: central finite differences,
  two forward solves per parameter (8 solves), timed as 8 x forward.

Prints the ratios to the forward time; the engine's target is <= 3x for a gradient. Also the
end-to-end time of the process (imports, compilation, all of the above).

    python benchmarks/bench_grad.py --N 10 20 40 --repeat 3
"""

from __future__ import annotations

import argparse
import time

T_START = time.perf_counter()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import jaxent  # noqa: E402,F401
from jaxent.models.kerr import Kerr, choose_nmax, series_terms  # noqa: E402
from jaxent.studies.kerr import KERR_OUTPUTS, kerr_grid, kerr_point  # noqa: E402


def _best(f, x, grid, repeat):
    jax.block_until_ready(f(x, grid))  # compile
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(f(x, grid))
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=float, nargs="+", default=[10.0, 20.0, 40.0])
    ap.add_argument("--eps", type=float, nargs="+", default=[0.95, 1.3])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"devices: {jax.devices()}")
    print(f"{'N':>4} {'eps':>5} {'nmax':>5} {'forward s':>10} {'grad Pi_d':>10} {'x fwd':>6} "
          f"{'jacfwd all':>11} {'x fwd':>6} {'FD (8 solves)':>14}")
    for N in args.N:
        for eps in args.eps:
            m = Kerr(eps=eps, N=N)
            nmax, K = choose_nmax(m), series_terms(m)

            def point(theta, grid):
                e, k, d, u = theta
                return kerr_point(Kerr(eps=e, N=N, kappa=k, delta=d, u=u), nmax, grid,
                                  n_terms=K)

            # the grid is an argument, as in the sweep (captured, its tables would be compiled
            # in as constants: a different program)
            grid = kerr_grid(nmax)
            theta = jnp.array([eps, 0.5, -2.0, 1.0])
            fwd = jax.jit(lambda t, g: point(t, g)["Pi_d"])
            grad = jax.jit(jax.grad(lambda t, g: point(t, g)["Pi_d"]))
            jac = jax.jit(jax.jacfwd(
                lambda t, g: (lambda o: jnp.stack([o[c] for c in KERR_OUTPUTS]))(point(t, g))))
            tf, tg, tj = (_best(f, theta, grid, args.repeat) for f in (fwd, grad, jac))
            print(f"{N:>4g} {eps:>5g} {nmax:>5d} {tf:>10.4f} {tg:>10.4f} {tg / tf:>6.2f} "
                  f"{tj:>11.4f} {tj / tf:>6.2f} {8 * tf:>14.4f}", flush=True)
    print(f"end to end (process start, imports, compilation, all timings): "
          f"{time.perf_counter() - T_START:.1f} s")


if __name__ == "__main__":
    main()
