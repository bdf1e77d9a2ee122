"""Gaussian (quadratic) Lindblad master equations as drift/diffusion matrices.

General channel: ``d rho/dt = -i[H, rho] + sum_k D[L_k] rho`` with ``H = (1/2) r^T G r`` and
jump operators linear in the quadratures, ``L_k = c_k . r`` (``c_k`` complex, length ``2n``),
``D[L] rho = L rho L^dag - {L^dag L, rho}/2``. With ``Y = sum_k c_k c_k^dag`` (entries
``sum_k c_{k,a} conj(c_{k,b})``, Hermitian) the first and second moments obey
``d<r>/dt = A <r>``, ``d sigma/dt = A sigma + sigma A^T + D`` with

    A = Omega (G - Im Y),        D = Omega (Re Y) Omega^T.

Derivation (adjoint master equation): for linear ``O = r_a``,
``L^dag O L - {L^dag L, O}/2 = (L^dag [O, L] + [L^dag, O] L)/2 = -(Omega Im Y r)_a`` using
``[r_a, r_b] = i Omega_ab``; the diffusion follows in the same way from the second moments.
Per-mode thermal channels ``2 kappa (N+1) D[a_j] + 2 kappa N D[a_j^dag]`` give back
:func:`jaxent.gaussian.covariance.drift_diffusion` (tested).

Two physical master equations for oscillators each coupled to its own bath through
``a_j b_j^dag + h.c.`` (the system-bath model of [KL, App. A, Eq. (9)]) with amplitude damping
``gamma_j`` (so an isolated oscillator obeys ``d<a_j>/dt = -gamma_j <a_j>``, as in the quantum
Langevin equation [KL, Eq. (5)]):

* **local** [KL, Sec. III]: each bath sees its own oscillator alone, rates at the *local*
  frequency ``omega_j`` and temperature ``T_j``:
  ``2 gamma_j (N(omega_j, T_j) + 1) D[a_j] + 2 gamma_j N(omega_j, T_j) D[a_j^dag]``.
* **global** (Davies / secular) [KL, App. A]: with ``a_j = sum_k (U_jk c_k + V_jk c_k^dag)``
  (normal modes ``c_k`` of frequency ``omega_k``) the resonant part of ``a_j b_j^dag + h.c.``
  gives, for every bath ``j`` and normal mode ``k``, the channels
  ``2 gamma_j w_jk (N(omega_k, T_j) + 1) D[c_k] + 2 gamma_j w_jk N(omega_k, T_j) D[c_k^dag]``.
  For a bath with modes at positive frequencies only, ``c_k^dag b^dag`` is never resonant and
  ``w_jk = |U_jk|^2`` (``weights="davies"``, the default). KL write the pp-case rates in
  [KL, Eq. (17)] in a compact index notation; for rotating-wave coupling ``V = 0`` and every
  choice coincides with [KL, Eqs. (10)-(15)] (``|U_1k|^2 = cos^2 theta`` etc.).
  ``weights="kms"`` uses ``w_jk = |U_jk|^2 - |V_jk|^2``: the secular limit of the white-noise
  Langevin model [KL, Eqs. (5)-(7)], whose bath spectrum extends to negative frequencies with
  ``N(nu)`` continued there (so ``c_k^dag b^dag`` *is* resonant, with "occupation"
  ``N(-omega_k) = -(N(omega_k) + 1)``). It is the weak-damping limit of
  :func:`jaxent.gaussian.langevin.langevin_covariance` for any coupling.
  Cross terms between different normal modes are dropped (secular approximation; needs
  ``|omega_k - omega_l| >> gamma``); Lamb shifts are neglected.

Both give ``(A, D)`` for :func:`jaxent.gaussian.lyapunov.lyapunov_steady_state`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jaxent._validation import is_concrete as _is_concrete
from jaxent.gaussian.covariance import drift_diffusion, symplectic_form
from jaxent.gaussian.lyapunov import lyapunov_steady_state
from jaxent.gaussian.normal_modes import (
    bose_occupation,
    check_bounded_below,
    check_temperature,
    ladder_coefficients,
    normal_mode_vectors,
    williamson,
)

__all__ = [
    "drift_diffusion_from_jumps",
    "local_frequencies",
    "local_drift_diffusion",
    "global_jump_vectors",
    "global_drift_diffusion",
    "steady_state_covariance",
]


def drift_diffusion_from_jumps(G: ArrayLike, C: ArrayLike) -> tuple[Array, Array]:
    """``(A, D)`` for ``H = (1/2) r^T G r`` and jump operators ``L_k = C[k] . r``.

    **Arguments:** ``G`` real symmetric ``(2n, 2n)``; ``C`` complex ``(K, 2n)`` (row ``k`` holds
    the quadrature coefficients of ``L_k``, rates included: ``L = sqrt(2 kappa) a`` has
    ``C = sqrt(kappa) (1, i)``). **Returns:** ``A = Omega (G - Im Y)``,
    ``D = Omega Re(Y) Omega^T`` with ``Y = C^T conj(C)`` (module docstring).
    """
    G = jnp.asarray(G, dtype=float)
    C = jnp.atleast_2d(jnp.asarray(C))
    if G.ndim != 2 or G.shape[0] != G.shape[1] or G.shape[0] % 2:
        raise ValueError(f"G: expected a (2n, 2n) matrix, got shape {G.shape}")
    if C.ndim != 2 or C.shape[1] != G.shape[0]:
        raise ValueError(f"C: expected shape (K, {G.shape[0]}), got {C.shape}")
    if _is_concrete(C) and not np.all(np.isfinite(np.asarray(C))):
        raise ValueError("C: jump-operator coefficients contain NaN or inf")
    n = G.shape[0] // 2
    om = symplectic_form(n)
    Y = C.T @ C.conj()
    A = om @ (0.5 * (G + G.T) - jnp.imag(Y))
    D = om @ jnp.real(Y) @ om.T
    return A, 0.5 * (D + D.T)


def _check_gamma(gamma, n):
    gamma = jnp.broadcast_to(jnp.asarray(gamma, dtype=float), (n,))
    if _is_concrete(gamma):
        g = np.asarray(gamma)
        if not np.all(np.isfinite(g)) or np.any(g < 0):
            raise ValueError(f"gamma: damping rates must be finite and >= 0, got {g}")
    return gamma


def local_frequencies(G: ArrayLike) -> Array:
    """Bare frequency of each mode: ``omega_j = sqrt(det G_jj)`` of its own ``2 x 2`` block
    (``G_jj = omega_j I`` for ``omega_j a_j^dag a_j``). Used by the local master equation."""
    G = jnp.asarray(G, dtype=float)
    n = G.shape[0] // 2
    blocks = jnp.stack([G[2 * j:2 * j + 2, 2 * j:2 * j + 2] for j in range(n)])
    return jnp.sqrt(jnp.linalg.det(blocks))


def local_drift_diffusion(G: ArrayLike, gamma: ArrayLike, T: ArrayLike) -> tuple[Array, Array]:
    """Local master equation [KL, Sec. III]: each oscillator ``j`` damped by its own bath at
    its bare frequency, ``2 gamma_j (N_j + 1) D[a_j] + 2 gamma_j N_j D[a_j^dag]`` with
    ``N_j = N(omega_j, T_j)``. **Returns:** ``(A, D)``.

    KL write the local rates as ``gamma_k (N + 1)`` multiplying ``D[a]`` while their Langevin
    equation (5) has amplitude damping ``gamma``; we use amplitude damping ``gamma`` in all
    descriptions so that the three agree for uncoupled oscillators (the factor 2 only
    rescales time in the weak-damping limit).
    """
    G = jnp.asarray(G, dtype=float)
    n = G.shape[0] // 2
    check_temperature(T)
    gamma = _check_gamma(gamma, n)
    T = jnp.broadcast_to(jnp.asarray(T, dtype=float), (n,))
    nbar = bose_occupation(local_frequencies(G), T)
    return drift_diffusion(G, gamma, nbar)


def global_jump_vectors(G: ArrayLike, gamma: ArrayLike, T: ArrayLike,
                        weights: str = "davies") -> Array:
    """Jump-operator coefficient rows (``L = C[k] . r``) of the global secular master equation
    (module docstring): for each bath ``j`` and normal mode ``k`` one loss
    ``sqrt(2 gamma_j w_jk (N(omega_k, T_j) + 1)) c_k`` and one gain
    ``sqrt(2 gamma_j w_jk N(omega_k, T_j)) c_k^dag``. Shape ``(2 n^2, 2n)``.

    Raises ``ValueError`` if ``H`` is not bounded below, ``T <= 0`` or, for
    ``weights="kms"``, a weight is negative (the channel would not be completely positive).
    """
    G = jnp.asarray(G, dtype=float)
    n = G.shape[0] // 2
    check_temperature(T)
    check_bounded_below(G)
    gamma = _check_gamma(gamma, n)
    T = jnp.broadcast_to(jnp.asarray(T, dtype=float), (n,))
    omega, S = williamson(G)
    U, V = ladder_coefficients(S)
    if weights == "davies":
        w = jnp.abs(U) ** 2
    elif weights == "kms":
        w = jnp.abs(U) ** 2 - jnp.abs(V) ** 2
        if _is_concrete(w) and np.any(np.asarray(w) < -1e-12):
            raise ValueError("weights: 'kms' weights |U|^2 - |V|^2 are negative for this "
                             "Hamiltonian; use weights='davies'")
        w = jnp.maximum(w, 0.0)
    else:
        raise ValueError(f"weights: expected 'davies' or 'kms', got {weights!r}")
    f = normal_mode_vectors(S)  # (n_modes, 2n)
    N = bose_occupation(omega[None, :], T[:, None])  # (bath j, mode k)
    rate = 2.0 * gamma[:, None] * w
    loss = jnp.sqrt(rate * (N + 1.0))[:, :, None] * f[None, :, :]
    gain = jnp.sqrt(rate * N)[:, :, None] * f.conj()[None, :, :]
    return jnp.concatenate([loss.reshape(-1, 2 * n), gain.reshape(-1, 2 * n)], axis=0)


def global_drift_diffusion(G: ArrayLike, gamma: ArrayLike, T: ArrayLike,
                           weights: str = "davies") -> tuple[Array, Array]:
    """Global secular master equation [KL, App. A] as ``(A, D)`` (see
    :func:`global_jump_vectors`)."""
    return drift_diffusion_from_jumps(G, global_jump_vectors(G, gamma, T, weights))


def steady_state_covariance(G: ArrayLike, gamma: ArrayLike, T: ArrayLike, method: str,
                            weights: str = "davies") -> Array:
    """Steady-state covariance of the ``"local"`` or ``"global"`` master equation."""
    if method == "local":
        A, D = local_drift_diffusion(G, gamma, T)
    elif method == "global":
        A, D = global_drift_diffusion(G, gamma, T, weights)
    else:
        raise ValueError(f"method: expected 'local' or 'global', got {method!r}")
    return lyapunov_steady_state(A, D)
