r"""Steady states of Lindblad master equations, returned with the diagnostics needed to trust them.

Two solvers share the result type :class:`SteadyState`:

- :func:`steady_state_dense` (here): any ``H`` and collapse operators, through the dense
  ``nmax^2 x nmax^2`` Liouvillian (:func:`jaxent.fock.liouvillian.liouvillian`). Differentiable,
  jit/vmap-able; for small spaces (``nmax`` up to ~40).
- :func:`jaxent.fock.banded.steady_state_banded`: one mode, tridiagonal ``H`` (a coherent drive
  changes the photon number by at most one) and jump operators that conserve ``d = m - n``
  (loss ``a``, gain ``a^dag``, dephasing ``a^dag a``). Block-tridiagonal elimination over ``d``;
  ``nmax`` of a few hundred on a CPU.

Both solve $\mathcal L\rho = 0$, $\mathrm{tr}\rho = 1$ by the *bordered* system
$(\mathcal L + w\,t\,t^T)x = w\,t$ with $t = \mathrm{vec}(I)$: since $t^T\mathcal L = 0$ (trace
preservation), its unique solution is the normalised steady state, and no row is singled out.

Conditioning: near a first-order dissipative transition the Liouvillian gap $\lambda_1$ closes
exponentially in the system size, and the weight of the slow mode in *any* float64 solution is only
determined to about $\epsilon_{\rm mach}\|\mathcal L\|/\lambda_1$. Every solver therefore reports a
``gap_estimate``, the predicted ``error_estimate`` and a ``resolvable`` flag; check them with
:func:`check_steady_state`.
"""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxent.fock.liouvillian import apply_liouvillian, as_c_ops, check_hamiltonian, liouvillian
from jaxent.fock.truncation import TAIL_TOL, check_truncation, tail_population

#: Unit roundoff of float64.
EPS64 = float(np.finfo(np.float64).eps)
#: ``resolvable`` is ``error_estimate < RESOLVE_TOL``.
RESOLVE_TOL = 1e-8


class ConditioningWarning(UserWarning):
    """The steady state is not resolvable in float64 (the Liouvillian gap is too small)."""


class SteadyState(eqx.Module):
    """A steady state and its diagnostics (all fields are arrays, so the Module can be returned
    from ``jit`` and stacked by ``vmap``).

    Fields:
    - ``rho``: ``(nmax, nmax)`` density matrix (Hermitian, trace 1).
    - ``trace_error``: ``|tr(rho_raw) - 1|`` of the raw solution before the final normalisation.
    - ``residual_norm``: ``||L(rho)||_F`` (Frobenius norm, same units as the rates).
    - ``tail_population``: population of the top Fock levels (:func:`~jaxent.fock.truncation.tail_population`).
    - ``gap_estimate``: estimate of the slowest relaxation rate ``|lambda_1|``: dense solver, the
      second-smallest singular value of L; banded solver, the slow eigenvalue of the population
      Schur complement (within a factor ~2 of the true gap).
    - ``error_estimate``: ``eps_mach * ||L|| / sigma_2(L)``, the predicted error of the
      slow-mode weight (relative error of moments that differ between the metastable states).
    - ``resolvable``: ``error_estimate < RESOLVE_TOL`` (the solution can be trusted as is).
    - ``pinned``: ``True`` when the slow-mode weight was fixed from an exact moment
      (Kerr model, :func:`jaxent.models.kerr.kerr_steady_state`) instead of the linear solve.
    """

    rho: jax.Array
    trace_error: jax.Array
    residual_norm: jax.Array
    tail_population: jax.Array
    gap_estimate: jax.Array
    error_estimate: jax.Array
    resolvable: jax.Array
    pinned: jax.Array


def _hermitize(rho):
    rho = 0.5 * (rho + rho.conj().T)
    return rho / jnp.real(jnp.trace(rho))


def steady_state_dense(H, c_ops=(), *, diagnose: bool = True) -> SteadyState:
    r"""Steady state of $\mathcal L = -i[H,\cdot] + \sum_c\mathcal D[c]$ by a dense bordered solve.

    **Arguments:** ``H`` ``(nmax, nmax)`` Hermitian; ``c_ops`` sequence of ``(nmax, nmax)``
    collapse operators (rates included); ``diagnose`` (static): also compute ``gap_estimate``
    from the singular values of $\mathcal L$ (``O(nmax^6)``; otherwise ``gap_estimate`` and
    ``error_estimate`` are NaN and ``resolvable`` is judged from the residual only).

    **Returns:** :class:`SteadyState`. Differentiable (``jax.grad`` through ``jnp.linalg.solve``),
    jit- and vmap-able. Memory ``16 nmax^4`` bytes: keep ``nmax`` below ~40.
    """
    H = check_hamiltonian(H)
    n = H.shape[0]
    C = as_c_ops(c_ops, n)
    L = liouvillian(H, C)
    t = jnp.eye(n, dtype=jnp.complex128).T.reshape(-1)  # vec(I)
    w = jnp.max(jnp.abs(jnp.diagonal(L))) + 1.0
    x = jnp.linalg.solve(L + w * jnp.outer(t, t) / n, w * t / n)
    raw = x.reshape(n, n).T
    trace_error = jnp.abs(jnp.trace(raw) - 1.0)
    rho = _hermitize(raw)
    res = jnp.linalg.norm(apply_liouvillian(H, C, rho))
    if diagnose:
        s = jnp.linalg.svd(jax.lax.stop_gradient(L), compute_uv=False)
        gap = s[-2]
        err = EPS64 * s[0] / gap
        resolvable = err < RESOLVE_TOL
    else:
        gap = jnp.asarray(jnp.nan)
        err = jnp.asarray(jnp.nan)
        resolvable = res < RESOLVE_TOL * w
    return SteadyState(
        rho=rho,
        trace_error=trace_error,
        residual_norm=res,
        tail_population=tail_population(jnp.real(jnp.diagonal(rho))),
        gap_estimate=gap,
        error_estimate=err,
        resolvable=resolvable,
        pinned=jnp.asarray(False),
    )


def check_steady_state(ss: SteadyState, *, tail_tol: float = TAIL_TOL,
                       truncation: str = "warn", conditioning: str = "warn") -> bool:
    """Eager check of a (possibly batched) :class:`SteadyState`: Fock tail against ``tail_tol``
    (:func:`~jaxent.fock.truncation.check_truncation`) and float64 resolvability. ``truncation``
    and ``conditioning`` are each ``"warn"``, ``"raise"`` (``ValueError``) or ``"ignore"``.
    Returns ``True`` when both checks pass. Pinned states (exact-moment fix) count as resolved."""
    ok = check_truncation(ss, tail_tol, truncation)
    res = np.asarray(ss.resolvable) | np.asarray(ss.pinned)
    if not np.all(res):
        err = float(np.max(np.where(res, 0.0, np.asarray(ss.error_estimate))))
        gap = float(np.min(np.where(res, np.inf, np.asarray(ss.gap_estimate))))
        msg = (f"steady state not resolvable in float64: Liouvillian gap estimate {gap:.2e}, "
               f"predicted error of the slow-mode weight {err:.1e} (> {RESOLVE_TOL:g}). "
               "Near a first-order transition the NESS is ill-conditioned; fix the slow-mode "
               "weight from an exact moment (kerr_steady_state does) or reduce the system size.")
        if conditioning == "raise":
            raise ValueError(msg)
        if conditioning == "warn":
            warnings.warn(msg, ConditioningWarning, stacklevel=2)
        ok = False
    return ok



def __getattr__(name):
    # The structured solver lives in jaxent.fock.banded (which imports SteadyState from here);
    # it is reachable from this module too, resolved lazily to avoid a circular import.
    if name in ("steady_state_banded", "solve_banded", "BandedLindblad"):
        from jaxent.fock import banded

        return getattr(banded, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
