"""Normal modes of quadratic bosonic Hamiltonians (symplectic / Williamson diagonalisation).

Conventions as in :mod:`jaxent.gaussian.covariance`: ``H = (1/2) r^T G r`` with
``r = (x_1, p_1, ..., x_n, p_n)``, ``[r_i, r_j] = i Omega_ij``.

Williamson's theorem: if ``G > 0`` there is a symplectic ``S`` (``S Omega S^T = Omega``) with
``G = S^T (diag(omega) (x) I_2) S``. The normal-mode quadratures ``r' = S r`` then give
``H = sum_k omega_k (x'_k^2 + p'_k^2)/2 = sum_k omega_k (c_k^dag c_k + 1/2)`` with
``c_k = (x'_k + i p'_k)/sqrt2``: the Bogoliubov transformation of [KL, Eqs. (2)-(3), (16)].

``H`` is bounded below iff ``G >= 0``; at a critical point (``lambda = lambda_c`` in [KL]) the
smallest eigenvalue of ``G`` reaches zero and a normal-mode frequency vanishes; beyond it
``H`` has no ground state and no Gibbs or steady state exists. :func:`williamson` raises then.

Algorithm: ``K = G^{1/2} Omega G^{1/2}`` is real antisymmetric; the Hermitian ``iK`` has
eigenvalues ``+-omega_k``. For an eigenvector ``u = v + i w`` of ``iK`` with eigenvalue
``+omega`` one has ``K v = omega w``, ``K w = -omega v``, ``|v| = |w|``, ``v . w = 0``, so
``O = [sqrt2 w, sqrt2 v, ...]`` is orthogonal with ``O^T K O = (+)_k omega_k [[0,1],[-1,0]]``
and ``S = diag(omega)^{-1/2} O^T G^{1/2}``. All steps (``eigh`` twice) are differentiable
away from degenerate frequencies.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jaxent._validation import is_concrete as _is_concrete
from jaxent.gaussian.covariance import symplectic_form

__all__ = [
    "NormalModes",
    "williamson",
    "check_bounded_below",
    "bose_occupation",
    "normal_mode_vectors",
    "ladder_coefficients",
    "gibbs_covariance",
]

# Relative size of the smallest eigenvalue of G (vs the largest) below which H is treated as
# not bounded below: the soft mode's frequency ~ sqrt(this) would then be numerically zero.
_BOUNDED_RTOL = 1e-12


class NormalModes(NamedTuple):
    """Result of :func:`williamson`: frequencies ``omega`` ``(n,)`` (ascending) and the
    symplectic ``S`` ``(2n, 2n)`` with ``G = S^T (omega (x) I_2) S``; rows ``2k, 2k+1`` of ``S``
    are the normal-mode quadratures ``x'_k, p'_k`` in terms of ``r``."""

    omega: Array
    S: Array


def _check_G(G) -> Array:
    G = jnp.asarray(G, dtype=float)
    if G.ndim != 2 or G.shape[0] != G.shape[1] or G.shape[0] % 2:
        raise ValueError(f"G: expected a (2n, 2n) matrix, got shape {G.shape}")
    if _is_concrete(G):
        g = np.asarray(G)
        if not np.all(np.isfinite(g)):
            raise ValueError("G: contains NaN or inf")
        if not np.allclose(g, g.T, rtol=1e-12, atol=1e-14):
            raise ValueError("G: the Hamiltonian matrix must be symmetric")
    return 0.5 * (G + G.T)


def check_bounded_below(G: ArrayLike, what: str = "H") -> None:
    """Raise ``ValueError`` if ``H = (1/2) r^T G r`` is not bounded below (``G`` not positive
    definite), e.g. at or beyond the critical coupling of [KL]. No-op on tracers."""
    G = _check_G(G)
    if not _is_concrete(G):
        return
    ev = np.linalg.eigvalsh(np.asarray(G))
    if ev[0] <= _BOUNDED_RTOL * max(abs(ev[-1]), 1e-300):
        raise ValueError(
            f"{what}: the quadratic Hamiltonian is not bounded below (smallest eigenvalue of G = "
            f"{ev[0]:.6g}); the coupling is at or beyond its critical value, where a normal-mode "
            "frequency vanishes and no Gibbs/steady state exists. Reduce the coupling below "
            "lambda_c.")


def williamson(G: ArrayLike) -> NormalModes:
    """Symplectic normal-mode diagonalisation ``G = S^T (omega (x) I_2) S`` (see module docstring).

    **Arguments:** ``G`` real symmetric positive definite ``(2n, 2n)``.
    **Returns:** :class:`NormalModes` ``(omega, S)``, ``omega`` ascending.
    Raises ``ValueError`` (eagerly) if ``H`` is not bounded below. Under ``jit`` a non-positive
    ``G`` gives NaN frequencies.
    """
    G = _check_G(G)
    check_bounded_below(G)
    n = G.shape[0] // 2
    g_ev, g_vec = jnp.linalg.eigh(G)
    g_ev = jnp.where(g_ev > 0, g_ev, jnp.nan)
    sq = (g_vec * jnp.sqrt(g_ev)) @ g_vec.T  # G^{1/2}
    K = sq @ symplectic_form(n) @ sq
    ev, U = jnp.linalg.eigh(1j * K)
    omega = ev[n:]  # eigenvalues are -omega_n..-omega_1, omega_1..omega_n
    u = U[:, n:]
    v, w = jnp.real(u), jnp.imag(u)
    Orth = jnp.stack([w, v], axis=-1).reshape(2 * n, 2 * n) * jnp.sqrt(2.0)
    # columns alternate w_k, v_k; eigh normalises |u| = 1 so |v| = |w| = 1/sqrt2
    S = (Orth.T @ sq) / jnp.sqrt(jnp.repeat(omega, 2))[:, None]
    return NormalModes(omega, S)


def bose_occupation(omega: ArrayLike, T: ArrayLike) -> Array:
    """``N(omega, T) = 1/(exp(omega/T) - 1)`` (k_B = hbar = 1), [KL, below Eq. (4)]."""
    omega = jnp.asarray(omega, dtype=float)
    T = jnp.asarray(T, dtype=float)
    return 1.0 / jnp.expm1(omega / T)


def check_temperature(T, name: str = "T") -> None:
    """Eager ``ValueError`` for non-positive / non-finite temperatures (no-op on tracers)."""
    if not _is_concrete(T):
        return
    t = np.asarray(T, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"{name}: temperatures must be finite and > 0, got {t}")


def normal_mode_vectors(S: ArrayLike) -> Array:
    """Row ``k`` is ``f_k`` with ``c_k = f_k . r``, shape ``(n, 2n)``.

    ``c_k = (x'_k + i p'_k)/sqrt2``.
    """
    S = jnp.asarray(S)
    return (S[0::2] + 1j * S[1::2]) / jnp.sqrt(2.0)


def ladder_coefficients(S: ArrayLike) -> tuple[Array, Array]:
    """Bogoliubov coefficients ``a_j = sum_k (U_jk c_k + V_jk c_k^dag)``, each ``(n, n)``.

    From commutators: ``U_jk = [a_j, c_k^dag]``, ``V_jk = -[a_j, c_k]`` with
    ``[u.r, v.r] = i u^T Omega v``. They satisfy ``U U^dag - V V^dag = I`` and, per mode,
    ``sum_j (|U_jk|^2 - |V_jk|^2) = 1``. These are the blocks ``A``, ``B`` of [KL, Eq. (16)]
    (up to the phases of the ``c_k``).
    """
    S = jnp.asarray(S)
    n = S.shape[0] // 2
    f = normal_mode_vectors(S)
    e = normal_mode_vectors(jnp.eye(2 * n))  # a_j = e_j . r
    om = symplectic_form(n)
    U = 1j * e @ om @ f.conj().T
    V = -1j * e @ om @ f.T
    return U, V


def gibbs_covariance(G: ArrayLike, T: ArrayLike) -> Array:
    """Covariance of the Gibbs state ``exp(-H/T)/Z`` [KL, App. C, last paragraph]:
    ``sigma = S^{-1} ((N(omega_k, T) + 1/2) (x) I_2) S^{-T}``.

    Raises ``ValueError`` for ``T <= 0`` or ``H`` not bounded below.
    """
    check_temperature(T)
    nm = williamson(G)
    n = nm.omega.shape[0]
    Sinv = symplectic_form(n) @ nm.S.T @ symplectic_form(n).T  # S^{-1} = Omega S^T Omega^T
    diag = jnp.repeat(0.5 / jnp.tanh(nm.omega / (2.0 * jnp.asarray(T, dtype=float))), 2)
    sigma = (Sinv * diag) @ Sinv.T
    return 0.5 * (sigma + sigma.T)


