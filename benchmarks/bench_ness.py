"""The Kerr NESS alone, per point: jaxent's solvers against QuTiP's steady-state methods and
scipy SuperLU on the same linear system, same machine, one run.

For each N (eps = 1.3 by default, kappa = 1/2, Delta = -2, u = 1, nmax from ``choose_nmax``),
best of ``--repeat``:

- jaxent ``kerr_exact_state`` (the closed-form NESS, the default of the Kerr pipeline),
  ``BandedElimination`` and ``NestedDissection`` (jitted; compile time reported);
- ``qutip.steadystate`` with ``method="direct"`` and the solvers ``spsolve`` (its default),
  ``solve`` (dense LAPACK, only where the dense Liouvillian fits), and with ``use_rcm=True``;
  ``method="power"``; each from the Hamiltonian and jump operator, as a QuTiP user calls it;
- scipy ``splu`` (COLAMD) on the sparse superoperator with the trace row, prebuilt.

Every solution is compared with jaxent's (trace norm) so that a fast wrong answer shows.

    python benchmarks/bench_ness.py --N 10 20 40 --repeat 3
"""

from __future__ import annotations

import argparse
import time

T_START = time.perf_counter()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import qutip  # noqa: E402
from bench_scaling import best_of, superlu_ness  # noqa: E402

import jaxent  # noqa: E402,F401
from jaxent.lindblad import BandedElimination, NestedDissection, steady_state  # noqa: E402
from jaxent.models.kerr import (  # noqa: E402
    Kerr,
    choose_nmax,
    kerr_exact_state,
    kerr_lindbladian,
    series_terms,
)


def _tn(a, b):
    d = np.asarray(a) - np.asarray(b)
    return float(np.abs(np.linalg.eigvalsh(0.5 * (d + d.conj().T))).sum())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=float, nargs="+", default=[10, 20, 40])
    ap.add_argument("--eps", type=float, default=1.3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dense-max", type=int, default=70, help="largest nmax for dense 'solve'")
    args = ap.parse_args(argv)
    for N in args.N:
        model = Kerr(eps=args.eps, N=N)
        n = choose_nmax(model)
        L = kerr_lindbladian(model, n)
        res = {}
        K = series_terms(model)
        f = jax.jit(lambda e: kerr_exact_state(Kerr(eps=e, N=N), n, K).rho)
        t0 = time.perf_counter()
        jax.block_until_ready(f(args.eps))
        comp = time.perf_counter() - t0
        t, rho = best_of(lambda: f(args.eps), args.repeat)
        res["jaxent kerr_exact_state"] = (t, rho, f"compile {comp:.1f} s (exact: differs from the "
                                          "solvers by their truncation wall)")
        for name, solver in (("jaxent BandedElimination", BandedElimination()),
                             ("jaxent NestedDissection", NestedDissection())):
            f = jax.jit(lambda L, s=solver: steady_state(L, s).rho)
            t0 = time.perf_counter()
            jax.block_until_ready(f(L))
            comp = time.perf_counter() - t0
            t, rho = best_of(lambda: f(L), args.repeat)
            res[name] = (t, rho, f"compile {comp:.1f} s")
        ref = np.asarray(res["jaxent BandedElimination"][1])
        a = qutip.destroy(n)
        H = (model.delta * a.dag() * a + model.u / (2 * N) * a.dag() * a.dag() * a * a
             + 1j * args.eps * np.sqrt(N) * (a.dag() - a))
        c = [np.sqrt(2 * model.kappa) * a]
        variants = [("qutip direct/spsolve (default)", dict(method="direct")),
                    ("qutip direct/spsolve + RCM", dict(method="direct", use_rcm=True)),
                    ("qutip power", dict(method="power"))]
        if n <= args.dense_max:
            variants.append(("qutip direct/solve (dense)", dict(method="direct", solver="solve")))
        for name, kw in variants:
            t, rho = best_of(lambda kw=kw: qutip.steadystate(H, c, **kw).full(), args.repeat)
            res[name] = (t, rho, "")
        solve = superlu_ness(L)
        t, x = best_of(solve, args.repeat)
        res["scipy splu (COLAMD), prebuilt"] = (t, x.reshape(n, n).T, "")  # trace row: tr = 1
        base = res["jaxent BandedElimination"][0]
        print(f"\nN = {N:g}, eps = {args.eps}, nmax = {n}")
        for name, (t, rho, note) in res.items():
            print(f"  {name:34s} {t:9.4f} s  x{t / base:6.2f} of banded  "
                  f"|rho - rho_banded|_1 = {_tn(rho, ref):.1e}  {note}")
    print(f"\nend to end {time.perf_counter() - T_START:.1f} s")


if __name__ == "__main__":
    main()
