"""Non-Gaussianity G = S(rho_G) - S(rho) [GFL-quench, Eq. (27)]: zero on Gaussian states, closed
forms for Fock and cat states, an independent QuTiP/NumPy reference, jit/vmap and bad shapes."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qutip

from jaxent.entropy.gaussianity import (
    gaussian_covariance,
    non_gaussianity,
    von_neumann_entropy_state,
)
from jaxent.phase_space.coherent import coherent_state

NMAX = 60
ZERO_TOL = 1e-10  # |G| on Gaussian states, and closed forms


def g(N):
    """Entropy of a thermal state of occupation N: (N+1) ln(N+1) - N ln N (plain Python)."""
    return (N + 1) * math.log(N + 1) - (N * math.log(N) if N > 0 else 0.0)


def dm(ket):
    ket = np.asarray(ket, dtype=complex).reshape(-1)
    return np.outer(ket, ket.conj())


def thermal(nbar, nmax):
    """Geometric distribution p_n = nbar^n / (nbar+1)^(n+1), renormalised after truncation."""
    n = np.arange(nmax)
    p = nbar**n / (nbar + 1.0) ** (n + 1)
    return np.diag(p / p.sum()).astype(complex)


def random_state(rng, nmax, support=None):
    """rho = X X^dag / tr with a complex Gaussian X supported on the first ``support`` levels."""
    k = nmax if support is None else support
    X = rng.normal(size=(k, k)) + 1j * rng.normal(size=(k, k))
    rho = np.zeros((nmax, nmax), dtype=complex)
    rho[:k, :k] = X @ X.conj().T
    return rho / np.trace(rho).real


def numpy_moments_covariance(rho):
    """sigma = [[nbar + 1/2 + Re m, Im m], [Im m, nbar + 1/2 - Re m]] from NumPy moments."""
    n = rho.shape[0]
    a = np.diag(np.sqrt(np.arange(1, n)), 1)
    mean = np.trace(a @ rho)
    nbar = np.trace(a.conj().T @ a @ rho).real - abs(mean) ** 2
    m = np.trace(a @ a @ rho) - mean**2
    d = nbar + 0.5
    return np.array([[d + m.real, m.imag], [m.imag, d - m.real]])


def quadrature_covariance(rho):
    """sigma_ij = Re tr(rho {dr_i, dr_j}) / 2 with the truncated NumPy quadrature matrices
    x = (a + a^dag)/sqrt2, p = (a - a^dag)/(i sqrt2): independent of the nbar/m formula."""
    n = rho.shape[0]
    a = np.diag(np.sqrt(np.arange(1, n)), 1)
    x = (a + a.conj().T) / np.sqrt(2)
    p = (a - a.conj().T) / (1j * np.sqrt(2))
    r = [q - np.trace(q @ rho) * np.eye(n) for q in (x, p)]
    return np.array([[np.trace((ri @ rj + rj @ ri) @ rho).real / 2 for rj in r] for ri in r])


def cat(alpha, nmax, sign):
    ket = np.asarray(coherent_state(alpha, nmax)) + sign * np.asarray(coherent_state(-alpha, nmax))
    return dm(ket / np.linalg.norm(ket))


def displaced_squeezed_thermal(alpha, r, theta, nth, nmax):
    D = qutip.displace(nmax, alpha)
    S = qutip.squeeze(nmax, r * np.exp(1j * theta))
    rho = D * S * qutip.thermal_dm(nmax, nth) * S.dag() * D.dag()
    return rho.full()


# ---------------------------------------------------------------- Gaussian states: G = 0

def test_coherent_state():
    beta = 1.2 - 0.7j
    rho = dm(coherent_state(beta, NMAX, normalize=True))
    assert abs(float(non_gaussianity(rho))) < ZERO_TOL
    np.testing.assert_allclose(gaussian_covariance(rho), 0.5 * np.eye(2), atol=1e-12)


def test_thermal_state():
    nbar = 0.7
    rho = thermal(nbar, NMAX)
    assert (nbar / (nbar + 1)) ** NMAX < 1e-16  # truncated tail below rounding
    np.testing.assert_allclose(gaussian_covariance(rho), (nbar + 0.5) * np.eye(2), atol=1e-12)
    S = float(von_neumann_entropy_state(rho))
    assert abs(S - g(nbar)) < ZERO_TOL  # a mixed state: both entropies are ~1.2, not ~0
    assert abs(float(non_gaussianity(rho))) < ZERO_TOL


@pytest.mark.parametrize("theta", [0.0, np.pi / 2, 1.1])
def test_squeezed_vacuum(theta):
    r = 0.4
    rho = dm((qutip.squeeze(NMAX, r * np.exp(1j * theta)) * qutip.basis(NMAX, 0)).full())
    assert abs(float(non_gaussianity(rho))) < ZERO_TOL
    # QuTiP's S(z) = exp((z* a^2 - z a^dag^2)/2): <a a> = -e^{i theta} sinh r cosh r, so
    # sigma = (1/2) R(theta/2) diag(e^{-2r}, e^{2r}) R(theta/2)^T (x squeezed at theta = 0).
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    R = np.array([[c, -s], [s, c]])
    expected = 0.5 * R @ np.diag([np.exp(-2 * r), np.exp(2 * r)]) @ R.T
    np.testing.assert_allclose(gaussian_covariance(rho), expected, atol=1e-12)


def test_displaced_squeezed_thermal():
    alpha, r, theta, nth = 0.8 + 0.3j, 0.3, 0.7, 0.3
    rho = displaced_squeezed_thermal(alpha, r, theta, nth, NMAX)
    # nbar = nth cosh 2r + sinh^2 r, m = -e^{i theta} (nth + 1/2) sinh 2r, nu = nth + 1/2.
    d = (nth + 0.5) * np.cosh(2 * r)
    m = -np.exp(1j * theta) * (nth + 0.5) * np.sinh(2 * r)
    expected = np.array([[d + m.real, m.imag], [m.imag, d - m.real]])
    np.testing.assert_allclose(gaussian_covariance(rho), expected, atol=1e-10)
    assert abs(float(von_neumann_entropy_state(rho)) - g(nth)) < ZERO_TOL
    assert abs(float(non_gaussianity(rho))) < ZERO_TOL


# ---------------------------------------------------------------- closed forms

@pytest.mark.parametrize("n", [0, 1, 3])
def test_fock_state(n):
    rho = np.zeros((40, 40), dtype=complex)
    rho[n, n] = 1.0
    np.testing.assert_allclose(gaussian_covariance(rho), (n + 0.5) * np.eye(2), atol=1e-14)
    assert float(von_neumann_entropy_state(rho)) == 0.0
    G = float(non_gaussianity(rho))
    assert abs(G - g(n)) < ZERO_TOL
    if n > 0:
        assert G > 0.5  # g(1) = 2 ln 2


@pytest.mark.parametrize("alpha", [1.3, 0.9 + 0.8j])
@pytest.mark.parametrize("sign", [+1, -1], ids=["even", "odd"])
def test_cat_state(alpha, sign):
    """<a> = 0, <a a> = alpha^2, nbar = |alpha|^2 tanh|alpha|^2 (even) or coth (odd)."""
    nmax = 50
    rho = cat(alpha, nmax, sign)
    A2 = abs(alpha) ** 2
    nbar = A2 * (math.tanh(A2) if sign > 0 else 1.0 / math.tanh(A2))
    m = complex(alpha) ** 2
    d = nbar + 0.5
    expected_sigma = np.array([[d + m.real, m.imag], [m.imag, d - m.real]])
    np.testing.assert_allclose(gaussian_covariance(rho), expected_sigma, atol=1e-10)
    nu = math.sqrt(d**2 - A2**2)
    G = float(non_gaussianity(rho))
    assert abs(G - g(nu - 0.5)) < ZERO_TOL
    assert G > 0.1


# ---------------------------------------------------------------- independent reference

def test_random_mixed_state_against_qutip_numpy():
    rng = np.random.default_rng(1234)
    nmax = 40
    rho = random_state(rng, nmax)
    S_ref = qutip.entropy_vn(qutip.Qobj(rho))  # natural log
    assert abs(float(von_neumann_entropy_state(rho)) - S_ref) < 1e-10
    sigma_ref = numpy_moments_covariance(rho)
    sigma = np.asarray(gaussian_covariance(rho))
    np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-12, atol=1e-12)
    nu = math.sqrt(np.linalg.det(sigma_ref))
    G = float(non_gaussianity(rho))
    assert abs(G - (g(nu - 0.5) - S_ref)) < 1e-10
    assert G >= -1e-12


def test_covariance_against_truncated_quadratures():
    """The truncated x, p miss nmax * rho_top / 2 on each diagonal entry ([a, a^dag] is
    1 - nmax |top><top| when truncated); with no top-level weight the two agree exactly."""
    rng = np.random.default_rng(7)
    nmax = 30
    for support in (nmax, 12):
        rho = random_state(rng, nmax, support)
        top = rho[-1, -1].real
        expected = quadrature_covariance(rho) + 0.5 * nmax * top * np.eye(2)
        np.testing.assert_allclose(gaussian_covariance(rho), expected, rtol=1e-12, atol=1e-12)
        if support == nmax:
            assert 0.5 * nmax * top > 1e-2  # the correction is really exercised


def test_pure_states_entropy_finite_and_zero():
    rng = np.random.default_rng(3)
    psi = rng.normal(size=NMAX) + 1j * rng.normal(size=NMAX)
    rho = dm(psi / np.linalg.norm(psi))
    S = float(von_neumann_entropy_state(rho))
    assert np.isfinite(S) and abs(S) < 1e-12
    G = float(non_gaussianity(rho))
    assert np.isfinite(G) and G > 0


def test_grad_finite_on_pure_states():
    """d G / d alpha of the even cat (a pure state: nmax - 1 zero eigenvalues) is finite and
    matches the derivative of the closed form; on coherent states it is 0."""
    nmax = 40

    def G_cat(alpha):
        ket = coherent_state(alpha, nmax) + coherent_state(-alpha, nmax)
        ket = ket / jnp.linalg.norm(ket)
        return non_gaussianity(jnp.outer(ket, ket.conj()))

    def closed(alpha):
        A2 = alpha**2
        d = A2 * math.tanh(A2) + 0.5
        return g(math.sqrt(d**2 - A2**2) - 0.5)

    alpha, h = 1.0, 1e-5
    dG = float(jax.jit(jax.grad(G_cat))(alpha))
    assert abs(dG - (closed(alpha + h) - closed(alpha - h)) / (2 * h)) < 1e-6

    def G_coh(beta):
        ket = coherent_state(beta, nmax, normalize=True)
        return non_gaussianity(jnp.outer(ket, ket.conj()))

    assert abs(float(jax.jit(jax.grad(G_coh))(0.7))) < 1e-10


def test_vmap_and_jit_match_loop():
    rng = np.random.default_rng(99)
    nmax = 40
    stack = np.stack([random_state(rng, nmax, k) for k in (nmax, 25, 10)])
    loop = np.array([float(non_gaussianity(r)) for r in stack])
    assert np.all(loop >= -1e-12)
    assert len(set(np.round(loop, 6))) == 3  # three different values: the batch is not trivial
    np.testing.assert_allclose(jax.vmap(non_gaussianity)(stack), loop, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(jax.jit(jax.vmap(non_gaussianity))(stack), loop,
                               rtol=1e-12, atol=1e-13)
    for r, G in zip(stack, loop):
        assert abs(float(jax.jit(non_gaussianity)(r)) - G) < 1e-12
    covs = jax.vmap(gaussian_covariance)(stack)
    assert covs.shape == (3, 2, 2)
    np.testing.assert_allclose(covs, [numpy_moments_covariance(r) for r in stack], atol=1e-12)
    ents = jax.jit(jax.vmap(von_neumann_entropy_state))(stack)
    np.testing.assert_allclose(ents, [qutip.entropy_vn(qutip.Qobj(r)) for r in stack],
                               atol=1e-10)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 3), (0, 0)])
@pytest.mark.parametrize("fn", [non_gaussianity, gaussian_covariance, von_neumann_entropy_state])
def test_bad_shapes(fn, shape):
    with pytest.raises(ValueError, match=r"^rho: must be a square \(nmax, nmax\) matrix"):
        fn(np.zeros(shape, dtype=complex))
    with pytest.raises(ValueError, match=r"^rho:"):
        jax.jit(fn)(jnp.zeros(shape, dtype=complex))


def test_bad_shape_under_vmap():
    with pytest.raises(ValueError, match=r"^rho:"):
        jax.vmap(non_gaussianity)(np.zeros((2, 3, 4), dtype=complex))
