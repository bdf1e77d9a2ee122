r"""Wehrl entropy and its production/flux split for photon loss [GFL20, Eqs. (4)-(10);
GFL-quench, Eqs. (18)-(25) and App. B].

Single mode, master equation $\dot\rho = \mathcal L\rho = -i[H,\rho] + 2\kappa D[a]\rho$,
$D[a]\rho = a\rho a^\dagger - \tfrac12\{a^\dagger a,\rho\}$, Husimi function
$Q = \langle\mu|\rho|\mu\rangle/\pi$, Wehrl entropy $S = -\int d^2\mu\, Q\ln Q$. Then
$dS/dt = \Pi_U + \Pi_J - \Phi$ with

- $\Phi = 2\kappa\langle a^\dagger a\rangle$ [GFL20, Eq. (5)],
  $\Phi_q = 2\kappa\langle\delta a^\dagger\delta a\rangle$, $\delta a = a - \langle a\rangle$
  [Eq. (7)];
- current $J = \kappa(\mu Q + \partial_{\bar\mu}Q) = \kappa\langle\mu|a\rho|\mu\rangle/\pi$ by the
  Bargmann identity $\partial_{\bar\mu}Q = -\mu Q + \langle\mu|a\rho|\mu\rangle/\pi$
  [GFL20, Eq. (B3); GFL-quench, Eq. (B4)], so no finite differences are needed.
  **Sign convention:** we use GFL20's $J = +\kappa(\mu Q + \partial_{\bar\mu}Q)$; GFL-quench writes
  $J = -\kappa(\ldots)$ [its Eq. (B5)]. Only $|J|^2$ enters, so no result depends on it;
- $\Pi_J = \frac2\kappa\int |J|^2/Q$ [GFL20, Eq. (6); GFL-quench, Eqs. (21), (B6)],
  $\Pi_{\rm ext} = 2\kappa|\langle a\rangle|^2$,
  $\Pi_d = \frac2\kappa\int |J - \kappa\langle a\rangle Q|^2/Q$ [GFL20, Eq. (8); GFL-quench,
  Eq. (24)], and $\Pi_J = \Pi_{\rm ext} + \Pi_d$ exactly (because
  $\int\langle\mu|a\rho|\mu\rangle d^2\mu/\pi = \langle a\rangle$);
- $\Pi_U = -\int Q[-i[H,\rho]]\ln Q$ [GFL20, Eq. (A1); GFL-quench, Eq. (19)] where
  $Q[X] = \langle\mu|X|\mu\rangle/\pi$: the Husimi transform of the exact commutator, valid for
  any single-mode $H$ (the lower-case $\Pi_u$ of GFL20 is the same quantity).
  In a steady state $\Pi_U + \Pi_J = \Phi$, i.e. $\Pi_u + \Pi_d = \Phi_q$ [GFL20, Eq. (10)].

Numerics: every field on the grid is a Bargmann transform (harmonics over $m - n$ by
:func:`~jaxent.phase_space.husimi.bargmann_harmonics`, then an FFT): four Hermitian fields,
$\rho$, $a\rho a^\dagger$, $-i[H,\rho]$ and $\{N,\rho\}$; the dissipator's transform is their
combination and $\langle\mu|a\rho|\mu\rangle$ follows from the harmonics of $\rho$ and
$\{N,\rho\}$ (:func:`~jaxent.phase_space.husimi.annihilation_polar`). Ratios
$|J|^2/Q$ are evaluated as ${\rm min}(|\langle\mu|a\rho|\mu\rangle|^2/(\pi^2 Q),\
\langle\mu|a\rho a^\dagger|\mu\rangle/\pi)$: the bound is the Cauchy-Schwarz inequality
$|\langle\mu|a\rho|\mu\rangle|^2 \le
\langle\mu|\rho|\mu\rangle\langle\mu|a\rho a^\dagger|\mu\rangle$,
so the clamp is exact in exact arithmetic and only acts where $Q$ is at the rounding level
(far tails), where it prevents $0/0$ and noise/noise blow-ups. Values $Q \le 10^{-20}$ of the
grid's largest (or $\le 10^{-100}$; rounding noise far out on a large grid, often negative)
count as zero in every integrand, to every order of derivative that is used: no NaN can
appear for finite input, in the terms, their gradients, or the second derivatives of Newton's
searches (:mod:`jaxent.critical`), and ln Q never amplifies the noise of such values.
"""

from __future__ import annotations

import functools
import numbers
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from jaxent._validation import is_concrete as _is_concrete
from jaxent.fock.operators import destroy
from jaxent.tolerances import GRID_NORM_TOL, POSITIVITY_TOL, STATE_TOL

from ..phase_space.grid import PolarGrid
from ..phase_space.husimi import (
    _check_operator,
    annihilation_polar,
    bargmann_harmonics,
    bargmann_polar,
    polar_synthesis,
)

#: Default tolerance for the grid diagnostics checked by :func:`check_terms` (the project's
#: grid-normalisation tolerance, :data:`jaxent.tolerances.GRID_NORM_TOL`).
DIAGNOSTIC_TOL = GRID_NORM_TOL

_TINY = float(jnp.finfo(jnp.float64).tiny)
# Q at or below this counts as zero in every integrand (it adds < 1e-97 to any of them). Far
# out on a large grid, rounding leaves Q at +-1e-17 of its peak, often negative. A floor at
# float64's tiny (2.2e-308) keeps values and first derivatives finite, but not the second
# derivatives (Newton's curvature in jaxent.critical, forward-over-reverse): that of ln Q
# divides by Q^2 and that of |A|^2/Q by Q^3, which underflow to 0 near tiny, and 0/0 = NaN
# then reaches the whole integral. Above 1e-100, Q^3 is a normal float.
_Q_FLOOR = 1e-100
# ... and so does Q at or below this fraction of the grid's largest Q. Such values are rounding
# noise (the example of tests/test_wehrl.py has Q down to -6e-22 of its peak) and carry at most
# 1e-20 x peak x the grid's area of probability (1e-17 on the largest grids), but ln Q of them
# is not: second derivatives through Q'/Q of noise
# picked up ~1e-7 of random error (d2 Pi_U 1.5e-7 where it is 2e-11, d2 dS/dt off by 5e-5
# relative). Measured on that example: clean from a relative floor of 1e-24 up (d2 Pi_U
# 1e-15, d2 dS/dt within 3e-8 of central differences), noisy from 1e-28 down.
_Q_REL_FLOOR = 1e-20


def _floor(Q):
    """Where Q counts as zero: :data:`_Q_FLOOR`, or :data:`_Q_REL_FLOOR` of the largest Q of
    its grid (axes ``(-2, -1)``; no gradient through the peak)."""
    peak = jax.lax.stop_gradient(jnp.max(Q, axis=(-2, -1), keepdims=True))
    # a non-finite Q must stay visible in the result, not raise the floor above everything
    peak = jnp.where(jnp.isfinite(peak), peak, 0.0)
    return jnp.maximum(_Q_FLOOR, _Q_REL_FLOOR * peak)


def _negligible(Q):
    """Finite values of Q at or below :func:`_floor` (NaN and infinities are not: they must
    reach the result)."""
    return (Q <= _floor(Q)) & jnp.isfinite(Q)


def _safe_log(Q):
    """ln Q above :func:`_floor`, ln of the floor below it (constant there, so its first and
    second derivatives are 0 rather than NaN or rounding noise); exact above the floor."""
    return jnp.log(jnp.where(_negligible(Q), _floor(Q), Q))


def _abs2(z):
    """|z|^2 written so that its gradient is 0, not NaN, where z == 0 (as it is wherever Q
    underflows on a large grid): d|z|/dz is undefined at 0, d(re^2 + im^2)/dz is not."""
    return jnp.real(z) ** 2 + jnp.imag(z) ** 2


def _ratio(A, Q, B):
    r"""$|A|^2/Q$ clamped by its Cauchy-Schwarz bound $B$ (see the module docstring)."""
    # Double `where`: below the floor (_floor) the term is set to 0 (it is bounded by B there,
    # ~|mu|^2 Q, far out on the grid), and the division never sees Q ~ 1e-308, whose derivative
    # -|A|^2/Q^2 would be 0/0 = NaN under jax.grad even where the branch is not taken.
    small = _negligible(Q)
    ratio = jnp.where(small, 0.0, _abs2(A) / jnp.where(small, 1.0, Q))
    return jnp.minimum(ratio, jnp.maximum(B, 0.0))


def wehrl_entropy(Q, grid: PolarGrid):
    r"""Wehrl entropy $S = -\int d^2\mu\,Q\ln Q$ [GFL20, Eq. (4)] of Husimi values ``Q`` of shape
    ``(..., n_r, n_theta)`` on ``grid`` (from :func:`~jaxent.phase_space.husimi.husimi_polar`).
    Values at or below 1e-20 of the largest (rounding noise far out on the grid, possibly
    negative) contribute zero, to every order of derivative (double ``where``: the logarithm
    never sees them, so second derivatives stay finite and free of their noise). A NaN or
    infinite Q gives a non-finite entropy."""
    small = _negligible(Q)
    Qs = jnp.where(small, 1.0, Q)
    return -grid.integrate(jnp.where(small, 0.0, Qs * jnp.log(Qs)))


class PhotonLossTerms(eqx.Module):
    r"""Entropy terms of one state (each a scalar; batched under ``jax.vmap``).

    Physics (see the module docstring for the equations): ``S_wehrl``, ``Phi``, ``Phi_q``,
    ``Pi_ext``, ``Pi_J``, ``Pi_d``, ``Pi_U``, ``dS_dt`` $= -\int Q[\mathcal L\rho]\ln Q$;
    ``alpha`` $= \langle a\rangle$ (complex), ``n_photons`` $= \langle a^\dagger a\rangle$.

    Diagnostics (check with :func:`check_terms` after a jitted sweep):

    - ``norm_error`` $= |\int Q\,d^2\mu - {\rm Tr}\rho|$ on the grid (radial resolution + edge);
    - ``edge_mass``: exact probability of $Q$ outside the grid disc,
      $\sum_n\rho_{nn}\Gamma(n+1,R^2)/n!$;
    - ``ibp_error`` $= |{-\int Q[2\kappa D[a]\rho]\ln Q} - (\Pi_J - \Phi)|$: the two sides are
      equal by integration by parts for every state, so this measures the grid's resolution
      of the $\ln Q$ and current integrands on this very state. It is also exactly the
      residual of $dS/dt = \Pi_U + \Pi_J - \Phi$ on the grid.
    """

    S_wehrl: jnp.ndarray
    Phi: jnp.ndarray
    Phi_q: jnp.ndarray
    Pi_ext: jnp.ndarray
    Pi_J: jnp.ndarray
    Pi_d: jnp.ndarray
    Pi_U: jnp.ndarray
    dS_dt: jnp.ndarray
    alpha: jnp.ndarray
    n_photons: jnp.ndarray
    norm_error: jnp.ndarray
    edge_mass: jnp.ndarray
    ibp_error: jnp.ndarray


def _check_kappa_type(kappa):
    """Static check (no JAX op, so it also runs on tracers): ``kappa`` is a real scalar."""
    if isinstance(kappa, (bool, np.bool_)):
        raise ValueError(f"kappa: must be a real number (the loss rate), got the bool {kappa!r}")
    if isinstance(kappa, (jax.Array, Tracer, np.ndarray, np.generic)):
        dtype, shape = np.dtype(kappa.dtype), tuple(kappa.shape)
    elif isinstance(kappa, numbers.Real):
        return
    elif isinstance(kappa, numbers.Complex):
        raise ValueError(f"kappa: must be a real number (the loss rate), got the complex {kappa!r}")
    else:
        raise ValueError(f"kappa: must be a real number (the loss rate), got "
                         f"{type(kappa).__name__} {kappa!r}")
    if shape != ():
        raise ValueError(f"kappa: must be a scalar, got shape {shape}; batch with jax.vmap")
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        raise ValueError(f"kappa: must be a real number (the loss rate), got dtype {dtype}")


# Value checks. Each returns an integer code (0: fine, k: the k-th message of its list) and the
# numbers that the eager message quotes. The same jnp code runs eagerly (-> ValueError with the
# values) and under jit/vmap/grad (-> equinox.branched_error_if with the static message). The
# checks see stop_gradient(...) only: they never enter a derivative.

@jax.jit
def _operator_code(X):
    """0 ok, 1 non-finite, 2 not Hermitian; and max|X - X^dag| / max|X|."""
    X = jax.lax.stop_gradient(X)
    finite = jnp.all(jnp.isfinite(X))
    Xf = jnp.where(finite, X, 0.0)
    scale = jnp.max(jnp.abs(Xf))
    skew = jnp.max(jnp.abs(Xf - jnp.conj(Xf.T)))
    rel = jnp.where(scale > 0, skew / jnp.where(scale > 0, scale, 1.0), 0.0)
    code = jnp.where(~finite, 1, jnp.where(rel > STATE_TOL, 2, 0))
    return code, rel


@jax.jit
def _state_code(rho):
    """0 ok, 1 non-finite, 2 not Hermitian, 3 trace != 1, 4 not positive semidefinite;
    and (relative anti-Hermitian part, trace, smallest and largest eigenvalue)."""
    code, rel = _operator_code(rho)
    r = jax.lax.stop_gradient(rho)
    r = jnp.where(code == 1, 0.0, r)  # keep eigvalsh away from NaN/inf
    tr = jnp.real(jnp.trace(r))
    lam = jnp.linalg.eigvalsh(0.5 * (r + jnp.conj(r.T)))
    lam_min, lam_max = lam[0], lam[-1]
    not_psd = lam_min < -POSITIVITY_TOL * jnp.max(jnp.abs(lam))
    code = jnp.where(code > 0, code,
                     jnp.where(jnp.abs(tr - 1.0) > STATE_TOL, 3, jnp.where(not_psd, 4, 0)))
    return code, (rel, tr, lam_min, lam_max)


@jax.jit
def _kappa_code(kappa):
    """0 ok, 1 NaN, 2 inf, 3 <= 0."""
    k = jax.lax.stop_gradient(kappa)
    return jnp.where(jnp.isnan(k), 1, jnp.where(jnp.isinf(k), 2, jnp.where(k <= 0, 3, 0))), k


_FIX_STATE = "normalise the state (rho / trace(rho))"
_FIX_PSD = ("a density matrix has no negative eigenvalues; check the solver that produced rho "
            "(or pass check=False to skip this check)")


def _state_messages(v=None):
    """Messages of the codes of :func:`_state_code`; ``v`` = its numbers when concrete."""
    rel, tr, lmin, lmax = (None,) * 4 if v is None else v
    val = (lambda fmt, x: "" if x is None else fmt.format(float(x)))
    return [
        "rho: contains NaN or inf",
        f"rho: not Hermitian (relative anti-Hermitian part{val(' {:.3g}', rel)} exceeds "
        f"{STATE_TOL:g}); a density matrix is Hermitian: symmetrise it, (rho + rho^dag)/2, if "
        "the asymmetry is rounding",
        f"rho: trace is{val(' {:.10g}', tr) or ' not 1'} (must be 1 within {STATE_TOL:g}); "
        f"{_FIX_STATE}; the entropy terms are not linear in rho",
        f"rho: not positive semidefinite (smallest eigenvalue{val(' {:.3g}', lmin)}"
        f"{val(', largest {:.3g}', lmax)}; allowed down to -{POSITIVITY_TOL:g} x largest); "
        f"{_FIX_PSD}",
    ]


def _h_messages(rel=None):
    return [
        "H: contains NaN or inf",
        f"H: not Hermitian (relative anti-Hermitian part"
        f"{'' if rel is None else f' {float(rel):.3g}'} exceeds {STATE_TOL:g}); "
        "pass a Hermitian Hamiltonian matrix",
    ]


@functools.lru_cache(maxsize=None)
def _band_code(b: int):
    """Code function (for :func:`_guard`) of "H is zero beyond ``b`` diagonals": 0 ok, 1 not;
    and the largest entry beyond the band relative to the largest entry (one compiled check
    per ``b``)."""
    @jax.jit
    def code(H):
        Hs = jnp.abs(jax.lax.stop_gradient(H))
        i = jnp.arange(H.shape[0])
        out = jnp.max(jnp.where(jnp.abs(i[:, None] - i[None, :]) > b, Hs, 0.0))
        rel = out / jnp.maximum(jnp.max(Hs), _TINY)
        return jnp.where(rel > 0, 1, 0), rel
    return code


def _band_messages(b: int):
    def messages(rel=None):
        got = "" if rel is None else f" (largest {float(rel):.3g} x max|H|)"
        return [f"H: has entries beyond h_bandwidth={b} diagonals{got}; pass the Hamiltonian's "
                "true bandwidth, or h_bandwidth=None for a dense H"]
    return messages


def _kappa_messages(k=None):
    got = "" if k is None else f", got {float(k):g}"
    return [
        "kappa: is NaN; must be a finite loss rate > 0 (loss 2 kappa D[a])",
        "kappa: is infinite; must be a finite loss rate > 0 (loss 2 kappa D[a])",
        f"kappa: must be a loss rate > 0 (loss 2 kappa D[a]){got}",
    ]


def _guard(x, code_fn, messages):
    """Eager: ``ValueError`` with the values; traced: ``equinox.branched_error_if``."""
    if _is_concrete(x):  # also a constant inside someone's jit: then evaluate it right here
        with jax.ensure_compile_time_eval():
            code, values = code_fn(x)
            c = int(code)
        if c:
            raise ValueError(messages(values)[c - 1])
        return x
    code, _ = code_fn(x)
    return eqx.branched_error_if(x, code > 0, jnp.maximum(code - 1, 0), messages())


def _validate(rho, H, kappa, grid, check=True, h_bandwidth=None):
    # Static checks (shapes, types): always, also under jit.
    _check_kappa_type(kappa)
    rho = _check_operator(rho, grid.nmax, "rho")
    if rho.ndim != 2:
        raise ValueError(f"rho: must be a single (nmax, nmax) matrix, got shape {rho.shape}; "
                         "batch with jax.vmap(photon_loss_terms, in_axes=(0, None, None, None))")
    H = _check_operator(H, grid.nmax, "H")
    if H.ndim != 2:
        raise ValueError(f"H: must be a single (nmax, nmax) matrix, got shape {H.shape}")
    kappa = jnp.asarray(kappa, dtype=jnp.float64)
    if check:  # value checks: ValueError when concrete, equinox error under jit/vmap/grad
        rho = _guard(rho, _state_code, _state_messages)
        H = _guard(H, _operator_code, _h_messages)
        if h_bandwidth is not None:
            H = _guard(H, _band_code(h_bandwidth), _band_messages(h_bandwidth))
        kappa = _guard(kappa, _kappa_code, _kappa_messages)
    return rho, H, kappa


def _shift_rows(X, k: int):
    """``Y[m] = X[m + k]`` (zero where ``m + k`` is out of range)."""
    if k == 0:
        return X
    z = jnp.zeros((abs(k),) + X.shape[1:], X.dtype)
    return jnp.concatenate([X[k:], z]) if k > 0 else jnp.concatenate([z, X[:k]])


def _commutator(H, rho, h_bandwidth):
    r"""$-i[H, \rho]$. Dense ``H`` (``h_bandwidth = None``): two products. Banded, zero beyond
    ``h_bandwidth = b`` diagonals: ``H rho`` from the ``2 b + 1`` diagonals of ``H``
    (``O(b nmax^2)`` instead of ``O(nmax^3)``), and ``rho H = (H rho)^dag`` for Hermitian
    ``H`` and ``rho`` (what the terms assume: their transforms read one triangle only)."""
    if h_bandwidth is None:
        return -1j * (H @ rho - rho @ H)
    b = min(h_bandwidth, rho.shape[0] - 1)  # a wider band is the whole matrix
    Hr = jnp.zeros_like(rho)
    for k in range(-b, b + 1):
        d = jnp.diagonal(H, offset=k)  # H[m, m + k]
        z = jnp.zeros(abs(k), d.dtype)
        hk = jnp.concatenate([d, z]) if k >= 0 else jnp.concatenate([z, d])
        Hr = Hr + hk[:, None] * _shift_rows(rho, k)
    return -1j * (Hr - jnp.conj(Hr).T)


@eqx.filter_jit
def _photon_loss_terms(rho, H, kappa, grid: PolarGrid, h_bandwidth=None) -> PhotonLossTerms:
    nmax = grid.nmax
    # a, a^dag and n are bands: shifts and scalings, O(nmax^2), instead of dense products
    k = jnp.arange(nmax, dtype=jnp.float64)
    s = jnp.concatenate([jnp.sqrt(k[1:]), jnp.zeros(1)])  # a[m, m+1] = sqrt(m+1)
    a_rho = s[:, None] * _shift_rows(rho, 1)
    a_rho_ad = jnp.concatenate([a_rho[:, 1:], jnp.zeros_like(a_rho[:, :1])], axis=1) * s[None, :]
    unitary = _commutator(H, rho, h_bandwidth)
    anti = (k[:, None] + k[None, :]) * rho  # {N, rho}
    # four Hermitian fields (half the harmonics each); the dissipator's transform is
    # 2 kappa (B - {N, rho}/2) and the current's, <mu|a rho|mu>, follows from the harmonics of
    # rho and {N, rho} (annihilation_polar): no general transform of a rho
    g = bargmann_harmonics(jnp.stack([rho, a_rho_ad, unitary, anti]), grid, hermitian=True)
    Q, B, QU, QN = polar_synthesis(g, grid, hermitian=True)
    QD = 2.0 * kappa * (B - 0.5 * QN)
    A = annihilation_polar(g[0], g[3], grid)

    alpha = jnp.trace(a_rho)
    n_ph = jnp.dot(k, jnp.real(jnp.diagonal(rho)))
    abs_alpha2 = _abs2(alpha)
    lnQ = _safe_log(Q)

    S = wehrl_entropy(Q, grid)
    Pi_J = 2.0 * kappa * grid.integrate(_ratio(A, Q, B))
    # Displaced current J^v = J - kappa <a> Q = kappa <mu|(a - <a>) rho|mu>/pi; its C-S bound is
    # the transform of (a - <a>) rho (a - <a>)^dag.
    Av = A - alpha * Q
    Bv = B - 2.0 * jnp.real(jnp.conj(alpha) * A) + abs_alpha2 * Q
    Pi_d = 2.0 * kappa * grid.integrate(_ratio(Av, Q, Bv))
    Pi_U = -grid.integrate(QU * lnQ)
    dS_dissip = -grid.integrate(QD * lnQ)
    Phi = 2.0 * kappa * n_ph
    return PhotonLossTerms(
        S_wehrl=S, Phi=Phi, Phi_q=2.0 * kappa * (n_ph - abs_alpha2),
        Pi_ext=2.0 * kappa * abs_alpha2,
        Pi_J=Pi_J, Pi_d=Pi_d, Pi_U=Pi_U, dS_dt=Pi_U + dS_dissip, alpha=alpha, n_photons=n_ph,
        norm_error=jnp.abs(grid.integrate(Q) - jnp.trace(rho).real),
        edge_mass=jnp.dot(jnp.diagonal(rho).real, grid.fock_tail),
        ibp_error=jnp.abs(dS_dissip - (Pi_J - Phi)),
    )


def photon_loss_terms(rho, H, kappa, grid: PolarGrid, *, check: bool = True,
                      tol: float = DIAGNOSTIC_TOL,
                      h_bandwidth: int | None = None) -> PhotonLossTerms:
    r"""All Wehrl entropy terms of a single-mode state under $-i[H,\cdot] + 2\kappa D[a]$.

    **Arguments:**

    - ``rho``: ``(nmax, nmax)`` density matrix in the Fock basis (traced: differentiable).
    - ``H``: ``(nmax, nmax)`` Hermitian Hamiltonian matrix (any single-mode $H$; enters only
      $\Pi_U$ and ``dS_dt``). Pass zeros to skip the unitary part.
    - ``kappa``: loss rate in the convention $2\kappa D[a]$ (scalar, traced).
    - ``grid``: :class:`~jaxent.phase_space.grid.PolarGrid` built with the same ``nmax``.
    - ``check`` (default ``True``): validate the *values* of the inputs (below) and, when the
      result is concrete, warn via :func:`check_terms` if a grid diagnostic exceeds ``tol``.
      ``check=False`` skips both (and the ``eigvalsh`` of ``rho`` they cost); shape and type
      checks always run.
    - ``tol``: tolerance of the grid diagnostics (default :data:`DIAGNOSTIC_TOL`).
    - ``h_bandwidth`` (static, default ``None``: dense): ``H`` is zero beyond this many
      diagonals (1 for the Kerr model), so $[H, \rho]$ costs ``O(nmax^2)`` instead of a
      dense ``O(nmax^3)`` product. With ``check=True`` an ``H`` with entries beyond the band
      is refused (``"H: has entries beyond h_bandwidth=..."``); with ``check=False`` they are
      ignored (wrong ``Pi_U`` and ``dS_dt``), so pass ``check=False`` only for an ``H`` banded
      by construction.

    **Returns:** :class:`PhotonLossTerms`. Jit-able; ``jax.vmap(photon_loss_terms,
    in_axes=(0, None, None, None))`` for a batch of states.

    **Raises:** ``ValueError`` naming ``rho``/``H``/``kappa`` (message starts ``"rho: "`` etc.)
    for wrong shapes, a grid of another ``nmax``, or a ``kappa`` that is not a real scalar
    (string, complex, bool): always. With ``check=True`` also for values: ``rho`` or ``H``
    with NaN/inf or not Hermitian (relative anti-Hermitian part > ``STATE_TOL``), ``rho`` with
    ``|tr rho - 1| > STATE_TOL`` or smallest eigenvalue < ``-POSITIVITY_TOL`` x largest
    (:mod:`jaxent.tolerances`; the terms are not linear in ``rho``, so an unnormalised state
    gives wrong numbers, not scaled ones), ``kappa`` NaN, inf or ``<= 0``. Eagerly these are
    ``ValueError``; on traced values (inside ``jit``/``vmap``/``grad``) the same checks go
    through :func:`equinox.error_if` and raise at run time (``EquinoxRuntimeError``, or
    ``JaxRuntimeError`` under ``jax.jit``) with the same first words. They are computed on
    ``stop_gradient`` values, so they do not change derivatives.
    """
    if h_bandwidth is not None and (isinstance(h_bandwidth, bool)
                                    or not isinstance(h_bandwidth, (int, np.integer))
                                    or h_bandwidth < 0):
        raise ValueError(f"h_bandwidth: must be None or an integer >= 0, got {h_bandwidth!r}")
    hb = None if h_bandwidth is None else int(h_bandwidth)
    rho, H, kappa = _validate(rho, H, kappa, grid, check=check, h_bandwidth=hb)
    terms = _photon_loss_terms(rho, H, kappa, grid, hb)
    if check and _is_concrete(terms):
        check_terms(terms, tol=tol, stacklevel=3)
    return terms


def check_terms(terms: PhotonLossTerms, tol: float = DIAGNOSTIC_TOL,
                stacklevel: int = 2) -> list[str]:
    """Warn (``UserWarning``) for every grid diagnostic above ``tol`` and return the messages.

    Works on a single result or a ``vmap``-ed batch (the worst entry is reported):
    ``norm_error`` and ``edge_mass`` are absolute probabilities; ``ibp_error`` is compared with
    ``tol * max(Phi, 1)``. Each message names the fix.
    """
    msgs = []
    norm = float(jnp.max(terms.norm_error))
    edge = float(jnp.max(terms.edge_mass))
    ibp = float(jnp.max(terms.ibp_error / jnp.maximum(terms.Phi, 1.0)))
    if edge > tol:
        msgs.append(f"{edge:.2e} of the Husimi probability lies outside the grid disc: increase "
                    "the grid radius (polar_grid(nmax, radius=...)); if the state itself reaches "
                    "the top Fock levels, increase nmax too")
    if norm > tol:
        msgs.append(f"grid normalisation error |int Q - Tr rho| = {norm:.2e}: increase n_r "
                    "(polar_grid(nmax, n_r=...)) or the radius")
    if ibp > tol:
        msgs.append(f"grid resolution error of the entropy integrals {ibp:.2e} (relative to Phi): "
                    "refine the grid (polar_grid(nmax, n_r=..., n_theta=...) larger, e.g. "
                    "jaxent.phase_space.grid.refine(grid))")
    for m in msgs:
        warnings.warn("photon_loss_terms: " + m, UserWarning, stacklevel=stacklevel)
    return msgs


def unitary_entropy_production(rho, H, grid: PolarGrid):
    r"""$\Pi_U = -\int d^2\mu\, Q[-i[H,\rho]]\ln Q$ for any single-mode Hermitian matrix ``H``
    [GFL20, Eq. (A1); GFL-quench, Eq. (19)] (same value as ``photon_loss_terms(...).Pi_U``)."""
    rho = _check_operator(rho, grid.nmax, "rho")
    H = _check_operator(H, grid.nmax, "H")
    fields = bargmann_polar(jnp.stack([rho, -1j * (H @ rho - rho @ H)]), grid).real
    return -grid.integrate(fields[1] * _safe_log(fields[0]))


def entropy_rate(rho, drho, grid: PolarGrid):
    r"""$dS/dt = -\int d^2\mu\, Q[\dot\rho]\ln Q$ for a state ``rho`` and its time derivative
    ``drho`` $= \mathcal L\rho$ (any Liouvillian; GFL-quench, Eq. (17))."""
    rho = _check_operator(rho, grid.nmax, "rho")
    drho = _check_operator(drho, grid.nmax, "drho")
    fields = bargmann_polar(jnp.stack([rho, drho]), grid).real
    return -grid.integrate(fields[1] * _safe_log(fields[0]))


def kerr_unitary_entropy_production(rho, U, grid: PolarGrid):
    r"""Closed form of $\Pi_U$ for the Kerr term $(U/2)\,a^{\dagger2}a^2$ ($U = u/N$)
    [GFL20, Eq. (B6); GFL-quench, Eqs. (25), (B7)].

    Only the Kerr term contributes: the $\Delta a^\dagger a$ and drive terms of $H$ give first
    derivatives of $Q$ whose $\ln Q$ integrals vanish by parts. With
    $\partial_{\bar\mu}Q = A - \mu Q$, $A = \langle\mu|a\rho|\mu\rangle/\pi$ (Bargmann identity),

    $$\Pi_U = U\int d^2\mu\,\frac{{\rm Im}[\bar\mu^2(\partial_{\bar\mu}Q)^2]}{Q}
       = U\int d^2\mu\Big[\frac{{\rm Im}(\bar\mu^2A^2)}{Q} - 2|\mu|^2\,{\rm Im}(\bar\mu A)\Big].$$

    We re-derived this (Husimi transform of $-i\frac U2[a^{\dagger2}a^2,\rho]$ via the Bargmann
    identity, then integration by parts) and it agrees with GFL-quench Eqs. (25)/(B7, first
    line) and with GFL20 Eq. (B6) once its garbled prefactor "$i\mu/2N$" is read as
    $iu/(2N) = iU/2$. The expanded second line of GFL-quench Eq. (B7) is garbled by the PDF
    conversion (it shows $+2\bar\mu\langle a\rho\rangle$ inside $|\mu|^2(\ldots)/\pi$ and
    $\bar\mu$ instead of $\bar\mu^2$ in the last term); the form above is the correct one and
    is checked in the tests against the exact commutator form
    :func:`unitary_entropy_production` for the full Kerr Hamiltonian.

    Valid when the state has negligible weight in the top Fock level (the closed form
    assumes an untruncated $H$).
    """
    rho = _check_operator(rho, grid.nmax, "rho")
    a = destroy(grid.nmax)
    fields = bargmann_polar(jnp.stack([rho, a @ rho, a @ rho @ a.T]), grid)
    Q, A, B = fields[0].real, fields[1], fields[2].real
    mu = grid.points()
    absA2 = _abs2(A)
    nonzero = absA2 > 0
    # A^2 / Q = (A^2/|A|^2) * (|A|^2/Q), the magnitude clamped as in Pi_J.
    phase2 = jnp.where(nonzero, A**2 / jnp.where(nonzero, absA2, 1.0), 0.0)
    A2_over_Q = phase2 * _ratio(A, Q, B)
    integrand = (jnp.imag(jnp.conj(mu) ** 2 * A2_over_Q)
                 - 2.0 * jnp.abs(mu) ** 2 * jnp.imag(jnp.conj(mu) * A))
    return U * grid.integrate(integrand)
