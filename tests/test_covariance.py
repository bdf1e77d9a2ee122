"""Conventions of jaxent.gaussian.covariance checked against Fock-space calculations (QuTiP)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qutip as qt

from jaxent.gaussian.covariance import (
    drift_diffusion,
    from_complex_covariance,
    number_moments,
    quadratic_hamiltonian_matrix,
    symplectic_form,
    thermal_covariance,
    to_complex_covariance,
    two_mode_squeezed_thermal_covariance,
)
from jaxent.gaussian.lyapunov import lyapunov_steady_state

NF = 14  # Fock cutoff per mode in the QuTiP references


def _fock_quadratures(n_modes, nf=NF):
    a = [qt.tensor(*[qt.destroy(nf) if j == k else qt.qeye(nf) for j in range(n_modes)])
         for k in range(n_modes)]
    r = []
    for ak in a:
        r += [(ak + ak.dag()) / np.sqrt(2), (ak - ak.dag()) / (1j * np.sqrt(2))]
    return a, r


def _fock_covariance(rho, r):
    m = np.array([qt.expect(x, rho) for x in r]).real
    s = np.array([[0.5 * qt.expect(x * y + y * x, rho) for y in r] for x in r]).real
    return s - np.outer(m, m), m


def test_symplectic_form_commutators():
    _, r = _fock_quadratures(2, nf=6)
    om = np.asarray(symplectic_form(2))
    vac = qt.tensor(qt.basis(6, 0), qt.basis(6, 0))
    comm = np.array([[qt.expect(x * y - y * x, vac) for y in r] for x in r])
    np.testing.assert_allclose(comm, 1j * om, atol=1e-12)


def test_single_mode_drift_gives_damped_rotation():
    omega, kappa, nbar = 1.3, 0.2, 0.7
    A, D = drift_diffusion(omega * jnp.eye(2), kappa, nbar)
    # d<a>/dt = -(kappa + i omega) <a> for H = omega a^dag a
    x0 = np.array([0.3, -1.1])
    dx = np.asarray(A) @ x0
    a0 = (x0[0] + 1j * x0[1]) / np.sqrt(2)
    np.testing.assert_allclose((dx[0] + 1j * dx[1]) / np.sqrt(2), -(kappa + 1j * omega) * a0)
    # bath alone thermalises to nbar
    sigma = lyapunov_steady_state(A, D)
    np.testing.assert_allclose(sigma, thermal_covariance(nbar), atol=1e-13)


def test_quadratic_hamiltonian_matrix_simple_cases():
    np.testing.assert_allclose(quadratic_hamiltonian_matrix(jnp.array([[2.0]])), 2 * np.eye(2))
    G = quadratic_hamiltonian_matrix(jnp.zeros((1, 1)), jnp.array([[1.0]]))
    np.testing.assert_allclose(G, np.diag([1.0, -1.0]))  # (a^2 + a^dag^2)/2 = (x^2 - p^2)/2


def test_drift_diffusion_match_fock_space_master_equation():
    """d sigma/dt = A sigma + sigma A^T + D, with d sigma/dt computed in Fock space from the
    Lindblad generator (QuTiP operators) acting on a squeezed thermal two-mode state."""
    nf = 22
    M = np.array([[1.0, 0.3 + 0.2j], [0.3 - 0.2j, 1.4]])
    K = np.array([[0.1 + 0.05j, 0.15], [0.15, -0.08j]])
    kappa = np.array([0.4, 0.6])
    nbar = np.array([0.3, 0.1])
    a, r = _fock_quadratures(2, nf)
    H = sum(M[i, j] * a[i].dag() * a[j] for i in range(2) for j in range(2))
    H += sum(0.5 * (K[i, j] * a[i] * a[j] + np.conj(K[i, j]) * a[i].dag() * a[j].dag())
             for i in range(2) for j in range(2))
    c_ops = []
    for k in range(2):
        c_ops += [np.sqrt(2 * kappa[k] * (nbar[k] + 1)) * a[k],
                  np.sqrt(2 * kappa[k] * nbar[k]) * a[k].dag()]
    U = (0.2 * (a[0] * a[1] - a[0].dag() * a[1].dag())
         + 0.5 * (0.15 * a[0] * a[0] - 0.15 * a[0].dag() * a[0].dag())).expm()
    rho = U * qt.tensor(qt.thermal_dm(nf, 0.15), qt.thermal_dm(nf, 0.1)) * U.dag()
    drho = -1j * (H * rho - rho * H)
    for c in c_ops:
        drho += c * rho * c.dag() - 0.5 * (c.dag() * c * rho + rho * c.dag() * c)
    sigma, mean = _fock_covariance(rho, r)
    dsigma = np.array([[0.5 * ((x * y + y * x) * drho).tr() for y in r] for x in r]).real
    np.testing.assert_allclose(mean, 0.0, atol=1e-12)
    G = quadratic_hamiltonian_matrix(M, K)
    A, D = drift_diffusion(G, kappa, nbar)
    np.testing.assert_allclose(A @ sigma + sigma @ A.T + D, dsigma, atol=1e-9)


def test_complex_covariance_roundtrip_and_entries():
    sigma = two_mode_squeezed_thermal_covariance(0.4, 0.3, 0.8)
    sigma = sigma + 0.05 * jnp.array([[0, 0.3, 0, 0], [0.3, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0.0]])
    theta = to_complex_covariance(sigma)
    np.testing.assert_allclose(from_complex_covariance(theta), sigma, atol=1e-14)
    np.testing.assert_allclose(theta, theta.conj().T, atol=1e-14)
    C, S = number_moments(sigma)
    # [MSCPL19, Eq. (A2)] entries (with the (2,1) entry read as <a^dag a^dag>)
    np.testing.assert_allclose(theta[0, 0], C[0, 0] + 0.5, atol=1e-14)
    np.testing.assert_allclose(theta[0, 1], S[0, 0], atol=1e-14)
    np.testing.assert_allclose(theta[1, 0], np.conj(S[0, 0]), atol=1e-14)
    np.testing.assert_allclose(theta[0, 3], S[0, 1], atol=1e-14)
    np.testing.assert_allclose(theta[0, 2], C[1, 0] , atol=1e-14)  # <a_1 a_2^dag> = <a_2^dag a_1>
    np.testing.assert_allclose(np.linalg.det(theta), np.linalg.det(sigma), rtol=1e-12)


def test_number_moments_match_fock():
    a, r = _fock_quadratures(1, nf=40)
    rho = qt.displace(40, 0.4 + 0.2j) * qt.squeeze(40, 0.3 + 0.1j) * qt.thermal_dm(40, 0.2) \
        * qt.squeeze(40, 0.3 + 0.1j).dag() * qt.displace(40, 0.4 + 0.2j).dag()
    sigma, mean = _fock_covariance(rho, r)
    C, S = number_moments(sigma, mean)
    np.testing.assert_allclose(C[0, 0], qt.expect(a[0].dag() * a[0], rho), atol=1e-9)
    np.testing.assert_allclose(S[0, 0], qt.expect(a[0] * a[0], rho), atol=1e-9)


def test_negative_rates_rejected():
    with pytest.raises(ValueError, match="kappa"):
        drift_diffusion(jnp.eye(2), -0.1, 0.0)
    with pytest.raises(ValueError, match="nbar"):
        drift_diffusion(jnp.eye(2), 0.1, -1.0)
    with pytest.raises(ValueError, match="G"):
        drift_diffusion(jnp.eye(3), 0.1, 0.0)


def test_drift_diffusion_is_traceable():
    f = jax.jit(lambda k: drift_diffusion(jnp.eye(2), k, 0.5)[1][0, 0])
    np.testing.assert_allclose(f(0.3), 0.6)
    np.testing.assert_allclose(jax.grad(f)(0.3), 2.0)
