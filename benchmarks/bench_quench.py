"""Kerr quench: jaxent vs the QuTiP and dynamiqs pipelines, same work, same machine, one run.

Work (Kerr model, kappa = 1/2, Delta = -2, u = 1; defaults N = 20, eps_i = 0.5 -> eps_f = 1.3):
the NESS at ``eps_i`` is evolved under the Liouvillian at ``eps_f`` for t in [0, 20] (101 save
times, rtol 1e-8, atol 1e-10), and at every save time the Wehrl terms S_wehrl, Phi, Phi_q, Pi_d,
Pi_U and dS/dt are computed. Every pipeline uses the same truncation,
``jaxent.studies.quench.quench_nmax(N, [eps_i, eps_f], 0.5, -2, 1)``.

- jaxent: ``jaxent.studies.quench.quench_point`` under ``jax.jit``: structured NESS at ``eps_i``,
  the NESS and the slow modes (shift-invert Arnoldi) at ``eps_f``, the diffrax ODE on the
  matrix-free banded Liouvillian with the polar-grid Husimi terms (and the non-Gaussianity G)
  at every save time. First call (compile + run), best warm call (``eps_f`` moved by 1e-12 so
  nothing is cached), and end to end (process start, imports, compilation, first result).
- QuTiP reference, as a knowledgeable user writes it: ``qutip.steadystate`` (direct/spsolve,
  its fastest here: see ``bench_ness.py``), ``qutip.mesolve`` with ``rtol 1e-8, atol 1e-10``
  (every integrator in ``--qutip-methods`` is timed in its own process; the fastest that is
  accurate goes into the pipeline), then the Wehrl terms of every saved state in numpy, exactly
  as the reference of ``bench_kerr.py``: ``Q = Re(v^dag rho v) / pi`` from Bargmann vectors
  ``v_n = exp(-|alpha|^2/2) alpha^n / sqrt(n!)`` on a square grid of spacing ``--dx`` (0.2)
  covering jaxent's disc, the current from finite differences of Q, and
  ``dS/dt = -int Q[L rho] ln Q`` from the Husimi transform of the exact ``L rho``.
  The Bargmann matrix is built once per pipeline (it does not depend on the state).
- dynamiqs: ``dq.mesolve`` (Tsit5, same tolerances, float64 on the CPU, jitted over ``eps_f`` and
  timed like jaxent; its default ``dia`` layout: ``--dq-layouts dia dense`` times both and
  reports the faster; dense was 7x slower at N = 5 and scales worse). dynamiqs has neither a
  steady-state solver nor the entropy terms: it starts from the QuTiP NESS (read from a file,
  not timed) and its states go through the same numpy reference.

Correctness: the largest trace distance over the save times between jaxent's rho(t)
(``jaxent.lindblad.evolution.evolve``, plain ODE) and each reference trajectory, and the largest
relative difference of Phi and Pi_d between ``quench_point`` and the numpy reference (Pi_d
differs by the reference's finite-difference current on the dx grid, not by the dynamics).

Spectrum: the Liouvillian gap at eps = 1.1 for N = 20 and 40 (nmax from ``choose_nmax``):
jaxent ``liouvillian_spectrum(..., k=4, method="arnoldi", condition=False)`` jitted (no
condition numbers, whose adjoint Arnoldi would double its work: ARPACK reports none), against
``qutip.liouvillian`` + ``scipy.sparse.linalg.eigs(k=4, sigma=...)`` (shift-invert) and dense
``numpy.linalg.eigvals`` where the superoperator dimension is at most ``--dense-max`` (2500).
The shift is ``--eigs-sigma`` (1e-3, just off the spectrum, which lies in Re <= 0): at
``sigma = 0`` exactly ``L`` is singular, the inverse's steady-state Ritz value is ~1e16, and
ARPACK returns the other eigenvalues with errors from per cent to O(1) that change from run to
run (seen at N = 5); that run is still timed and printed below the table.

Each pipeline runs in its own (spawned) subprocess, so its imports, compilation and peak memory
(max RSS) are its own. Usage: ``python benchmarks/bench_quench.py [--quick] [--N 20]
[--eps-i 0.5] [--eps-f 1.3] [--t-end 20] [--saves 101] [--rtol 1e-8] [--repeat 3]``;
``--quick`` is N = 5, 21 saves, repeat 1, spectrum at N = 5 only.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import tempfile
import time
import traceback

from bench_kerr import bargmann_grid  # the same reference grid (benchmarks/ is on sys.path)

KAPPA, DELTA, U = 0.5, -2.0, 1.0
ATOL = 1e-10
TERMS = ("S_wehrl", "Phi", "Phi_q", "Pi_d", "Pi_U", "dS_dt")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _times(t_end: float, saves: int):
    import numpy as np

    return np.linspace(0.0, t_end, saves)


# ----------------------------------------------------------------------------------------------
# numpy reference (the QuTiP reference of bench_kerr.py, at every save time)


def kerr_matrices(N: float, eps: float, nmax: int):
    """Dense numpy ``H`` and ``a`` of the Kerr model (same H as bench_kerr.py)."""
    import numpy as np

    a = np.diag(np.sqrt(np.arange(1, nmax, dtype=float)), 1).astype(complex)
    ad = a.conj().T
    H = DELTA * ad @ a + U / (2 * N) * ad @ ad @ a @ a + 1j * eps * np.sqrt(N) * (ad - a)
    return H, a


def reference_terms(states, H, a, kappa: float, radius: float, dx: float) -> dict:
    """The numpy Wehrl terms of bench_kerr.py's QuTiP reference for every state of ``states``
    ``(T, n, n)``: Q on a square grid of spacing ``dx`` over the disc of radius ``radius`` by the
    Bargmann identity, the current ``J = kappa (mu Q + dQ/dmubar)`` by finite differences, Pi_U
    from the Husimi transform of ``-i[H, rho]`` and dS/dt from that of ``L rho``."""
    import numpy as np

    nmax = H.shape[0]
    ad = a.conj().T
    n_op = ad @ a
    x, X, Y, mu, V = bargmann_grid(radius, dx, nmax)
    Vc = V.conj()
    mu = mu.reshape(X.shape)
    dA = dx * dx

    def husimi(M):
        return (np.real(np.sum(Vc * (M @ V), axis=0)) / np.pi).reshape(X.shape)

    out = {k: [] for k in TERMS + ("Pi_J",)}
    for rho in states:
        rho = np.asarray(rho, complex)
        unitary = -1j * (H @ rho - rho @ H)
        dissip = 2 * kappa * (a @ rho @ ad - 0.5 * (n_op @ rho + rho @ n_op))
        Q = husimi(rho)
        QU = husimi(unitary)
        QL = QU + husimi(dissip)
        dQdy, dQdx = np.gradient(Q, dx)
        dQ_dmubar = 0.5 * (dQdx + 1j * dQdy)
        J = kappa * (mu * Q + dQ_dmubar)
        a_mean = np.trace(rho @ a)
        Jv = J - kappa * a_mean * Q
        safe = Q > 1e-300
        Qs = np.where(safe, Q, 1.0)
        lnQ = np.where(safe, np.log(Qs), 0.0)
        n_ph = np.real(np.trace(rho @ n_op))
        out["S_wehrl"].append(-np.sum(Q * lnQ) * dA)
        out["Pi_J"].append(2 / kappa * np.sum(np.where(safe, np.abs(J) ** 2 / Qs, 0.0)) * dA)
        out["Pi_d"].append(2 / kappa * np.sum(np.where(safe, np.abs(Jv) ** 2 / Qs, 0.0)) * dA)
        out["Pi_U"].append(-np.sum(QU * lnQ) * dA)
        out["dS_dt"].append(-np.sum(QL * lnQ) * dA)
        out["Phi"].append(2 * kappa * n_ph)
        out["Phi_q"].append(2 * kappa * (n_ph - abs(a_mean) ** 2))
    return {k: [float(v) for v in vals] for k, vals in out.items()}


def trace_distances(A, B):
    """``0.5 ||A_t - B_t||_1`` for each pair of (Hermitian) matrices."""
    import numpy as np

    D = np.asarray(A) - np.asarray(B)
    D = 0.5 * (D + np.conj(np.swapaxes(D, -1, -2)))
    return 0.5 * np.sum(np.abs(np.linalg.eigvalsh(D)), axis=-1)


# ----------------------------------------------------------------------------------------------
# jaxent


def jaxent_quench(N, eps_i, eps_f, t_end, saves, rtol, repeat, queue) -> None:
    try:
        import jax
        import numpy as np

        import jaxent  # noqa: F401
        from jaxent.models.kerr import Kerr
        from jaxent.studies.kerr import kerr_grid
        from jaxent.studies.quench import quench_nmax, quench_point

        nmax = quench_nmax(N, [eps_i, eps_f], KAPPA, DELTA, U)
        ts = np.linspace(0.0, t_end, saves)
        # the grid is an argument (as in the CLI's sweep), not tables compiled in as constants
        grid = kerr_grid(nmax)
        f = jax.jit(lambda e, ts, g: quench_point(Kerr(eps=eps_i, N=N), Kerr(eps=e, N=N), nmax,
                                                  ts, g, rtol=rtol))
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(eps_f, ts, grid))
        first_s = time.perf_counter() - t0
        t_done = time.time()
        times = []
        for k in range(repeat):
            t0 = time.perf_counter()
            jax.block_until_ready(f(eps_f + 1e-12 * (k + 1), ts, grid))
            times.append(time.perf_counter() - t0)
        queue.put({
            "nmax": nmax, "radius": float(grid.radius), "first_s": first_s,
            "seconds": min(times), "t_done": t_done, "peak_mb": _peak_rss_mb(),
            "terms": {k: np.asarray(out[k]).tolist() for k in TERMS + ("G", "Pi_J")},
            "diag": {k: float(np.max(np.asarray(out[k]))) for k in
                     ("ode_steps", "ode_success", "t_switch", "gap", "slow_residual",
                      "tail_population", "trace_error")},
        })
    except Exception:  # noqa: BLE001
        queue.put({"error": traceback.format_exc()})


def jaxent_states(N, eps_i, eps_f, t_end, saves, rtol, nmax, path, queue) -> None:
    try:
        import jax
        import numpy as np

        import jaxent  # noqa: F401
        from jaxent.lindblad.evolution import evolve
        from jaxent.models.kerr import Kerr, kerr_lindbladian, kerr_ness

        ts = np.linspace(0.0, t_end, saves)

        @jax.jit
        def run(e, ts):
            rho0 = kerr_ness(Kerr(eps=eps_i, N=N), nmax).rho
            return evolve(kerr_lindbladian(Kerr(eps=e, N=N), nmax), rho0, ts, rtol=rtol)

        traj = jax.block_until_ready(run(eps_f, ts))
        np.save(path, np.asarray(traj.ys))
        queue.put({"success": bool(traj.success), "num_steps": int(traj.num_steps),
                   "trace_error": float(np.max(traj.trace_error)),
                   "tail": float(np.max(traj.tail_population))})
    except Exception:  # noqa: BLE001
        queue.put({"error": traceback.format_exc()})


def jaxent_spectrum(N, eps, repeat, solver, queue) -> None:
    try:
        import jax
        import numpy as np

        import jaxent  # noqa: F401
        from jaxent.lindblad import BandedElimination, NestedDissection
        from jaxent.lindblad.spectrum import liouvillian_spectrum
        from jaxent.models.kerr import Kerr, choose_nmax, kerr_lindbladian

        nmax = choose_nmax(Kerr(eps=eps, N=N))
        factor = NestedDissection(leaf=8) if solver == "dissection" else BandedElimination()
        f = jax.jit(lambda e: liouvillian_spectrum(kerr_lindbladian(Kerr(eps=e, N=N), nmax), k=4,
                                                   method="arnoldi", solver=factor,
                                                   condition=False))
        t0 = time.perf_counter()
        spec = jax.block_until_ready(f(eps))
        first_s = time.perf_counter() - t0
        times = []
        for k in range(repeat):
            t0 = time.perf_counter()
            jax.block_until_ready(f(eps + 1e-12 * (k + 1)))
            times.append(time.perf_counter() - t0)
        queue.put({"nmax": nmax, "first_s": first_s, "seconds": min(times),
                   "gap": float(spec.gap), "peak_mb": _peak_rss_mb(),
                   "resolution": float(np.asarray(spec.resolution)[0]),
                   "eigenvalues": [complex(v) for v in np.asarray(spec.eigenvalues)]})
    except Exception:  # noqa: BLE001
        queue.put({"error": traceback.format_exc()})


# ----------------------------------------------------------------------------------------------
# QuTiP


def _qutip_model(N, eps, nmax):
    import numpy as np
    import qutip

    a = qutip.destroy(nmax)
    H = DELTA * a.dag() * a + U / (2 * N) * a.dag() * a.dag() * a * a \
        + 1j * eps * np.sqrt(N) * (a.dag() - a)
    return H, [np.sqrt(2 * KAPPA) * a]


def _qutip_options(method, rtol):
    return {"method": method, "rtol": rtol, "atol": ATOL, "nsteps": 10**6,
            "progress_bar": False, "store_states": True}


def qutip_mesolve_only(N, eps_i, eps_f, t_end, saves, rtol, nmax, method, ref_path, queue):
    """One ``mesolve`` with ``method`` (the NESS first, not timed) and its distance to jaxent."""
    try:
        import numpy as np
        import qutip

        ts = _times(t_end, saves)
        H_i, c_ops = _qutip_model(N, eps_i, nmax)
        H_f, _ = _qutip_model(N, eps_f, nmax)
        rho0 = qutip.steadystate(H_i, c_ops)
        t0 = time.perf_counter()
        res = qutip.mesolve(H_f, rho0, ts, c_ops=c_ops, options=_qutip_options(method, rtol))
        seconds = time.perf_counter() - t0
        states = np.stack([s.full() for s in res.states])
        dist = float(np.max(trace_distances(states, np.load(ref_path))))
        queue.put({"method": method, "seconds": seconds, "dist": dist, "peak_mb": _peak_rss_mb()})
    except Exception as exc:  # noqa: BLE001
        queue.put({"method": method, "error": f"{type(exc).__name__}: {exc}"[:200]})


def qutip_pipeline(N, eps_i, eps_f, t_end, saves, rtol, nmax, method, radius, dx, repeat,
                   ref_path, out_dir, queue):
    try:
        import numpy as np
        import qutip

        ts = _times(t_end, saves)
        rows = []
        for r in range(repeat):
            t0 = time.perf_counter()
            H_i, c_ops = _qutip_model(N, eps_i, nmax)
            H_f, _ = _qutip_model(N, eps_f, nmax)
            rho0 = qutip.steadystate(H_i, c_ops)
            t1 = time.perf_counter()
            res = qutip.mesolve(H_f, rho0, ts, c_ops=c_ops, options=_qutip_options(method, rtol))
            states = np.stack([s.full() for s in res.states])
            t2 = time.perf_counter()
            terms = reference_terms(states, H_f.full(), c_ops[0].full() / np.sqrt(2 * KAPPA),
                                    KAPPA, radius, dx)
            t3 = time.perf_counter()
            rows.append({"ness_s": t1 - t0, "mesolve_s": t2 - t1, "terms_s": t3 - t2,
                         "seconds": t3 - t0})
            if r == 0:
                t_done = time.time()
                np.save(os.path.join(out_dir, "rho0_qutip.npy"), rho0.full())
                np.save(os.path.join(out_dir, "states_qutip.npy"), states)
        dist = float(np.max(trace_distances(states, np.load(ref_path))))
        queue.put({"method": method, "first": rows[0], "t_done": t_done,
                   "best": {k: min(row[k] for row in rows) for k in rows[0]},
                   "terms": terms, "dist": dist, "n_grid": int(np.arange(-radius, radius + 0.5 * dx,
                                                                          dx).size),
                   "peak_mb": _peak_rss_mb()})
    except Exception:  # noqa: BLE001
        queue.put({"error": traceback.format_exc()})


def qutip_spectrum(N, eps, nmax, repeat, dense_max, eigs_sigma, queue) -> None:
    try:
        import numpy as np
        import qutip
        from scipy.sparse.linalg import eigs

        def gap_of(vals):
            vals = np.asarray(vals)
            vals = np.delete(vals, np.argmin(np.abs(vals)))  # the steady state
            return float(-np.max(vals.real))

        H, c_ops = _qutip_model(N, eps, nmax)
        res = {"dim": nmax * nmax}
        for tag, sigma in (("eigs0", 0.0), ("eigs", eigs_sigma)):
            times = []
            for _ in range(max(repeat, 2)):  # the first eigs call pays one-off set-up costs
                t0 = time.perf_counter()
                L = qutip.liouvillian(H, c_ops).to("csr").data.as_scipy()
                try:
                    vals = eigs(L, k=4, sigma=sigma, return_eigenvectors=False)
                except RuntimeError as exc:  # exactly singular factor
                    vals = None
                    res[f"{tag}_error"] = str(exc)[:80]
                times.append(time.perf_counter() - t0)
            res[f"{tag}_s"] = min(times)
            res[f"{tag}_gap"] = float("nan") if vals is None else gap_of(vals)
        if nmax * nmax <= dense_max:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                Ld = qutip.liouvillian(H, c_ops).full()
                dvals = np.linalg.eigvals(Ld)
                times.append(time.perf_counter() - t0)
            res.update(dense_s=min(times), dense_gap=gap_of(dvals))
        res["peak_mb"] = _peak_rss_mb()
        queue.put(res)
    except Exception:  # noqa: BLE001
        queue.put({"error": traceback.format_exc()})


# ----------------------------------------------------------------------------------------------
# dynamiqs


def dynamiqs_quench(N, eps_f, t_end, saves, rtol, nmax, layout, repeat, radius, dx, do_terms,
                    out_dir, ref_path, queue):
    try:
        import dynamiqs as dq
        import jax
        import numpy as np

        dq.set_precision("double")
        dq.set_device("cpu")
        dq.set_layout(layout)
        dq.set_progress_meter(False)
        ts = jax.numpy.asarray(_times(t_end, saves))
        rho0 = jax.numpy.asarray(np.load(os.path.join(out_dir, "rho0_qutip.npy")))
        method = dq.method.Tsit5(rtol=rtol, atol=ATOL, max_steps=10**6)

        @jax.jit
        def run(e, rho0, ts):
            a = dq.destroy(nmax)
            ad = a.dag()
            H = DELTA * ad @ a + U / (2 * N) * ad @ ad @ a @ a + 1j * e * math.sqrt(N) * (ad - a)
            res = dq.mesolve(H, [math.sqrt(2 * KAPPA) * a], rho0, ts, method=method)
            return res.states.to_jax(), res.infos.nsteps

        t0 = time.perf_counter()
        states, nsteps = jax.block_until_ready(run(eps_f, rho0, ts))
        first_s = time.perf_counter() - t0
        t_done = time.time()
        times = []
        for k in range(repeat):
            t0 = time.perf_counter()
            jax.block_until_ready(run(eps_f + 1e-12 * (k + 1), rho0, ts))
            times.append(time.perf_counter() - t0)
        states = np.asarray(states)
        res = {"layout": layout, "first_s": first_s, "seconds": min(times), "t_done": t_done,
               "nsteps": int(np.asarray(nsteps)),
               "dist": float(np.max(trace_distances(states, np.load(ref_path)))),
               "dist_qutip": float(np.max(trace_distances(
                   states, np.load(os.path.join(out_dir, "states_qutip.npy")))))}
        if do_terms:
            Hm, a = kerr_matrices(N, eps_f, nmax)
            t0 = time.perf_counter()
            res["terms"] = reference_terms(states, Hm, a, KAPPA, radius, dx)
            res["terms_s"] = time.perf_counter() - t0
        res["peak_mb"] = _peak_rss_mb()
        queue.put(res)
    except Exception:  # noqa: BLE001
        queue.put({"layout": layout, "error": traceback.format_exc()})


# ----------------------------------------------------------------------------------------------
# driver


def _run(target, *args):
    """``target(*args, queue)`` in a fresh spawned process; adds ``e2e_s`` (process start to
    the result's ``t_done``) when the target reports one."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    t_start = time.time()
    p.start()
    res = q.get()
    p.join()
    if "t_done" in res:
        res["e2e_s"] = res["t_done"] - t_start
    if "error" in res and "method" not in res and "layout" not in res:
        raise RuntimeError(f"{target.__name__} failed:\n{res['error']}")
    return res


def _max_rel(a, b, floor=0.0):
    """max |a - b| / |b| over the entries where |b| >= floor * max |b|."""
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.abs(b) >= floor * np.max(np.abs(b))
    return float(np.max(np.abs(a - b)[keep] / np.maximum(np.abs(b[keep]), 1e-300)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=float, default=20.0)
    ap.add_argument("--eps-i", type=float, default=0.5)
    ap.add_argument("--eps-f", type=float, default=1.3)
    ap.add_argument("--t-end", type=float, default=20.0)
    ap.add_argument("--saves", type=int, default=101)
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dx", type=float, default=0.2, help="spacing of the reference's square grid")
    ap.add_argument("--qutip-methods", nargs="+", default=["adams", "bdf", "dop853", "vern9"])
    ap.add_argument("--dq-layouts", nargs="+", default=["dia"],
                    help="dynamiqs operator layouts to time (dense: 7x slower than dia at N = 5)")
    ap.add_argument("--spectrum-N", type=float, nargs="*", default=[20.0, 40.0])
    ap.add_argument("--spectrum-eps", type=float, default=1.1)
    ap.add_argument("--dense-max", type=int, default=2500,
                    help="largest superoperator dimension for dense eig")
    ap.add_argument("--eigs-sigma", type=float, default=1e-3,
                    help="shift of scipy's shift-invert eigs (0 exactly is singular)")
    ap.add_argument("--quick", action="store_true",
                    help="N = 5, 21 saves, repeat 1, spectrum at N = 5 only")
    ap.add_argument("--spectrum-only", action="store_true", help="time only the spectrum")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.N, args.saves, args.repeat, args.spectrum_N = 5.0, 21, 1, [5.0]
    N, ei, ef = args.N, args.eps_i, args.eps_f
    common = (args.t_end, args.saves, args.rtol)
    out = {"args": vars(args)}

    print(f"Kerr quench eps {ei} -> {ef} at N = {N:g}: t in [0, {args.t_end:g}], {args.saves} "
          f"saves, rtol {args.rtol:g}, atol {ATOL:g}; warm = best of {args.repeat}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    if not args.spectrum_only:
        with tempfile.TemporaryDirectory() as tmp:
            ref_path = os.path.join(tmp, "states_jaxent.npy")
            j = _run(jaxent_quench, N, ei, ef, *common, args.repeat)
            nmax = j["nmax"]
            js = _run(jaxent_states, N, ei, ef, *common, nmax, ref_path)
            print(f"nmax = {nmax}; jaxent quench_point: {j['diag']['ode_steps']:.0f} ODE steps, "
                  f"t_switch = {j['diag']['t_switch']:.3g}, gap(eps_f) = {j['diag']['gap']:.3g}; "
                  f"plain evolve: {js['num_steps']} steps (success {js['success']})", flush=True)

            print("\nQuTiP mesolve integrators (each in its own process; NESS not timed):")
            survey = []
            for m in args.qutip_methods:
                r = _run(qutip_mesolve_only, N, ei, ef, *common, nmax, m, ref_path)
                survey.append(r)
                if "error" in r:
                    print(f"  {m:>8}: failed ({r['error']})", flush=True)
                else:
                    print(f"  {m:>8}: {r['seconds']:9.3f} s   max trace distance to jaxent "
                          f"{r['dist']:.1e}", flush=True)
            ok = [r for r in survey if "error" not in r and r["dist"] < 1e-5]
            ok = ok or [r for r in survey if "error" not in r]
            best_m = min(ok, key=lambda r: r["seconds"])["method"]
            print(f"  fastest: {best_m}", flush=True)
            q = _run(qutip_pipeline, N, ei, ef, *common, nmax, best_m, j["radius"], args.dx,
                     args.repeat, ref_path, tmp)

            dqs = []
            for i, lay in enumerate(args.dq_layouts):
                r = _run(dynamiqs_quench, N, ef, *common, nmax, lay, args.repeat, j["radius"],
                         args.dx, i == 0, tmp, ref_path)
                dqs.append(r)
            dq_ok = [r for r in dqs if "error" not in r]
            for r in dqs:
                if "error" in r:
                    print(f"dynamiqs layout {r['layout']} failed:\n{r['error']}")
            if not dq_ok:
                raise RuntimeError("every dynamiqs run failed")
            d = min(dq_ok, key=lambda r: r["seconds"])
            d_terms = next(r for r in dq_ok if "terms" in r) if any("terms" in r for r in dq_ok) \
                else None
            print("dynamiqs layouts (mesolve, warm): " + ", ".join(
                f"{r['layout']} {r['seconds']:.3f} s ({r['nsteps']} steps)" for r in dq_ok)
                + f"; fastest: {d['layout']}", flush=True)

        # ---- the quench table
        terms_s = d_terms["terms_s"] if d_terms else float("nan")
        rows = [
            ("jaxent quench_point (NESS x2, spectrum, ODE, terms, G)", j["first_s"], j["seconds"],
             j["e2e_s"], j["peak_mb"]),
            (f"QuTiP mesolve [{best_m}]", q["first"]["mesolve_s"], q["best"]["mesolve_s"], None,
             None),
            ("QuTiP steadystate + mesolve + numpy terms", q["first"]["seconds"],
             q["best"]["seconds"], q["e2e_s"], q["peak_mb"]),
            (f"dynamiqs mesolve [Tsit5, {d['layout']}]", d["first_s"], d["seconds"], d["e2e_s"],
             d["peak_mb"]),
            ("dynamiqs mesolve + numpy terms", d["first_s"] + terms_s, d["seconds"] + terms_s,
             d["e2e_s"] + terms_s, None),
        ]
        print(f"\nQuench pipeline, N = {N:g}, nmax = {nmax}, {args.saves} saves "
              f"(first: compile + run for JAX, first run after imports for QuTiP; end to end: "
              f"process start to first result)")
        print(f"{'pipeline':<56} {'first s':>9} {'warm s':>9} {'e2e s':>9} {'peak MB':>8}"
              f" {'jaxent/it warm':>15} {'jaxent/it e2e':>14}")
        for name, first, warm, e2e, mb in rows:
            rw = j["seconds"] / warm
            re2e = "" if e2e is None else f"{j['e2e_s'] / e2e:.3g}"
            print(f"{name:<56} {first:>9.3f} {warm:>9.3f} "
                  f"{'' if e2e is None else f'{e2e:.3f}':>9} {'' if mb is None else f'{mb:.0f}':>8}"
                  f" {rw:>15.3g} {re2e:>14}")
        print(f"QuTiP pipeline split (best): steadystate {q['best']['ness_s']:.3f} s, mesolve "
              f"{q['best']['mesolve_s']:.3f} s, numpy terms {q['best']['terms_s']:.3f} s "
              f"({q['n_grid']}^2 square grid, dx = {args.dx}); dynamiqs terms {terms_s:.3f} s; "
              f"dynamiqs starts from QuTiP's NESS (untimed)")
        print("ratios are jaxent time / the row's time (< 1: jaxent faster)")

        # ---- correctness
        print("\nCorrectness (max over save times)")
        print(f"  trace distance jaxent vs QuTiP [{best_m}]: {q['dist']:.2e}")
        print(f"  trace distance jaxent vs dynamiqs [{d['layout']}]: {d['dist']:.2e}"
              f"   (dynamiqs vs QuTiP: {d['dist_qutip']:.2e})")
        for k in ("Phi", "Phi_q", "Pi_d", "Pi_U", "S_wehrl"):
            rel = _max_rel(j["terms"][k], q["terms"][k])
            line = f"  rel. diff {k:<8} jaxent vs numpy(QuTiP states): {rel:.2e}"
            if k in ("Pi_d", "Pi_U"):
                line += (f" ({_max_rel(j['terms'][k], q['terms'][k], 0.01):.2e} where |{k}| > 1% "
                         "of max)")
            if d_terms:
                rel = _max_rel(d_terms["terms"][k], q["terms"][k])
                line += f"   numpy(dynamiqs) vs numpy(QuTiP): {rel:.2e}"
            print(line)
        import numpy as np

        print("  (Pi_d: the reference's current comes from finite differences of Q on the dx grid; "
              "at t = 0 Pi_d is tiny and that error dominates its relative difference)")
        for k in ("Pi_d", "dS_dt"):
            a_, b_ = np.asarray(j["terms"][k]), np.asarray(q["terms"][k])
            i = int(np.argmax(np.abs(a_ - b_)))
            print(f"  abs. diff {k:<8} jaxent vs numpy(QuTiP states): {abs(a_[i] - b_[i]):.2e} at "
                  f"t = {_times(args.t_end, args.saves)[i]:.3g} "
                  f"(max |{k}| {np.max(np.abs(b_)):.3g})")
        out.update(jaxent=j, jaxent_states=js, qutip_survey=survey, qutip=q,
                   dynamiqs=dqs)

    # ---- spectrum
    print(f"\nLiouvillian gap at eps = {args.spectrum_eps} (k = 4; best of {args.repeat}; QuTiP: "
          f"liouvillian + scipy eigs shift-invert at sigma = {args.eigs_sigma:g})")
    print("jaxent with either factorisation (first call = compilation + run): block-Thomas "
          "(BandedElimination, the default) and nested dissection (leaf 8, chosen by the spectrum "
          "sweep for many pumps at large nmax)")
    print(f"{'N':>4} {'nmax':>5} {'dim':>7} {'banded first':>12} {'banded warm':>12} "
          f"{'ND first':>9} {'ND warm':>8} {'scipy eigs':>11} {'dense eig':>10} "
          f"{'warm/eigs':>10}  gap banded / ND / eigs / dense")
    spec = []
    for Ns in args.spectrum_N:
        js_ = _run(jaxent_spectrum, Ns, args.spectrum_eps, args.repeat, "banded")
        jd_ = _run(jaxent_spectrum, Ns, args.spectrum_eps, args.repeat, "dissection")
        qs_ = _run(qutip_spectrum, Ns, args.spectrum_eps, js_["nmax"], args.repeat,
                   args.dense_max, args.eigs_sigma)
        spec.append({"N": Ns, "jaxent": js_, "jaxent_dissection": jd_, "qutip": qs_})
        dense_s = f"{qs_['dense_s']:.3f}" if "dense_s" in qs_ else "skipped"
        dense_g = f"{qs_['dense_gap']:.6g}" if "dense_gap" in qs_ else "-"
        ratios = f"{js_['seconds'] / qs_['eigs_s']:.3g}/{jd_['seconds'] / qs_['eigs_s']:.3g}"
        print(f"{Ns:>4g} {js_['nmax']:>5d} {qs_['dim']:>7d} {js_['first_s']:>12.3f} "
              f"{js_['seconds']:>12.3f} {jd_['first_s']:>9.3f} {jd_['seconds']:>8.3f} "
              f"{qs_['eigs_s']:>11.3f} {dense_s:>10} {ratios:>10}  {js_['gap']:.6g} / "
              f"{jd_['gap']:.6g} / {qs_['eigs_gap']:.6g} / {dense_g}", flush=True)
    for sp in spec:
        qs_ = sp["qutip"]
        note = f" ({qs_['eigs0_error']})" if "eigs0_error" in qs_ else ""
        print(f"  N = {sp['N']:g}: eigs at sigma = 0 exactly (L singular): {qs_['eigs0_s']:.3f} s, "
              f"gap {qs_['eigs0_gap']:.6g}{note}; jaxent eigenvalue resolution "
              f"{sp['jaxent']['resolution']:.1e}")
    if any("dense_s" not in s["qutip"] for s in spec):
        print(f"  dense eig skipped where the superoperator dimension exceeds {args.dense_max}")
    out["spectrum"] = spec
    print("load average at the end (1 / 5 / 15 min): "
          + " / ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=str)


if __name__ == "__main__":
    main()
