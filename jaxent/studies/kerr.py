r"""The Kerr NESS entropy-production study: point function, truncation per group, checks.

Data flow: :class:`~jaxent.models.kerr.Kerr` -> :func:`~jaxent.models.kerr.kerr_ness` (the exact
Fock-basis state; the banded solver where there is no series) -> polar Husimi grid ->
:func:`~jaxent.entropy.wehrl.photon_loss_terms` -> one row per ``(N, eps, kappa, delta, u)``.

Every parameter is traced, so a sweep compiles once per distinct static pair (truncation
``nmax``, exact-moment series length), never per parameter value. Each size ``N`` needs its own
``nmax`` (rounded up to a multiple of ``nmax_step``); sizes are then padded up to a few shared
truncations, the shape classes of :func:`~jaxent.sweep.shape_classes` that minimise the
estimated compile + run time of the sweep.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from jaxent.entropy.wehrl import photon_loss_terms
from jaxent.models.kerr import (
    MARGIN,
    SIGMAS,
    Kerr,
    choose_nmax,
    kerr_exact_moments,
    kerr_hamiltonian,
    kerr_ness,
    mean_field_photons,
    series_terms,
)
from jaxent.phase_space.grid import polar_grid
from jaxent.resources import (
    available_memory_bytes,
    banded_memory_bytes,
    exact_state_memory_bytes,
    fits_in_memory,
    format_bytes,
)
from jaxent.sweep import Study, SweepResult, run_sweep, shape_classes
from jaxent.tolerances import (
    EXACT_MOMENT_TOL,
    GRID_NORM_TOL,
    IDENTITY_TOL,
    RESOLVE_TOL,
    SERIES_TOL,
    TAIL_TOL,
)

#: Physics columns (the names are part of the interface).
KERR_OUTPUTS = ("alpha_re", "alpha_im", "n_photons", "S_wehrl", "Phi", "Phi_q", "Pi_ext",
                "Pi_J", "Pi_d", "Pi_U")
#: Error-control columns, so a reader can check every row after the fact.
KERR_DIAGNOSTICS = ("ness_identity_residual", "tail_population", "grid_norm_error",
                    "exact_moment_error", "error_estimate", "gap_estimate", "pinned")
KERR_KEY = ["N", "eps", "kappa", "delta", "u"]
KERR_COLUMNS = KERR_KEY + ["nmax"] + list(KERR_OUTPUTS) + list(KERR_DIAGNOSTICS)

#: Cost model of a sweep group on a 2-core CPU (jax 0.10.2), measured on chunks of 8 points of
#: ``kerr_point`` (exact state + Wehrl terms). It ranks the shape classes
#: (:func:`~jaxent.sweep.shape_classes`) and labels the progress bar; only ratios matter.
#: Model: one point at ``nmax`` takes ``0.020 (nmax/192)^2`` s (2.2 / 8.9 / 17 / 31 ms at nmax
#: 64 / 128 / 176 / 240), one compilation 1.3 s whatever nmax (the grid's tables are an
#: argument of the program, not constants in it). Measured in December 2026: 4.8 / 15 / 22 / 44 ms
#: per point (the last with a twice longer series), and 2.7-2.9 s per compilation plus
#: 0.8-1.0 s of tracing and lowering, at every nmax. The compilation is modelled at about half
#: its cost because the persistent compilation cache makes it a one-time cost per machine:
#: with 1.3 s the default sweep (N = 10..40, nmax 64..176) compiles two classes, 128 and 176,
#: instead of one, 8.1-8.5 s instead of 10.2-11.9 s with a filled cache and the same
#: 10.6-14.0 s within noise from an empty one (two runs each, measured when a compilation took
#: 1.0-1.6 s).
_SECONDS_AT_192 = 0.020


def _point_seconds(nmax: int) -> float:
    return _SECONDS_AT_192 * (nmax / 192) ** 2


def _compile_seconds(nmax: int) -> float:
    return 1.3


@functools.lru_cache(maxsize=None)
def kerr_grid(nmax: int):
    """The default polar Husimi grid for ``nmax`` (cached; concrete arrays)."""
    # concrete arrays even when first requested inside a trace (the cache outlives it)
    with jax.ensure_compile_time_eval():
        return polar_grid(nmax)


def kerr_point(model: Kerr, nmax: int, grid=None, *, n_terms: int | None = 4096,
               pin="auto", check: bool = True, method: str = "exact") -> dict[str, jax.Array]:
    r"""Every Wehrl entropy term of the Kerr NESS at one parameter point, with diagnostics.

    Returns a dict of scalars: :data:`KERR_OUTPUTS` (``alpha = <a>/sqrt(N)`` [GFL20, below
    Eq. (2)]; the terms of [GFL20, Eqs. (5)-(8)]) and :data:`KERR_DIAGNOSTICS`:
    ``ness_identity_residual = (Pi_U + Pi_J - Phi)/max(|Phi|, 2e-6 kappa)`` (zero in an exact
    NESS [GFL20, Eq. (10)]); ``tail_population`` (Fock truncation); ``grid_norm_error`` (Husimi
    grid); ``exact_moment_error``, the larger deviation of ``<n>`` and ``<a>`` from the exact
    complex-P moments (relative above one photon, absolute below) (a free end-to-end check of
    truncation and solver; NaN without a series, ``n_terms=None``, and NaN, flagged, when
    ``n_terms`` was too short for the series); ``error_estimate``, ``gap_estimate`` and
    ``pinned`` of the steady state (the exact state: its series' last term, NaN, 0).
    ``method``: :data:`~jaxent.models.kerr.NESS_METHODS` (static). ``grid``: the Husimi grid
    (default :func:`kerr_grid`; pass it as an argument of a jitted caller so that its tables,
    1.2 MB at nmax = 176, are not compiled in as constants).
    jit/vmap-able; differentiable in every field of ``model``.
    ``check=False`` skips the traced parameter checks (for callers that validated eagerly).
    """
    grid = kerr_grid(nmax) if grid is None else grid
    ss = kerr_ness(model, nmax, pin, 4, n_terms, check, method)
    H = kerr_hamiltonian(model, nmax)
    t = photon_loss_terms(ss.rho, H, model.kappa, grid, check=False, h_bandwidth=1)  # tridiagonal
    alpha = t.alpha / jnp.sqrt(model.N)
    if n_terms is None:
        exact_err = jnp.asarray(jnp.nan)
    else:
        mom = jax.lax.stop_gradient(kerr_exact_moments(model, n_terms))
        # relative above one photon, absolute below (the vacuum at eps = 0 has <n> = 0)
        exact_err = jnp.maximum(
            jnp.abs(t.n_photons - mom.n) / jnp.maximum(mom.n, 1.0),
            jnp.abs(t.alpha - mom.a) / jnp.maximum(jnp.abs(mom.a), 1.0))
        # a series cut before convergence is no reference (and its pin is wrong): NaN, flagged
        exact_err = jnp.where(mom.series_tail > SERIES_TOL, jnp.nan, exact_err)
    return {
        "alpha_re": jnp.real(alpha),
        "alpha_im": jnp.imag(alpha),
        "n_photons": t.n_photons,
        "S_wehrl": t.S_wehrl,
        "Phi": t.Phi,
        "Phi_q": t.Phi_q,
        "Pi_ext": t.Pi_ext,
        "Pi_J": t.Pi_J,
        "Pi_d": t.Pi_d,
        "Pi_U": t.Pi_U,
        # relative to Phi, or to 1e-6 of the loss rate where Phi is smaller (eps = 0: Phi = 0)
        "ness_identity_residual": jax.lax.stop_gradient(
            (t.Pi_U + t.Pi_J - t.Phi) / jnp.maximum(jnp.abs(t.Phi), 2e-6 * model.kappa)),
        "tail_population": jax.lax.stop_gradient(ss.tail_population),
        "grid_norm_error": jax.lax.stop_gradient(t.norm_error),
        "exact_moment_error": exact_err,
        "error_estimate": ss.error_estimate,
        "gap_estimate": ss.gap_estimate,
        "pinned": ss.pinned.astype(jnp.float64),
    }


def _point(p, static, grid):
    nmax, n_terms = static
    # kerr_sweep validated every parameter eagerly: no host callbacks in the sweep program
    return kerr_point(Kerr(eps=p["eps"], N=p["N"], kappa=p["kappa"], delta=p["delta"], u=p["u"]),
                      nmax, grid, n_terms=n_terms, check=False)


def _grid_of(static):
    return kerr_grid(static[0])


def nmax_for_points(N: float, eps_values: Sequence[float], kappa: float, delta: float, u: float,
                    nmax_step: int = 16) -> int:
    """Shared truncation for the pumps ``eps_values`` at one size: the largest
    :func:`~jaxent.models.kerr.choose_nmax` over the pumps, rounded up to a multiple of
    ``nmax_step`` (fewer distinct shapes, fewer compilations)."""
    est = max(choose_nmax(Kerr(eps=float(e), N=N, kappa=kappa, delta=delta, u=u))
              for e in np.unique(np.atleast_1d(np.asarray(eps_values, float))))
    step = max(1, int(nmax_step))
    return int(step * math.ceil(est / step))


def group_by_model(points) -> dict[tuple, list[int]]:
    """Indices of ``points`` grouped by ``(N, kappa, delta, u)``: the points that share one
    truncation (and so one compilation) in every Kerr study."""
    groups: dict = {}
    for i, p in enumerate(points):
        groups.setdefault((p["N"], p["kappa"], p["delta"], p["u"]), []).append(i)
    return groups


def series_length(N: float, eps_values: Sequence[float], kappa: float, delta: float,
                  u: float) -> int | None:
    """One exact-moment series length for all pumps ``eps_values`` at one size: the longest
    :func:`~jaxent.models.kerr.series_terms`, rounded up to 1024 x a power of two (few static
    values, few compilations); ``None`` when some pump has no series."""
    Ks = [series_terms(Kerr(eps=e, N=N, kappa=kappa, delta=delta, u=u)) for e in eps_values]
    known = [K for K in Ks if K is not None]
    if len(known) < len(Ks):
        return None
    K = max(known)
    return int(1024 * 2 ** math.ceil(math.log2(K / 1024))) if K > 1024 else 1024


def _mean_field_nmax(N, eps, kappa, delta, u):
    nt = mean_field_photons(eps, kappa, delta, u)
    nb = N * (float(nt[-1]) if nt.size else 0.0)
    return int(nb + SIGMAS * math.sqrt(max(nb, 1.0)) + MARGIN)


def _checks(row) -> list[tuple[str, str]]:
    out = []
    if not row["tail_population"] <= TAIL_TOL:
        out.append(("tail", f"Fock tail population {row['tail_population']:.1e} > {TAIL_TOL:g}: "
                            f"raise --nmax above {int(row['nmax'])}"))
    if not abs(row["grid_norm_error"]) <= GRID_NORM_TOL:
        out.append(("grid", f"Husimi grid normalisation error {row['grid_norm_error']:.1e} > "
                            f"{GRID_NORM_TOL:g}: raise --nmax (the grid grows with it)"))
    if not abs(row["ness_identity_residual"]) <= IDENTITY_TOL:
        out.append(("identity", f"NESS identity residual {row['ness_identity_residual']:.1e} > "
                                f"{IDENTITY_TOL:g}: steady state or grid not converged"))
    err = row["exact_moment_error"]
    if np.isnan(err):
        # NaN is legitimate only where no series exists (u -> 0, huge N)
        if series_terms(Kerr(eps=row["eps"], N=row["N"], kappa=row["kappa"], delta=row["delta"],
                             u=row["u"])) is not None:
            out.append(("exact", "exact-moment series not converged (or NaN): the pin and the "
                                 "end-to-end check are unreliable; report this point"))
    elif not err <= EXACT_MOMENT_TOL:
        out.append(("exact", f"<n>, <a> differ from the exact moments by {err:.1e} > "
                             f"{EXACT_MOMENT_TOL:g}: raise --nmax above {int(row['nmax'])}"))
    if not (row["error_estimate"] < RESOLVE_TOL or row["pinned"] > 0.5):
        if np.isnan(row["gap_estimate"]):  # the exact state: its series was cut too early
            out.append(("series", f"exact-state series cut before convergence (last term "
                                  f"{row['error_estimate']:.1e}): report this point"))
        else:
            out.append(("conditioning",
                        f"slow-mode weight only resolved to {row['error_estimate']:.1e} (gap "
                        f"{row['gap_estimate']:.1e}) and no exact moment to pin it"))
    return out


def make_study(nmax_step: int = 16, nmax: int | None = None) -> Study:
    """The Kerr :class:`~jaxent.sweep.Study`; ``nmax`` fixes the truncation of every point,
    otherwise each size gets :func:`nmax_for_points` rounded to ``nmax_step``, padded up to
    its shape class (:func:`~jaxent.sweep.shape_classes`, module docstring)."""

    def assign_static(points):
        statics: list[tuple[int, int | None] | None] = [None] * len(points)
        groups = []
        for (N, kappa, delta, u), idx in group_by_model(points).items():
            eps = [points[i]["eps"] for i in idx]
            nm = nmax if nmax is not None else nmax_for_points(N, eps, kappa, delta, u, nmax_step)
            groups.append((idx, int(nm), series_length(N, eps, kappa, delta, u)))
        if nmax is None:
            # pad sizes up to a few shared truncations where a compilation costs more than the
            # padding (apart for groups without an exact-moment series); a class runs the
            # longest series of its groups (a longer series is as exact)
            for has_series in (True, False):
                part = [j for j, g in enumerate(groups) if (g[2] is not None) == has_series]
                classes = shape_classes([groups[j][1] for j in part],
                                        [len(groups[j][0]) for j in part],
                                        _compile_seconds, _point_seconds)
                longest: dict[int, int] = {}
                for j in part:
                    c = classes[groups[j][1]]
                    longest[c] = max(longest.get(c, 0), groups[j][2] or 0)  # None: no series
                for j in part:
                    idx, nm, _ = groups[j]
                    groups[j] = (idx, classes[nm], longest[classes[nm]] if has_series else None)
        for idx, nm, k in groups:
            for i in idx:
                statics[i] = (nm, k)
        return statics

    def preflight(static, chunk):
        nm, n_terms = static
        need = (banded_memory_bytes(nm, batch=chunk) if n_terms is None  # the banded solver
                else exact_state_memory_bytes(nm, n_terms, batch=chunk))
        if not fits_in_memory(need):
            raise MemoryError(
                f"nmax={nm} needs about {format_bytes(need)} for a chunk of {chunk} points but "
                f"{format_bytes(available_memory_bytes())} is available; use a smaller --N or "
                f"--chunk (one point at nmax={nm} needs {format_bytes(need / chunk)})")

    return Study(
        name="kerr", params=tuple(KERR_KEY), outputs=KERR_OUTPUTS, diagnostics=KERR_DIAGNOSTICS,
        point=_point, assign_static=assign_static, checks=_checks,
        static_names=("nmax",), static_columns=lambda st: {"nmax": st[0]},
        preflight=preflight,
        describe=lambda st: f"nmax={st[0]}, ~{_point_seconds(st[0]):.2g} s/pt",
        constants=_grid_of,
        sequential=True,  # one point's tables and fields stay in cache (sweep module docstring)
    )


def check_sweep_inputs(N_values: ArrayLike, kappa: float, delta: float, u: float,
                       **pumps: ArrayLike) -> tuple[list[float], dict[str, list[float]]]:
    """Eager validation shared by the Kerr sweeps (NESS, quench, spectrum): ``N`` positive and
    finite, ``kappa > 0``, ``delta``, ``u`` finite, every pump list (``eps=...``,
    ``eps_f=...``) non-empty, finite and ``>= 0``. ``ValueError`` naming the parameter.
    Returns the sizes and pumps as lists of floats."""
    N_values = [float(n) for n in np.atleast_1d(N_values)]
    for name, val in (("kappa", kappa), ("delta", delta), ("u", u)):
        if not math.isfinite(val):
            raise ValueError(f"{name} must be finite, got {val}")
    if not kappa > 0:
        raise ValueError(f"kappa must be positive, got {kappa}")
    if not N_values or not all(math.isfinite(n) and n > 0 for n in N_values):
        raise ValueError(f"N must be positive and finite, got {N_values}")
    out = {}
    for name, vals in pumps.items():
        vals = [float(e) for e in np.atleast_1d(np.asarray(vals, dtype=float))]
        if not vals or not all(math.isfinite(e) and e >= 0 for e in vals):
            raise ValueError(f"{name} must be finite and non-negative, got {vals}")
        out[name] = vals
    return N_values, out


def _sweep_memory(N: float, nmax: int | None, eps_max: float, kappa: float, delta: float,
                  u: float, chunk: int) -> tuple[int, float]:
    """``(nmax, bytes)`` of a chunk of Kerr points at size ``N`` up to ``eps_max``: the exact
    state where its series exists, else the banded solver (``nmax`` from mean field if not
    given)."""
    nm = nmax or _mean_field_nmax(N, eps_max, kappa, delta, u)
    K = series_terms(Kerr(eps=eps_max, N=N, kappa=kappa, delta=delta, u=u))
    need = (banded_memory_bytes(nm, batch=chunk) if K is None
            else exact_state_memory_bytes(nm, K, batch=chunk))
    return nm, need


def largest_size(eps_max: float, kappa: float, delta: float, u: float, chunk: int) -> int:
    """The largest ``N`` whose Kerr sweep up to ``eps_max`` fits in memory (mean-field bound)."""
    lo, hi = 1, 1
    while fits_in_memory(_sweep_memory(hi * 2, None, eps_max, kappa, delta, u, chunk)[1]) \
            and hi < 1 << 20:
        hi *= 2
    hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits_in_memory(_sweep_memory(mid, None, eps_max, kappa, delta, u, chunk)[1]):
            lo = mid
        else:
            hi = mid
    return lo


def kerr_sweep(N_values: ArrayLike, eps_values: ArrayLike,
               out_csv: str | os.PathLike, kappa: float = 0.5, delta: float = -2.0,
               u: float = 1.0, chunk: int = 8, nmax_step: int = 16, nmax: int | None = None,
               grad: Sequence[str] = (), recompute_flagged: bool = False,
               progress: bool = True) -> SweepResult:
    """Every Kerr NESS entropy term on ``N_values x eps_values`` into ``out_csv`` (resumable;
    see :func:`jaxent.sweep.run_sweep`). ``grad`` adds ``d<column>_d<param>`` columns for the
    parameters named (any of ``N, eps, kappa, delta, u``); ``nmax`` overrides the truncation.
    Bad input raises ``ValueError`` naming the parameter; a size that cannot fit in memory
    raises ``MemoryError`` naming the largest that does."""
    N_values = [float(n) for n in np.atleast_1d(N_values)]
    eps_values = np.atleast_1d(np.asarray(eps_values, dtype=float))
    for name, val in (("kappa", kappa), ("delta", delta), ("u", u)):
        if not math.isfinite(val):
            raise ValueError(f"{name} must be finite, got {val}")
    if not kappa > 0:
        raise ValueError(f"kappa must be positive, got {kappa}")
    if not all(math.isfinite(n) and n > 0 for n in N_values):
        raise ValueError(f"N must be positive and finite, got {N_values}")
    if eps_values.size == 0 or not np.all(np.isfinite(eps_values)) or np.any(eps_values < 0):
        raise ValueError(f"eps must be finite and non-negative, got {eps_values}")
    if nmax is not None and (int(nmax) != nmax or nmax < 2):
        raise ValueError(f"nmax must be an integer >= 2, got {nmax}")
    if int(nmax_step) != nmax_step or nmax_step < 1:
        raise ValueError(f"nmax_step must be a positive integer, got {nmax_step}")
    eps_max = float(eps_values.max())
    for N in N_values:
        nm, need = _sweep_memory(N, nmax, eps_max, kappa, delta, u, chunk)
        if not fits_in_memory(need):
            big = largest_size(eps_max, kappa, delta, u, chunk)
            raise MemoryError(
                f"N={N:g} needs nmax of about {nm} and {format_bytes(need)} "
                f"for a chunk of {chunk} points, but {format_bytes(available_memory_bytes())} is "
                f"available; the largest N that fits up to eps={eps_max:g} is about {big}")
    points = [dict(N=N, eps=float(e), kappa=float(kappa), delta=float(delta), u=float(u))
              for N in N_values for e in eps_values]
    study = make_study(nmax_step=nmax_step, nmax=nmax)
    return run_sweep(study, points, out_csv, chunk=chunk, grad=grad,
                     recompute_flagged=recompute_flagged, progress=progress)
