r"""Entropy production of Gaussian states in closed form.

Conventions of :mod:`jaxent.gaussian.covariance`: quadratures ``r = (x_1, p_1, ...)``,
``sigma`` with vacuum ``I/2``, ``H = (1/2) r^T G r``, channel ``j`` =
``2 kappa_j (nbar_j + 1) D[a_j] + 2 kappa_j nbar_j D[a_j^dag]`` (MSCPL19's rate is
``gamma_j = 2 kappa_j``). For a mode ``j`` write ``tr_j X = X_{x_j x_j} + X_{p_j p_j}``.

(a) Wigner entropy production per channel [MSCPL19, Sec. III]
===============================================================
With ``W_eq = prod_k exp(-|alpha_k|^2/(n_k+1/2)) / (pi (n_k+1/2))`` [MSCPL19, Eq. (9)]:

* flux [MSCPL19, Eq. (20)]: ``Phi_k = gamma_k (<a_k^dag a_k> - n_k) / (n_k + 1/2)`` with
  ``<a^dag a> = tr_k(sigma)/2 - 1/2 + |m_k|^2/2`` (``m``: mean quadratures);
* production [MSCPL19, Eq. (C2)]:
  ``Pi_k = Phi_k - gamma_k + gamma_k (n_k + 1/2) [Theta^{-1}]_{kk}``, where the diagonal entry
  of the inverse complex covariance equals ``tr_k(sigma^{-1})/2``
  (``Theta^{-1} = T sigma^{-1} T^dag``). Derivation check: ``int W |d_k ln W|^2 d alpha
  = (1/2)(<(d_x ln W)^2> + <(d_p ln W)^2>) = tr_k(sigma^{-1})/2`` for a Gaussian (Fisher
  information), so Eq. (C2) follows from (C1); the mean drops out of the Fisher term.
* NESS production from the coherent currents [MSCPL19, Eq. (24)],
  ``Pi_NESS = sum_{k != l} 2 Im(H_kl <a_k^dag a_l>) / (n_k + 1/2)`` for ``H = a^dag H a``
  (:func:`wigner_pi_ness_from_currents`), and its generalisation to any quadratic
  ``H = (1/2) r^T G r``, ``Pi_NESS = -int U(W) ln W_eq = -tr(G Omega Sigma_eq^{-1} <r r^T>)``
  with ``Sigma_eq = (+)_k (n_k + 1/2) I_2`` (:func:`wigner_unitary_flux`): the unitary drift
  ``v = Omega G r`` gives ``-int U(W) ln W_eq = -int W v . grad ln W_eq``.

(b) Wehrl split for multimode photon loss [GFL20, Eqs. (7)-(8)]
=================================================================
Setting: zero-temperature loss ``2 kappa_i D[a_i]`` on every mode (``kappa_i = 0`` allowed:
no channel), fluctuations ``delta a = a - <a>`` in a Gaussian state with covariance
``sigma`` (e.g. the linearised, "Gaussianized" fluctuations of a driven-dissipative model)
and quadratic fluctuation Hamiltonian ``H = (1/2) dr^T G dr``. The Husimi function of the
fluctuations is Gaussian with covariance ``sigma_Q = sigma + I/2`` [GFL20, Eq. (C26)].

*Flux* [GFL20, Eq. (7)]: ``Phi_q = sum_i 2 kappa_i <delta a_i^dag delta a_i>
= sum_i kappa_i (tr_i sigma - 1)``.

*Dissipative part* [GFL20, Eq. (8), last term]: with ``J_i = kappa_i Q (v_i + d_{vbar_i} ln Q)``,
``(2/kappa_i) int |J_i|^2/Q = 2 kappa_i int Q |v_i + d_{vbar_i} ln Q|^2``. Expanding the square,
the cross terms give ``int vbar d_vbar Q = -1`` each (integration by parts), ``<|v_i|^2>_Q =
tr_i(sigma_Q)/2`` and ``int Q |d_v ln Q|^2 = tr_i(sigma_Q^{-1})/2`` (Fisher information of the
Gaussian ``Q``; ``d_v = (d_x - i d_p)/sqrt2``). Hence

    ``Pi_d = sum_i kappa_i [tr_i(sigma) - 3 + tr_i((sigma + I/2)^{-1})]``,

which vanishes for coherent states (``sigma = I/2``) and is ``>= 0``.

*Unitary part* [GFL20, Eq. (8), middle term; App. A]: under ``H`` alone
``d sigma/dt = A_H sigma + sigma A_H^T`` with ``A_H = Omega G``; since ``sigma_Q = sigma + I/2``,
``Q`` obeys a Fokker-Planck equation with drift ``A_H r`` and (indefinite) diffusion
``D_u = -(A_H + A_H^T)/2 = (G Omega - Omega G)/2``. Then ``-int U(Q) ln Q`` splits into a drift
part equal to ``tr(A_H) = tr(Omega G) = 0`` and a diffusive part
``(1/2) int Q grad(ln Q)^T D_u grad(ln Q)``:

    ``Pi_U = (1/2) tr(D_u (sigma + I/2)^{-1}) = (1/4) tr((G Omega - Omega G)(sigma + I/2)^{-1})``.

(GFL20 writes this unitary part $\Pi_u$; jaxent spells it ``Pi_U`` everywhere, as in
:mod:`jaxent.entropy.wehrl` and the Kerr tables.) It vanishes for number-conserving ``H``
(``G`` commutes with ``Omega``), in agreement with [GFL20, Eq. (A10)] where only the squeezing
coefficient ``xi_2`` survives. The O(sqrt N) drift of (A9) is a constant shift and contributes
nothing. Any constant (mean-field) drift likewise drops out, so these formulas hold in the
thermodynamic limit.

*Identity*: with ``A = A_H - K``, ``D = K`` (``K = kappa (x) I_2``) one finds
``dS_Q/dt = (1/2) tr(sigma_Q^{-1} d sigma/dt) = Pi_U + Pi_d - Phi_q`` for any ``sigma``, so in
the NESS ``Pi_U + Pi_d = Phi_q`` [GFL20, Eq. (10)] (:func:`wehrl_entropy_rate` gives the
left-hand side for a test).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jaxent.gaussian.covariance import symplectic_form

__all__ = [
    "mode_traces",
    "wigner_flux_per_channel",
    "wigner_production_per_channel",
    "wigner_pi_ness_from_currents",
    "wigner_unitary_flux",
    "WehrlSplit",
    "wehrl_photon_loss_split",
    "wehrl_pi_u",
    "wehrl_pi_d",
    "wehrl_pi_d_per_channel",
    "wehrl_phi_q",
    "wehrl_entropy_rate",
]


def mode_traces(X: ArrayLike) -> Array:
    """``tr_j X = X[2j, 2j] + X[2j+1, 2j+1]`` for every mode ``j``: shape ``(n,)``."""
    d = jnp.diagonal(jnp.asarray(X))
    return d[0::2] + d[1::2]


def _per_mode(v, n):
    return jnp.broadcast_to(jnp.asarray(v, dtype=float), (n,))


def wigner_flux_per_channel(sigma: ArrayLike, kappa: ArrayLike, nbar: ArrayLike,
                            mean: ArrayLike | None = None) -> Array:
    """Wigner entropy flux of each channel, [MSCPL19, Eq. (20)]:
    ``Phi_k = 2 kappa_k (<a_k^dag a_k> - nbar_k) / (nbar_k + 1/2)``. Shape ``(n,)``."""
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    kappa, nbar = _per_mode(kappa, n), _per_mode(nbar, n)
    occ = 0.5 * mode_traces(sigma) - 0.5
    if mean is not None:
        m = jnp.asarray(mean)
        occ = occ + 0.5 * (m[0::2] ** 2 + m[1::2] ** 2)
    return 2.0 * kappa * (occ - nbar) / (nbar + 0.5)


def wigner_production_per_channel(sigma: ArrayLike, kappa: ArrayLike, nbar: ArrayLike,
                                  mean: ArrayLike | None = None) -> Array:
    """Wigner entropy production of each channel, [MSCPL19, Eqs. (17), (C2)]:
    ``Pi_k = Phi_k - gamma_k + gamma_k (nbar_k + 1/2) tr_k(sigma^{-1})/2``, ``gamma_k = 2 kappa_k``.

    Valid for any Gaussian state (NESS or not); ``Pi_k >= 0``. Shape ``(n,)``.
    """
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    kappa, nbar = _per_mode(kappa, n), _per_mode(nbar, n)
    gamma = 2.0 * kappa
    fisher = 0.5 * mode_traces(jnp.linalg.inv(sigma))
    return (wigner_flux_per_channel(sigma, kappa, nbar, mean) - gamma
            + gamma * (nbar + 0.5) * fisher)


def wigner_pi_ness_from_currents(H: ArrayLike, C: ArrayLike, nbar: ArrayLike) -> Array:
    """``Pi_NESS = sum_{k != l} 2 Im(H_kl <a_k^dag a_l>) / (nbar_k + 1/2)`` [MSCPL19, Eq. (24)].

    ``H``: Hermitian ``(n, n)`` of ``H = sum H_kl a_k^dag a_l``; ``C_kl = <a_k^dag a_l>`` (e.g. from
    :func:`jaxent.gaussian.covariance.number_moments`). Only valid in the NESS.
    """
    H = jnp.asarray(H)
    C = jnp.asarray(C)
    n = H.shape[0]
    nbar = _per_mode(nbar, n)
    off = 1.0 - jnp.eye(n)
    return jnp.sum(2.0 * off * jnp.imag(H * C) / (nbar + 0.5)[:, None])


def wigner_unitary_flux(sigma: ArrayLike, G: ArrayLike, nbar: ArrayLike,
                        mean: ArrayLike | None = None) -> Array:
    """``-int U(W) ln W_eq = -tr(G Omega Sigma_eq^{-1} <r r^T>)`` for ``H = (1/2) r^T G r``
    [MSCPL19, Eq. (23)]; in the NESS it equals ``Pi_NESS = sum_k Pi_k``. Generalises Eq. (24)
    to Hamiltonians with squeezing terms."""
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    nbar = _per_mode(nbar, n)
    # (jnp.outer's stub wants an Array second argument; it converts either)
    second = sigma if mean is None else sigma + jnp.outer(mean, jnp.asarray(mean))
    eq_inv = jnp.diag(jnp.repeat(1.0 / (nbar + 0.5), 2))
    return -jnp.trace(jnp.asarray(G) @ symplectic_form(n) @ eq_inv @ second)


class WehrlSplit(NamedTuple):
    """Quantum (fluctuation) parts of the Wehrl entropy balance [GFL20, Eqs. (7)-(8)]."""

    Pi_U: Array
    Pi_d: Array
    Phi_q: Array


def wehrl_pi_u(sigma: ArrayLike, G: ArrayLike) -> Array:
    """``Pi_U = (1/4) tr((G Omega - Omega G)(sigma + I/2)^{-1})`` (derivation: module docstring;
    [GFL20, Eq. (8), App. A])."""
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    om = symplectic_form(n)
    G = jnp.asarray(G)
    sq_inv = jnp.linalg.inv(sigma + 0.5 * jnp.eye(2 * n))
    return 0.25 * jnp.trace((G @ om - om @ G) @ sq_inv)


def wehrl_pi_d(sigma: ArrayLike, kappa: ArrayLike) -> Array:
    """``Pi_d = sum_i kappa_i [tr_i sigma - 3 + tr_i (sigma + I/2)^{-1}]`` (per-channel terms
    summed; [GFL20, Eq. (8)], loss ``2 kappa_i D[a_i]``)."""
    return jnp.sum(wehrl_pi_d_per_channel(sigma, kappa))


def wehrl_pi_d_per_channel(sigma: ArrayLike, kappa: ArrayLike) -> Array:
    """The terms of :func:`wehrl_pi_d`, one per loss channel: shape ``(n,)``."""
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    kappa = _per_mode(kappa, n)
    sq_inv = jnp.linalg.inv(sigma + 0.5 * jnp.eye(2 * n))
    return kappa * (mode_traces(sigma) - 3.0 + mode_traces(sq_inv))


def wehrl_phi_q(sigma: ArrayLike, kappa: ArrayLike) -> Array:
    """``Phi_q = sum_i 2 kappa_i <delta a_i^dag delta a_i> = sum_i kappa_i (tr_i sigma - 1)``
    [GFL20, Eq. (7)]."""
    sigma = jnp.asarray(sigma)
    n = sigma.shape[-1] // 2
    kappa = _per_mode(kappa, n)
    return jnp.sum(kappa * (mode_traces(sigma) - 1.0))


def wehrl_photon_loss_split(sigma: ArrayLike, G: ArrayLike, kappa: ArrayLike) -> WehrlSplit:
    """``(Pi_U, Pi_d, Phi_q)`` for Gaussian fluctuations (covariance ``sigma``), quadratic
    fluctuation Hamiltonian ``G`` and zero-temperature losses ``2 kappa_i D[a_i]``
    [GFL20, Eqs. (7)-(8)]. In the NESS ``Pi_U + Pi_d = Phi_q`` [GFL20, Eq. (10)]."""
    return WehrlSplit(wehrl_pi_u(sigma, G), wehrl_pi_d(sigma, kappa), wehrl_phi_q(sigma, kappa))


def wehrl_entropy_rate(sigma: ArrayLike, A: Array | np.ndarray, D: ArrayLike) -> Array:
    """``dS_Q/dt = (1/2) tr((sigma + I/2)^{-1} (A sigma + sigma A^T + D))`` (Wehrl entropy
    rate of a Gaussian state under ``d sigma/dt = A sigma + sigma A^T + D``)."""
    sigma = jnp.asarray(sigma)
    m = sigma.shape[-1]
    ds = A @ sigma + sigma @ A.T + D
    return 0.5 * jnp.trace(jnp.linalg.solve(sigma + 0.5 * jnp.eye(m), ds))

