"""Per-point Kerr pipeline: jaxent vs the QuTiP pipeline, same work, same machine, one run.

Work per point (Kerr model, kappa = 1/2, Delta = -2, u = 1): the NESS, a Husimi grid, and the
Wehrl terms S, Phi, Pi_J, Pi_d, Pi_U.

- jaxent: structured (block-tridiagonal) NESS + polar-grid Husimi transform (FFT over m - n)
  + quadrature; jitted, timed after compilation (compile time reported separately).
- QuTiP reference, as a knowledgeable user writes it: ``qutip.steadystate`` (its fastest method
  here, direct/spsolve: see ``bench_ness.py``), then Q and the Q of -i[H, rho] in numpy from the
  Bargmann identity ``Q = Re(v^dag rho v) / pi`` with
  ``v_n = exp(-|alpha|^2/2) alpha^n / sqrt(n!)``, on a square grid of spacing ``--dx`` (0.2)
  covering the same disc as jaxent's grid, and the same integrals in numpy (the current from
  finite differences of Q). Not ``qutip.qfunc`` on jaxent's own polar grid.

Each pipeline runs in its own subprocess so its peak memory (max RSS) is its own.
Usage: ``python benchmarks/bench_kerr.py [--N 10 20 40] [--eps 1.3] [--repeat 3] [--dx 0.2]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def jaxent_point(N: float, eps: float, repeat: int, queue) -> None:
    import jax

    import jaxent  # noqa: F401
    from jaxent.models.kerr import Kerr, choose_nmax
    from jaxent.phase_space.grid import polar_grid
    from jaxent.studies.kerr import kerr_point

    nmax = choose_nmax(Kerr(eps=eps, N=N))
    grid = polar_grid(nmax)
    f = jax.jit(lambda e: kerr_point(Kerr(eps=e, N=N), nmax, grid), )
    t0 = time.perf_counter()
    out = jax.block_until_ready(f(eps))
    compile_s = time.perf_counter() - t0
    times = []
    for k in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(eps + 1e-12 * (k + 1)))
        times.append(time.perf_counter() - t0)
    queue.put({"nmax": nmax, "radius": float(grid.radius), "n_r": int(grid.n_r),
               "n_theta": int(grid.n_theta), "compile_s": compile_s, "seconds": min(times),
               "peak_mb": _peak_rss_mb(),
               "terms": {k: float(v) for k, v in out.items()}})


def qutip_point(N: float, eps: float, nmax: int, radius: float, dx: float, repeat: int,
                queue) -> None:
    import numpy as np
    import qutip

    kappa, delta, u = 0.5, -2.0, 1.0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        a = qutip.destroy(nmax)
        H = delta * a.dag() * a + u / (2 * N) * a.dag() * a.dag() * a * a \
            + 1j * eps * np.sqrt(N) * (a.dag() - a)
        rho_q = qutip.steadystate(H, [np.sqrt(2 * kappa) * a])
        rho, Hm = rho_q.full(), H.full()
        # square grid of spacing dx over the disc of jaxent's grid (radius R)
        x = np.arange(-radius, radius + 0.5 * dx, dx)
        X, Y = np.meshgrid(x, x)
        mu = (X + 1j * Y).ravel()
        # Bargmann vectors v_n(mu) = exp(-|mu|^2/2) mu^n / sqrt(n!), by the stable recursion
        V = np.empty((nmax, mu.size), complex)
        V[0] = np.exp(-0.5 * np.abs(mu) ** 2)
        for k in range(1, nmax):
            V[k] = V[k - 1] * mu / np.sqrt(k)
        Q = (np.real(np.sum(V.conj() * (rho @ V), axis=0)) / np.pi).reshape(X.shape)
        drho = -1j * (Hm @ rho - rho @ Hm)
        QU = (np.real(np.sum(V.conj() * (drho @ V), axis=0)) / np.pi).reshape(X.shape)
        mu = mu.reshape(X.shape)
        dQdy, dQdx = np.gradient(Q, dx)
        dQ_dmubar = 0.5 * (dQdx + 1j * dQdy)
        J = kappa * (mu * Q + dQ_dmubar)
        a_mean = np.trace(rho @ a.full())
        Jv = J - kappa * a_mean * Q
        safe = Q > 1e-300
        Qs = np.where(safe, Q, 1.0)
        dA = dx * dx
        S = -np.sum(np.where(safe, Q * np.log(Qs), 0.0)) * dA
        Pi_J = 2 / kappa * np.sum(np.where(safe, np.abs(J) ** 2 / Qs, 0.0)) * dA
        Pi_d = 2 / kappa * np.sum(np.where(safe, np.abs(Jv) ** 2 / Qs, 0.0)) * dA
        Pi_U = -np.sum(np.where(safe, QU * np.log(Qs), 0.0)) * dA
        Phi = 2 * kappa * np.real(np.trace(rho @ (a.dag() * a).full()))
        times.append(time.perf_counter() - t0)
    queue.put({"seconds": min(times), "peak_mb": _peak_rss_mb(), "n_grid": int(x.size),
               "terms": {"S_wehrl": S, "Phi": Phi, "Pi_J": Pi_J, "Pi_d": Pi_d, "Pi_U": Pi_U}})


def _run(target, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=float, nargs="+", default=[10, 20, 40])
    ap.add_argument("--eps", type=float, default=1.3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dx", type=float, default=0.2, help="spacing of the reference's square grid")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    rows = []
    print(f"Kerr per-point pipeline, eps = {args.eps} (best of {args.repeat})")
    print(f"{'N':>4} {'nmax':>5} {'grid':>10} {'jaxent s':>10} {'compile s':>10} {'qutip s':>10}"
          f" {'ratio':>7} {'jaxent MB':>10} {'qutip MB':>9}  square grid  Pi_d jaxent / qutip")
    for N in args.N:
        j = _run(jaxent_point, N, args.eps, args.repeat)
        q = _run(qutip_point, N, args.eps, j["nmax"], j["radius"], args.dx, args.repeat)
        ratio = q["seconds"] / j["seconds"]
        rows.append({"N": N, "eps": args.eps, "jaxent": j, "qutip": q, "ratio": ratio})
        print(f"{N:>4g} {j['nmax']:>5d} {j['n_r']:>4d}x{j['n_theta']:<5d} {j['seconds']:>10.3f} "
              f"{j['compile_s']:>10.2f} {q['seconds']:>10.3f} {ratio:>7.1f} {j['peak_mb']:>10.0f} "
              f"{q['peak_mb']:>9.0f}  {q['n_grid']:>4d}^2      "
              f"{j['terms']['Pi_d']:.6g} / {q['terms']['Pi_d']:.6g}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
