"""Gaussian states of n bosonic modes: conventions, drift and diffusion matrices.

Conventions (used by every function of :mod:`jaxent.gaussian`)
----------------------------------------------------------------
* Quadratures are ordered mode by mode, ``r = (x_1, p_1, ..., x_n, p_n)`` with
  ``x = (a + a^dag)/sqrt(2)`` and ``p = (a - a^dag)/(i sqrt(2))``, so ``[x, p] = i`` and
  ``a = (x + i p)/sqrt(2)``.
* Covariance matrix ``sigma_ij = (1/2) <{dr_i, dr_j}>`` with ``dr = r - <r>``; the vacuum
  (and every coherent state) has ``sigma = I/2``; a thermal state of occupation ``N`` has
  ``sigma = (N + 1/2) I``. Physical states satisfy ``sigma + (i/2) Omega >= 0``.
* Symplectic form ``Omega = (+)_j [[0, 1], [-1, 0]]``: ``[r_i, r_j] = i Omega_ij``.
* Quadratic Hamiltonian ``H = (1/2) r^T G r`` with ``G`` real symmetric ``2n x 2n`` (constants
  dropped). Heisenberg equations ``dr/dt = Omega G r``.
* Dissipation: per-mode channels ``2 kappa_j (nbar_j + 1) D[a_j] + 2 kappa_j nbar_j D[a_j^dag]``
  with ``D[L] rho = L rho L^dag - {L^dag L, rho}/2``. Then ``d<a_j>/dt = -kappa_j <a_j>`` and the
  bath alone relaxes mode j to ``sigma = (nbar_j + 1/2) I``. MSCPL19 writes the same channel with
  rate ``gamma_j = 2 kappa_j`` [MSCPL19, Eq. (4)]; GFL20 writes loss as ``2 kappa D[a]``.
* Equations of motion: ``d<r>/dt = A <r>`` and ``d sigma/dt = A sigma + sigma A^T + D`` with
  ``A = Omega G - (+)_j kappa_j I_2`` and ``D = (+)_j kappa_j (2 nbar_j + 1) I_2``.

Complex form [MSCPL19, App. A]
------------------------------
MSCPL19 orders ``R = (a_1, a_1^dag, ..., a_n, a_n^dag)`` and uses the Hermitian covariance
``Theta_ij = (1/2)<{dR_i, dR_j^dag}>`` (their Eq. (A1)). With the unitary ``T`` (per mode
``T_1 = [[1, i], [1, -i]]/sqrt(2)``, ``R = T r``) one has ``Theta = T sigma T^dag``, so
``det Theta = det sigma`` and ``Theta = I/2`` for the vacuum. Note: the (2,1) entry of their
printed Eq. (A2) reads ``<a_1^dag a_1>``; it is ``<a_1^dag a_1^dag>`` (complex conjugate of the
(1,2) entry ``<a_1 a_1>``), as Eq. (A4) and Hermiticity require.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jaxent._validation import is_concrete as _is_concrete

__all__ = [
    "symplectic_form",
    "drift_diffusion",
    "quadratic_hamiltonian_matrix",
    "to_complex_covariance",
    "from_complex_covariance",
    "complex_transform",
    "number_moments",
    "thermal_covariance",
    "two_mode_squeezed_thermal_covariance",
    "check_covariance",
]


def symplectic_form(n_modes: int) -> Array:
    """``Omega = (+)_{j=1}^n [[0, 1], [-1, 0]]``, shape ``(2n, 2n)``.

    ``[r_i, r_j] = i Omega_ij``.
    """
    w = jnp.array([[0.0, 1.0], [-1.0, 0.0]])
    return jnp.kron(jnp.eye(n_modes), w)


def _check_rates(kappa, nbar) -> None:
    """Eager ValueErrors for negative/NaN rates or occupations (skipped under tracing)."""
    if not _is_concrete(kappa, nbar):
        return
    k = np.asarray(kappa, dtype=float)
    nb = np.asarray(nbar, dtype=float)
    if not np.all(np.isfinite(k)) or np.any(k < 0):
        raise ValueError(f"kappa: damping rates must be finite and >= 0, got {k}")
    if not np.all(np.isfinite(nb)) or np.any(nb < 0):
        raise ValueError(f"nbar: thermal occupations must be finite and >= 0, got {nb}")


def drift_diffusion(G: ArrayLike, kappa: ArrayLike, nbar: ArrayLike = 0.0) -> tuple[Array, Array]:
    """Drift ``A`` and diffusion ``D`` of ``d sigma/dt = A sigma + sigma A^T + D``.

    For ``H = (1/2) r^T G r`` plus per-mode channels
    ``2 kappa_j (nbar_j + 1) D[a_j] + 2 kappa_j nbar_j D[a_j^dag]`` (module conventions):
    ``A = Omega G - kappa (x) I_2`` and ``D = kappa (2 nbar + 1) (x) I_2``.
    This is [MSCPL19, Eqs. (B1)-(B3)] rewritten in real quadratures (their ``gamma = 2 kappa``).

    **Arguments:** ``G`` ``(2n, 2n)`` real symmetric; ``kappa``, ``nbar``: scalars or ``(n,)``.
    **Returns:** ``(A, D)``, each ``(2n, 2n)``. Raises ``ValueError`` (eagerly) on a non-square
    or non-symmetric ``G`` or negative rates/occupations.
    """
    G = jnp.asarray(G, dtype=float)
    if G.ndim != 2 or G.shape[0] != G.shape[1] or G.shape[0] % 2:
        raise ValueError(f"G: expected a (2n, 2n) matrix, got shape {G.shape}")
    n = G.shape[0] // 2
    if _is_concrete(G) and not np.allclose(np.asarray(G), np.asarray(G).T, rtol=1e-12, atol=1e-14):
        raise ValueError("G: the Hamiltonian matrix must be symmetric")
    _check_rates(kappa, nbar)
    kappa = jnp.broadcast_to(jnp.asarray(kappa, dtype=float), (n,))
    nbar = jnp.broadcast_to(jnp.asarray(nbar, dtype=float), (n,))
    omega = symplectic_form(n)
    A = omega @ G - jnp.diag(jnp.repeat(kappa, 2))
    D = jnp.diag(jnp.repeat(kappa * (2.0 * nbar + 1.0), 2))
    return A, D


def _mode_matrix(n: int) -> np.ndarray:
    """``P`` with ``a = P r`` (shape ``(n, 2n)``).

    ``P[j, 2j] = 1/sqrt2``, ``P[j, 2j+1] = i/sqrt2``.
    """
    P = np.zeros((n, 2 * n), dtype=complex)
    idx = np.arange(n)
    P[idx, 2 * idx] = 1 / np.sqrt(2)
    P[idx, 2 * idx + 1] = 1j / np.sqrt(2)
    return P


def quadratic_hamiltonian_matrix(M: ArrayLike, K: ArrayLike | None = None) -> Array:
    """``G`` of ``H = (1/2) r^T G r`` for ``H = a^dag M a + (1/2)(a^T K a + h.c.)``.

    ``M`` Hermitian ``(n, n)`` (``H_{k,l}`` of [MSCPL19, Eq. (1)]), ``K`` complex symmetric
    ``(n, n)`` (squeezing/pairing terms; ``None`` for none). Constants (zero-point energies)
    are dropped. Derivation: with ``a = P r``, ``a^dag M a = r^T (P^dag M P) r``; the
    antisymmetric imaginary part of the Hermitian ``P^dag M P`` only adds a c-number, so
    ``G = 2 Re(P^dag M P) + 2 Re(P^T K P)``. Example: ``M = omega`` gives ``G = omega I``.
    """
    M = jnp.asarray(M)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M: expected an (n, n) matrix, got shape {M.shape}")
    n = M.shape[0]
    P = jnp.asarray(_mode_matrix(n))
    G = 2.0 * jnp.real(P.conj().T @ M @ P)
    if K is not None:
        K = jnp.asarray(K)
        if K.shape != (n, n):
            raise ValueError(f"K: expected shape {(n, n)}, got {K.shape}")
        G = G + 2.0 * jnp.real(P.T @ K @ P)
    return 0.5 * (G + G.T)


def complex_transform(n_modes: int) -> Array:
    """Unitary ``T`` with ``R = T r``, ``R = (a_1, a_1^dag, ..., a_n, a_n^dag)``."""
    t1 = np.array([[1.0, 1j], [1.0, -1j]]) / np.sqrt(2)
    return jnp.asarray(np.kron(np.eye(n_modes), t1))


def to_complex_covariance(sigma: ArrayLike) -> Array:
    """``Theta = T sigma T^dag``: the covariance of [MSCPL19, Eq. (A1)] from the real one."""
    sigma = jnp.asarray(sigma)
    T = complex_transform(sigma.shape[-1] // 2)
    return T @ sigma @ T.conj().T


def from_complex_covariance(theta: ArrayLike) -> Array:
    """Inverse of :func:`to_complex_covariance`: ``sigma = Re(T^dag Theta T)``."""
    theta = jnp.asarray(theta)
    T = complex_transform(theta.shape[-1] // 2)
    return jnp.real(T.conj().T @ theta @ T)


def number_moments(sigma: ArrayLike, mean: ArrayLike | None = None) -> tuple[Array, Array]:
    """``C_kl = <a_k^dag a_l>`` and ``S_kl = <a_k a_l>`` (full moments, means included).

    For ``mean=None`` the state is centred (``C``, ``S`` are then the reduced covariances of
    [MSCPL19, Eqs. (A3)]).
    """
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    P = jnp.asarray(_mode_matrix(n))
    second = sigma + 0.5j * symplectic_form(n)  # <r_a r_b> (not symmetrised) for a centred state
    if mean is not None:
        mean = jnp.asarray(mean)
        second = second + jnp.outer(mean, mean)
    C = P.conj() @ second @ P.T
    S = P @ second @ P.T
    return C, S


def thermal_covariance(nbar: ArrayLike) -> Array:
    """``sigma = (+)_j (nbar_j + 1/2) I_2`` for occupations ``nbar`` ``(n,)``."""
    nbar = jnp.atleast_1d(jnp.asarray(nbar, dtype=float))
    return jnp.diag(jnp.repeat(nbar + 0.5, 2))


def two_mode_squeezed_thermal_covariance(r: ArrayLike, n1: ArrayLike = 0.0,
                                         n2: ArrayLike = 0.0) -> Array:
    """Covariance of ``S_2(r) (rho_th(n1) (x) rho_th(n2)) S_2(r)^dag`` with
    ``S_2(r) = exp(r (a_1 a_2 - a_1^dag a_2^dag))``.

    Under ``S_2``: ``a_1 -> cosh r a_1 - sinh r a_2^dag``, ``a_2 -> cosh r a_2 - sinh r a_1^dag``,
    i.e. ``x_1 -> c x_1 - s x_2``, ``p_1 -> c p_1 + s p_2`` (and 1 <-> 2).
    """
    c, s = jnp.cosh(r), jnp.sinh(r)
    S = jnp.array([[c, 0.0, -s, 0.0], [0.0, c, 0.0, s], [-s, 0.0, c, 0.0], [0.0, s, 0.0, c]])
    return S @ thermal_covariance(jnp.stack([jnp.asarray(n1, float), jnp.asarray(n2, float)])) @ S.T


def check_covariance(sigma: ArrayLike, name: str = "sigma", atol: float = 1e-10) -> None:
    """Raise ``ValueError`` unless ``sigma`` is a real symmetric ``(2n, 2n)`` matrix satisfying
    the uncertainty principle ``sigma + (i/2) Omega >= 0`` (eager; no-op on tracers)."""
    s = jnp.asarray(sigma)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] % 2:
        raise ValueError(f"{name}: expected a (2n, 2n) matrix, got shape {s.shape}")
    if not _is_concrete(s):
        return
    s = np.asarray(s, dtype=float)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name}: contains NaN or inf")
    if not np.allclose(s, s.T, atol=atol):
        raise ValueError(f"{name}: not symmetric")
    n = s.shape[0] // 2
    ev = np.linalg.eigvalsh(s + 0.5j * np.asarray(symplectic_form(n)))
    if ev.min() < -atol * max(1.0, np.abs(s).max()):
        raise ValueError(f"{name}: violates the uncertainty principle sigma + i Omega/2 >= 0 "
                         f"(min eigenvalue {ev.min():.3e})")
