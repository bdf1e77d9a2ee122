r"""Gradient-based fits of the Kerr model parameters to measured NESS curves.

Model [GFL20, Eq. (11)]: the driven-dissipative Kerr oscillator (:class:`~jaxent.models.kerr.Kerr`)
$\dot\rho = -i[H, \rho] + 2\kappa\mathcal D[a]\rho$ with
$H = \Delta a^\dagger a + \frac{u}{2N}a^{\dagger2}a^2 + i\epsilon\sqrt N(a^\dagger - a)$. Data are
NESS curves against the pump $\epsilon$ at one size $N$, in the conventions of the ``kerr.csv``
that ``jaxent kerr`` writes: ``n_photons`` $=\langle a^\dagger a\rangle$ (total), ``alpha_re``,
``alpha_im`` of $\alpha = \langle a\rangle/\sqrt N$, and the entropy flux ``Phi`` and dissipative
production ``Pi_d`` of [GFL20, Eqs. (5)-(8)] (:func:`~jaxent.studies.kerr.kerr_point`).

Fit: weighted least squares over every observable and pump,

$$\chi^2(\theta) = \sum_{i,o} r_{io}^2,\qquad
  r_{io} = \frac{f_o(\epsilon_i;\theta) - y_{io}}{\sigma_{io}},$$

over any subset $\theta$ of $(\kappa, \Delta, u)$, by Levenberg-Marquardt
(:class:`optimistix.LevenbergMarquardt`) with the exact Jacobian through the NESS (forward-mode
differentiation of :func:`~jaxent.models.kerr.kerr_exact_state`) and $\log\kappa$ as the
fitted coordinate, so $\kappa$ stays positive. The model is ``kerr_point`` mapped over the
pumps (:func:`_map_points`) at one static truncation ``nmax``; each program (model curves, LM
solve, second derivatives) compiles once per (``nmax``, series length, observables, free
parameters, number of points), and every start and every refit of the same shape reuses it.

Errors: Laplace approximation, covariance $= H^{-1}$ with $H$ the **exact** Hessian of
$\chi^2/2$ in the natural parameters $(\kappa, \Delta, u)$ at the best fit,
$H = J^TJ + \sum_{io} r_{io}\,\nabla^2 r_{io}$ (second derivatives by nested forward-mode
derivatives through the NESS, not the Gauss-Newton $J^TJ$ alone). A singular or not positive
definite $H$ means the free parameters are not identifiable from these observables; it is
refused with a message naming the combination (or flagged, ``allow_singular=True``).

Symmetry: ``n_photons``, ``alpha_re``, ``Phi`` and ``Pi_d`` are exactly invariant under
$(\Delta, u)\to(-\Delta, -u)$, which flips ``alpha_im``: without ``alpha_im`` the sign of
$(\Delta, u)$ is not determined by the data (the fit says so in its notes), and the multi-start
may return either.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import itertools
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxent.models.kerr import Kerr, choose_nmax
from jaxent.studies.kerr import kerr_grid, kerr_point, series_length
from jaxent.tolerances import EXACT_MOMENT_TOL, GRID_NORM_TOL, TAIL_TOL

#: Observables a data file may hold (``kerr.csv`` column names and conventions).
FIT_OBSERVABLES = ("n_photons", "alpha_re", "alpha_im", "Phi", "Pi_d")
#: Parameters that can be fitted, in this order everywhere (fields of :class:`Kerr`).
FIT_PARAMS = ("kappa", "delta", "u")
#: Model defaults [GFL20]: fixed values and initial guesses unless given.
FIT_DEFAULTS = {"kappa": 0.5, "delta": -2.0, "u": 1.0}
#: Observables that need the Husimi grid (its normalisation is then checked at the best fit).
_GRID_OBSERVABLES = ("Phi", "Pi_d")

#: Levenberg-Marquardt stopping tolerances (on the fitted coordinates, and on the residuals
#: scaled by :data:`_LM_SCALE`).
LM_RTOL = 1e-6
LM_ATOL = 1e-6
#: Scale of the residuals handed to the optimiser (the minimum does not depend on it). It stops
#: when the step in the coordinates and the change of every residual are below
#: ``atol + rtol |.|``. Residual changes below 1e-6 sigma need steps so small that chi2 changes
#: by less than its float64 noise through the NESS (~1e-10), and such steps are accepted only
#: by luck (measured: up to 32 steps instead of 8); scaled by 1e-2, changes below 1e-4 sigma
#: suffice, still negligible. Unweighted fits take 1 % of the data's RMS as sigma here.
_LM_SCALE = 1e-2
#: Levenberg-Marquardt steps per call. Every start first runs this many (``max_steps`` if
#: fewer); an unconverged start then goes on, this many at a time, up to ``max_steps``
#: (rounded up to a multiple of this), while its chi2 is within :data:`LM_KEEP` of the lowest
#: of all starts (LM only accepts steps that lower chi2). Runs that converge take 7-28 steps
#: in the tests; a start that wanders off (from the default guess of the notebook's fit at
#: N = 5: chi2 4e5 after 32 steps against 25 for the start that converged, and not converged
#: after the 256 of ``max_steps``, 37 s) then costs one chunk. One program serves every chunk.
LM_CHUNK = 32
#: See :data:`LM_CHUNK`: a start whose chi2 is more than this times the lowest stops. A fit at
#: the truth has chi2 ~ dof; 10 times the best chi2 is far outside its spread.
LM_KEEP = 10.0
#: Residual substituted where the model is not finite at a trial point (the step is rejected).
_BAD_RESIDUAL = 1e6
#: The Hessian is numerically singular when its smallest eigenvalue is below this ratio of the
#: largest (about the relative accuracy of its derivatives through the NESS), in the natural
#: parameters or scaled to unit diagonal.
HESSIAN_RTOL = 1e-10
#: A singular Hessian at a weighted chi2/dof above this is a fit stuck far from the data (e.g.
#: kappa run off to where the model vanishes), not a question of identifiability.
STUCK_CHI2_PER_DOF = 100.0
#: ``nmax`` = this factor x :func:`~jaxent.models.kerr.choose_nmax` at the start (headroom for
#: the parameters to move); re-chosen, and the fit repeated, if the best fit needs more.
NMAX_MARGIN = 1.1
#: Refits allowed for the truncation to settle.
_MAX_REFITS = 3


# ----------------------------------------------------------------------------------------------
# data


@dataclasses.dataclass(frozen=True)
class FitData:
    """Validated measured curves (see :func:`read_fit_data`).

    ``eps``: ``(M,)`` pumps; ``observables``: column names (subset of :data:`FIT_OBSERVABLES`);
    ``values``: ``(M, O)``; ``sigma``: ``(M, O)`` positive uncertainties, or ``None`` (then
    the fit is unweighted); ``N``: the size in the file's ``N`` column, or ``None``;
    ``source``: where the data came from (for messages).
    """

    eps: np.ndarray
    observables: tuple[str, ...]
    values: np.ndarray
    sigma: np.ndarray | None
    N: float | None = None
    source: str = "data"

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.observables.index(name)]


def _validate(cols: dict[str, np.ndarray], where, source: str,
              observables: Sequence[str] | None, N: float | None,
              header: Sequence[str] | None = None) -> FitData:
    """Shared checks of :func:`read_fit_data` and :func:`fit_data`; ``where(i)`` names row i,
    ``header`` all the columns found (default those of ``cols``)."""
    found = ", ".join(cols if header is None else header) or "none"
    if "eps" not in cols:
        raise ValueError(f"{source}: no 'eps' column (found: {found})")
    present = [o for o in FIT_OBSERVABLES if o in cols]
    if observables is None:
        obs = present
    else:
        obs = list(dict.fromkeys(observables))
        for o in obs:
            if o not in FIT_OBSERVABLES:
                raise ValueError(f"observable {o!r} does not exist; choose from "
                                 f"{', '.join(FIT_OBSERVABLES)}")
            if o not in cols:
                raise ValueError(f"{source}: no {o!r} column for the requested observable "
                                 f"(found: {found})")
    if not obs:
        raise ValueError(f"{source}: no observable column; expected one or more of "
                         f"{', '.join(FIT_OBSERVABLES)} (found: {found})")
    for name in cols:
        if name.startswith("sigma_") and name[6:] not in cols:
            raise ValueError(f"{source}: uncertainty column {name!r} has no observable column "
                             f"{name[6:]!r}")
    if "sigma" in cols and len(obs) > 1:
        raise ValueError(f"{source}: a single 'sigma' column is ambiguous with several "
                         f"observables ({', '.join(obs)}); name each sigma_<observable>")
    if "sigma" in cols:
        sig_names = ["sigma"]
    else:
        sig_names = [f"sigma_{o}" for o in obs]
        given = [s for s in sig_names if s in cols]
        if given and len(given) < len(sig_names):
            missing = [s for s in sig_names if s not in cols]
            raise ValueError(f"{source}: {', '.join(missing)} missing: give sigma_<observable> "
                             f"for every fitted observable ({', '.join(obs)}) or for none")
        if not given:
            sig_names = []
    used = ["eps"] + (["N"] if "N" in cols else []) + obs + sig_names
    for name in used:
        col = cols[name]
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            raise ValueError(f"{source}: column {name!r}, {where(bad[0])} is {col[bad[0]]} "
                             "(every value must be a finite number)")
    eps = cols["eps"]
    if eps.size == 0:
        raise ValueError(f"{source}: no data rows")
    bad = np.flatnonzero(eps <= 0)
    if bad.size:
        raise ValueError(f"{source}: column 'eps', {where(bad[0])}: pump {eps[bad[0]]} must be "
                         "positive (the vacuum at eps = 0 carries no information)")
    for name in sig_names:
        bad = np.flatnonzero(cols[name] <= 0)
        if bad.size:
            raise ValueError(f"{source}: column {name!r}, {where(bad[0])}: uncertainty "
                             f"{cols[name][bad[0]]} must be positive")
    N_col = None
    if "N" in cols:
        sizes = np.unique(cols["N"])
        if sizes.size > 1:
            raise ValueError(f"{source}: column 'N' holds several sizes "
                             f"({', '.join(f'{s:g}' for s in sizes)}); fit one size at a time: "
                             "choose it with --N (N= in Python)")
        N_col = float(sizes[0])
        if not N_col > 0:
            raise ValueError(f"{source}: column 'N' must be positive, got {N_col:g}")
        if N is not None and not math.isclose(N_col, float(N), rel_tol=1e-12):
            raise ValueError(f"{source}: column 'N' holds N={N_col:g} but N={float(N):g} was "
                             "given (--N)")
    values = np.stack([cols[o] for o in obs], axis=1)
    sigma = None
    if sig_names:
        sigma = np.stack([cols[s] for s in sig_names], axis=1) * np.ones_like(values)
    return FitData(eps=eps.copy(), observables=tuple(obs), values=values, sigma=sigma, N=N_col,
                   source=source)


def read_fit_data(path: str | os.PathLike, observables: Sequence[str] | None = None,
                  N: float | None = None) -> FitData:
    """Read measured NESS curves from a CSV file with a header row.

    Columns: ``eps`` (required, positive), one or more observables among
    :data:`FIT_OBSERVABLES` (all present are fitted, or the subset ``observables``), their
    uncertainties ``sigma_<observable>`` (for every fitted observable or none), or a single
    ``sigma`` when there is exactly one observable, and optionally ``N`` (one size, which must
    equal ``N`` when that is given; or several, of which ``N`` picks the rows). Other columns
    are ignored, so a ``kerr.csv`` written by ``jaxent kerr`` can be fitted directly. Without
    uncertainties the fit is unweighted (:func:`fit_kerr`). Blank lines and lines starting
    with ``#`` are skipped.

    **Returns:** :class:`FitData`. Every problem raises a one-line ``ValueError`` naming the
    file and, where it applies, the column and line: a missing file, no ``eps`` or no
    observable column, a value that is not a finite number, a non-positive ``eps`` or
    uncertainty, ``sigma`` with several observables, several sizes without ``N``, or no row
    at the ``N`` given.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"data file {path} does not exist" if not os.path.exists(path)
                         else f"data file {path} is not a regular file")
    with open(path, newline="") as fh:
        rows = [(i + 1, r) for i, r in enumerate(csv.reader(fh))
                if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        raise ValueError(f"{path}: empty file (expected a header row with eps and observables)")
    header = [h.strip() for h in rows[0][1]]
    data = rows[1:]
    dup = [h for h in header if header.count(h) > 1]
    if dup:
        raise ValueError(f"{path}: column {dup[0]!r} appears twice in the header")
    for lineno, r in data:
        if len(r) != len(header):
            raise ValueError(f"{path}: line {lineno} has {len(r)} fields, the header "
                             f"{len(header)}")
    wanted = {"eps", "N", "sigma"} | set(FIT_OBSERVABLES) | {f"sigma_{o}" for o in
                                                             FIT_OBSERVABLES}
    cols = {}
    for j, name in enumerate(header):
        if name not in wanted:
            continue
        vals = []
        for lineno, r in data:
            text = r[j].strip()
            try:
                vals.append(float(text))
            except ValueError:
                raise ValueError(f"{path}: column {name!r}, line {lineno}: {text!r} is not a "
                                 "number") from None
        cols[name] = np.asarray(vals, dtype=float)
    if observables is not None:  # unrequested observables (and their sigmas) are not read
        keep = set(observables)
        cols = {k: v for k, v in cols.items()
                if not ((k in FIT_OBSERVABLES and k not in keep)
                        or (k.startswith("sigma_") and k[6:] in FIT_OBSERVABLES
                            and k[6:] not in keep))}
    lines = [lineno for lineno, _ in data]
    if N is not None and "N" in cols and np.unique(cols["N"]).size > 1:
        # a file of several sizes (e.g. the default kerr sweep's): N picks its rows
        pick = np.isclose(cols["N"], float(N), rtol=1e-12, atol=0.0)
        if not pick.any():
            sizes = ", ".join(f"{s:g}" for s in np.unique(cols["N"]))
            raise ValueError(f"{path}: column 'N' holds the sizes {sizes}, not N={float(N):g} "
                             "(--N)")
        cols = {k: v[pick] for k, v in cols.items()}
        lines = [ln for ln, keep in zip(lines, pick) if keep]
    return _validate(cols, lambda i: f"line {lines[i]}", path, observables, N, header)


def fit_data(eps, values: Mapping[str, Sequence[float]], sigma=None, N: float | None = None,
             source: str = "data") -> FitData:
    """:class:`FitData` from arrays, with the checks of :func:`read_fit_data`: ``values`` maps
    observable -> ``(M,)``; ``sigma`` maps observable -> ``(M,)`` (or is one array/scalar when
    there is one observable, or ``None``); ``N`` the size the data were taken at."""
    cols = {"eps": np.atleast_1d(np.asarray(eps, dtype=float))}
    named = list(values) + (list(sigma) if isinstance(sigma, Mapping) else [])
    for k in named:
        if k not in FIT_OBSERVABLES:
            raise ValueError(f"observable {k!r} does not exist; choose from "
                             f"{', '.join(FIT_OBSERVABLES)}")
    for k, v in values.items():
        cols[k] = np.broadcast_to(np.asarray(v, dtype=float), cols["eps"].shape).copy()
    if isinstance(sigma, Mapping):
        for k, v in sigma.items():
            cols[f"sigma_{k}"] = np.broadcast_to(np.asarray(v, float), cols["eps"].shape).copy()
    elif sigma is not None:
        cols["sigma"] = np.broadcast_to(np.asarray(sigma, float), cols["eps"].shape).copy()
    if N is not None:
        cols["N"] = np.full(cols["eps"].shape, float(N))
    return _validate(cols, lambda i: f"row {i}", source, None, None)


# ----------------------------------------------------------------------------------------------
# compiled programs (one each per static spec and number of points)


class _Spec(NamedTuple):
    nmax: int
    n_terms: int | None
    observables: tuple[str, ...]
    free: tuple[int, ...]  # indices into FIT_PARAMS


def _curves_of(p, N, eps, grid, spec: _Spec, diagnostics: bool = False):
    """Model observables ``(M, O)`` at natural parameters ``p = (kappa, delta, u)``. ``grid``:
    ``kerr_grid(spec.nmax)``, an argument of the compiled programs (compiled in, its tables
    would be ~1 MB of constants in each program and in the persistent cache)."""

    def one(e):
        out = kerr_point(Kerr(eps=e, N=N, kappa=p[0], delta=p[1], u=p[2]), spec.nmax, grid,
                         n_terms=spec.n_terms, check=False)
        vals = jnp.stack([out[o] for o in spec.observables])
        if not diagnostics:
            return vals
        diag = {"tail_population": out["tail_population"],
                "exact_moment_error": out["exact_moment_error"]}
        if any(o in _GRID_OBSERVABLES for o in spec.observables):
            diag["grid_norm_error"] = out["grid_norm_error"]
        return vals, diag

    return _map_points(one, eps)


def _map_points(fn, xs):
    """``fn`` over the pumps: ``jax.vmap`` on accelerators, ``jax.lax.map`` on CPU. jaxlib 0.10
    splits *batched* CPU LAPACK calls over the intra-op pool and blocks on it, and the NESS
    derivative programs then deadlock a 2-core machine (README, "Known platform issue";
    reproduced here with ``jacfwd(jacfwd)`` of the vmapped model); unbatched calls run inline,
    and on CPU they are no slower."""
    if jax.default_backend() == "cpu":
        return jax.lax.map(fn, xs)
    return jax.vmap(fn)(xs)


@functools.partial(jax.jit, static_argnames="spec")
def _curves_jit(p, N, eps, grid, spec: _Spec):
    return _curves_of(p, N, eps, grid, spec, diagnostics=True)


def _curves(p, N, eps, spec: _Spec):
    """Model ``(M, O)`` and diagnostics at natural parameters ``p``; one program per
    ``(nmax, n_terms, observables, M)``, whichever parameters are free."""
    return _curves_jit(p, N, eps, kerr_grid(spec.nmax), spec._replace(free=()))


def _natural(x, base, free):
    """Natural parameters from the fitted coordinates (``log kappa`` for kappa)."""
    p = base
    for k, i in enumerate(free):
        p = p.at[i].set(jnp.exp(x[k]) if i == 0 else x[k])
    return p


@functools.partial(jax.jit, static_argnames=("spec", "max_steps"))
def _least_squares(x0, base, N, eps, y, w, scale, grid, spec: _Spec, max_steps: int):
    import optimistix as optx  # here: only the fit needs it (import time of every command)

    def residuals(x, _):
        r = ((_curves_of(_natural(x, base, spec.free), N, eps, grid, spec) - y) * w).ravel()
        # a trial point where the model breaks down is rejected, not propagated as NaN
        return jnp.where(jnp.isfinite(r), r, _BAD_RESIDUAL)

    sol = optx.least_squares(lambda x, a: scale * residuals(x, a),
                             optx.LevenbergMarquardt(rtol=LM_RTOL, atol=LM_ATOL), x0,
                             max_steps=max_steps, throw=False)
    r = residuals(sol.value, None)
    return (sol.value, jnp.sum(r**2), sol.result == optx.RESULTS.successful,
            sol.stats["num_steps"])


@functools.partial(jax.jit, static_argnames="spec")
def _derivatives(q, base, N, eps, grid, spec: _Spec):
    """First and second derivatives of the model in the natural free parameters ``q``:
    ``J (M, O, P)`` and ``D2 (M, O, P, P)``, nested forward mode (``jacfwd(jacfwd)``) one pump
    at a time (:func:`_map_points`): the tangents share each point's NESS factorisation."""
    idx = jnp.asarray(spec.free)

    def one(e):
        def f(qq):
            p = base.at[idx].set(qq)
            out = kerr_point(Kerr(eps=e, N=N, kappa=p[0], delta=p[1], u=p[2]), spec.nmax,
                             grid, n_terms=spec.n_terms, check=False)
            return jnp.stack([out[o] for o in spec.observables])

        jac = jax.jacfwd(f)
        hess, jac_q = jax.jacfwd(lambda qq: (jac(qq), jac(qq)), has_aux=True)(q)
        return jac_q, hess

    return _map_points(one, eps)


# ----------------------------------------------------------------------------------------------
# the fit


class KerrFit(eqx.Module):
    r"""Result of :func:`fit_kerr` (concrete numpy values).

    - ``params``: the free parameters, in :data:`FIT_PARAMS` order; ``value``, ``stderr``:
      ``(P,)`` best fit and standard errors $\sqrt{\mathrm{diag}\,C}$; ``covariance`` $C$
      ``(P, P)`` (NaN when not identifiable and ``allow_singular``); ``hessian``: exact
      Hessian of $\chi^2/2$ in the natural parameters.
    - ``kappa``, ``delta``, ``u``: the model at the best fit (free and fixed); ``N``.
    - ``chi2``, ``dof`` (points x observables - P), ``chi2_per_dof``; ``weighted``: False when
      the data had no uncertainties (then $\sigma = 1$, ``chi2_per_dof`` is the residual
      variance and ``stderr`` is scaled by $\sqrt{\chi^2/\mathrm{dof}}$).
    - ``n_starts``; ``start``: ``(P,)`` the winning start; ``start_index``; ``n_at_best``:
      starts that reached the best chi2 (to 1e-6); ``converged``: the winning LM run met its
      tolerances; ``n_steps``: its LM steps; ``start_chi2``, ``start_steps``: ``(n_starts,)``
      the chi2 each start reached and its LM steps (:data:`LM_CHUNK`: a start far behind
      stops early); ``identifiable``: the Hessian is positive definite.
    - ``eps`` ``(M,)``, ``observables``, ``data``, ``sigma`` (``(M, O)``, ones if unweighted),
      ``curves`` (model at the data), ``residuals`` ($r$, in units of ``sigma``).
    - ``nmax``, ``n_terms``: the truncation and series length of the final fit; ``notes``:
      what the user should know (unweighted fit, symmetry, refits); ``seconds``: wall time.
    """

    params: tuple[str, ...] = eqx.field(static=True)
    value: np.ndarray
    stderr: np.ndarray
    covariance: np.ndarray
    hessian: np.ndarray
    kappa: float
    delta: float
    u: float
    N: float
    chi2: float
    dof: int = eqx.field(static=True)
    chi2_per_dof: float
    weighted: bool = eqx.field(static=True)
    n_starts: int = eqx.field(static=True)
    start: np.ndarray
    start_index: int = eqx.field(static=True)
    n_at_best: int = eqx.field(static=True)
    converged: bool = eqx.field(static=True)
    n_steps: int = eqx.field(static=True)
    start_chi2: np.ndarray
    start_steps: np.ndarray
    identifiable: bool = eqx.field(static=True)
    eps: np.ndarray
    observables: tuple[str, ...] = eqx.field(static=True)
    data: np.ndarray
    sigma: np.ndarray
    curves: np.ndarray
    residuals: np.ndarray
    nmax: int = eqx.field(static=True)
    n_terms: int | None = eqx.field(static=True)
    notes: tuple[str, ...] = eqx.field(static=True)
    seconds: float = eqx.field(static=True)

    @property
    def values(self) -> dict[str, float]:
        """``{param: best value}`` of the free parameters."""
        return {p: float(v) for p, v in zip(self.params, self.value)}

    @property
    def errors(self) -> dict[str, float]:
        """``{param: standard error}`` of the free parameters."""
        return {p: float(s) for p, s in zip(self.params, self.stderr)}

    def model(self, eps: float) -> Kerr:
        """The best-fit :class:`Kerr` at pump ``eps``."""
        return Kerr(eps=eps, N=self.N, kappa=self.kappa, delta=self.delta, u=self.u)


def _check_params(free, fixed, guess) -> tuple[tuple[str, ...], dict[str, float]]:
    if isinstance(free, str):
        free = (free,)
    free = list(free)
    for name in free:
        if name not in FIT_PARAMS:
            raise ValueError(f"free parameter {name!r} does not exist; choose from "
                             f"{', '.join(FIT_PARAMS)}")
    if not free:
        raise ValueError(f"no free parameter; choose one or more of {', '.join(FIT_PARAMS)}")
    free_t = tuple(p for p in FIT_PARAMS if p in free)
    fixed, guess = dict(fixed or {}), dict(guess or {})
    for what, d in (("fixed", fixed), ("initial guess for", guess)):
        for name, v in d.items():
            if name not in FIT_PARAMS:
                raise ValueError(f"{what} parameter {name!r} does not exist; choose from "
                                 f"{', '.join(FIT_PARAMS)}")
            if v is None or not math.isfinite(float(v)):
                raise ValueError(f"{name} must be a finite number, got {v}")
    both = [p for p in fixed if p in free_t]
    if both:
        raise ValueError(f"{both[0]} is both free and fixed; give its initial guess instead")
    stray = [p for p in guess if p not in free_t]
    if stray:
        raise ValueError(f"{stray[0]} has an initial guess but is not free; fix it instead")
    values = {p: float(fixed.get(p, guess.get(p, FIT_DEFAULTS[p]))) for p in FIT_PARAMS}
    if not values["kappa"] > 0:
        raise ValueError(f"kappa must be positive (loss rate 2 kappa), got {values['kappa']}")
    return free_t, values


def _start_grid(values: dict[str, float], free: tuple[str, ...], mirror: bool) -> list[dict]:
    """Candidate starts: 3 levels per free parameter around the guess (kappa x {1/2, 1, 2},
    delta and u +- half their size, at least kappa and 0.25), and their (delta, u) mirror
    images when ``mirror``. The guess itself comes first."""
    kappa = values["kappa"]
    levels = {
        "kappa": [kappa, kappa / 2, kappa * 2],
        "delta": [values["delta"] + s * max(abs(values["delta"]) / 2, kappa) for s in (0, -1, 1)],
        "u": [values["u"] + s * max(abs(values["u"]) / 2, 0.25) for s in (0, -1, 1)],
    }
    out = []
    for combo in itertools.product(*(levels[p] for p in free)):
        out.append(dict(values, **dict(zip(free, combo))))
    if mirror:
        out += [dict(c, delta=-c["delta"], u=-c["u"]) for c in out]
    return out


def _needed_nmax(N, eps_max, values, margin: float) -> int:
    # the bright branch, and with it the Fock tail, grows with the pump: the largest eps decides
    need = choose_nmax(Kerr(eps=eps_max, N=N, kappa=values["kappa"], delta=values["delta"],
                            u=values["u"]))
    return int(math.ceil(margin * need))


def _n_terms(N, eps, values) -> int | None:
    return series_length(N, [float(np.max(eps))], values["kappa"], values["delta"], values["u"])


def _chi2(p, N, eps, y, w, spec) -> float:
    vals, _ = _curves(jnp.asarray(p), N, eps, spec)
    r = (np.asarray(vals) - y) * w
    return float(np.sum(r**2)) if np.all(np.isfinite(r)) else math.inf


def fit_kerr(data: FitData, N: float | None = None, free: Sequence[str] = FIT_PARAMS,
             fixed: Mapping[str, float] | None = None, guess: Mapping[str, float] | None = None,
             starts: int | Sequence[Mapping[str, float]] = 4, *, nmax: int | None = None,
             max_steps: int = 256, allow_singular: bool = False) -> KerrFit:
    r"""Fit the Kerr parameters ``free`` to measured NESS curves ``data`` at size ``N``.

    Minimises $\chi^2 = \sum r^2$, $r = (\text{model} - \text{data})/\sigma$ over every pump
    and observable of ``data`` (module docstring) by Levenberg-Marquardt with the exact
    Jacobian through the NESS and $\log\kappa$ as coordinate. The model is
    :func:`~jaxent.studies.kerr.kerr_point` of :class:`~jaxent.models.kerr.Kerr`
    [GFL20, Eq. (11)] in the ``kerr.csv`` conventions (``n_photons`` total, ``alpha`` =
    $\langle a\rangle/\sqrt N$).

    **Arguments:**

    - ``data``: :class:`FitData` (:func:`read_fit_data` or :func:`fit_data`).
    - ``N``: the size parameter the data were taken at (positive); default the data's ``N``
      column. ``ValueError`` if neither is given or they differ.
    - ``free``: any subset of ``("kappa", "delta", "u")``; ``fixed``: values of the others
      (default :data:`FIT_DEFAULTS`); ``guess``: initial guesses of the free ones (default
      :data:`FIT_DEFAULTS`).
    - ``starts``: number of Levenberg-Marquardt runs, from the guess and from the best of a
      grid of candidates around it (3 levels per free parameter, plus the $(\Delta, u)$
      mirror images when both are free and ``alpha_im`` is fitted), ranked by their chi2;
      or an explicit list of starts (mappings of free parameter -> value). The run with the
      lowest chi2 wins, so a sharp bistable switch in the data does not trap the fit.
    - ``nmax``: Fock truncation; default :data:`NMAX_MARGIN` x
      :func:`~jaxent.models.kerr.choose_nmax` at the largest pump for the guess, re-chosen
      at the best fit and the fit repeated from there while that needs more.
    - ``max_steps``: LM steps per run (a start far behind the others in chi2 stops after
      :data:`LM_CHUNK`); ``allow_singular``: return a fit whose Hessian is singular
      (parameters not identifiable) with NaN errors instead of raising.

    **Errors:** Laplace approximation, $C = H^{-1}$ with $H$ the exact Hessian of
    $\chi^2/2$ (second derivatives through the NESS, not Gauss-Newton), in the natural
    parameters $(\kappa, \Delta, u)$. Without uncertainties in ``data`` the fit is
    unweighted ($\sigma = 1$): ``chi2_per_dof`` is then the residual variance and
    $C = \chi^2/\mathrm{dof}\;H^{-1}$.

    **Returns:** :class:`KerrFit`. ``ValueError`` names the problem: an unknown parameter,
    no ``N``, fewer data than free parameters, a truncation that does not settle, or a
    singular Hessian (the combination of parameters the observables cannot tell apart).
    """
    t0 = time.perf_counter()
    if not isinstance(data, FitData):
        raise TypeError(f"data must be FitData (read_fit_data), got {type(data).__name__}")
    free_t, values = _check_params(free, fixed, guess)
    if N is None:
        if data.N is None:
            raise ValueError("N is not given: pass the size parameter N (--N) the data were "
                             "taken at (pump E = eps sqrt(N), U = u/N), or an N column")
        N = data.N
    try:
        N = float(N)
    except (TypeError, ValueError):
        raise ValueError(f"N must be a positive number, got {N!r}") from None
    if not (math.isfinite(N) and N > 0):
        raise ValueError(f"N must be positive and finite, got {N}")
    if data.N is not None and not math.isclose(data.N, N, rel_tol=1e-12):
        raise ValueError(f"{data.source}: column 'N' holds N={data.N:g} but N={N:g} was given "
                         "(--N)")
    M, n_obs = data.values.shape
    P = len(free_t)
    dof = M * n_obs - P
    if dof < 1:
        raise ValueError(f"{M} points x {n_obs} observables cannot fit {P} free parameters with "
                         "any degree of freedom left; add pumps or observables")
    if nmax is not None and (int(nmax) != nmax or nmax < 2):
        raise ValueError(f"nmax must be an integer >= 2, got {nmax}")
    if not (isinstance(max_steps, int) and max_steps >= 1):
        raise ValueError(f"max_steps must be a positive integer, got {max_steps}")

    notes = []
    weighted = data.sigma is not None
    sigma = data.sigma if data.sigma is not None else np.ones_like(data.values)
    if not weighted:
        notes.append("no uncertainties in the data: unweighted fit (sigma = 1 in each column's "
                     "units); chi2/dof is the residual variance and the standard errors are "
                     "scaled by sqrt(chi2/dof)")
    mirror = "delta" in free_t and "u" in free_t
    if mirror and "alpha_im" not in data.observables:
        notes.append("the fitted observables are invariant under (delta, u) -> (-delta, -u); "
                     "the data cannot tell the two apart, and the sign reported is whichever the "
                     "best start reached, not necessarily the guess's (fit alpha_im to fix it)")
        mirror = False

    # starts (natural values of every parameter)
    if isinstance(starts, (int, np.integer)) and not isinstance(starts, bool):
        if starts < 1:
            raise ValueError(f"starts must be >= 1, got {starts}")
        start_list = None
        n_wanted = int(starts)
    elif isinstance(starts, bool):
        raise ValueError(f"starts: a number of starts or a list of starts, got {starts!r}")
    else:
        start_list = []
        for s in starts:
            s = dict(s)
            _check_params(free_t, None, s)
            start_list.append(dict(values, **{k: float(v) for k, v in s.items()}))
        if not start_list:
            raise ValueError("starts: the list of starts is empty")
        n_wanted = len(start_list)

    eps = jnp.asarray(data.eps)
    y = jnp.asarray(data.values)
    w = jnp.asarray(1.0 / sigma)
    lm_scale = _LM_SCALE / (1.0 if weighted else
                            (1e-2 * float(np.sqrt(np.mean(data.values**2))) or 1.0))
    eps_max = float(np.max(data.eps))
    free_idx = tuple(FIT_PARAMS.index(p) for p in free_t)
    observables = tuple(data.observables)

    def make_spec(vals, at_least=0):
        nm = nmax if nmax is not None else max(_needed_nmax(N, eps_max, vals, NMAX_MARGIN),
                                               at_least)
        return _Spec(int(nm), _n_terms(N, data.eps, vals), observables, free_idx)

    def coords(vals):
        return jnp.asarray([math.log(vals[p]) if p == "kappa" else vals[p] for p in free_t])

    spec = make_spec(values)
    refits = 0
    while True:
        base = jnp.asarray([values[p] for p in FIT_PARAMS])
        if start_list is None:
            cands = [values]
            if n_wanted > 1:
                grid = _start_grid(values, free_t, mirror)[1:]
                chi = [_chi2([c[p] for p in FIT_PARAMS], N, eps, data.values, 1.0 / sigma,
                             spec) for c in grid]
                order = np.argsort(chi, kind="stable")
                cands += [grid[i] for i in order[: n_wanted - 1]]
        else:
            cands = start_list
        chunk = min(max_steps, LM_CHUNK)

        def lm(x0):
            x, chi2, ok, steps = _least_squares(x0, base, N, eps, y, w, lm_scale,
                                                kerr_grid(spec.nmax), spec=spec,
                                                max_steps=chunk)
            chi2 = float(chi2)
            return chi2 if math.isfinite(chi2) else math.inf, bool(ok), int(steps), np.asarray(x)

        # every start gets one chunk of steps; then the unconverged starts within LM_KEEP of
        # the lowest chi2 go on, a chunk at a time (a start that wanders off costs one chunk)
        runs = [[*lm(coords(c)), c] for c in cands]
        while True:
            low = min(r[0] for r in runs)
            todo = [r for r in runs if not r[1] and r[2] < max_steps and r[0] <= LM_KEEP * low]
            if not todo:
                break
            for r in todo:
                chi2, ok, steps, x = lm(jnp.asarray(r[3]))
                r[:4] = [chi2, ok, r[2] + steps, x]
        best_i = int(np.argmin([r[0] for r in runs]))
        chi2_best, ok, steps, x, _ = runs[best_i]
        if refits == 0:  # the multi-start summary (a refit starts from its winner only)
            first_runs, first_i = runs, best_i
        best = dict(values)
        for k, p in enumerate(free_t):
            best[p] = float(math.exp(x[k]) if p == "kappa" else x[k])
        p_best = np.asarray([best[p] for p in FIT_PARAMS])
        vals, diag = _curves(jnp.asarray(p_best), N, eps, spec)
        vals = np.asarray(vals)
        tail = float(np.max(np.asarray(diag["tail_population"])))
        need_spec = make_spec(best, at_least=spec.nmax if tail <= TAIL_TOL else
                              int(math.ceil(1.25 * spec.nmax)))
        more_terms = (need_spec.n_terms is not None
                      and (spec.n_terms is None or need_spec.n_terms > spec.n_terms))
        if (need_spec.nmax <= spec.nmax or nmax is not None) and not more_terms:
            break
        refits += 1
        if refits > _MAX_REFITS:
            raise ValueError(f"the Fock truncation did not settle after {_MAX_REFITS} refits "
                             f"(nmax={spec.nmax}, best fit needs {need_spec.nmax}); the fit "
                             f"wanders to {best}: fix a parameter or give better guesses")
        notes.append(f"refitted with nmax={need_spec.nmax} (the best fit at nmax={spec.nmax} "
                     "needs more Fock levels)")
        spec = need_spec._replace(nmax=max(need_spec.nmax, spec.nmax))
        start_list, values = [best], best
        n_wanted = 1

    if not math.isfinite(chi2_best):
        raise ValueError("the model is not finite at any start: check the data units and the "
                         f"initial guesses ({', '.join(f'{p}={values[p]:g}' for p in free_t)})")
    # truncation and series at the best fit: no silent truncation errors
    if tail > TAIL_TOL:
        raise ValueError(f"Fock tail population {tail:.1e} > {TAIL_TOL:g} at the best fit with "
                         f"nmax={spec.nmax}: raise nmax")
    err = np.asarray(diag["exact_moment_error"])
    if np.any(err > EXACT_MOMENT_TOL):
        raise ValueError(f"<n>, <a> differ from the exact moments by {np.nanmax(err):.1e} > "
                         f"{EXACT_MOMENT_TOL:g} at the best fit (nmax={spec.nmax}): raise nmax")
    if "grid_norm_error" in diag:
        g = float(np.max(np.abs(np.asarray(diag["grid_norm_error"]))))
        if not g <= GRID_NORM_TOL:
            raise ValueError(f"Husimi grid normalisation error {g:.1e} > {GRID_NORM_TOL:g} at "
                             f"the best fit (nmax={spec.nmax}): raise nmax")

    # Laplace approximation: exact Hessian of chi2/2 in the natural parameters
    q = jnp.asarray([best[p] for p in free_t])
    J, D2 = _derivatives(q, jnp.asarray(p_best), N, eps, kerr_grid(spec.nmax), spec=spec)
    wn = 1.0 / sigma
    J = (np.asarray(J) * wn[:, :, None]).reshape(M * n_obs, P)
    D2 = (np.asarray(D2) * wn[:, :, None, None]).reshape(M * n_obs, P, P)
    r = ((vals - data.values) * wn).ravel()
    chi2 = float(np.sum(r**2))
    H = J.T @ J + np.einsum("m,mij->ij", r, D2)
    H = 0.5 * (H + H.T)
    scale = chi2 / dof if not weighted else 1.0
    identifiable, why = _positive_definite(H, free_t)
    if identifiable:
        cov = np.linalg.inv(H) * scale
        stderr = np.sqrt(np.diag(cov))
    else:
        if weighted and chi2 / dof > STUCK_CHI2_PER_DOF:
            msg = (f"the fit is stuck far from the data (chi2/dof = {chi2 / dof:.3g}) where the "
                   f"model does not depend on the parameters: {why}; give other initial "
                   "guesses or more starts")
        else:
            msg = (f"the free parameters are not identifiable from {', '.join(observables)} "
                   f"at these pumps: {why}; fix one of them (drop it from the free "
                   "parameters) or fit more observables")
        if not allow_singular:
            raise ValueError(msg + f" (best fit {', '.join(f'{p}={best[p]:.6g}' for p in free_t)})")
        notes.append(msg)
        cov = np.full((P, P), np.nan)
        stderr = np.full(P, np.nan)
    if not ok:
        notes.append(f"the best Levenberg-Marquardt run did not meet its tolerances in "
                     f"{max_steps} steps")
    first_best = first_runs[first_i][0]
    n_at_best = sum(1 for rr in first_runs if rr[0] <= first_best * (1 + 1e-6) + 1e-9)
    start = first_runs[first_i][4]
    return KerrFit(
        params=free_t, value=np.asarray([best[p] for p in free_t]), stderr=stderr,
        covariance=cov, hessian=H, kappa=best["kappa"], delta=best["delta"], u=best["u"], N=N,
        chi2=chi2, dof=dof, chi2_per_dof=chi2 / dof, weighted=weighted,
        n_starts=len(first_runs), start=np.asarray([start[p] for p in free_t]),
        start_index=first_i, n_at_best=n_at_best,
        converged=ok, n_steps=steps, start_chi2=np.asarray([rr[0] for rr in first_runs]),
        start_steps=np.asarray([rr[2] for rr in first_runs]), identifiable=identifiable,
        eps=np.asarray(data.eps),
        observables=observables, data=np.asarray(data.values), sigma=np.asarray(sigma),
        curves=vals, residuals=r.reshape(M, n_obs), nmax=spec.nmax, n_terms=spec.n_terms,
        notes=tuple(notes), seconds=time.perf_counter() - t0)


def _positive_definite(H: np.ndarray, names: Sequence[str]) -> tuple[bool, str]:
    """Is ``H`` positive definite, well enough to invert? Checked in the natural parameters,
    which share units (rates, like the pump), and scaled to unit diagonal (a combination of
    parameters the data cannot tell apart): an eigenvalue below :data:`HESSIAN_RTOL` x the
    largest is within the numerical error of ``H``. Otherwise a description of the direction."""
    d = np.diag(H)
    if not np.all(np.isfinite(H)):
        return False, "the Hessian of chi2/2 is not finite"
    bad = [n for n, v in zip(names, d) if not v > 0]
    if bad:
        return False, (f"chi2 does not curve upwards in {', '.join(bad)} (Hessian diagonal "
                       f"{', '.join(f'{v:.2g}' for v in d)})")
    s = 1.0 / np.sqrt(d)
    worst = None
    for M, back in ((H, np.ones_like(s)), (H * s[:, None] * s[None, :], s)):
        lam, vec = np.linalg.eigh(M)
        ratio = lam[0] / lam[-1]
        if ratio <= HESSIAN_RTOL and (worst is None or ratio < worst[0]):
            worst = (ratio, vec[:, 0] * back)
    if worst is None:
        return True, ""
    ratio, v = worst
    v = v / v[np.argmax(np.abs(v))]
    terms = [(c, n) for c, n in zip(v, names) if abs(c) > 1e-3]
    combo = terms[0][1] if len(terms) == 1 else " ".join(f"{c:+.3g} {n}" for c, n in terms)
    kind = "singular" if ratio > -HESSIAN_RTOL else "not positive definite"
    return False, (f"the Hessian of chi2/2 is {kind} (eigenvalue ratio {ratio:.1e}) along "
                   f"{combo}")


def kerr_curves(eps, N: float, observables: Sequence[str] = FIT_OBSERVABLES, *,
                kappa: float = 0.5, delta: float = -2.0, u: float = 1.0,
                nmax: int | None = None) -> np.ndarray:
    """The Kerr NESS observables ``(len(eps), O)`` at pumps ``eps`` and size ``N``, exactly as
    :func:`fit_kerr` models them (``kerr.csv`` conventions), e.g. to make synthetic data.
    ``nmax`` defaults to the rule of :func:`fit_kerr` (so a fit from these parameters reuses
    this compilation)."""
    eps = np.atleast_1d(np.asarray(eps, dtype=float))
    values = {"kappa": float(kappa), "delta": float(delta), "u": float(u)}
    for o in observables:
        if o not in FIT_OBSERVABLES:
            raise ValueError(f"observable {o!r} does not exist; choose from "
                             f"{', '.join(FIT_OBSERVABLES)}")
    if eps.size == 0 or np.any(eps <= 0) or not np.all(np.isfinite(eps)):
        raise ValueError(f"eps must be positive and finite, got {eps}")
    if not (math.isfinite(N) and N > 0):
        raise ValueError(f"N must be positive and finite, got {N}")
    if not values["kappa"] > 0:
        raise ValueError(f"kappa must be positive, got {kappa}")
    nm = nmax if nmax is not None else _needed_nmax(N, float(eps.max()), values, NMAX_MARGIN)
    spec = _Spec(int(nm), _n_terms(N, eps, values), tuple(observables), ())
    vals, _ = _curves(jnp.asarray([values[p] for p in FIT_PARAMS]), float(N), jnp.asarray(eps),
                      spec)
    return np.asarray(vals)


def fit_curves(fit: KerrFit, eps) -> np.ndarray:
    """The best-fit model ``(len(eps), O)`` at pumps ``eps`` (e.g. a fine grid for plots). Runs
    the fit's compiled curve program in chunks of its number of points (no new compilation);
    pumps above the data's largest may need a larger ``nmax`` than the fit's (``ValueError``)."""
    eps = np.atleast_1d(np.asarray(eps, dtype=float))
    if eps.size == 0:
        return np.zeros((0, len(fit.observables)))
    if np.any(eps <= 0) or not np.all(np.isfinite(eps)):
        raise ValueError("eps must be positive and finite")
    if float(eps.max()) > float(np.max(fit.eps)) * (1 + 1e-12):
        raise ValueError(f"eps up to {eps.max():g} exceeds the data's range (up to "
                         f"{np.max(fit.eps):g}) the truncation nmax={fit.nmax} was chosen for")
    spec = _Spec(fit.nmax, fit.n_terms, fit.observables,
                 tuple(FIT_PARAMS.index(p) for p in fit.params))
    M = len(fit.eps)
    p = jnp.asarray([fit.kappa, fit.delta, fit.u])
    out = []
    for i in range(0, eps.size, M):
        chunk = eps[i:i + M]
        padded = np.concatenate([chunk, np.full(M - chunk.size, chunk[-1])])
        vals, _ = _curves(p, fit.N, jnp.asarray(padded), spec)
        out.append(np.asarray(vals)[: chunk.size])
    return np.concatenate(out, axis=0)


#: Columns of ``fit.csv``.
FIT_CSV_COLUMNS = ("param", "value", "stderr")


def write_fit_csv(fit: KerrFit, path: str | os.PathLike) -> str:
    """Write ``fit`` to ``path`` with columns :data:`FIT_CSV_COLUMNS`: one row per free
    parameter, then ``chi2_per_dof`` with an empty ``stderr``. Atomic: a temporary file in the
    same directory is written, flushed and ``os.replace``-d over ``path``."""
    import tempfile

    path = os.fspath(path)
    rows = [(p, repr(float(v)), repr(float(s))) for p, v, s in zip(fit.params, fit.value,
                                                                   fit.stderr)]
    rows.append(("chi2_per_dof", repr(float(fit.chi2_per_dof)), ""))
    fd, tmp = tempfile.mkstemp(prefix=".fit-", suffix=".csv.tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(FIT_CSV_COLUMNS)
            writer.writerows(rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
