"""Cost of one Kerr NESS against nmax for each steady-state solver, in one run on one machine.

For each nmax (Kerr model at N = 40, eps = 1.2: a regular point, no pin), after compilation,
best of ``--repeat``:

- ``BandedElimination``: block-Thomas elimination over the diagonals d = m - n (~nmax^4);
- ``NestedDissection``: multifrontal nested dissection of the coherences (~nmax^3 flops);
- ``kerr_exact_state``: the closed-form NESS, one ``(nmax, K)`` matrix product (~nmax^2 K; K,
  the series length, is fixed by the model, not by nmax; it grows ~N like nmax does). It is
  the exact state restricted to nmax levels, so it differs from the solvers' NESS of the
  truncated Liouvillian where nmax is too small for the state (the truncation wall): that
  difference is printed separately;
- ``scipy SuperLU`` (COLAMD ordering) on the bordered sparse Liouvillian, the fastest direct
  sparse solve a scipy/QuTiP user has, on the same matrix;
- the planned flop count of the nested dissection.

Prints a table and the fitted log-log exponents over the largest sizes, checks that the three
solver solutions agree (trace norm), reports compile times, and writes ``--out`` (a log-log PNG).

    python benchmarks/bench_scaling.py --nmax 50 100 150 200 300 --repeat 3
"""

from __future__ import annotations

import argparse
import time

T_START = time.perf_counter()

import jax  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

import jaxent  # noqa: E402,F401
from jaxent.lindblad import BandedElimination, NestedDissection, steady_state  # noqa: E402
from jaxent.lindblad.dissection import dissection_plan  # noqa: E402
from jaxent.models.kerr import (  # noqa: E402
    Kerr,
    kerr_exact_state,
    kerr_lindbladian,
    series_terms,
)


def best_of(f, repeat):
    """``(best seconds, result)`` of ``repeat`` calls of ``f`` (JAX results waited for)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(f())
        times.append(time.perf_counter() - t0)
    return min(times), out


def superlu_ness(L):
    """NESS by SuperLU on the sparse Liouvillian with the trace row replacing equation 0."""
    n = L.dim
    # sparse superoperator, column stacking: vec(A X B) = (B^T kron A) vec(X)
    H = sp.csr_matrix(np.asarray(L.hamiltonian()))
    eye = sp.identity(n, dtype=complex, format="csr")
    M = -1j * (sp.kron(eye, H) - sp.kron(H.T, eye))
    for c in np.asarray(L.jump_ops()):
        c = sp.csr_matrix(c)
        cdc = (c.conj().T @ c).tocsr()
        M = M + sp.kron(c.conj(), c) - 0.5 * (sp.kron(eye, cdc) + sp.kron(cdc.T, eye))
    M = M.tolil()
    M[0, :] = np.eye(n).T.reshape(1, -1)  # trace functional on vec(rho) (column stacking)
    M = M.tocsc()
    rhs = np.zeros(n * n, complex)
    rhs[0] = 1.0

    def solve():
        return spla.splu(M, permc_spec="COLAMD").solve(rhs)

    return solve


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nmax", type=int, nargs="+", default=[50, 100, 150, 200, 300])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--superlu-max", type=int, default=400, help="largest nmax for SuperLU")
    ap.add_argument("--out", default="benchmarks/scaling.png")
    args = ap.parse_args(argv)
    model = Kerr(eps=1.2, N=40.0)
    K = series_terms(model)
    rows = []
    for n in args.nmax:
        L = kerr_lindbladian(model, n)
        row = {"nmax": n, "flops": dissection_plan(n, 4).flops() * 8.0}
        rhos = {}
        for name, solver in (("banded", BandedElimination()), ("nested", NestedDissection())):
            f = jax.jit(lambda L, s=solver: steady_state(L, s).rho)
            t0 = time.perf_counter()
            jax.block_until_ready(f(L))
            row[f"{name}_compile"] = time.perf_counter() - t0
            row[name], rhos[name] = best_of(lambda: f(L), args.repeat)
        f = jax.jit(lambda e: kerr_exact_state(Kerr(eps=e, N=40.0), n, K).rho)
        t0 = time.perf_counter()
        jax.block_until_ready(f(1.2))
        row["exact_compile"] = time.perf_counter() - t0
        row["exact"], rho_exact = best_of(lambda: f(1.2), args.repeat)
        if n <= args.superlu_max:
            solve = superlu_ness(L)
            row["superlu"], x = best_of(solve, args.repeat)
            rhos["superlu"] = x.reshape(n, n).T
        ref = np.asarray(rhos["banded"])
        row["diff"] = max(float(np.abs(np.linalg.eigvalsh(
            0.5 * (np.asarray(r) - ref + (np.asarray(r) - ref).conj().T))).sum())
            for r in rhos.values())
        d = np.asarray(rho_exact) - ref
        row["wall"] = float(np.abs(np.linalg.eigvalsh(0.5 * (d + d.conj().T))).sum())
        rows.append(row)
        print(f"nmax {n:4d}: banded {row['banded']:.4f} s, nested {row['nested']:.4f} s, "
              f"SuperLU {row.get('superlu', float('nan')):.4f} s, exact {row['exact']:.4f} s | "
              f"compile banded {row['banded_compile']:.1f} s, nested {row['nested_compile']:.1f} "
              f"s, exact {row['exact_compile']:.1f} s | nested plan {row['flops'] / 1e9:.2f} GFlop"
              f" | max trace-norm diff of the solvers {row['diff']:.1e}, exact - banded "
              f"{row['wall']:.1e}", flush=True)
    ns = np.array([r["nmax"] for r in rows], float)
    fit = slice(max(0, len(ns) - 3), None)  # the three largest sizes
    print("\nfitted exponents (time ~ nmax^p, three largest nmax):")
    for key in ("banded", "nested", "superlu", "exact", "flops"):
        ys = np.array([r.get(key, np.nan) for r in rows])
        ok = np.isfinite(ys)
        sel = np.zeros(len(ns), bool)
        sel[fit] = True
        sel &= ok
        if sel.sum() >= 2:
            p = np.polyfit(np.log(ns[sel]), np.log(ys[sel]), 1)[0]
            print(f"  {key:8s} p = {p:.2f}")
    try:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 4))
        for key, label in (("banded", "BandedElimination (block Thomas)"),
                           ("nested", "NestedDissection"), ("superlu", "scipy SuperLU (COLAMD)"),
                           ("exact", f"kerr_exact_state (K = {K // 2})")):
            ys = np.array([r.get(key, np.nan) for r in rows])
            ax.loglog(ns, ys, "o-", label=label)
        ax.set_xlabel("nmax")
        ax.set_ylabel("NESS time per point [s]")
        ax.set_title("Kerr NESS (N = 40, eps = 1.2), after compilation")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(f"wrote {args.out}")
    except ImportError:
        pass
    print(f"end to end {time.perf_counter() - T_START:.1f} s")


if __name__ == "__main__":
    main()
