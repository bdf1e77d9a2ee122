r"""Kerr quenches: the NESS at ``eps_i`` evolved under the Liouvillian at ``eps_f``
[GFL-quench, Sec. IV], with every entropy term and the non-Gaussianity at every save time.

Data flow: :class:`~jaxent.models.kerr.Kerr` (two pumps) -> :func:`~jaxent.models.kerr.kerr_ness`
(initial state; final NESS) and :func:`~jaxent.lindblad.spectrum.liouvillian_spectrum` (slow
modes at ``eps_f``) -> :func:`~jaxent.lindblad.evolution.evolve` (ODE, then slow modes) with
:func:`~jaxent.entropy.wehrl.photon_loss_terms` and
:func:`~jaxent.entropy.gaussianity.non_gaussianity` at each save time -> one row per
``(N, eps_i, eps_f, kappa, delta, u, t)``.

The save times are a traced ``(T,)`` series of each point (:class:`~jaxent.sweep.Study`
``series``), so a sweep compiles once per ``(nmax, T)`` whatever the times. ``t_auto``
chooses them out to full relaxation, ``30 / gap`` ($e^{-30}$), on a log scale when long.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from jaxent.entropy.gaussianity import non_gaussianity
from jaxent.entropy.wehrl import photon_loss_terms
from jaxent.lindblad.evolution import evolve
from jaxent.lindblad.solvers import BandedElimination
from jaxent.lindblad.spectrum import liouvillian_spectrum
from jaxent.models.kerr import Kerr, kerr_hamiltonian, kerr_lindbladian, kerr_ness
from jaxent.studies.kerr import (
    check_sweep_inputs,
    group_by_model,
    kerr_grid,
    nmax_for_points,
    series_length,
)
from jaxent.sweep import Study, SweepResult, run_sweep
from jaxent.tolerances import GRID_NORM_TOL, STATE_TOL, TAIL_TOL

#: Physics columns (the names are part of the interface).
QUENCH_OUTPUTS = ("alpha_re", "alpha_im", "n_photons", "S_wehrl", "Phi", "Phi_q", "Pi_ext",
                  "Pi_J", "Pi_d", "Pi_U", "dS_dt", "G")
#: NESS values at ``eps_f`` (the dashed lines of GFL-quench Figs. 4-8).
NESS_COLUMNS = ("Phi_ness_f", "Phi_q_ness_f", "Pi_d_ness_f", "Pi_U_ness_f", "G_ness_f")
#: Error control of each row.
QUENCH_DIAGNOSTICS = ("identity_residual", "trace_error", "tail_population", "grid_norm_error",
                      "slow_residual", "t_switch", "gap", "ode_steps", "ode_success") + NESS_COLUMNS
QUENCH_PARAMS = ("N", "eps_i", "eps_f", "kappa", "delta", "u")
#: Slow modes kept for the long-time propagation.
N_MODES = 8
#: Relative tolerance of the ODE (absolute: 1e-2 of it).
QUENCH_RTOL = 1e-9
#: Slow-mode fit residual (Frobenius) allowed before a row is flagged.
SLOW_TOL = 1e-7


def _terms(rho, H, kappa, grid, N):
    t = photon_loss_terms(rho, H, kappa, grid, check=False, h_bandwidth=1)  # H tridiagonal
    return {
        "alpha_re": jnp.real(t.alpha) / jnp.sqrt(N), "alpha_im": jnp.imag(t.alpha) / jnp.sqrt(N),
        "n_photons": t.n_photons, "S_wehrl": t.S_wehrl, "Phi": t.Phi, "Phi_q": t.Phi_q,
        "Pi_ext": t.Pi_ext, "Pi_J": t.Pi_J, "Pi_d": t.Pi_d, "Pi_U": t.Pi_U, "dS_dt": t.dS_dt,
        "G": non_gaussianity(rho),
        # dS/dt = Pi_U + Pi_J - Phi holds for every state [GFL-quench, Eq. (18)]; on the grid
        # its residual is the grid's integration-by-parts error
        "identity_residual": (t.dS_dt - (t.Pi_U + t.Pi_J - t.Phi))
        / jnp.maximum(jnp.abs(t.Phi), 2e-6 * kappa),
        "grid_norm_error": t.norm_error,
    }


def quench_point(model_i: Kerr, model_f: Kerr, nmax: int, ts, grid=None, *,
                 n_terms: int | None = 4096, n_modes: int = N_MODES, rtol: float = QUENCH_RTOL,
                 check: bool = True,
                 max_steps: int = 400_000) -> dict[str, jax.Array]:
    r"""One quench $\epsilon_i \to \epsilon_f$ [GFL-quench, Eqs. (18)-(27)]: a dict of ``(T,)``
    arrays at the save times ``ts`` (:data:`QUENCH_OUTPUTS`; ``alpha = <a>/sqrt(N)``) and the
    diagnostics :data:`QUENCH_DIAGNOSTICS` (scalars or ``(T,)``).

    ``model_i`` and ``model_f`` differ in ``eps`` only (the other parameters of ``model_f``
    are used for the dynamics). The initial state is the (pinned) NESS at ``eps_i``; the
    dynamics is the ODE up to ``t_switch``, then the ``n_modes`` slowest modes of the final
    Liouvillian. ``grid``: the Husimi grid (default ``kerr_grid(nmax)``; pass it as an
    argument of a jitted caller so that its tables are not compiled in as constants).
    jit/vmap-able; differentiable in the parameters.
    """
    grid = kerr_grid(nmax) if grid is None else grid
    rho0 = kerr_ness(model_i, nmax, "auto", 4, n_terms, check).rho
    ss = kerr_ness(model_f, nmax, "auto", 4, n_terms, check)
    Lf = kerr_lindbladian(model_f, nmax)
    # two padding groups for the shift-invert factorisation instead of the default four: at
    # N = 20 (nmax 112) the quench compiles in 11.2 s instead of 12.8 s and runs 0.2 s longer
    # (4.4 s), the better trade for a program compiled once per size and run a few times
    # the modes only (their condition numbers would double the Arnoldi work)
    spec = liouvillian_spectrum(Lf, n_modes, method="arnoldi",
                                solver=BandedElimination(n_buckets=2), condition=False)
    H = kerr_hamiltonian(model_f, nmax)

    def fn(t, rho):
        return _terms(rho, H, model_f.kappa, grid, model_f.N)

    # terms of up to 4 save times at once, at most ~1M grid points (~80 MB of fields) per batch:
    # with the grid's cache-sized tables a batch of 16 gains nothing more (N = 20, nmax 112, 101
    # saves, warm: 4.2-4.5 s at 4, 4.7-5.5 s at 16, 4.9-5.5 s at 1; 5.4-5.6 s with the former
    # 77 MB table at 16)
    batch = max(1, min(4, 1_000_000 // (grid.n_r * grid.n_theta)))
    traj = evolve(Lf, rho0, ts, fn, spectrum=spec, rho_ss=ss.rho, rtol=rtol, atol=1e-2 * rtol,
                  max_steps=max_steps, save_batch=batch)
    out = dict(traj.ys)
    # fn has one eigensolver (G); the NESS's terms wait for the batched ones of the trajectory
    # (a data dependency, adding 0): jaxlib 0.10's CPU backend can deadlock on two batched
    # LAPACK calls running side by side (README, "Known platform issue")
    final = fn(None, ss.rho + 0.0 * jnp.nan_to_num(jax.lax.stop_gradient(traj.ys["G"][-1])))
    out.update({
        "trace_error": traj.trace_error,
        "tail_population": jnp.maximum(traj.tail_population, ss.tail_population),
        "slow_residual": traj.slow_residual,
        "t_switch": traj.t_switch,
        "gap": spec.gap,
        "ode_steps": traj.num_steps.astype(jnp.float64),
        "ode_success": traj.success.astype(jnp.float64),
        **{f"{k}_ness_f": final[k] for k in ("Phi", "Phi_q", "Pi_d", "Pi_U", "G")},
    })
    return {k: jax.lax.stop_gradient(v) if k in QUENCH_DIAGNOSTICS else v for k, v in out.items()}


def _point(p, static, grid):
    nmax, n_terms, _T = static
    common = dict(N=p["N"], kappa=p["kappa"], delta=p["delta"], u=p["u"])
    return quench_point(Kerr(eps=p["eps_i"], **common), Kerr(eps=p["eps_f"], **common), nmax,
                        p["t"], grid, n_terms=n_terms, check=False)


def _grid_of(static):
    return kerr_grid(static[0])


def _checks(row) -> list[tuple[str, str]]:
    out = []
    if not row["ode_success"] > 0.5:
        out.append(("ode", f"the ODE ran out of steps ({int(row['ode_steps'])}) before "
                           f"t_switch = {row['t_switch']:.3g}: report this quench"))
    if not row["tail_population"] <= TAIL_TOL:
        out.append(("tail", f"Fock tail population {row['tail_population']:.1e} > {TAIL_TOL:g} "
                            f"along the trajectory: raise --nmax above {int(row['nmax'])}"))
    if not row["trace_error"] <= STATE_TOL:
        out.append(("trace", f"|tr rho - 1| = {row['trace_error']:.1e} > {STATE_TOL:g}"))
    if not abs(row["grid_norm_error"]) <= GRID_NORM_TOL:
        out.append(("grid", f"Husimi grid normalisation error {row['grid_norm_error']:.1e}: "
                            "raise --nmax (the grid grows with it)"))
    if not abs(row["identity_residual"]) <= 1e-6:
        out.append(("identity", f"dS/dt - (Pi_U + Pi_J - Phi) = {row['identity_residual']:.1e} "
                                "x Phi: the Husimi grid does not resolve this state"))
    if not row["slow_residual"] <= SLOW_TOL:
        out.append(("slow", f"slow-mode fit residual {row['slow_residual']:.1e} > {SLOW_TOL:g} "
                            "at t_switch: the long-time propagation is not accurate"))
    return out


def auto_times(t_end: float, T: int) -> np.ndarray:
    """``T`` save times from 0 to ``t_end``: linear up to 50, else 0 followed by a log grid
    from 0.05 (so both the fast transient and the slow tunnelling are seen)."""
    if t_end <= 50.0:
        return np.linspace(0.0, t_end, T)
    return np.concatenate([[0.0], np.geomspace(0.05, t_end, T - 1)])


def quench_nmax(N: float, eps_values: Sequence[float], kappa: float, delta: float, u: float,
                nmax_step: int = 8) -> int:
    """Truncation for quenches at size ``N`` between the pumps ``eps_values``: the NESS
    truncation of the largest pump (:func:`~jaxent.models.kerr.choose_nmax`, itself a rigorous
    tail bound with margin) with 10 % headroom for the transient, rounded up to ``nmax_step``.
    The trajectory's Fock tail is checked at every save time (``tail_population``)."""
    base = nmax_for_points(N, eps_values, kappa, delta, u, nmax_step=1)
    step = max(1, int(nmax_step))
    return int(step * math.ceil(1.1 * base / step))


@functools.partial(jax.jit, static_argnums=0)
def _gaps(nmax: int, eps_f, N, kappa, delta, u):
    # module level, parameters traced: one compilation per (nmax, number of pumps), shared by
    # every size and every later sweep of the process (a jit defined per call, with N baked
    # in, compiled for each size and each call: 4.4 s apiece at nmax 40)
    def gap(e):
        model = Kerr(eps=e, N=N, kappa=kappa, delta=delta, u=u)
        return liouvillian_spectrum(kerr_lindbladian(model, nmax), 2, method="arnoldi",
                                    condition=False).gap

    return jax.vmap(gap)(eps_f)


def relaxation_times(N: float, eps_f: ArrayLike, kappa: float, delta: float, u: float,
                     nmax: int) -> np.ndarray:
    """``30 / gap`` of the Liouvillian at each ``eps_f`` (at least 20): the time by which any
    quench to it has relaxed to $e^{-30}$ of its initial distance from the NESS."""
    eps_f = jnp.asarray(np.asarray(eps_f, float))
    g = np.asarray(_gaps(int(nmax), eps_f, *(jnp.asarray(float(x)) for x in (N, kappa, delta, u))))
    return np.maximum(30.0 / np.maximum(g, 1e-300), 20.0)


def make_study(T: int, nmax: int | None = None, nmax_step: int = 8) -> Study:
    """The quench :class:`~jaxent.sweep.Study` with ``T`` save times per quench; a point's
    times are ``point["t"]`` (a sequence) or :func:`auto_times` of ``point["t_end"]``."""

    def assign_static(points):
        statics: list[tuple[int, int | None, int] | None] = [None] * len(points)
        for (N, kappa, delta, u), idx in group_by_model(points).items():
            eps = [points[i]["eps_i"] for i in idx] + [points[i]["eps_f"] for i in idx]
            nm = nmax if nmax is not None else quench_nmax(N, eps, kappa, delta, u, nmax_step)
            K = series_length(N, eps, kappa, delta, u)
            for i in idx:
                statics[i] = (int(nm), K, T)
        return statics

    def series_values(p, static):
        if "t_end" in p:
            return auto_times(float(p["t_end"]), T)
        return np.asarray(p["t_values"], float)

    return Study(
        name="quench", params=QUENCH_PARAMS, outputs=QUENCH_OUTPUTS,
        diagnostics=QUENCH_DIAGNOSTICS, point=_point, assign_static=assign_static,
        checks=_checks, static_names=("nmax",), static_columns=lambda st: {"nmax": st[0]},
        describe=lambda st: f"nmax={st[0]}", series="t", series_values=series_values,
        constants=_grid_of, sequential=True)  # adaptive ODE + Arnoldi: 2x faster point by point


def quench_sweep(N_values: ArrayLike, eps_i: ArrayLike, eps_f: ArrayLike,
                 out_csv, *, t_values: ArrayLike | None = None, t_auto: int | None = None,
                 kappa: float = 0.5, delta: float = -2.0, u: float = 1.0, chunk: int = 4,
                 nmax: int | None = None, nmax_step: int = 8, recompute_flagged: bool = False,
                 progress: bool = True) -> SweepResult:
    """Every quench ``eps_i -> eps_f`` at every ``N`` into ``out_csv`` (resumable, one row per
    save time). Give either ``t_values`` (the same save times for every quench) or ``t_auto``
    (that many save times out to full relaxation, per ``(N, eps_f)``).
    Bad input raises ``ValueError`` naming the parameter."""
    N_values, pumps = check_sweep_inputs(N_values, kappa, delta, u, eps_i=eps_i, eps_f=eps_f)
    eps_i, eps_f = pumps["eps_i"], pumps["eps_f"]
    if (t_values is None) == (t_auto is None):
        raise ValueError("t: give either explicit save times or auto")
    if t_values is not None:
        t_values = np.asarray(t_values, float)
        if t_values.ndim != 1 or t_values.size < 1 or not np.all(np.isfinite(t_values)):
            raise ValueError(f"t: save times must be finite numbers, got {t_values}")
        if np.any(t_values < 0) or np.any(np.diff(t_values) <= 0):
            raise ValueError("t: save times must be >= 0 and strictly increasing")
        T = int(t_values.size)
    else:
        assert t_auto is not None  # exactly one of t_values, t_auto is given (checked above)
        T = int(t_auto)
        if T < 3:
            raise ValueError(f"t: auto needs at least 3 save times, got {T}")
    study = make_study(T, nmax=nmax, nmax_step=nmax_step)
    points = []
    for N in N_values:
        base = dict(N=N, kappa=float(kappa), delta=float(delta), u=float(u))
        pts: list[dict[str, Any]] = [dict(base, eps_i=ei, eps_f=ef) for ei in eps_i
                                     for ef in eps_f]
        if t_auto is not None:
            (nm, _, _), = {tuple(s) for s in study.assign_static(pts)}
            t_end = dict(zip(eps_f, relaxation_times(N, eps_f, kappa, delta, u, nm)))
            for p in pts:
                p["t_end"] = float(t_end[p["eps_f"]])
        else:
            for p in pts:
                p["t_values"] = t_values
        points.extend(pts)
    return run_sweep(study, points, out_csv, chunk=chunk, recompute_flagged=recompute_flagged,
                     progress=progress)
