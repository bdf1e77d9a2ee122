"""Closed-form Gaussian entropy production (Wigner per channel, Wehrl split) against
brute-force phase-space integration of the papers' defining integrals."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from jaxent.gaussian.covariance import (
    drift_diffusion,
    number_moments,
    quadratic_hamiltonian_matrix,
    symplectic_form,
)
from jaxent.gaussian.lyapunov import lyapunov_steady_state
from jaxent.gaussian.production import (
    wehrl_entropy_rate,
    wehrl_phi_q,
    wehrl_photon_loss_split,
    wehrl_pi_d_per_channel,
    wehrl_pi_u,
    wigner_flux_per_channel,
    wigner_pi_ness_from_currents,
    wigner_production_per_channel,
    wigner_unitary_flux,
)


# ---------------------------------------------------------------- helpers
def random_gaussian_state(n, seed, squeeze=0.4):
    """A random physical covariance S diag(nu) S^T (S symplectic) and a random mean."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2 * n, 2 * n)) * squeeze
    S = scipy.linalg.expm(np.asarray(symplectic_form(n)) @ (X + X.T) / 2)
    nu = 0.5 + rng.uniform(0.0, 0.8, n)
    sigma = S @ np.diag(np.repeat(nu, 2)) @ S.T
    return sigma, rng.normal(size=2 * n) * 0.5


def random_hamiltonian(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    K = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return np.asarray(quadratic_hamiltonian_matrix(M + M.conj().T, 0.3 * (K + K.T)))


def gaussian_pdf(cov, mean):
    """Normalised Gaussian density in r = (x, p, ...) coordinates."""
    inv = jnp.linalg.inv(cov)
    norm = 1.0 / jnp.sqrt(jnp.linalg.det(2 * jnp.pi * cov))
    return lambda r: norm * jnp.exp(-0.5 * (r - mean) @ inv @ (r - mean))


def grid_integrate(integrand, cov, mean, npts=20, half_width=7.5):
    """int integrand(r) d^{2n} r over a grid aligned with the principal axes of cov
    (trapezoid rule; spectrally accurate for Gaussian times polynomial integrands)."""
    lam, U = np.linalg.eigh(np.asarray(cov))
    d = len(lam)
    z1 = np.linspace(-half_width, half_width, npts)
    Z = np.array(list(itertools.product(z1, repeat=d)))
    R = np.asarray(mean) + (Z * np.sqrt(lam)) @ U.T
    w = (z1[1] - z1[0]) ** d * np.prod(np.sqrt(lam))
    vals = jax.jit(jax.vmap(integrand))(jnp.asarray(R))
    return float(jnp.sum(vals) * w)


def d_conj(f, r, k):
    """d f / d alpha_k^* = (d_x + i d_p)/sqrt2 at mode k (alpha = (x + ip)/sqrt2)."""
    g = jax.grad(f)(r)
    return (g[2 * k] + 1j * g[2 * k + 1]) / np.sqrt(2)


def alpha(r, k):
    return (r[2 * k] + 1j * r[2 * k + 1]) / np.sqrt(2)


# ---------------------------------------------------------------- (a) Wigner, MSCPL19
@pytest.mark.parametrize("seed", [0, 1])
def test_wigner_per_channel_matches_eq17_and_eq18_integrals(seed):
    n = 2
    sigma, mean = random_gaussian_state(n, seed)
    kappa = np.array([0.3, 0.7])
    nbar = np.array([0.4, 1.5])
    Wr = gaussian_pdf(jnp.asarray(sigma), jnp.asarray(mean))
    Wa = lambda r: 2.0 ** n * Wr(r)  # density w.r.t. d^{2n} alpha = d^{2n} r / 2^n  # noqa: E731
    pi_cf = wigner_production_per_channel(sigma, kappa, nbar, mean)
    phi_cf = wigner_flux_per_channel(sigma, kappa, nbar, mean)
    for k in range(n):
        g, c = 2 * kappa[k], nbar[k] + 0.5

        def J(r, k=k, g=g, c=c):  # [MSCPL19, Eq. (8)]
            return 0.5 * g * (alpha(r, k) * Wa(r) + c * d_conj(Wa, r, k))

        pi_int = grid_integrate(lambda r, J=J: 4 / (g * c) * jnp.abs(J(r)) ** 2 / Wa(r) / 2.0 ** n,
                                sigma, mean)
        # Eq. (18) with d_k ln W_eq = -alpha_k^* / (n_k + 1/2)
        phi_int = grid_integrate(
            lambda r, J=J, c=c: -2 * jnp.real(J(r) * (-jnp.conj(alpha(r, k)) / c)) / 2.0 ** n,
            sigma, mean)
        np.testing.assert_allclose(pi_cf[k], pi_int, rtol=1e-9)
        np.testing.assert_allclose(phi_cf[k], phi_int, rtol=1e-9)
        # Eq. (20) in terms of the occupation
        occ = number_moments(sigma, mean)[0][k, k].real
        np.testing.assert_allclose(phi_cf[k], g * (occ - nbar[k]) / c, rtol=1e-12)
        assert pi_cf[k] >= 0


def test_wigner_zero_at_local_equilibrium():
    nbar = np.array([0.4, 1.5])
    sigma = np.diag(np.repeat(nbar + 0.5, 2))
    np.testing.assert_allclose(wigner_production_per_channel(sigma, 0.5, nbar), 0.0, atol=1e-14)
    np.testing.assert_allclose(wigner_flux_per_channel(sigma, 0.5, nbar), 0.0, atol=1e-14)


def test_wigner_ness_sum_rules():
    """NESS of a 3-mode number-conserving network with thermal baths: sum_k Pi_k = sum_k Phi_k
    = Eq. (24) = -int U(W) ln W_eq; with squeezing terms the generalised form still holds."""
    rng = np.random.default_rng(3)
    n = 3
    Hc = np.diag([1.0, 1.3, 0.8]) + 0.0j
    Hc[0, 1] = Hc[1, 0] = 0.2
    Hc[1, 2], Hc[2, 1] = 0.15 + 0.1j, 0.15 - 0.1j
    kappa = rng.uniform(0.05, 0.3, n)
    nbar = np.array([0.1, 2.0, 0.7])
    G = quadratic_hamiltonian_matrix(Hc)
    sigma = lyapunov_steady_state(*drift_diffusion(G, kappa, nbar))
    pis = wigner_production_per_channel(sigma, kappa, nbar)
    phis = wigner_flux_per_channel(sigma, kappa, nbar)
    C, _ = number_moments(sigma)
    eq24 = wigner_pi_ness_from_currents(Hc, C, nbar)
    assert float(eq24) > 1e-4
    np.testing.assert_allclose(jnp.sum(pis), eq24, rtol=1e-10)
    np.testing.assert_allclose(jnp.sum(phis), eq24, rtol=1e-10)
    np.testing.assert_allclose(wigner_unitary_flux(sigma, G, nbar), eq24, rtol=1e-10)
    # with squeezing (K != 0)
    G2 = quadratic_hamiltonian_matrix(Hc, 0.1 * np.eye(n))
    s2 = lyapunov_steady_state(*drift_diffusion(G2, kappa, nbar))
    tot = jnp.sum(wigner_production_per_channel(s2, kappa, nbar))
    np.testing.assert_allclose(tot, jnp.sum(wigner_flux_per_channel(s2, kappa, nbar)), rtol=1e-10)
    np.testing.assert_allclose(tot, wigner_unitary_flux(s2, G2, nbar), rtol=1e-10)


# ---------------------------------------------------------------- (b) Wehrl, GFL20
def _husimi_integrals(sigma, G, kappa):
    """Brute-force [GFL20, Eq. (8)] terms on a grid: Pi_d per channel from the currents
    J_i = kappa_i (v_i Q + d_vbar Q), Pi_U = -int U(Q) ln Q with U(Q) = dQ/dt under H alone
    (Q Gaussian with covariance sigma(t) + I/2 and d sigma/dt = A_H sigma + sigma A_H^T)."""
    n = sigma.shape[0] // 2
    sq = jnp.asarray(sigma) + 0.5 * jnp.eye(2 * n)
    zero = jnp.zeros(2 * n)
    Qv = lambda r: 2.0 ** n * gaussian_pdf(sq, zero)(r)  # w.r.t. d^{2n} v  # noqa: E731
    pid = []
    for k in range(n):
        def integrand(r, k=k):
            J = kappa[k] * (alpha(r, k) * Qv(r) + d_conj(Qv, r, k))
            return 2 / kappa[k] * jnp.abs(J) ** 2 / Qv(r) / 2.0 ** n
        pid.append(grid_integrate(integrand, sq, zero))
    AH = symplectic_form(n) @ jnp.asarray(G)
    dsig = AH @ sigma + sigma @ AH.T

    def UQ(r):
        return jax.jvp(lambda s: 2.0 ** n * gaussian_pdf(s + 0.5 * jnp.eye(2 * n), zero)(r),
                       (jnp.asarray(sigma),), (dsig,))[1]

    piu = grid_integrate(lambda r: -UQ(r) * jnp.log(Qv(r)) / 2.0 ** n, sq, zero)
    return np.array(pid), piu


@pytest.mark.parametrize("n,seed", [(1, 0), (1, 1), (2, 2)])
def test_wehrl_closed_forms_match_phase_space_integrals(n, seed):
    sigma, _ = random_gaussian_state(n, seed, squeeze=0.5)
    G = random_hamiltonian(n, seed + 10)
    kappa = np.linspace(0.3, 0.9, n)
    pid_int, piu_int = _husimi_integrals(sigma, G, kappa)
    np.testing.assert_allclose(wehrl_pi_d_per_channel(sigma, kappa), pid_int, rtol=1e-9)
    np.testing.assert_allclose(wehrl_pi_u(sigma, G), piu_int, rtol=1e-9, atol=1e-12)
    assert abs(piu_int) > 1e-3  # squeezing Hamiltonian: Pi_U is not trivially zero
    occ = jnp.real(jnp.diagonal(number_moments(sigma)[0]))
    np.testing.assert_allclose(wehrl_phi_q(sigma, kappa), np.sum(2 * kappa * occ), rtol=1e-12)


def test_wehrl_rate_identity_and_ness():
    n = 2
    G = random_hamiltonian(n, 5) + 6 * np.eye(4)  # positive definite: stable with losses
    kappa = np.array([0.4, 0.2])
    A, D = drift_diffusion(G, kappa, 0.0)
    # any state: dS_Q/dt = Pi_U + Pi_d - Phi_q
    sigma, _ = random_gaussian_state(n, 9)
    pu, pd, fq = wehrl_photon_loss_split(sigma, G, kappa)
    np.testing.assert_allclose(wehrl_entropy_rate(sigma, A, D), pu + pd - fq, rtol=1e-12)
    # NESS: Pi_U + Pi_d = Phi_q [GFL20, Eq. (10)]
    s = lyapunov_steady_state(A, D)
    pu, pd, fq = wehrl_photon_loss_split(s, G, kappa)
    assert float(fq) > 1e-3 and float(pd) > 0
    np.testing.assert_allclose(pu + pd, fq, rtol=1e-12)
    # coherent states and number-conserving H: Pi_d = 0, Pi_U = 0
    np.testing.assert_allclose(wehrl_photon_loss_split(0.5 * np.eye(4), G, kappa).Pi_d, 0.0,
                               atol=1e-14)
    np.testing.assert_allclose(wehrl_pi_u(sigma, quadratic_hamiltonian_matrix(np.eye(2))), 0.0,
                               atol=1e-14)


def test_one_mode_wehrl_closed_forms_match_husimi_grid_code():
    """Cross-check with the Fock-space Husimi-grid implementation of the Kerr work
    (jaxent.entropy.wehrl.photon_loss_terms): a displaced squeezed thermal state built with
    QuTiP, H = Delta a^dag a + (g/2)(a^2 + a^dag^2), loss 2 kappa D[a]."""
    qt = pytest.importorskip("qutip")
    from jaxent.entropy.wehrl import photon_loss_terms
    from jaxent.phase_space.grid import polar_grid

    nmax = 60  # tails: the commutator with a^dag^2 reaches 2 levels past the cutoff
    delta, g, kappa = 0.7, 0.25, 0.4
    rho = (qt.displace(nmax, 0.6 - 0.3j) * qt.squeeze(nmax, 0.35 + 0.2j) * qt.thermal_dm(nmax, 0.25)
           * qt.squeeze(nmax, 0.35 + 0.2j).dag() * qt.displace(nmax, 0.6 - 0.3j).dag())
    a = qt.destroy(nmax)
    H = delta * a.dag() * a + 0.5 * g * (a * a + a.dag() * a.dag())
    terms = photon_loss_terms(jnp.asarray(rho.full()), jnp.asarray(H.full()), kappa,
                              polar_grid(nmax))
    x, p = (a + a.dag()) / np.sqrt(2), (a - a.dag()) / (1j * np.sqrt(2))
    r = [x, p]
    m = np.array([qt.expect(o, rho) for o in r]).real
    sigma = (np.array([[0.5 * qt.expect(u * v + v * u, rho) for v in r] for u in r]).real
             - np.outer(m, m))
    G = quadratic_hamiltonian_matrix(np.array([[delta]]), np.array([[g]]))
    np.testing.assert_allclose(wehrl_pi_d_per_channel(sigma, kappa)[0], terms.Pi_d, rtol=1e-8)
    np.testing.assert_allclose(wehrl_pi_u(sigma, G), terms.Pi_U, rtol=1e-8)
    np.testing.assert_allclose(wehrl_phi_q(sigma, kappa), terms.Phi_q, rtol=1e-8)
    assert abs(float(terms.Pi_U)) > 1e-3
