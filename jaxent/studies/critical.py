r"""Critical points of the Kerr and Dicke models from exact derivatives, extrapolated to N -> inf.

Kerr [GFL20, Fig. 2(d)]; [GFL-quench, Sec. II]: at finite N the first-order switch between the
dim and bright branches is smooth, and each observable's sharpest feature defines a pseudo-
critical pump $\epsilon^*(N)$ that tends to $\epsilon_c$ as $N\to\infty$:

- ``"Pi_d"``: the maximum of $\Pi_d/N$, through the NESS (exact derivatives of
  :func:`~jaxent.studies.kerr.kerr_point`; sizes up to a few tens).
- ``"susceptibility"``: the maximum of $\chi = \partial(\langle n\rangle/N)/\partial\epsilon$,
  from the exact moments [GFL-quench, Eq. (6)] (:func:`~jaxent.models.kerr.kerr_exact_moments`),
  which equal the NESS ones and reach N in the thousands.

Each is located by Newton's method on $f'$ (:func:`jaxent.critical.newton_extremum`), vmapped
over the sizes that share a truncation, and :func:`jaxent.critical.extrapolate` takes
$\epsilon^*(N)$ to $\epsilon_c$ with an error bar.

Dicke [GFL20, Sec. V, App. C]: $\Pi_d$ of the Gaussian model diverges where the normal-phase
drift matrix loses stability, $\lambda_*(\gamma) = \lambda_c\sqrt{1 + \gamma^2/\omega_0^2}$
(:func:`~jaxent.models.dicke.normal_phase_instability`), which tends to the analytic $\lambda_c$
as $\gamma\to 0$. It is located as the root of $1/\Pi_d$ on the normal branch
(:func:`jaxent.critical.newton_root`), and the exponent of $\Pi_d \sim |\lambda - \lambda_c|^{\nu}$
($\nu = -1$, [GFL20, Eq. (13)]) is fitted by optimistix least squares.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from jaxent.critical import (
    Stationary,
    batched_derivatives,
    newton_extremum,
    newton_root,
    zoom_scan,
)
from jaxent.lindblad.spectrum import liouvillian_spectrum
from jaxent.models.kerr import Kerr, choose_nmax, kerr_exact_moments, kerr_lindbladian
from jaxent.studies.kerr import (
    check_sweep_inputs,
    kerr_grid,
    kerr_point,
    nmax_for_points,
    series_length,
)

#: Columns of ``critical.csv`` (the names are part of the interface), then diagnostics: at a
#: finite size the derivative and curvature at the point, Newton's last step and the shift
#: under nmax/grid refinement (NaN where not applicable); for ``N = inf`` the fit order.
CRITICAL_COLUMNS = ("model", "definition", "N", "value", "stderr")
CRITICAL_DIAGNOSTICS = ("grad", "curvature", "newton_step", "refinement_shift", "converged",
                        "fit_order")

#: Pump interval searched for the Kerr switch (defaults: the mean-field bistability window is
#: 0.701..1.166, eps_c ~ 0.933).
KERR_BRACKET = (0.8, 1.1)


def _series_length_for(N_values, lower, upper, kappa, delta, u) -> int:
    """One exact-moment series length for every size over the bracket
    (:func:`~jaxent.studies.kerr.series_length` per size, the longest)."""
    Ks = [series_length(N, [lower, upper], kappa, delta, u) for N in N_values]
    known = [K for K in Ks if K is not None]
    if len(known) < len(Ks):
        raise ValueError(f"N up to {max(N_values):g}, u={u:g}: the exact-moment series needs too "
                         "many terms (sizes too large, or too weak a nonlinearity to have a "
                         "switch); use smaller N or a larger u")
    return max(known)


def _stationary_rows(st: Stationary, N_values) -> dict[str, np.ndarray]:
    out = {"N": np.asarray(N_values, float)}
    for name in ("x", "value", "grad", "curvature", "step", "num_steps", "success"):
        out[name] = np.asarray(getattr(st, name))
    return out


def susceptibility_peak(N_values: ArrayLike, *, kappa: float = 0.5, delta: float = -2.0,
                        u: float = 1.0, bracket: tuple[float, float] = KERR_BRACKET,
                        xtol: float = 1e-11) -> dict[str, np.ndarray]:
    r"""$\epsilon^*(N)$ of the maximum of $\chi = \partial(\langle n\rangle/N)/\partial\epsilon$
    from the exact Kerr moments [GFL-quench, Eq. (6)], for every size (N up to ~10^4).

    The peak sharpens as $N$ (height $\sim N$, width $\sim 1/N$), so each size is bracketed by a
    zooming scan of $\chi$ (one vmapped call per level) before Newton on $\chi'$ with $\chi''$
    from ``jax`` (third derivatives of the series). Returns arrays ``N, x`` (= $\epsilon^*$),
    ``value`` ($\chi$ at the peak), ``grad``, ``curvature``, ``step`` (accuracy in $\epsilon$),
    ``num_steps``, ``success``.
    """
    N_values = np.asarray(N_values, float)
    K = _series_length_for(N_values, *bracket, kappa, delta, u)

    def chi(eps, N):
        n = lambda e: kerr_exact_moments(Kerr(eps=e, N=N, kappa=kappa, delta=delta, u=u), K).n
        return jax.grad(n)(eps) / N

    chi_grid = jax.jit(jax.vmap(chi, in_axes=(0, None)))
    starts, los, his = [], [], []
    for N in N_values:
        best, lo, hi = zoom_scan(lambda xs, N=N: chi_grid(jnp.asarray(xs), N), *bracket,
                                 width=0.02 / N)
        starts.append(best)
        los.append(lo)
        his.append(hi)
    # the zoom brackets are tight (a few 1e-3/N): widen them so Newton's result is interior
    los, his = np.asarray(los), np.asarray(his)
    w = his - los
    st = newton_extremum(chi, starts, N_values, lower=los - w, upper=his + w, xtol=xtol)
    return _stationary_rows(st, N_values)


def pi_d_peak(N_values: ArrayLike, *, kappa: float = 0.5, delta: float = -2.0,
              u: float = 1.0, nmax: int | None = None, nmax_step: int = 32,
              bracket: tuple[float, float] = KERR_BRACKET, xtol: float = 1e-10,
              refine: int = 32, starts: ArrayLike | None = None) -> dict[str, np.ndarray]:
    r"""$\epsilon^*(N)$ of the maximum of $\Pi_d/N$ [GFL20, Eq. (8), Fig. 2(d)] through the
    Kerr NESS.

    Newton on $\partial_\epsilon(\Pi_d/N)$ with the second derivative from forward-over-reverse
    differentiation of the exact steady state (:func:`~jaxent.studies.kerr.kerr_point`), all
    sizes in one ``jax.vmap`` at one truncation (``nmax``: the largest
    :func:`~jaxent.models.kerr.choose_nmax` over sizes and bracket, rounded up to
    ``nmax_step``): one compilation for the whole search.

    Start: the susceptibility peak (``starts``; default :func:`susceptibility_peak`, cheap),
    which lies within a small fraction of the $\Pi_d$ peak width (~0.1 at N = 10, shrinking with
    N); steps are limited to $0.5/N$ and iterates to $\pm 2/N$ around the start, and a point
    that is not a maximum is reported as ``success = False``.

    Accuracy: besides Newton's last step, the derivatives are re-evaluated at the result with
    ``refine`` more Fock levels (and the default grid of that truncation);
    ``refinement_shift`` $= |\Delta f'/f''|$ is how far that moves the peak.

    Returns arrays ``N, x, value, grad, curvature, step, num_steps, success, nmax,
    refinement_shift``.
    """
    N_values = np.asarray(N_values, float)
    if starts is None:
        starts = susceptibility_peak(N_values, kappa=kappa, delta=delta, u=u, bracket=bracket)["x"]
    starts = np.asarray(starts, float)
    K = _series_length_for(N_values, *bracket, kappa, delta, u)
    if nmax is None:
        est = max(choose_nmax(Kerr(eps=e, N=N, kappa=kappa, delta=delta, u=u))
                  for N in N_values for e in np.linspace(*bracket, 5))
        nmax = int(nmax_step * math.ceil(est / nmax_step))
    f = _pi_d_function(int(nmax), K, kappa, delta, u)
    # the Husimi grid enters the program as an argument (shared by all sizes), not as ~1 MB of
    # constants compiled into it and into the persistent compilation cache
    st = newton_extremum(f, starts, N_values, lower=starts - 2.0 / N_values,
                         upper=starts + 2.0 / N_values, xtol=xtol, trust=0.5 / N_values,
                         shared=kerr_grid(int(nmax)))
    f_ref = _pi_d_function(int(nmax) + refine, K, kappa, delta, u)
    _, g_ref, _ = batched_derivatives(f_ref)(jnp.asarray(st.x), jnp.asarray(N_values),
                                             jnp.ones(len(N_values), bool),
                                             kerr_grid(int(nmax) + refine))
    out = _stationary_rows(st, N_values)
    out["nmax"] = np.full(len(N_values), float(nmax))
    out["refinement_shift"] = np.abs((np.asarray(g_ref) - out["grad"]) / out["curvature"])
    return out


@functools.lru_cache(maxsize=16)
def _pi_d_function(nmax, K, kappa, delta, u):
    # cached: the same function object for the same truncation and parameters, so that the
    # derivative programs of a repeated search are reused (batched_derivatives)
    def f(eps, N, grid):
        model = Kerr(eps=eps, N=N, kappa=kappa, delta=delta, u=u)
        return kerr_point(model, nmax, grid, n_terms=K, check=False)["Pi_d"] / N
    return f


#: Arnoldi steps for the gap alone (``k = 1``).
GAP_KRYLOV = 12
#: :func:`gap_minimum` trusts a size whose gap is resolved to this relative accuracy.
GAP_MAX_REL_RESOLUTION = 1e-4


@functools.lru_cache(maxsize=16)
def _log_gap_function(nmax: int, kappa, delta, u):
    @jax.jit
    def f(eps, N):
        model = Kerr(eps=eps, N=N, kappa=kappa, delta=delta, u=u)
        # the slow mode dominates L^{-1} by orders of magnitude: a short Krylov space suffices
        # (its residual is part of the reported resolution)
        spec = liouvillian_spectrum(kerr_lindbladian(model, nmax), 1, method="arnoldi",
                                    krylov=GAP_KRYLOV, condition=False)
        # log gap and its relative backward error: resolution / gap (spectrum module docstring)
        return jnp.log(spec.gap), spec.resolution[0] / spec.gap
    return f


def gap_minimum(N_values: ArrayLike, *, kappa: float = 0.5, delta: float = -2.0,
                u: float = 1.0, nmax: int | None = None, nmax_step: int = 16,
                bracket: tuple[float, float] = KERR_BRACKET,
                refine: int = 16, starts: ArrayLike | None = None,
                max_rel_resolution: float = GAP_MAX_REL_RESOLUTION, max_step: float = 1e-4,
                xtol_gap: float = 1e-7, log=None) -> dict[str, np.ndarray]:
    r"""$\epsilon^*(N)$ of the minimum of the Liouvillian gap $-{\rm Re}\,\lambda_1$
    [GFL-quench, Fig. 3]: the slowest relaxation, the tunnelling between the dim and bright
    metastable states, is slowest at the switch.

    The gap comes from shift-invert Arnoldi on the banded factorisation
    (:func:`~jaxent.lindblad.spectrum.liouvillian_spectrum`), which has no derivative rule, so
    the minimum of $\log$ gap is located derivative-free by successive parabolas
    (:func:`jaxent.critical.parabola_extremum`, start: the susceptibility peak, first spacing
    $0.05/N$), with each value's accuracy ``resolution / gap``. The gap closes like
    $e^{-cN}$: at N = 40 it is ~4e-13, comparable to its float64 resolution
    $\epsilon_{\rm mach}\|\mathcal L\|$, so the noise-limited accuracy of the vertex grows with N.
    A size whose gap at the minimum is resolved worse than ``max_rel_resolution`` (relative),
    or whose vertex is not accurate to ``max_step``, is reported with ``success = False``.

    Truncation: per size, :func:`~jaxent.studies.kerr.nmax_for_points` over the bracket (rounded
    to ``nmax_step``), or ``nmax``; ``refinement_shift`` is the move of the vertex when the last
    stencil is re-evaluated with ``refine`` more Fock levels.

    Returns arrays ``N, x, value`` (the gap), ``grad`` (NaN: the point is a fitted vertex, not
    a Newton iterate), ``curvature`` (of $\log$ gap), ``step`` (accuracy in $\epsilon$: the
    largest of the last vertex move, its noise limit and ``refinement_shift``), ``num_steps``
    (gap evaluations), ``success``, ``nmax``, ``rel_resolution`` (the largest
    ``resolution / gap`` on the last stencil; NaN where no minimum was bracketed),
    ``refinement_shift``. ``log``: a callable given one line per size as it is done (the
    sizes run one after the other, each with its own truncation and compilation).
    """
    from jaxent.critical import parabola_extremum

    N_values = np.asarray(N_values, float)
    if starts is None:
        starts = susceptibility_peak(N_values, kappa=kappa, delta=delta, u=u, bracket=bracket)["x"]
    cols = {k: [] for k in ("x", "value", "grad", "curvature", "step", "num_steps", "success",
                            "nmax", "rel_resolution", "refinement_shift")}
    for i, (N, x0) in enumerate(zip(N_values, np.asarray(starts, float))):
        nm = int(nmax) if nmax is not None else nmax_for_points(N, bracket, kappa, delta, u,
                                                                nmax_step)
        f = _log_gap_function(nm, kappa, delta, u)

        def values(xs, f=f, N=N):
            out = [f(jnp.asarray(x), jnp.asarray(N)) for x in xs]
            return np.array([float(v) for v, _ in out]), np.array([float(s) for _, s in out])

        r = parabola_extremum(values, float(x0), 0.05 / N, lower=bracket[0], upper=bracket[1],
                              kind="min", xtol=xtol_gap)
        evals = r["evals"]
        if r["stencil"] is None:  # no parabola at the end (no interior minimum bracketed)
            shift, rel = math.nan, math.nan
        else:  # the last stencil again with more Fock levels: how far the vertex moves
            f_ref = _log_gap_function(nm + int(refine), kappa, delta, u)
            t = np.arange(-2.0, 3.0)
            v1, _ = values(r["stencil"], f=f_ref)
            evals += len(t)
            b0, b1 = (np.polyfit(t, v, 2) for v in (r["stencil_values"], v1))
            shift = abs(b1[1] / (2 * b1[0]) - b0[1] / (2 * b0[0])) * r["h"]
            rel = float(np.max(r["stencil_sigma"]))
        step = max(r["step"], shift) if math.isfinite(shift) else math.inf
        cols["x"].append(r["x"])
        cols["value"].append(math.exp(r["value"]))
        cols["grad"].append(math.nan)
        cols["curvature"].append(r["curvature"])
        cols["step"].append(step)
        cols["num_steps"].append(evals)
        cols["success"].append(bool(r["success"] and rel <= max_rel_resolution
                                    and step <= max_step))
        cols["nmax"].append(nm)
        cols["rel_resolution"].append(rel)
        cols["refinement_shift"].append(shift)
        if log is not None:
            log(f"  N = {N:g} (nmax {nm}): eps* = {r['x']:.7f}, gap {math.exp(r['value']):.2e} "
                f"resolved to {rel:.0e} ({i + 1}/{len(N_values)})")
    out = {"N": N_values}
    out.update({k: np.asarray(v, bool if k == "success" else float) for k, v in cols.items()})
    return out


# ----------------------------------------------------------------------------------------------
# Dicke


def dicke_instability(gammas: ArrayLike, *, omega0: float = 0.005, omega: float = 0.01,
                      kappa: float = 1.0, bracket: tuple[float, float] = (0.05, 2.0),
                      xtol: float = 1e-14) -> dict[str, np.ndarray]:
    r"""$\lambda_*(\gamma)$: where $\Pi_d$ of the Gaussian Dicke model diverges, for each ``gamma``.

    The root of $1/\Pi_d$ on the normal branch (:func:`~jaxent.models.dicke.normal_branch_pi_d`)
    by Newton's method with exact derivatives, started from the last finite point of a
    64-point scan of ``bracket`` (past $\lambda_*$ there is no steady state). The analytic
    values, $\lambda_c = \frac12\sqrt{\omega_0(\kappa^2+\omega^2)/\omega}$ [GFL20, App. C] and
    $\lambda_* = \lambda_c\sqrt{1+\gamma^2/\omega_0^2}$, are returned alongside for comparison
    (they are not used). Returns arrays ``gamma, x`` ($\lambda_*$), ``value`` ($1/\Pi_d$ there),
    ``step``, ``success``, ``lam_c``, ``lam_star_analytic``.
    """
    from jaxent.models.dicke import (
        Dicke,
        dicke_critical_coupling,
        normal_branch_pi_d,
        normal_phase_instability,
    )

    gammas = np.asarray(gammas, float)
    if gammas.ndim != 1 or not np.all(gammas > 0):
        raise ValueError(f"gamma values must be positive, got {gammas}")

    def inv_pi_d(lam, g):
        return 1.0 / normal_branch_pi_d(Dicke(lam, omega0, omega, kappa, g))

    grid = np.linspace(*bracket, 64)
    scan = jax.jit(jax.vmap(jax.vmap(inv_pi_d, in_axes=(0, None)), in_axes=(None, 0)))
    vals = np.asarray(scan(jnp.asarray(grid), jnp.asarray(gammas)))
    ok = np.isfinite(vals) & (vals > 0)
    if not ok[:, 0].all():
        raise ValueError(f"no steady state at lam = {bracket[0]:g}: lower the bracket")
    last = np.argmin(ok, axis=1) - 1  # the last finite point before the instability
    last = np.where(ok.all(axis=1), -1, last)
    if np.any(last < 0):
        raise ValueError(f"Pi_d does not diverge in lam in {bracket}: widen the bracket")
    x0 = grid[last]
    st = newton_root(inv_pi_d, x0, gammas, lower=x0, upper=grid[last + 1], xtol=xtol)
    out = {"gamma": gammas, "x": st.x, "value": st.value, "step": st.step,
           "success": st.success}
    out["lam_c"] = np.full(len(gammas), float(dicke_critical_coupling(omega0, omega, kappa)))
    out["lam_star_analytic"] = np.asarray(normal_phase_instability(omega0, omega, kappa, gammas))
    return out


def dicke_exponent(gamma: float = 1e-6, *, omega0: float = 0.005, omega: float = 0.01,
                   kappa: float = 1.0, window: tuple[float, float] = (1e-5, 1e-2),
                   points: int = 31,
                   lam_star: float | None = None) -> dict[str, float | np.ndarray]:
    r"""The exponent $\nu$ of $\Pi_d \propto |\lambda - \lambda_*|^{\nu}$ below the transition
    ($\nu = -1$ [GFL20, Eq. (13)]), with an error bar.

    $\lambda_*$ is located first (:func:`dicke_instability`, unless given); $\Pi_d$ of the NESS
    (:func:`~jaxent.models.dicke.dicke_point`, normal phase) is evaluated at ``points``
    distances $x = 1 - \lambda/\lambda_*$ log-spaced over ``window``, and
    $\log\Pi_d = c + \nu\log x + d\,x$ (the last term absorbs the analytic correction to the
    power law) is fitted by Levenberg-Marquardt (optimistix, Jacobian from ``jax``).
    ``stat_err``: the covariance error with the residual variance; ``window_err``: the largest
    change of $\nu$ when fitting only the lower or the upper half of the window;
    ``stderr = hypot(stat_err, window_err)``. Returns ``nu, stderr, stat_err, window_err, c, d,
    lam_star, rms_residual`` and the data ``x``, ``log_pi_d``.
    """
    import optimistix as optx

    from jaxent.models.dicke import Dicke, dicke_point

    lo, hi = window
    if not (0 < lo < hi < 1):
        raise ValueError(f"window must satisfy 0 < lo < hi < 1, got {window}")
    if points < 8:
        raise ValueError(f"points must be >= 8 for a 3-parameter fit and its halves, got {points}")
    if lam_star is None:
        lam_star = float(dicke_instability([gamma], omega0=omega0, omega=omega,
                                           kappa=kappa)["x"][0])
    x = np.geomspace(lo, hi, points)
    lam = lam_star * (1.0 - x)
    pd = jax.vmap(lambda lm: dicke_point(Dicke(lm, omega0, omega, kappa, gamma))["Pi_d"])(
        jnp.asarray(lam))
    y = np.log(np.asarray(pd))

    X, Y, xs = jnp.asarray(np.log(x)), jnp.asarray(y), jnp.asarray(x)

    def resid(p, mask):
        return (p[0] + p[1] * X + p[2] * xs - Y) * mask

    solve = jax.jit(lambda p0, mask: optx.least_squares(
        resid, optx.LevenbergMarquardt(rtol=1e-12, atol=1e-12), p0, mask, max_steps=200).value)

    def fit(mask):
        # a mask, not a subset, so the whole window and its halves share one compilation
        p = solve(jnp.array([y[0], -1.0, 0.0]), jnp.asarray(mask))
        J = np.asarray(jax.jacfwd(resid)(p, jnp.asarray(mask)))
        r = np.asarray(resid(p, jnp.asarray(mask)))
        dof = int(mask.sum()) - 3
        cov = np.linalg.inv(J.T @ J) * (r @ r) / dof
        return np.asarray(p), math.sqrt(cov[1, 1]), float(np.sqrt((r @ r) / mask.sum()))

    half = points // 2
    idx = np.arange(points)
    p, se, rms = fit(np.ones(points))
    nus = [fit((idx <= half).astype(float))[0][1], fit((idx >= half).astype(float))[0][1]]
    werr = max(abs(n - p[1]) for n in nus)
    return {"nu": float(p[1]), "stderr": float(math.hypot(se, werr)), "stat_err": float(se),
            "window_err": float(werr), "c": float(p[0]), "d": float(p[2]),
            "lam_star": lam_star, "rms_residual": rms, "x": x, "log_pi_d": y}


# ----------------------------------------------------------------------------------------------
# assembled studies (the rows of critical.csv)

#: Sizes of the exact-moment susceptibility cross-check (far beyond the NESS sizes).
LARGE_N = (40, 80, 160, 320, 640, 1280, 2560)


def _accuracy(r: dict) -> np.ndarray:
    acc = np.asarray(r["step"], float)
    if "refinement_shift" in r:
        acc = np.maximum(acc, r["refinement_shift"])
    return acc


#: The finite-size definitions of :func:`kerr_critical`.
KERR_DEFINITIONS = ("susceptibility", "Pi_d", "gap")


def kerr_critical(N_values: ArrayLike, *,
                  large_N: Sequence[float] | np.ndarray | None = LARGE_N,
                  kappa: float = 0.5, delta: float = -2.0, u: float = 1.0,
                  nmax: int | None = None, definitions: Sequence[str] = KERR_DEFINITIONS,
                  log=print) -> dict:
    r"""Kerr pseudo-critical pumps and their extrapolation to $N\to\infty$.

    Definitions (``definitions``, a subset of :data:`KERR_DEFINITIONS`): ``"Pi_d"``
    (:func:`pi_d_peak`, through the NESS), ``"susceptibility"`` (:func:`susceptibility_peak`,
    exact moments) and ``"gap"`` (:func:`gap_minimum`, Liouvillian spectrum; sizes whose gap
    float64 cannot resolve are reported unconverged) at ``N_values``; and, as an independent
    cross-check, ``"susceptibility_large_N"`` at ``large_N`` (exact moments only). Each is
    extrapolated by :func:`jaxent.critical.extrapolate`. Returns ``{"rows": [...],
    "peaks": {definition: arrays}, "fits": {definition: Extrapolation}, "consistent": bool,
    "failed": [...]}``; rows are dicts with :data:`CRITICAL_COLUMNS` (``N = inf`` for the
    extrapolated values; ``stderr`` of a finite size is its numerical accuracy). ``log``
    receives one line per stage.
    """
    from jaxent.critical import extrapolate

    N_values = np.unique(np.asarray(N_values, float))
    if N_values.size < 3 or not np.all(np.isfinite(N_values)) or np.any(N_values < 1):
        raise ValueError(f"N: need at least 3 distinct sizes >= 1 to extrapolate, got {N_values}")
    check_sweep_inputs(N_values, kappa, delta, u)
    definitions = tuple(definitions)
    unknown = sorted(set(definitions) - set(KERR_DEFINITIONS))
    if unknown or not definitions:
        raise ValueError(f"definitions: choose from {KERR_DEFINITIONS}, got {list(definitions)}")
    peaks = {}
    log(f"susceptibility peaks (exact moments) at N = {N_values.astype(int).tolist()}")
    susc = susceptibility_peak(N_values, kappa=kappa, delta=delta, u=u)
    if "susceptibility" in definitions:
        peaks["susceptibility"] = susc
    if "Pi_d" in definitions:
        log("Pi_d/N peaks (Newton through the NESS, forward-over-reverse derivatives)")
        peaks["Pi_d"] = pi_d_peak(N_values, kappa=kappa, delta=delta, u=u, nmax=nmax,
                                  starts=susc["x"])
    if "gap" in definitions:
        log("Liouvillian-gap minima (shift-invert Arnoldi, successive parabolas)")
        peaks["gap"] = gap_minimum(N_values, kappa=kappa, delta=delta, u=u, nmax=nmax,
                                   starts=susc["x"], log=log)
    if large_N is not None and len(large_N):
        big = np.unique(np.asarray(large_N, float))
        log(f"susceptibility peaks (exact moments) at N = {big.astype(int).tolist()}")
        peaks["susceptibility_large_N"] = susceptibility_peak(big, kappa=kappa, delta=delta, u=u)
    rows, fits, failed = [], {}, []
    for name, r in peaks.items():
        acc = _accuracy(r)
        shift = r.get("refinement_shift", np.full(len(r["N"]), np.nan))
        for i, (N, x, a, ok) in enumerate(zip(r["N"], r["x"], acc, r["success"])):
            rows.append({"model": "kerr", "definition": name, "N": float(N), "value": float(x),
                         "stderr": float(a), "grad": float(r["grad"][i]),
                         "curvature": float(r["curvature"][i]), "newton_step": float(r["step"][i]),
                         "refinement_shift": float(shift[i]), "converged": float(ok),
                         "fit_order": math.nan})
            if not ok:
                why = ""
                if name == "gap" and math.isnan(r["rel_resolution"][i]):
                    why = " (no interior minimum bracketed)"
                elif name == "gap" and r["rel_resolution"][i] > GAP_MAX_REL_RESOLUTION:
                    why = f" (gap {r['value'][i]:.1e} resolved to {r['rel_resolution'][i]:.0e})"
                failed.append(f"{name} at N={N:g}{why}")
        good = np.asarray(r["success"], bool)
        if good.sum() >= 3:
            fits[name] = extrapolate(r["N"][good], r["x"][good])
            e = fits[name]
            rows.append({"model": "kerr", "definition": name, "N": math.inf, "value": e.value,
                         "stderr": e.stderr, "fit_order": float(e.order)})
            log(f"  {name:24s} eps_c = {e.value:.7f} +- {e.stderr:.1e} (order {e.order}; "
                f"jackknife inside: {e.jackknife_inside})")
    names = list(fits)
    consistent = all(abs(fits[a].value - fits[b].value)
                     <= math.hypot(fits[a].stderr, fits[b].stderr)
                     for i, a in enumerate(names) for b in names[i + 1:])
    return {"rows": rows, "peaks": peaks, "fits": fits, "consistent": consistent,
            "failed": failed}


#: Stabilising losses for the Dicke gamma -> 0 limit.
DICKE_GAMMAS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def dicke_critical(*, gammas: ArrayLike = DICKE_GAMMAS, omega0: float = 0.005,
                   omega: float = 0.01, kappa: float = 1.0, log=print) -> dict:
    r"""Dicke critical coupling from the divergence of $\Pi_d$ and its exponent.

    Rows: ``lambda_star(gamma=g)`` for each ``g`` (:func:`dicke_instability`; stderr: Newton's
    last step), ``lambda_c`` ($\lambda_*(\gamma)$ for $\gamma < \omega_0$ extrapolated to
    $\gamma\to 0$ as a polynomial in $\gamma^2$ by :func:`jaxent.critical.extrapolate`) and
    ``exponent``
    (:func:`dicke_exponent` at the smallest gamma). ``N = inf`` throughout (the Gaussian model
    is the thermodynamic limit). Returns ``{"rows", "instability", "exponent"}``.
    """
    gammas = np.sort(np.asarray(gammas, float))[::-1]
    if gammas.size < 2:
        raise ValueError(f"gamma: need at least 2 values for the gamma -> 0 limit, got {gammas}")
    log(f"lambda_*(gamma): roots of 1/Pi_d for gamma = {gammas.tolist()}")
    inst = dicke_instability(gammas, omega0=omega0, omega=omega, kappa=kappa)
    rows = [{"model": "dicke", "definition": f"lambda_star(gamma={g:g})", "N": math.inf,
             "value": float(x), "stderr": float(s)}
            for g, x, s in zip(inst["gamma"], inst["x"], inst["step"])]
    # lambda_*(gamma) = lambda_c + c_1 gamma^2 + c_2 gamma^4 + ... for gamma < omega_0: the same
    # polynomial extrapolation as in 1/N, with N -> 1/gamma^2
    small = inst["success"] & (inst["gamma"] < omega0)
    if small.sum() >= 3:
        from jaxent.critical import extrapolate

        e = extrapolate(1.0 / inst["gamma"][small] ** 2, inst["x"][small])
        lam_c, err = e.value, max(e.stderr, float(np.max(inst["step"][small])))
    else:  # too few gammas: the smallest one, with its change from the next as the error
        lam_c = float(inst["x"][-1])
        err = max(abs(float(inst["x"][-1] - inst["x"][-2])), float(inst["step"][-1]))
    rows.append({"model": "dicke", "definition": "lambda_c", "N": math.inf, "value": lam_c,
                 "stderr": err})
    log(f"  lambda_c = {lam_c:.10f} +- {err:.1e} (analytic {inst['lam_c'][0]:.10f})")
    log(f"exponent of Pi_d ~ |lambda - lambda_*|^nu at gamma = {gammas[-1]:g}")
    ex = dicke_exponent(float(gammas[-1]), omega0=omega0, omega=omega, kappa=kappa,
                        lam_star=float(inst["x"][-1]))
    rows.append({"model": "dicke", "definition": "exponent", "N": math.inf, "value": ex["nu"],
                 "stderr": ex["stderr"]})
    log(f"  nu = {ex['nu']:.7f} +- {ex['stderr']:.1e}")
    return {"rows": rows, "instability": inst, "exponent": ex, "omega0": omega0}
