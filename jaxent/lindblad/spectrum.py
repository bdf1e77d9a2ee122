r"""The slow end of a Liouvillian spectrum: the gap, the slowest eigenvalues and eigenmatrices.

$\mathcal L r_k = \lambda_k r_k$ with $0 = \lambda_0$ (the steady state) and
$0 > {\rm Re}\,\lambda_1 \ge {\rm Re}\,\lambda_2 \ge \dots$; the Liouvillian gap is
$-{\rm Re}\,\lambda_1$, the slowest relaxation rate [GFL-quench, Eqs. (7)-(8), Fig. 3].

Two methods:

- ``"arnoldi"``: shift-invert Arnoldi at a small real shift $\sigma > 0$ just right of the
  spectrum (:func:`shift`: $10^{-5}\|\mathcal L\|$, capped at 1 % of the slowest bare decay
  rate). The steady-state solvers
  (:class:`~jaxent.lindblad.BandedElimination` for one mode, any
  :class:`~jaxent.lindblad.solvers.AbstractSolver`) factorise
  $\mathcal L - \sigma$ (:class:`~jaxent.lindblad.operators.ShiftedLindbladian`) and solve
  $(\mathcal L - \sigma) y = b$ for traceless Hermitian $b$: that is
  $(\mathcal L - \sigma)^{-1}$ on the traceless Hermitian matrices, an invariant *real* vector
  space of a Hermiticity-preserving $\mathcal L$ (the steady state is not in it), whose
  dominant eigenvalues are $1/(\lambda_k - \sigma)$ of the slowest modes. Arnoldi runs there
  with the real inner product ${\rm Re\,tr}(X^\dagger Y)$ (real Hessenberg matrix, eigenvalues
  in conjugate pairs); a Ritz vector $V s$ with complex $s$ is the complex eigenmatrix. Each
  Krylov step costs one solve with the stored factors (``O(n^3)`` banded), never a new
  factorisation.

  Why not $\sigma = 0$: where the gap $|\lambda_1|$ is within a few thousand
  $\epsilon_{\rm mach}\|\mathcal L\|$ of zero (Kerr near $\epsilon_c$ at N >= 20), each
  solve with the nearly singular $\mathcal L$ amplifies its rounding by $1/|\lambda_1|$ along
  the slow mode, and the rest of the Krylov space carries relative errors
  $\sim\epsilon_{\rm mach}\|\mathcal L\|/|\lambda_1|$: at N = 30, eps = 0.94 the eigenvalues
  after the gap were resolved to only 3e-5 relative, at N = 40 to 1e-2..3e-1 (and wrong in
  their second digit). With $\sigma > 0$ the shifted operator is invertible, its rounding is
  bounded by $\epsilon_{\rm mach}\|\mathcal L\|/\sigma = 2\times10^{-11}$, and they are
  resolved to 1e-12. The shift is far below the slow rates it transforms (the cap), so they
  stay the dominant eigenvalues, in the same order.

  What shift-invert finds are the eigenvalues nearest $\sigma \approx 0$ in modulus, returned by
  decreasing real part. These are the slowest ones when the decay rates grow with the
  frequencies (the Kerr model); a weakly damped mode at a large frequency can be slower than
  all of them (a detuning of 100 and a loss $2\kappa\mathcal D[a]$ with $\kappa = 10^{-4}$:
  shift-invert returns the populations' $-2\times10^{-4}k$, while the coherences'
  $-10^{-4} \pm 100i$ decay more slowly). ``"dense"`` sees the whole spectrum.
- ``"dense"``: ``eig`` of the ``(n^2, n^2)`` superoperator, for small spaces and as the
  independent check.

Resolution. Each eigenvalue comes with ``residuals`` $=\|\mathcal L r - \lambda r\|_F$
($\|r\|_F = 1$, computed with the exact ``L.mv``) and ``resolution`` $=$ residual $+\
\epsilon_{\rm mach}\|\mathcal L\|$: no float64 evaluation of $\mathcal L r$ is more accurate than
the second term, so an eigenvalue smaller than it (the Kerr gap near $\epsilon_c$ at N = 40,
about 4e-13 against $\epsilon\|\mathcal L\| \approx 10^{-13}$) is known only to that absolute
accuracy. It is still obtained: the slow mode is by far the dominant eigenvalue of
$(\mathcal L - \sigma)^{-1}$, and the slow 2x2 problem (null vector + slow mode) is well
conditioned, so the returned value is the exact gap of a matrix within $\epsilon\|\mathcal L\|$
of $\mathcal L$; ``relative_resolution`` says how many digits that leaves.

The resolution is a backward error: $\lambda$ is an exact eigenvalue of a matrix within it of
$\mathcal L$. How far that moves the eigenvalue is, to first order, the resolution times the
eigenvalue's condition number $\kappa_i = \|l_i\|\|r_i\|/|l_i^\dagger r_i|$ (left and right
eigenvectors), which is 1 for a normal operator only. Liouvillians are not normal: over
eps = 0.5-1.3 at N = 5, 10 (``jaxent spectrum``'s truncations) the Kerr gap has
$\kappa$ = 2.6-43 (the largest where it is one of a near-degenerate group, eps <= 0.7 and
>= 1.25), the next three eigenvalues 6.7 to 1.0e4, and the populations of a weakly damped oscillator
(``tests/test_spectrum.py``) 26 to 1.4e4; their errors against dense ``eig`` reach 6x and 100x
the resolution. So each eigenvalue also comes with ``condition``, and
``error_bound`` $= \kappa_i\,\times$ ``resolution`` is its first-order forward error bound.

The condition number is taken within the traceless Hermitian matrices, where the slow modes and
their residuals live ($\mathcal L$ preserves the trace, so $\mathcal L r - \lambda r$ is
traceless for a traceless $r$): $l_i$ there is the projection $P_0 l$ of the left eigenvector of
$\mathcal L$, $P_0 X = X - ({\rm tr} X/n) 1$, and $|\lambda_{\rm computed} - \lambda| \le
\kappa_i \|\mathcal L r - \lambda r\|$ to first order, since $l^\dagger$ of a traceless matrix
is $(P_0 l)^\dagger$ of it. This $\kappa_i$ is at most the unrestricted one (Kerr gap at N = 5,
eps = 0.8, nmax 24: 2.8 against 4.1). Arnoldi finds $P_0 l_i$ by a second shift-invert Arnoldi,
on the adjoint solve $(\mathcal L - \sigma)^{-\dagger}$ (the solver's ``transpose``, the same
factors), whose Ritz values $\overline{1/(\lambda_i - \sigma)}$ are matched to the right ones;
it stops once each left vector's residual $\|P_0\mathcal L^\dagger l - \bar\mu l\|$ (its own
Ritz value $\mu$) is below :data:`CONDITION_RTOL` $|\lambda|$ (or the float64 floor). A left
vector still above it after all the steps (or one Ritz vector matched to two eigenvalues) gives
``condition = inf``: no bound rather than a wrong one. ``condition=False`` skips it all (half
the work; ``condition`` is then NaN). Dense: the rows of the inverse eigenvector matrix.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxent._validation import static_int
from jaxent.interop import as_lindbladian
from jaxent.lindblad.operators import AbstractLindbladian, ShiftedLindbladian
from jaxent.lindblad.solvers import AbstractSolver
from jaxent.tolerances import EPS64

#: Largest number of Arnoldi steps by default (static); the iteration stops earlier once the
#: ``k`` eigenvalues are resolved (:data:`RTOL`), checked every :data:`CHECK_EVERY` steps.
DEFAULT_KRYLOV = 120
#: Arnoldi steps between convergence checks.
CHECK_EVERY = 10
#: Default convergence test: each of the ``k`` eigenvalues resolved to ``RTOL |lambda|`` (or to
#: ``10 eps ||L||``, what float64 allows, whichever is larger).
RTOL = 1e-9
#: Shift of the shift-invert Arnoldi, relative to ``||L||``: ``sigma = SHIFT ||L||`` (module
#: docstring), so the solves' rounding stays below ``eps / SHIFT = 2e-11`` relative; at most
#: :data:`SHIFT_DECAY` times the slowest bare decay rate of ``L`` (:func:`shift`).
SHIFT = 1e-5
#: Cap of the shift relative to the smallest nonzero ``|Re L_{mn,mn}|`` (the slowest bare decay
#: rate of a matrix element: ``kappa`` for the Kerr model, 0.5): eigenvalues of that order must
#: stay well apart after the transformation ``1/(lambda - sigma)``.
SHIFT_DECAY = 1e-2
#: ``method="auto"`` uses dense ``eig`` up to this Hilbert-space dimension.
DENSE_MAX_DIM = 16
#: Stop test of the left (adjoint) Arnoldi for the condition numbers: each left vector's
#: residual below ``CONDITION_RTOL |lambda|`` (or ``10 eps ||L||``). A left vector with relative
#: error ``e`` changes the condition number by about ``kappa e``; two digits suffice for a
#: bound.
CONDITION_RTOL = 1e-6
_SQRT2 = math.sqrt(2.0)


class Spectrum(eqx.Module):
    r"""The ``k`` slowest nonzero eigenvalues of a Liouvillian and their eigenmatrices.

    - ``eigenvalues``: ``(k,)`` complex, ordered by decreasing real part (slowest first); the
      zero eigenvalue of the steady state is not included.
    - ``modes``: ``(k, n, n)`` right eigenmatrices, $\|r_k\|_F = 1$.
    - ``residuals``: ``(k,)`` $\|\mathcal L r_k - \lambda_k r_k\|_F$.
    - ``resolution``: ``(k,)`` residual $+ \epsilon_{\rm mach}\|\mathcal L\|$: the backward
      error of each eigenvalue; its absolute accuracy is this times the eigenvalue's condition
      number (module docstring).
    - ``condition``: ``(k,)`` condition number $\kappa_i = \|l_i\|\|r_i\|/|l_i^\dagger r_i|$ of
      each eigenvalue, $l_i$ projected onto the traceless matrices (module docstring); NaN
      when not computed (``condition=False``) or where the eigenvalue was not found, ``inf``
      where its left eigenvector did not converge.
    - ``norm``: estimate of $\|\mathcal L\|_2$ (power iteration).
    - ``next_rate``: $-{\rm Re}$ of the first eigenvalue beyond the ``k`` returned (Arnoldi:
      its Ritz value), i.e. the decay rate of everything left out; ``inf`` if none.
    """

    eigenvalues: jax.Array
    modes: jax.Array
    residuals: jax.Array
    resolution: jax.Array
    condition: jax.Array
    norm: jax.Array
    next_rate: jax.Array

    @property
    def gap(self) -> jax.Array:
        r"""The Liouvillian gap $-{\rm Re}\,\lambda_1$."""
        return -jnp.real(self.eigenvalues[..., 0])

    @property
    def relative_resolution(self) -> jax.Array:
        r"""``resolution / |Re lambda|``: relative backward error of each decay rate (its accuracy
        is this times the eigenvalue's condition number; module docstring)."""
        return self.resolution / jnp.maximum(jnp.abs(jnp.real(self.eigenvalues)), 1e-300)

    @property
    def error_bound(self) -> jax.Array:
        r"""``condition * resolution``: the first-order bound on each eigenvalue's absolute error
        (module docstring); NaN where ``condition`` was not computed."""
        return self.condition * self.resolution


def norm_estimate(L: AbstractLindbladian, iters: int = 12) -> jax.Array:
    r"""$\|\mathcal L\|_2$ by power iteration on $\mathcal L^\dagger\mathcal L$ (``iters``
    matrix-vector pairs from a fixed pseudo-random start; a lower bound, typically within a
    few per cent)."""
    n = L.dim
    X = jax.random.normal(jax.random.PRNGKey(7), (n, n)) + 0j

    def body(_, X):
        Y = L.adjoint_mv(L.mv(X))
        return Y / jnp.linalg.norm(Y)

    X = jax.lax.fori_loop(0, iters, body, X / jnp.linalg.norm(X))
    return jnp.linalg.norm(L.mv(X))


def _packing(n: int):
    """Static indices of the strict lower triangle of an ``(n, n)`` matrix."""
    return np.tril_indices(n, -1)


def _pack(X, n: int):
    r"""A Hermitian ``(n, n)`` matrix as ``n^2`` reals: its diagonal, then $\sqrt2$ times the real
    and the imaginary parts of its strict lower triangle, so that the dot product of two packed
    matrices is ${\rm Re\,tr}(X^\dagger Y)$: half the numbers of the complex matrix."""
    rows, cols = _packing(n)
    low = X[rows, cols]
    return jnp.concatenate([jnp.real(jnp.diagonal(X)), _SQRT2 * jnp.real(low),
                            _SQRT2 * jnp.imag(low)])


def _unpack(x, n: int):
    """The Hermitian matrix of a packed real vector (inverse of :func:`_pack`); a complex ``x``
    (a complex combination of packed vectors) gives ``unpack(Re x) + i unpack(Im x)``."""
    rows, cols = _packing(n)
    k = rows.size
    x = jnp.asarray(x)
    if jnp.iscomplexobj(x):
        return _unpack(jnp.real(x), n) + 1j * _unpack(jnp.imag(x), n)
    low = (x[n:n + k] + 1j * x[n + k:]) / _SQRT2
    Z = jnp.zeros((n, n), jnp.complex128).at[rows, cols].set(low)
    return Z + jnp.conj(Z).T + jnp.diag(x[:n].astype(jnp.complex128))


def shift(L: AbstractLindbladian, norm) -> jax.Array:
    r"""The shift $\sigma$ of the shift-invert Arnoldi (module docstring):
    $\min(\texttt{SHIFT}\,\|\mathcal L\|,\ \texttt{SHIFT\_DECAY}\,\gamma_{\min})$, with
    $\gamma_{\min}$ the smallest nonzero $|{\rm Re}\,\mathcal L_{mn,mn}|$ (above
    ``1e-12 norm``; without one, the first term). For the Kerr model $\gamma_{\min} = \kappa$
    and the first term is the smaller (4e-3 at N = 40). In a weakly damped system (say
    $\kappa = 10^{-4}$ next to a detuning of 100) the cap keeps $\sigma$ below the slow rates,
    which a shift of $10^{-5}\|\mathcal L\|$ would crowd together near $-1/\sigma$."""
    r = jnp.abs(jnp.real(L.diagonal()))
    floor = jnp.min(jnp.where(r > 1e-12 * norm, r, jnp.inf))
    return jnp.minimum(SHIFT * norm, SHIFT_DECAY * floor)


def _traceless(X):
    r"""$P_0 X = X - ({\rm tr} X/n) 1$ on the last two axes."""
    n = X.shape[-1]
    tr = jnp.trace(X, axis1=-2, axis2=-1)
    return X - (tr / n)[..., None, None] * jnp.eye(n)


def _start_vector(n: int, seed: int):
    """A fixed traceless Hermitian start vector with weight on every coherence."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    X = jax.random.normal(k1, (n, n)) + 1j * jax.random.normal(k2, (n, n))
    X = 0.5 * (X + jnp.conj(X).T)
    X = _traceless(X)
    return X / jnp.linalg.norm(X)


def _arnoldi(apply, v0, m: int, done_fn=None, check_every: int = CHECK_EVERY):
    """Up to ``m`` steps of Arnoldi with two passes of classical Gram-Schmidt on real vectors
    (the packed Hermitian matrices: real matrix-vector products, half the memory traffic of
    complex matrices). Every ``check_every`` steps ``done_fn(V, H, j)`` may stop it.
    Returns the basis ``V`` ``(m + 1, d)``, ``H`` ``(m + 1, m)`` (zero beyond the steps taken)
    and the number of steps ``j``."""
    V = jnp.zeros((m + 1, v0.shape[0])).at[0].set(v0)
    H = jnp.zeros((m + 1, m))
    idx = jnp.arange(m + 1)

    def step(j, carry):
        V, H = carry
        w = apply(V[j])
        for _ in range(2):  # twice is enough (Kahan-Parlett)
            h = jnp.where(idx <= j, V @ w, 0.0)
            w = w - h @ V
            H = H.at[:, j].add(h)
        beta = jnp.linalg.norm(w)
        H = H.at[j + 1, j].set(beta)
        V = V.at[j + 1].set(w / jnp.where(beta > 0, beta, 1.0))
        return V, H

    if done_fn is None:
        V, H = jax.lax.fori_loop(0, m, step, (V, H))
        return V, H, jnp.asarray(m)

    def cond(carry):
        j, _, _, done = carry
        return (j < m) & ~done

    def block(carry):
        j, V, H, _ = carry
        stop = jnp.minimum(j + check_every, m)
        V, H = jax.lax.fori_loop(j, stop, step, (V, H))
        return stop, V, H, done_fn(V, H, stop)

    j, V, H, _ = jax.lax.while_loop(cond, block, (jnp.asarray(0), V, H, jnp.asarray(False)))
    return V, H, j


def _ritz(L, V, H, j, k: int, norm, sigma):
    """The ``k`` slowest eigenpairs of ``L`` from ``j`` Arnoldi steps on ``(L - sigma)^{-1}``
    (:func:`_finish`): Ritz values of the leading ``j x j`` block of ``H``."""
    m = H.shape[1]
    n = L.dim
    live = jnp.arange(m) < j
    theta, S = jnp.linalg.eig(jnp.where(live[:, None] & live[None, :], H[:m, :m], 0.0))
    # Ritz values of (L - sigma)^{-1}; tiny ones (the unused block's zeros, unconverged junk)
    # become -inf
    safe = jnp.abs(theta) > 1e-300
    lam = jnp.where(safe, 1.0 / jnp.where(safe, theta, 1.0) + sigma, -jnp.inf + 0j)
    return _finish(L, lam, lambda sel: jax.vmap(lambda x: _unpack(x, n))(S[:, sel].T @ V[:m]),
                   k, norm)


def _finish(L, lam, modes_of, k: int, norm, lefts_of=None):
    r"""Drop the impossible candidates, keep the ``k`` slowest by decreasing real part, and
    measure their residuals with the exact ``L.mv``. ``modes_of(indices)``: the candidates'
    eigenmatrices at those indices; ``lefts_of(indices)`` (optional): their left eigenmatrices,
    for the condition numbers (else NaN).

    A Lindbladian has no eigenvalue with ${\rm Re}\,\lambda > 0$, and none is computed further
    right than rounding, ``10 eps ||L||``, reaches. A candidate beyond that is spurious. They go
    to the end of the order with the unconverged junk (``-inf``). (Shift-invert Arnoldi at
    $\sigma = 0$ produced such Ritz values where the gap is within rounding of zero: Kerr at
    N = 40 next to eps_c, a gap of 5e-13 against eps ||L|| = 1e-13, where each solve with the
    nearly singular L carried an O(1) relative error along the slow mode; Ritz values +52 and
    1.8 +- 12.8i appeared, residuals 2e2, ahead of the true gap. The shift removed that cause;
    the guard stays.)
    """
    # False for NaN and for the -inf placeholders too
    possible = jnp.isfinite(lam) & (jnp.real(lam) <= 10 * EPS64 * norm)
    order = jnp.argsort(jnp.where(possible, -jnp.real(lam), jnp.inf))
    lam = jnp.where(possible, lam, -jnp.inf + 0j)[order]
    found = jnp.isfinite(lam[:k])
    modes = modes_of(order[:k])
    modes = modes / jnp.linalg.norm(modes, axis=(-2, -1), keepdims=True)
    # a -inf placeholder (fewer than k candidates survived) keeps a zero mode, not NaN
    modes = jnp.where(found[:, None, None], modes, 0.0)
    res = jax.vmap(lambda r, ev: jnp.linalg.norm(L.mv(r) - ev * r))(
        modes, jnp.where(found, lam[:k], 0.0))
    res = jnp.where(found, res, jnp.inf)
    if lam.shape[0] > k:
        # a dropped (k+1)-th candidate: the k-th rate is a lower bound (the order is by decay
        # rate), the safe side for a caller that waits ~1/next_rate for the rest to decay
        nxt = jnp.where(jnp.isfinite(lam[k]), -jnp.real(lam[k]), -jnp.real(lam[k - 1]))
    else:
        nxt = jnp.asarray(jnp.inf)
    cond = (jnp.full(k, jnp.nan) if lefts_of is None
            else _condition(lam[:k], modes, lefts_of(order[:k])))
    return Spectrum(eigenvalues=lam[:k], modes=modes, residuals=res,
                    resolution=res + EPS64 * norm, condition=cond, norm=norm, next_rate=nxt)


def _condition(lam, modes, lefts):
    r"""$\kappa_i = \|l_i\|\|r_i\|/|l_i^\dagger r_i|$ with $l_i$ projected onto the traceless
    matrices (module docstring); ``modes`` are normalised. NaN where ``lam`` is not finite."""
    lefts = _traceless(lefts)
    lefts = lefts / jnp.linalg.norm(lefts, axis=(-2, -1), keepdims=True)
    overlap = jnp.abs(jnp.sum(jnp.conj(lefts) * modes, axis=(-2, -1)))
    return jnp.where(jnp.isfinite(lam), 1.0 / overlap, jnp.nan)


def _left_residuals(L, lam, lefts):
    r"""$\|P_0\mathcal L^\dagger l - \bar\lambda l\|_F$ of each normalised traceless left
    eigenmatrix ``l`` (module docstring): the residual within the space where it is exact."""
    lefts = lefts / jnp.linalg.norm(lefts, axis=(-2, -1), keepdims=True)
    return jax.vmap(lambda x, z: jnp.linalg.norm(_traceless(L.adjoint_mv(x)) - jnp.conj(z) * x))(
        lefts, jnp.where(jnp.isfinite(lam), lam, 0.0))


def _left_ritz(V, H, j, lam, sigma, n: int):
    r"""The left eigenmatrices (traceless projections) of the eigenvalues ``lam`` from ``j``
    Arnoldi steps on ``(L - sigma)^{-dag}``: its Ritz value $\theta$ stands for the eigenvalue
    $\overline{1/\theta} + \sigma$ of ``L``; each of ``lam`` takes the nearest. Returns the
    eigenmatrices, the eigenvalues of ``L`` their Ritz values stand for, and their indices."""
    m = H.shape[1]
    live = jnp.arange(m) < j
    theta, S = jnp.linalg.eig(jnp.where(live[:, None] & live[None, :], H[:m, :m], 0.0))
    safe = jnp.abs(theta) > 1e-300
    mu = jnp.where(safe, jnp.conj(1.0 / jnp.where(safe, theta, 1.0)) + sigma, jnp.inf + 0j)
    idx = jnp.argmin(jnp.abs(mu[None, :] - jnp.where(jnp.isfinite(lam), lam, 0.0)[:, None]),
                     axis=1)
    return jax.vmap(lambda x: _unpack(x, n))(S[:, idx].T @ V[:m]), mu[idx], idx


def _dense_spectrum(L: AbstractLindbladian):
    n = L.dim
    lam, vecs = jnp.linalg.eig(L.as_matrix())
    zero = jnp.argmin(jnp.abs(lam))
    keep = jnp.arange(n * n) != zero
    # drop the steady state without a data-dependent shape: push it to the end of the order
    lam = jnp.where(keep, lam, -jnp.inf + 0j)
    modes = jnp.transpose(vecs).reshape(n * n, n, n).transpose(0, 2, 1)  # column stacking
    # the left eigenvectors are the conjugated rows of the inverse (W V = 1), stacked alike
    lefts = jnp.conj(jnp.linalg.inv(vecs)).reshape(n * n, n, n).transpose(0, 2, 1)
    return lam, modes, lefts


def liouvillian_spectrum(L: AbstractLindbladian, k: int = 4, *, method: str = "auto",
                         solver: AbstractSolver | None = None, krylov: int | None = None,
                         rtol: float = RTOL, seed: int = 0,
                         condition: bool = True) -> Spectrum:
    r"""The ``k`` slowest nonzero eigenvalues of ``L`` (module docstring).

    **Arguments:**

    - ``L``: any Lindbladian of the engine; ``k`` (static): how many eigenvalues.
    - ``method``: ``"arnoldi"`` (shift-invert at :data:`SHIFT` ``||L||`` with ``solver``'s
      factorisation),
      ``"dense"`` (``eig`` of the superoperator, ``n <= ~30``) or ``"auto"`` (dense up to
      :data:`DENSE_MAX_DIM`).
    - ``solver``: the factorising solver (default :func:`~jaxent.lindblad.default_solver`).
    - ``krylov`` (static): the most Arnoldi steps (default :data:`DEFAULT_KRYLOV`, at least
      ``2k + 2``).
    - ``rtol`` (static): every :data:`CHECK_EVERY` steps the Ritz pairs are checked with the
      exact ``L.mv``, and the iteration stops once each of the ``k`` eigenvalues has a
      resolution below ``rtol |lambda|`` (or ``10 eps ||L||``, the float64 floor); ``0`` runs
      all ``krylov`` steps. The ``k``-th eigenvalue of a cluster converges last: at N = 20,
      eps = 0.55 the fourth Kerr eigenvalue was wrong in its second digit after 40 steps
      (resolution 4e-2), resolved to 1e-13 after 80.
    - ``seed``: of the fixed start vector.
    - ``condition`` (static): also compute each eigenvalue's condition number
      (``Spectrum.condition``, ``Spectrum.error_bound``; module docstring). With Arnoldi it
      costs a second, adjoint Arnoldi run on the same factors; ``False`` leaves it NaN.

    **Returns:** :class:`Spectrum`. jit- and vmap-able (``k``, ``method``, ``krylov``, ``rtol``,
    ``condition`` static; under ``vmap`` the batch runs until its slowest member has converged).
    Eigenvalues are not differentiated (no derivative rule for repeated Ritz values).
    """
    from jaxent.lindblad.steady_state import default_solver

    k = int(k)
    n = as_lindbladian(L).dim
    if k < 1:
        raise ValueError(f"k: must be >= 1, got {k}")
    if k > n * n - 1:
        raise ValueError(f"k: a {n}-level system has only {n * n - 1} nonzero eigenvalues, "
                         f"asked for {k}")
    if method == "auto":
        method = "dense" if n <= DENSE_MAX_DIM else "arnoldi"
    if method not in ("dense", "arnoldi"):
        raise ValueError(f"method: must be 'auto', 'dense' or 'arnoldi', got {method!r}")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol: must be a finite number >= 0, got {rtol!r}")
    if krylov is not None:
        krylov = static_int(krylov, "krylov")
    if not isinstance(condition, (bool, np.bool_)):
        raise ValueError(f"condition: must be True or False, got {condition!r}")
    m = 0
    if method == "arnoldi":
        m = min(int(krylov or max(DEFAULT_KRYLOV, 2 * k + 2)), n * n - 1)
        if m < k + 1:
            raise ValueError(f"krylov: needs more than k = {k} Arnoldi steps, got {m}")
        solver = default_solver(L) if solver is None else solver
    return _spectrum(jax.lax.stop_gradient(L), k, method, m, solver, float(rtol), int(seed),
                     bool(condition))


# Compiled once per Lindbladian type and shape and per static argument: an eager call (a
# notebook) otherwise traced and compiled every loop of the iteration again, 7.6 s per call of
# a Kerr spectrum at nmax 40 on the 2-core CPU, against 0.1 s once compiled.
@eqx.filter_jit
def _spectrum(L, k: int, method: str, m: int, solver, rtol: float, seed: int,
              condition: bool) -> Spectrum:
    n = as_lindbladian(L).dim
    norm = norm_estimate(L)
    if method == "dense":
        lam, modes, lefts = _dense_spectrum(L)
        return _finish(L, lam, lambda sel: modes[sel], k, norm,
                       (lambda sel: lefts[sel]) if condition else None)
    sigma = shift(L, norm)
    state = solver.init(ShiftedLindbladian(base=L, sigma=sigma))

    def apply(v):  # (L - sigma)^{-1} on the traceless Hermitian matrices
        y = solver.compute(state, _unpack(v, n), jnp.zeros(()))[0]
        # the solve keeps Hermiticity and tr y = 0 up to rounding
        return _pack(_traceless(0.5 * (y + jnp.conj(y).T)), n)

    def done(V, H, j):
        # the k eigenvalues to rtol, and the (k + 1)-th (next_rate: when the rest has decayed)
        # to 1e-3 of its modulus; with k + 1 <= m
        kk = min(k + 1, m)
        spec = _ritz(L, V, H, j, kk, norm, sigma)
        tol = jnp.full(kk, rtol).at[k:].set(max(rtol, 1e-3))
        floor = 10 * EPS64 * norm
        return jnp.all(spec.resolution <= jnp.maximum(tol * jnp.abs(spec.eigenvalues), floor))

    V, H, steps = _arnoldi(apply, _pack(_start_vector(n, seed), n), m,
                           done if rtol > 0 else None)
    spec = _ritz(L, V, H, steps, k, norm, sigma)
    if not condition:
        return spec
    lam = spec.eigenvalues

    def apply_adjoint(v):  # (L - sigma)^{-dag} on the traceless Hermitian matrices
        y = solver.transpose(state, _unpack(v, n))
        return _pack(_traceless(0.5 * (y + jnp.conj(y).T)), n)

    tol = jnp.maximum(CONDITION_RTOL * jnp.abs(lam), 10 * EPS64 * norm)

    def converged(V, H, j):
        # each left vector's residual against its own Ritz value (against lam it could not
        # fall below |mu - lam|, up to kappa x resolution), and no Ritz vector taken twice
        lefts, mu, idx = _left_ritz(V, H, j, lam, sigma, n)
        ok = _left_residuals(L, mu, lefts) <= tol
        found = jnp.isfinite(lam)
        twice = jnp.sum((idx[:, None] == idx[None, :]) & found[None, :], axis=1) > 1
        return lefts, (ok & ~twice) | ~found

    V, H, steps = _arnoldi(apply_adjoint, _pack(_start_vector(n, seed + 1), n), m,
                           (lambda V, H, j: jnp.all(converged(V, H, j)[1])) if rtol > 0
                           else None)
    lefts, ok = converged(V, H, steps)
    # an unconverged left vector can make kappa too small: no bound then (inf), not a wrong one
    cond = jnp.where(ok, _condition(lam, spec.modes, lefts), jnp.inf)
    return eqx.tree_at(lambda s: s.condition, spec, cond)

