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
Usage: ``python benchmarks/bench_kerr.py [--N 10 20 40] [--eps 1.3] [--repeat 3] [--dx 0.2]``;
``--end-to-end [0.5:1.3:41]`` instead times the whole sweep at one N (default 40) from the
command line, cold and with the compilation cache filled, against one QuTiP process.
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
    from jaxent.models.kerr import Kerr, choose_nmax, series_terms
    from jaxent.phase_space.grid import polar_grid
    from jaxent.studies.kerr import kerr_point

    model = Kerr(eps=eps, N=N)
    nmax, n_terms = choose_nmax(model), series_terms(model)  # as the sweep chooses them
    grid = polar_grid(nmax)
    # the grid is an argument, as in the sweep: captured, its tables would be compiled in as
    # constants (a different, slower program: 31 against 15 ms at N = 40)
    f = jax.jit(lambda e, g: kerr_point(Kerr(eps=e, N=N), nmax, g, n_terms=n_terms,
                                        check=False))
    t0 = time.perf_counter()
    out = jax.block_until_ready(f(eps, grid))
    compile_s = time.perf_counter() - t0
    times = []
    for k in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(eps + 1e-12 * (k + 1), grid))
        times.append(time.perf_counter() - t0)
    queue.put({"nmax": nmax, "radius": float(grid.radius), "n_r": int(grid.n_r),
               "n_theta": int(grid.n_theta), "compile_s": compile_s, "seconds": min(times),
               "peak_mb": _peak_rss_mb(),
               "terms": {k: float(v) for k, v in out.items()}})


def bargmann_grid(radius: float, dx: float, nmax: int):
    """The reference's square grid of spacing ``dx`` over the disc of radius ``radius`` (that of
    jaxent's polar grid): ``x`` (1-D), ``X, Y`` (2-D), ``mu = X + iY`` flattened, and the Bargmann
    vectors ``V[n] = exp(-|mu|^2/2) mu^n / sqrt(n!)`` ``(nmax, mu.size)`` by the stable
    recursion, so that ``Q = Re(v^dag rho v) / pi``."""
    import numpy as np

    x = np.arange(-radius, radius + 0.5 * dx, dx)
    X, Y = np.meshgrid(x, x)
    mu = (X + 1j * Y).ravel()
    V = np.empty((nmax, mu.size), complex)
    V[0] = np.exp(-0.5 * np.abs(mu) ** 2)
    for k in range(1, nmax):
        V[k] = V[k - 1] * mu / np.sqrt(k)
    return x, X, Y, mu, V


def qutip_terms(N: float, eps: float, nmax: int, radius: float, dx: float) -> tuple[dict, int]:
    """The reference pipeline at one point: ``qutip.steadystate`` + numpy Bargmann terms."""
    import numpy as np
    import qutip

    kappa, delta, u = 0.5, -2.0, 1.0
    a = qutip.destroy(nmax)
    H = delta * a.dag() * a + u / (2 * N) * a.dag() * a.dag() * a * a \
        + 1j * eps * np.sqrt(N) * (a.dag() - a)
    rho_q = qutip.steadystate(H, [np.sqrt(2 * kappa) * a])
    rho, Hm = rho_q.full(), H.full()
    x, X, Y, mu, V = bargmann_grid(radius, dx, nmax)
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
    return {"S_wehrl": S, "Phi": Phi, "Pi_J": Pi_J, "Pi_d": Pi_d, "Pi_U": Pi_U}, int(x.size)


def qutip_point(N: float, eps: float, nmax: int, radius: float, dx: float, repeat: int,
                queue) -> None:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        terms, n_grid = qutip_terms(N, eps, nmax, radius, dx)
        times.append(time.perf_counter() - t0)
    queue.put({"seconds": min(times), "peak_mb": _peak_rss_mb(), "n_grid": n_grid,
               "terms": terms})


def qutip_sweep(N: float, eps_values: list[float], nmax: int, radius: float, dx: float,
                queue) -> None:
    """The end-to-end reference: one process computing every pump, as a script would."""
    queue.put([qutip_terms(N, e, nmax, radius, dx)[0] for e in eps_values])


def _run(target, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    res = q.get()
    p.join()
    return res


def end_to_end(N: float, eps_range: str, dx: float) -> dict:
    """The sweep as users run it, process start and compilation included: ``jaxent kerr`` from
    the command line with an empty compilation cache (the first run after installing) and
    again with the cache it filled, against one QuTiP process over the same pumps at the same
    truncation (the largest of jaxent's sweep) and the same disc. Both photon numbers are
    checked against the exact complex-P moments."""
    import os
    import subprocess
    import sys
    import tempfile

    import numpy as np

    from jaxent.io import read_csv
    from jaxent.models.kerr import Kerr, kerr_exact_moments
    from jaxent.phase_space.grid import polar_grid

    out = {}
    with tempfile.TemporaryDirectory(prefix="bench_kerr_e2e_") as work:
        env = dict(os.environ, JAXENT_CACHE_DIR=os.path.join(work, "xla"))
        for run in ("cold", "warm"):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "jaxent", "kerr", "--N", f"{N:g}", "--eps",
                            eps_range, "--no-progress", "--out", os.path.join(work, run)],
                           env=env, check=True, stdout=subprocess.DEVNULL)
            out[f"jaxent_{run}_s"] = time.perf_counter() - t0
        data = read_csv(os.path.join(work, "cold", "kerr.csv"),
                        key=["N", "eps", "kappa", "delta", "u"])
    eps = [float(e) for e in data["eps"]]
    nmax = int(max(data["nmax"]))
    t0 = time.perf_counter()
    ref = _run(qutip_sweep, N, eps, nmax, float(polar_grid(nmax).radius), dx)
    out["qutip_s"] = time.perf_counter() - t0
    # <n> of both against the exact complex-P moments (Phi = 2 kappa <n>), relative above one
    # photon; Pi_d against the sweep's scale: where Pi_d is small the reference's
    # finite-difference current on its square grid is the larger error
    n_exact = np.asarray([float(kerr_exact_moments(Kerr(eps=e, N=N)).n) for e in eps])
    kappa = 0.5

    def n_err(n):
        return np.abs(n - n_exact) / np.maximum(n_exact, 1.0)

    err_j = n_err(np.asarray(data["Phi"], float) / (2 * kappa))
    err_q = n_err(np.asarray([r["Phi"] for r in ref]) / (2 * kappa))
    pid_j = np.asarray(data["Pi_d"], float)
    pid_q = np.asarray([r["Pi_d"] for r in ref])
    out.update(points=len(eps), nmax=nmax,
               pi_d_diff_over_max=float(np.max(np.abs(pid_j - pid_q)) / np.max(pid_j)),
               n_err_jaxent=float(err_j.max()), n_err_qutip=float(err_q.max()),
               n_err_qutip_eps=eps[int(err_q.argmax())])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=float, nargs="+", default=None,
                    help="sizes (default 10 20 40; with --end-to-end one size, default 40)")
    ap.add_argument("--eps", type=float, default=1.3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dx", type=float, default=0.2, help="spacing of the reference's square grid")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--end-to-end", metavar="EPS_RANGE", nargs="?", const="0.5:1.3:41",
                    help="instead: the sweep at the first --N over EPS_RANGE (default "
                         "0.5:1.3:41) from the command line, cold and warm, against QuTiP")
    args = ap.parse_args()
    if args.end_to_end:
        if args.N is not None and len(args.N) != 1:
            ap.error("--end-to-end times one size: give one --N")
        N = args.N[0] if args.N is not None else 40.0
        r = end_to_end(N, args.end_to_end, args.dx)
        print(f"Kerr sweep end to end, N = {N:g}, eps {args.end_to_end} ({r['points']} points, "
              f"nmax {r['nmax']}), process start and compilation included:")
        print(f"  jaxent kerr, empty compilation cache: {r['jaxent_cold_s']:7.1f} s  "
              f"(QuTiP / jaxent = {r['qutip_s'] / r['jaxent_cold_s']:.2f}x)")
        print(f"  jaxent kerr, cache filled:            {r['jaxent_warm_s']:7.1f} s  "
              f"({r['qutip_s'] / r['jaxent_warm_s']:.2f}x)")
        print(f"  QuTiP steadystate + numpy terms:      {r['qutip_s']:7.1f} s")
        print(f"  <n> against the exact moments (max relative error): jaxent "
              f"{r['n_err_jaxent']:.1e}, QuTiP {r['n_err_qutip']:.1e} (at eps = "
              f"{r['n_err_qutip_eps']:g})")
        print(f"  max |Pi_d difference| / max Pi_d: {r['pi_d_diff_over_max']:.1e} (the "
              f"reference's {args.dx} grid)")
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(r, fh, indent=1)
        return
    rows = []
    print(f"Kerr per-point pipeline, eps = {args.eps} (best of {args.repeat})")
    print(f"{'N':>4} {'nmax':>5} {'grid':>10} {'jaxent s':>10} {'compile s':>10} {'qutip s':>10}"
          f" {'ratio':>7} {'jaxent MB':>10} {'qutip MB':>9}  square grid  Pi_d jaxent / qutip")
    for N in args.N or [10.0, 20.0, 40.0]:
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
