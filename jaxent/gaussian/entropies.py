"""Entropies of Gaussian states from their covariance matrix (conventions of
:mod:`jaxent.gaussian.covariance`: vacuum ``sigma = I/2``).

* von Neumann: ``S = sum_k g(nu_k - 1/2)``, ``g(N) = (N+1) ln(N+1) - N ln N``, with the
  symplectic eigenvalues ``nu_k >= 1/2`` (Williamson).
* Wigner entropy ``S_W = -int W ln W d^{2n}alpha`` with the measure ``d^2 alpha = d Re(alpha)
  d Im(alpha) = dx dp / 2`` of [MSCPL19, Eq. (12)] (their Eq. (A5) normalisation):
  ``S_W = n (1 + ln pi) + (1/2) ln det sigma`` (vacuum: ``1 + ln(pi/2)``). It equals the
  Renyi-2 entropy ``S_2 = (1/2) ln det(2 sigma)`` up to the constant ``n (1 + ln(pi/2))``.
* Wehrl entropy of ``Q(mu) = <mu|rho|mu>/pi`` with ``d^2 mu`` [GFL20, Eq. (3)]: ``Q`` is the
  Gaussian with covariance ``sigma_Q = sigma + I/2``, so
  ``S_Q = n (1 + ln pi) + (1/2) ln det(sigma + I/2)`` (coherent state: ``1 + ln pi``).
* Mutual information ``I(A:B) = S(rho_A) + S(rho_B) - S(rho_AB)`` [KL, App. B] (von Neumann),
  and the same with Wigner (equivalently Renyi-2) entropies.

All functions are differentiable (the symplectic spectrum comes from a Cholesky factor and
``eigvalsh``, whose eigenvalue derivatives stay finite at degeneracies) and ``vmap``-able.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.scipy.special import xlogy
from jax.typing import ArrayLike

from jaxent.gaussian.covariance import symplectic_form

__all__ = [
    "symplectic_eigenvalues",
    "von_neumann_entropy",
    "wigner_entropy",
    "gaussian_wehrl_entropy",
    "renyi2_entropy",
    "mutual_information",
    "wigner_mutual_information",
    "submatrix",
]


def symplectic_eigenvalues(sigma: ArrayLike) -> Array:
    """Symplectic eigenvalues ``nu_1 <= ... <= nu_n`` of ``sigma`` (``(2n, 2n)`` positive definite).

    ``iOmega sigma`` is similar to the Hermitian ``i L^T Omega L`` (``sigma = L L^T``, Cholesky),
    whose eigenvalues are ``+-nu_k``; the ``n`` largest are returned. Physical states have
    ``nu_k >= 1/2`` (``1/2``: pure).
    """
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    L = jnp.linalg.cholesky(0.5 * (sigma + sigma.T))
    K = L.T @ symplectic_form(n) @ L
    ev = jnp.linalg.eigvalsh(1j * K)
    return ev[n:]


def _g(N):
    return xlogy(N + 1.0, N + 1.0) - xlogy(N, N)


def von_neumann_entropy(sigma: ArrayLike) -> Array:
    """``S(rho) = sum_k [(nu_k + 1/2) ln(nu_k + 1/2) - (nu_k - 1/2) ln(nu_k - 1/2)]`` (nats).

    Round-off that pushes ``nu_k`` to or a hair below ``1/2`` (pure states) is clipped: such
    modes contribute 0, and so does their derivative, so ``jax.grad`` is finite (no NaN) along
    pure states, whichever way the rounding falls.
    """
    nu = symplectic_eigenvalues(sigma)
    N = nu - 0.5
    # double where: the logs never see N <= 0, in the value or in the derivative (xlogy(N, N)
    # at N = 0 has the derivative 0 * log 0 = NaN: 37 of 41 squeezed vacua gave NaN)
    pure = N <= 0.0
    return jnp.sum(jnp.where(pure, 0.0, _g(jnp.where(pure, 1.0, N))))


def wigner_entropy(sigma: ArrayLike) -> Array:
    """``S_W = n (1 + ln pi) + (1/2) ln det sigma`` [MSCPL19, Eq. (12) with Eq. (A5)]."""
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    _, logdet = jnp.linalg.slogdet(sigma)
    return n * (1.0 + jnp.log(jnp.pi)) + 0.5 * logdet


def renyi2_entropy(sigma: ArrayLike) -> Array:
    """``S_2 = -ln tr rho^2 = (1/2) ln det(2 sigma)``."""
    sigma = jnp.asarray(sigma)
    _, logdet = jnp.linalg.slogdet(2.0 * sigma)
    return 0.5 * logdet


def gaussian_wehrl_entropy(sigma: ArrayLike) -> Array:
    """``S_Q = -int Q ln Q d^2mu = n (1 + ln pi) + (1/2) ln det(sigma + I/2)`` [GFL20, Eq. (3)],
    ``Q(mu) = <mu|rho|mu>/pi``. A coherent state gives ``1 + ln pi`` per mode. (The Wehrl
    entropy of a Husimi function on a grid is :func:`jaxent.entropy.wehrl.wehrl_entropy`.)"""
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    _, logdet = jnp.linalg.slogdet(sigma + 0.5 * jnp.eye(2 * n))
    return n * (1.0 + jnp.log(jnp.pi)) + 0.5 * logdet


def _quadrature_indices(modes: Sequence[int], n: int) -> np.ndarray:
    modes = [int(m) for m in modes]
    if not modes or len(set(modes)) != len(modes) or min(modes) < 0 or max(modes) >= n:
        raise ValueError(f"modes: expected distinct mode indices in [0, {n}), got {modes}")
    return np.array([[2 * m, 2 * m + 1] for m in modes]).reshape(-1)


def submatrix(sigma: ArrayLike, modes: Sequence[int]) -> Array:
    """Reduced covariance of the given modes (partial trace of a Gaussian state)."""
    sigma = jnp.asarray(sigma)
    idx = _quadrature_indices(modes, sigma.shape[-1] // 2)
    return sigma[np.ix_(idx, idx)]


def mutual_information(sigma: ArrayLike, modes_a: Sequence[int], modes_b: Sequence[int]) -> Array:
    """Quantum mutual information ``I = S(rho_A) + S(rho_B) - S(rho_AB)`` [KL, App. B] (nats).

    ``modes_a``, ``modes_b``: disjoint lists of mode indices; ``AB`` is their union (other
    modes are traced out).
    """
    if set(modes_a) & set(modes_b):
        raise ValueError(f"modes_a, modes_b must be disjoint, got {modes_a} and {modes_b}")
    ab = list(modes_a) + list(modes_b)
    return (von_neumann_entropy(submatrix(sigma, modes_a))
            + von_neumann_entropy(submatrix(sigma, modes_b))
            - von_neumann_entropy(submatrix(sigma, ab)))


def wigner_mutual_information(sigma: ArrayLike, modes_a: Sequence[int],
                              modes_b: Sequence[int]) -> Array:
    """Wigner (= Renyi-2) mutual information.

    ``(1/2) ln(det sigma_A det sigma_B / det sigma_AB)``.
    """
    if set(modes_a) & set(modes_b):
        raise ValueError(f"modes_a, modes_b must be disjoint, got {modes_a} and {modes_b}")
    ab = list(modes_a) + list(modes_b)
    return (wigner_entropy(submatrix(sigma, modes_a)) + wigner_entropy(submatrix(sigma, modes_b))
            - wigner_entropy(submatrix(sigma, ab)))
