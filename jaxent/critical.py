r"""Critical points from derivatives: Newton extrema and roots, and finite-size extrapolation.

Model-independent machinery behind :mod:`jaxent.studies.critical`:

- :func:`newton_extremum` locates a stationary point $f'(x) = 0$ of a scalar function by
  Newton's method on $f'$ with $f''$ from ``jax``, and reports the
  gradient, the curvature and the last Newton step $|f'/f''|$ at the result: the distance to the
  exact stationary point to second order, i.e. its accuracy in ``x``.
- :func:`newton_root` does the same for a root $f(x) = 0$ (e.g. of $1/\Pi_d$ at a divergence).
- :func:`zoom_scan` brackets a sharp peak by successively finer grids (the start for Newton).
- :func:`parabola_extremum`: a derivative-free extremum (successive 5-point parabolas) of a
  function known to a finite accuracy, with the noise-limited accuracy of the result.
- :func:`extrapolate` fits $y(N) = y_\infty + \sum_{k=1}^{K} c_k N^{-k}$, chooses $K$ from the data
  and returns $y_\infty$ with an error bar that includes the model-choice uncertainty, plus the
  leave-one-size-out jackknife that checks it.

The Newton searches run a batch of problems at once: ``f`` takes ``(x, args)``, and one jitted
``jax.vmap`` over ``args`` evaluates $(f, f', f'')$ for every problem per iteration.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike


@dataclasses.dataclass(frozen=True)
class Stationary:
    r"""Located stationary points or roots (numpy arrays, one entry per problem of the batch),
    each with its own convergence evidence.

    ``x``: the point; ``value``: $f(x)$; ``grad``: $f'(x)$; ``curvature``: $f''(x)$;
    ``step``: the Newton step that would follow, $|f'/f''|$ for an extremum and $|f/f'|$ for a
    root -- the distance to the exact point to second order (the accuracy of ``x`` in exact
    arithmetic); ``num_steps``: Newton iterations; ``success``: the iteration converged
    (``step <= xtol (1 + |x|)``) within its steps, stayed inside its bracket and (for an
    extremum) the curvature has the sign asked for.
    """

    x: np.ndarray
    value: np.ndarray
    grad: np.ndarray
    curvature: np.ndarray
    step: np.ndarray
    num_steps: np.ndarray
    success: np.ndarray


def derivatives(f: Callable, x, args=None):
    """``(f, f', f'')`` of ``f(x, args)`` at scalar ``x`` in one forward-over-reverse pass."""
    vg = jax.value_and_grad(f)
    (v, g), (_, h) = jax.jvp(lambda y: vg(y, args), (x,), (jnp.ones_like(x),))
    return v, g, h


def _batch(x0, args):
    x0 = np.atleast_1d(np.asarray(x0, float))
    leaves = jax.tree_util.tree_leaves(args)
    if any(np.shape(leaf)[:1] != x0.shape for leaf in leaves):
        raise ValueError(f"every leaf of args must have the batch size of x0 {x0.shape} along "
                         "its first axis")
    return x0


def batched_derivatives(f: Callable, batch: str = "auto") -> Callable:
    """``(x, args, active, shared=None) -> (f, f', f'')`` for a batch of problems, jitted (NaN
    where ``active`` is false): ``jax.vmap`` over the batch
    (``batch="vmap"``), or ``jax.lax.map``, one problem after the other inside one program
    (``"map"``). ``"auto"`` maps on CPU and vmaps elsewhere: jaxlib 0.10's CPU LAPACK kernels
    split a *batched* call over the intra-op thread pool and block on it, and the derivative
    programs of a steady state run several such calls side by side, which deadlocks a 2-thread
    pool (reproduced with vmapped triangular solves at nmax = 128); unbatched calls run
    inline.

    With ``shared`` (a pytree, not batched), ``f`` is called as ``f(x, args, shared)``: arrays
    every problem uses, passed into the program as an argument rather than compiled in as
    constants (e.g. a Husimi grid's tables: tens of MB in every compiled program and in the
    persistent compilation cache)."""
    if batch == "auto":
        batch = "map" if jax.default_backend() == "cpu" else "vmap"
    if batch not in ("map", "vmap"):
        raise ValueError(f"batch must be 'auto', 'map' or 'vmap', got {batch!r}")
    return _derivative_program(f, batch)


# one compiled program per function (by identity) and batching: a search repeated with the same
# f (a notebook cell run again) does not compile it again
@functools.lru_cache(maxsize=32)
def _derivative_program(f: Callable, batch: str) -> Callable:
    def one(x, a, active, shared):
        # problems already converged are skipped (NaN), their derivatives are not recomputed
        nan = jnp.full((), jnp.nan, jnp.result_type(float))
        g = f if shared is None else (lambda y, b: f(y, b, shared))
        return jax.lax.cond(active, lambda: derivatives(g, x, a), lambda: (nan, nan, nan))

    if batch == "vmap":  # (under vmap the cond evaluates both branches: no saving, no harm)
        mapped = jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None)))
    else:
        mapped = jax.jit(lambda x, a, active, shared: jax.lax.map(
            lambda xaa: one(xaa[0], xaa[1], xaa[2], shared), (x, a, active)))

    def derivs(x, args, active, shared=None):
        return mapped(x, args, active, shared)

    return derivs


def _bounds(bound, x0, default):
    return np.broadcast_to(np.asarray(default if bound is None else bound, float), x0.shape)


def _newton(derivs, x0, args, shared, lower, upper, xtol, max_steps, trust, root):
    """Newton iteration on a batch: ``derivs(x, args, active, shared) -> (f, f', f'')`` is one
    jitted, vmapped
    call per iteration (the heavy function is compiled once); steps are limited to ``trust``
    and iterates clipped to ``[lower, upper]``; a step that lands where ``f`` is not finite is
    halved back towards the last finite iterate. The loop runs in Python on purpose: a
    ``lax.while_loop`` around batched LAPACK calls (the steady-state solves) deadlocks
    jaxlib 0.10's CPU runtime on 2-core machines (reproduced at nmax = 128)."""
    x = x0.copy()
    lo, hi = _bounds(lower, x0, -np.inf), _bounds(upper, x0, np.inf)
    trust = _bounds(trust, x0, np.inf)
    done = np.zeros(x.shape, bool)
    n = np.zeros(x.shape, int)
    x_ok = None  # the last iterate where the function was finite
    d = None
    active = np.ones(x.shape, bool)
    keep = None
    for _ in range(max_steps):
        d = [np.asarray(a, float)
             for a in derivs(jnp.asarray(x), args, jnp.asarray(active), shared)]
        if keep is not None:  # converged problems keep the derivatives of their last evaluation
            d = [np.where(active, new, old) for new, old in zip(d, keep)]
        num, den = (d[0], d[1]) if root else (d[1], d[2])
        finite = np.isfinite(num) & np.isfinite(den) & (den != 0)
        if x_ok is None:
            if not finite.all():
                raise ValueError(f"the function or its derivatives are not finite at the start "
                                 f"x0 = {x0[~finite][:3]}")
            x_ok = x.copy()
        x_ok = np.where(finite, x, x_ok)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(finite, -num / den, 0.0)
        done = finite & (np.abs(step) <= xtol * (1.0 + np.abs(x)))
        n = n + ~done
        if done.all():
            break
        active, keep = ~done, d
        # a step into a region where f is undefined (e.g. past an instability) is halved
        x = np.where(done, x, np.where(finite, np.clip(x + np.clip(step, -trust, trust), lo, hi),
                                       0.5 * (x + x_ok)))
    else:
        d = [np.asarray(a, float)
             for a in derivs(jnp.asarray(x), args, jnp.asarray(active), shared)]
        if keep is not None:
            d = [np.where(active, new, old) for new, old in zip(d, keep)]
    inside = (x > lo) & (x < hi)
    return x, d, n, done & inside


def newton_extremum(f: Callable, x0, args=None, *, lower=None, upper=None, kind: str = "max",
                    xtol: float = 1e-10, max_steps: int = 40, trust=None,
                    batch: str = "auto", shared=None) -> Stationary:
    r"""Stationary points of ``f(x, args)`` by Newton's method on $f'$, for a batch of problems.

    ``x0`` has shape ``(B,)`` and every leaf of ``args`` a leading axis ``B``; $f'$ comes from
    ``jax.grad`` and $f''$ from forward mode over it, in one jitted pass over the batch per
    iteration (:func:`batched_derivatives`; so ``f`` may contain implicit derivatives, e.g. a
    steady state). Steps are limited to
    ``trust`` and iterates clipped to ``[lower, upper]`` (scalars or ``(B,)``); a result on the
    bracket's edge is not a success. ``kind`` (``"max"``/``"min"``) is checked by the sign of the
    curvature at the result, so an iteration that slid to the wrong kind of stationary point
    reports ``success = False`` rather than a wrong number. Converged when the next Newton step
    is below ``xtol (1 + |x|)``. ``shared``: arrays common to all problems (not batched), then
    passed as ``f(x, args, shared)`` (see :func:`batched_derivatives`).
    """
    if kind not in ("max", "min"):
        raise ValueError(f"kind must be 'max' or 'min', got {kind!r}")
    x0 = _batch(x0, args)
    derivs = batched_derivatives(f, batch)
    x, (v, g, h), n, ok = _newton(derivs, x0, args, shared, lower, upper, xtol, max_steps, trust,
                                  False)
    sign_ok = h < 0 if kind == "max" else h > 0
    return Stationary(x=x, value=v, grad=g, curvature=h, step=np.abs(g / h), num_steps=n,
                      success=ok & sign_ok)


def newton_root(f: Callable, x0, args=None, *, lower=None, upper=None, xtol: float = 1e-12,
                max_steps: int = 60, trust=None, batch: str = "auto",
                shared=None) -> Stationary:
    r"""Roots of ``f(x, args)`` (``f(x, args, shared)`` with ``shared``) by Newton's method
    ($f'$ and $f''$ from ``jax``), batched like :func:`newton_extremum`. ``grad``/``curvature``
    of the result hold $f'$ and $f''$; ``step = |f/f'|``."""
    x0 = _batch(x0, args)
    derivs = batched_derivatives(f, batch)
    x, (v, g, h), n, ok = _newton(derivs, x0, args, shared, lower, upper, xtol, max_steps, trust,
                                  True)
    return Stationary(x=x, value=v, grad=g, curvature=h, step=np.abs(v / g), num_steps=n,
                      success=ok)


def zoom_scan(values: Callable[[np.ndarray], np.ndarray], lower: float, upper: float, *,
              points: int = 41, width: float | None = None, levels: int = 6,
              kind: str = "max") -> tuple[float, float, float]:
    """Bracket the extremum of a sharply peaked function by successively finer scans.

    ``values(xs)`` evaluates the function on an array of points (typically one vmapped call).
    Each level scans ``points`` equally spaced points and keeps the two grid cells around the
    best one; it stops once the spacing is below ``width`` (default: the bracket after
    ``levels`` levels). Returns ``(x_best, lo, hi)``: the best grid point and a bracket that
    contains the extremum if the function is unimodal there. ``ValueError`` if the best point is
    at an end of the first scan (no interior extremum in ``[lower, upper]``)."""
    lo, hi = float(lower), float(upper)
    for level in range(levels):
        xs = np.linspace(lo, hi, points)
        v = np.asarray(values(xs), float)
        if not np.all(np.isfinite(v)):
            bad = xs[~np.isfinite(v)]
            raise ValueError(f"the function is not finite at x = {bad[:3]} while scanning "
                             f"[{lo:g}, {hi:g}]")
        i = int(np.argmax(v) if kind == "max" else np.argmin(v))
        if level == 0 and i in (0, points - 1):
            raise ValueError(f"no interior {kind}imum in [{lower:g}, {upper:g}]: the scan's best "
                             f"point is its end x = {xs[i]:g}; widen the interval")
        h = xs[1] - xs[0]
        best = xs[i]
        lo, hi = max(best - h, float(lower)), min(best + h, float(upper))
        if width is not None and h < width:
            break
    return float(best), lo, hi


def parabola_extremum(values: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], x0: float,
                      h: float, *, lower: float, upper: float, kind: str = "min",
                      xtol: float = 1e-8, shrink: float = 8.0, max_evals: int = 60) -> dict:
    r"""Derivative-free extremum of a smooth function known only to a finite accuracy, by
    successive least-squares parabolas on 5-point stencils (for functions without derivatives,
    e.g. an eigenvalue from shift-invert Arnoldi).

    ``values(xs)`` returns ``(f, sigma)``: the values and their absolute accuracies. Each level
    evaluates ``x + h*(-2..2)``; if the best point is at an end of the stencil, the stencil
    moves there (same ``h``); otherwise the vertex of the fitted parabola becomes the centre and
    ``h`` shrinks by ``shrink``.

    Accuracy of a vertex $t_v = -b/2a$ (in units of ``h``) of $a t^2 + b t + c$ fitted to
    $t = -2..2$ with noise $\bar\sigma$: ${\rm Var}\,b = \bar\sigma^2/10$,
    ${\rm Var}\,a = \bar\sigma^2/14$, uncorrelated, so
    $\sigma_x = \bar\sigma\,\sqrt{1/10 + 2t_v^2/7}\,/(|f''|\,h)$. It grows like $1/h$: the
    search stops when the vertex moved by less than ``xtol``, or *before* a finer stencil
    would be noise-dominated ($\sigma_x\,{\rm shrink}^2 > h/4$), and returns the last fit.

    Returns a dict: ``x`` (the last vertex), ``value``, ``curvature`` ($f''$), ``h``,
    ``stencil``, ``stencil_values``, ``stencil_sigma`` (that fit's spacing, points, values,
    accuracies), ``shift`` (its move from the previous centre), ``noise_err`` ($\sigma_x$),
    ``step`` (the accuracy in ``x``: ``max(shift, noise_err)``), ``evals``, ``converged``
    (a stop criterion was met) and ``success`` (converged to an extremum of the asked ``kind``
    inside ``(lower, upper)``). If the search ends without a fit at its last point (walked out
    of the interval, a parabola of the wrong kind, ``max_evals`` used up while walking), the
    fit entries are NaN/None and ``success`` is False.
    """
    if kind not in ("max", "min"):
        raise ValueError(f"kind must be 'max' or 'min', got {kind!r}")
    if not (h > 0 and shrink > 1):
        raise ValueError(f"h must be positive and shrink > 1, got h={h}, shrink={shrink}")
    sign = 1.0 if kind == "min" else -1.0
    x, evals, converged = float(x0), 0, False
    stencil = np.arange(-2.0, 3.0)
    fit = None  # the parabola whose vertex is the current x
    while evals + 5 <= max_evals:
        xs = x + h * stencil
        f, sig = (np.asarray(v, float) for v in values(xs))
        evals += 5
        if not (np.all(np.isfinite(f)) and np.all(np.isfinite(sig))):
            raise ValueError(f"the function is not finite near x = {x:g} (values {f})")
        i = int(np.argmin(sign * f))
        if i in (0, 4):  # not bracketed: walk towards the extremum
            x, fit = float(xs[i]), None
            if not lower < x < upper:
                break
            continue
        a, b, c = np.polyfit(stencil, f, 2)  # in units of h
        if sign * a <= 0:
            fit = None
            break
        tv = -b / (2 * a)
        curv = 2 * a / h**2
        noise_err = float(np.mean(sig) * math.sqrt(0.1 + 2 * tv * tv / 7) / (abs(curv) * h))
        fit = {"value": float(c - b * b / (4 * a)), "curvature": float(curv), "h": h,
               "stencil": xs, "stencil_values": f, "stencil_sigma": sig,
               "shift": abs(tv * h), "noise_err": noise_err}
        x = float(x + tv * h)
        if not lower < x < upper:
            break
        if fit["shift"] <= xtol or noise_err * shrink**2 > h / 4:
            converged = True
            break
        h /= shrink
    if fit is None:
        return {"x": x, "value": math.nan, "curvature": math.nan, "h": h, "stencil": None,
                "stencil_values": None, "stencil_sigma": None, "shift": math.nan,
                "noise_err": math.nan, "step": math.inf, "evals": evals, "converged": False,
                "success": False}
    return {"x": x, **fit, "step": max(fit["shift"], fit["noise_err"]), "evals": evals,
            "converged": converged, "success": bool(converged and lower < x < upper)}


# ----------------------------------------------------------------------------------------------
# finite-size extrapolation


@dataclasses.dataclass(frozen=True)
class Extrapolation:
    r"""Result of :func:`extrapolate`.

    ``value`` $\pm$ ``stderr``: the limit $y_\infty$; ``order``: the number $K$ of $1/N$ terms
    chosen; ``stat_err``: its covariance error (residual-scaled without ``sigma``; with
    ``sigma``, scaled by the Birge ratio $\sqrt{\chi^2/\mathrm{dof}}$ when that exceeds 1);
    ``model_err``: the largest change of $y_\infty$ to the neighbouring orders, the model-choice
    uncertainty; ``jackknife_err``: the largest change of $y_\infty$ when one size is left out;
    ``stderr = max(hypot(stat_err, model_err), jackknife_err)``; ``coeffs``: $(y_\infty,
    c_1, \dots, c_K)$; ``orders``: per order tried, ``(K, y_inf, stat_err, chi2, dof, loo)``
    (``loo``: leave-one-out prediction error of the largest sizes); ``jackknife``: $y_\infty$
    refitted without each size in turn (same procedure, including the order choice).
    """

    value: float
    stderr: float
    order: int
    stat_err: float
    model_err: float
    jackknife_err: float
    coeffs: np.ndarray
    orders: list
    jackknife: np.ndarray
    N: np.ndarray
    y: np.ndarray

    def model(self, N) -> np.ndarray:
        """The chosen fit evaluated at sizes ``N`` (``inf`` gives ``value``)."""
        x = 1.0 / np.asarray(N, float)
        return np.polynomial.polynomial.polyval(x, self.coeffs)

    @property
    def jackknife_inside(self) -> bool:
        """Whether every jackknife estimate lies within ``stderr`` of ``value``."""
        return bool(np.all(np.abs(self.jackknife - self.value) <= self.stderr))


def _fit(x, y, w, K, absolute=False):
    # in units of the largest |x|, so the columns x^k stay comparable (x may span decades)
    xs = float(np.max(np.abs(x)))
    V = np.vander(x / xs, K + 1, increasing=True)
    A = V * w[:, None]
    coef, *_ = np.linalg.lstsq(A, y * w, rcond=None)
    r = (V @ coef - y) * w
    chi2 = float(r @ r)
    dof = len(x) - (K + 1)
    unscale = xs ** -np.arange(K + 1.0)
    coef = coef * unscale
    cov = np.linalg.pinv(A.T @ A) * np.outer(unscale, unscale)
    if dof <= 0:
        scale = np.inf
    elif absolute:
        scale = max(1.0, chi2 / dof)  # Birge ratio: residuals beyond the stated errors
    else:
        scale = chi2 / dof  # relative weights: the residuals set the error scale
    return coef, cov * scale, chi2, dof


def _choose(x, y, w, orders, absolute):
    """Per order: fit, covariance error, and the leave-one-out error of predicting each of the
    three largest sizes from the others (the extrapolation direction)."""
    table = []
    for K in orders:
        coef, cov, chi2, dof = _fit(x, y, w, K, absolute)
        loo = []
        for j in np.argsort(x)[:3]:  # largest N = smallest 1/N
            keep = np.arange(len(x)) != j
            if keep.sum() < K + 1:
                continue
            c, *_ = _fit(x[keep], y[keep], w[keep], K)
            loo.append(abs(np.polynomial.polynomial.polyval(x[j], c) - y[j]))
        table.append((K, float(coef[0]), float(math.sqrt(max(cov[0, 0], 0.0))), chi2, dof,
                      float(max(loo)) if loo else np.inf, coef))
    return table


def _estimate(x, y, w, max_order, absolute):
    orders = [K for K in range(1, max_order + 1) if len(x) - (K + 1) >= 1]
    if not orders:
        raise ValueError(f"extrapolation needs at least 3 sizes, got {len(x)}")
    table = _choose(x, y, w, orders, absolute)
    # the order that predicts the largest sizes best from the others (cross-validation)
    best = min(range(len(table)), key=lambda i: table[i][5])
    K, val, se, *_ = table[best]
    # model choice: the neighbouring orders that are still usable (finite error, >= 1 dof)
    others = [t[1] for t in table if abs(t[0] - K) == 1 and np.isfinite(t[2])]
    model_err = max((abs(v - val) for v in others), default=0.0)
    return table, best, val, se, model_err


def extrapolate(N: ArrayLike, y: ArrayLike, sigma: ArrayLike | None = None, *,
                max_order: int = 4) -> Extrapolation:
    r"""Extrapolate $y(N)$ to $N\to\infty$ with $y = y_\infty + \sum_{k=1}^K c_k/N^k$.

    - Fits of every order $K = 1..$``max_order`` that leave at least one degree of freedom,
      weighted by ``sigma`` (the numerical error of each ``y``; default equal weights).
    - The order is chosen by leave-one-out cross-validation on the three largest sizes: the fit
      that best predicts each of them from the other sizes (the extrapolation direction), so
      neither an underfit nor an overfit wins.
    - ``stderr``: the larger of $\sqrt{\mathrm{stat}^2 + \mathrm{model}^2}$ -- the covariance
      error of the chosen fit (residual-scaled: for exact data the residuals are the neglected
      higher orders) and the largest change of $y_\infty$ to the neighbouring orders -- and the
      largest change when any one size is left out (the whole procedure including the order
      choice repeated), so no single size carries the result beyond its error bar. The
      leave-one-out estimates are returned (:attr:`Extrapolation.jackknife`).
    """
    N = np.asarray(N, float)
    y = np.asarray(y, float)
    if N.ndim != 1 or N.shape != y.shape:
        raise ValueError(f"N and y must be 1-D of equal length, got {N.shape} and {y.shape}")
    if not (np.all(np.isfinite(N)) and np.all(N > 0)):
        raise ValueError(f"N must be positive and finite, got {N}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"y must be finite, got {y}")
    if len(np.unique(N)) != len(N):
        raise ValueError(f"N must not repeat, got {N}")
    if sigma is None:
        w = np.ones_like(y)
    else:
        s = np.asarray(sigma, float)
        if s.shape != y.shape or not np.all(s > 0):
            raise ValueError(f"sigma must be positive with the shape of y, got {s}")
        w = 1.0 / s
    x = 1.0 / N
    table, best, val, se, model_err = _estimate(x, y, w, max_order, sigma is not None)
    jack = []
    for j in range(len(x)):
        keep = np.arange(len(x)) != j
        if keep.sum() >= 3:
            jack.append(_estimate(x[keep], y[keep], w[keep], max_order, sigma is not None)[2])
    K, _, _, _, _, _, coef = table[best]
    orders = [t[:6] for t in table]
    jack = np.asarray(jack)
    # the largest change when one size is left out: the jackknife error sqrt((n-1)/n sum d_i^2)
    # is smaller than that when one size dominates (the largest N, the most leverage)
    jack_err = float(np.max(np.abs(jack - val))) if len(jack) else 0.0
    stderr = max(math.hypot(se, model_err), jack_err)
    return Extrapolation(value=float(val), stderr=float(stderr), order=int(K),
                         stat_err=float(se), model_err=float(model_err), jackknife_err=jack_err,
                         coeffs=np.asarray(coef), orders=orders, jackknife=jack, N=N, y=y)
