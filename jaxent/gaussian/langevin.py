"""Exact steady state of linear quantum Langevin equations with thermal white-noise baths.

Model [KL, Eqs. (5)-(7), App. C]: ``da_j/dt = -i[a_j, H] - gamma_j a_j + sqrt(2 gamma_j) a_j,in``
with ``<a_in^dag(nu) a_in(nu')> = N(nu, T_j) delta(nu - nu')`` and
``<a_in(nu) a_in^dag(nu')> = (N(nu, T_j) + 1) delta(nu - nu')`` for *all* real ``nu``
(the Markovian, flat-spectrum bath; ``N(nu) = 1/(e^{nu/T} - 1)`` continued to ``nu < 0``).
KL's Eqs. (6)-(7) print an extra factor ``2 gamma_j`` in the noise correlators; their Eq. (23)
(and the requirement that an uncoupled oscillator relaxes to ``N(omega_j)``) shows that the
correlators are ``N`` and ``N + 1`` as written here.

Quadrature form: ``dr/dt = A r + xi`` with ``A = Omega G - gamma (x) I_2`` and noise of
symmetrised spectral matrix ``S_j(nu) = 2 gamma_j f_j(nu) [[0, i], [-i, 0]]`` on mode ``j``,
``f_j(nu) = coth(nu / 2T_j)/2 = N(nu, T_j) + 1/2`` (from ``diag(N(nu) + 1/2, N(-nu) + 1/2)`` in the
``(a, a^dag)`` basis). The steady-state covariance is

    sigma = (1/2 pi) int dnu  G(nu) S(nu) G(nu)^dag,      G(nu) = (-i nu - A)^{-1},

which is [KL, Eq. (23)] for all second moments at once (the integral is a principal value at
``nu = 0``, where ``N`` has its pole). With ``A = V diag(lam) V^{-1}`` the integrand is a sum of
terms ``W_kl / ((nu - nu_k)(nu - conj nu_l))``, ``nu_k = i lam_k`` (lower half plane), and

    int f(nu) / ((nu - a)(nu - b)) dnu = P(a, b) / (a - b),
    P(a, b) = -i pi T (1/a + 1/b) + psi(1 - i b / 2 pi T) - psi(1 + i a / 2 pi T),

for ``Im a < 0 < Im b``, from the Matsubara expansion
``f(nu) = T/nu + sum_{n>=1} 2 T nu / (nu^2 + nu_n^2)``, ``nu_n = 2 pi n T``, integrated term by term
with residues and summed into digamma functions ``psi``. This is exact for any ``gamma``: the
sharp Lorentzians at ``gamma = 1.5e-4`` cost nothing, and the result is checked against direct
quadrature of [KL, Eq. (23)] in the tests.

Note: continuing ``N(nu)`` to ``nu < 0`` makes the symmetrised noise spectrum indefinite off
resonance; the resulting state is physical to ``O(gamma)`` (exactly what KL's model is). In
the weak-damping limit the normal mode ``k`` is thermalised with weights
``|U_jk|^2 - |V_jk|^2`` over the baths (see :mod:`jaxent.gaussian.master_equations`), so at
equal temperatures it tends to the Gibbs state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jaxent._validation import is_concrete as _is_concrete
from jaxent.gaussian.covariance import drift_diffusion
from jaxent.gaussian.normal_modes import check_bounded_below, check_temperature

__all__ = ["digamma_complex", "thermal_lorentzian_integral", "langevin_covariance"]

# Bernoulli coefficients B_2k / (2k) of the asymptotic series of psi.
_PSI_COEF = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
_PSI_SHIFT = 10


def digamma_complex(z: ArrayLike) -> Array:
    """Digamma ``psi(z)`` for complex ``z`` with ``Re z > 0`` (relative accuracy ~1e-15).

    Recurrence ``psi(z) = psi(z + m) - sum_{j<m} 1/(z + j)`` up to ``|z + m| >= 10``, then the
    asymptotic (Stirling) series. Differentiable (``jax.grad`` through the series).
    """
    z = jnp.asarray(z, dtype=complex)
    shift = sum(1.0 / (z + j) for j in range(_PSI_SHIFT))
    w = z + _PSI_SHIFT
    w2 = 1.0 / (w * w)
    series = jnp.zeros_like(w2)  # sum_k B_2k/(2k) w^{-2k}, Horner in w^-2
    for c in reversed(_PSI_COEF):
        series = (series + c) * w2
    return jnp.log(w) - 0.5 / w - series - shift


def thermal_lorentzian_integral(a: ArrayLike, b: ArrayLike, T: ArrayLike) -> Array:
    """``(1/2 pi) PV int dnu f(nu) / ((nu - a)(nu - b))`` with ``f = coth(nu/2T)/2``,
    for ``Im a < 0 < Im b`` (closed form, module docstring). Broadcasts."""
    a = jnp.asarray(a, dtype=complex)
    b = jnp.asarray(b, dtype=complex)
    T = jnp.asarray(T, dtype=float)
    x = 1.0 / (2.0 * jnp.pi * T)
    P = (-1j * jnp.pi * T * (1.0 / a + 1.0 / b)
         + digamma_complex(1.0 - 1j * b * x) - digamma_complex(1.0 + 1j * a * x))
    return P / (a - b) / (2.0 * jnp.pi)


@jax.custom_jvp
def _eig_with_inverse(A):
    """``(lam, V, V^{-1})`` with ``A = V diag(lam) V^{-1}`` (``jnp.linalg.eig``, CPU/host).

    Differentiable without eigenvector-normalisation assumptions: the tangent is taken in the
    gauge where ``V^{-1} dV`` has a zero diagonal, ``dV = V C``, ``C_ij = P_ij/(lam_j - lam_i)``
    (``i != j``), ``P = V^{-1} dA V``, ``dlam = diag P``, ``d(V^{-1}) = -C V^{-1}``. Results that
    are invariant under ``V -> V D``, ``V^{-1} -> D^{-1} V^{-1}`` (``D`` diagonal), such as
    the Langevin covariance, thus get exact derivatives whenever the eigenvalues are distinct
    (JAX's own eigenvector JVP additionally needs the LAPACK phase convention to be smooth,
    which fails when two components tie in magnitude, as for ``(1, +-i)`` modes).
    Degenerate eigenvalues give non-finite derivatives.
    """
    lam, V = jnp.linalg.eig(A)
    return lam, V, jnp.linalg.inv(V)


@_eig_with_inverse.defjvp
def _eig_with_inverse_jvp(primals, tangents):
    (A,), (dA,) = primals, tangents
    lam, V, Vinv = _eig_with_inverse(A)
    P = Vinv @ dA.astype(V.dtype) @ V
    n = lam.shape[0]
    off = ~jnp.eye(n, dtype=bool)
    diff = lam[None, :] - lam[:, None]  # [i, j] = lam_j - lam_i
    C = jnp.where(off, P / jnp.where(off, diff, 1.0), 0.0)
    return (lam, V, Vinv), (jnp.diagonal(P), V @ C, -C @ Vinv)


def langevin_covariance(G: ArrayLike, gamma: ArrayLike, T: ArrayLike) -> Array:
    """Exact steady-state covariance of the quantum Langevin equations [KL, Eqs. (5)-(8), (22),
    (23)] for ``H = (1/2) r^T G r`` and one white-noise bath per mode (amplitude damping
    ``gamma_j``, temperature ``T_j``). See the module docstring for the closed form.

    **Arguments:** ``G`` ``(2n, 2n)``; ``gamma``, ``T``: scalars or ``(n,)``.
    **Returns:** ``sigma`` ``(2n, 2n)``.
    Raises ``ValueError`` (eagerly) for ``T <= 0``, negative ``gamma``, ``H`` not bounded below
    (at/beyond the critical coupling) or an unstable drift matrix.
    """
    G = jnp.asarray(G, dtype=float)
    n = G.shape[0] // 2
    check_temperature(T)
    check_bounded_below(G)
    gamma = jnp.broadcast_to(jnp.asarray(gamma, dtype=float), (n,))
    if _is_concrete(gamma):
        g = np.asarray(gamma)
        if not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ValueError(f"gamma: damping rates must be finite and > 0, got {g}")
    T = jnp.broadcast_to(jnp.asarray(T, dtype=float), (n,))
    A, _ = drift_diffusion(G, gamma, 0.0)
    lam, V, Vinv = _eig_with_inverse(A)
    if _is_concrete(lam) and np.max(np.real(np.asarray(lam))) >= 0:
        raise ValueError("A: the Langevin drift matrix is not stable (max Re eig = "
                         f"{np.max(np.real(np.asarray(lam))):.3e}); no steady state exists")
    nu = 1j * lam  # poles of G(nu), lower half plane
    blk = jnp.array([[0.0, 1j], [-1j, 0.0]])
    sigma = jnp.zeros((2 * n, 2 * n), dtype=complex)
    for j in range(n):
        Vj = Vinv[:, 2 * j:2 * j + 2]
        W = 2.0 * gamma[j] * (Vj @ blk @ Vj.conj().T)  # V^{-1} K_j V^{-dag}
        Ij = thermal_lorentzian_integral(nu[:, None], jnp.conj(nu)[None, :], T[j])
        sigma = sigma + V @ (W * Ij) @ V.conj().T
    sigma = jnp.real(sigma)
    return 0.5 * (sigma + sigma.T)

