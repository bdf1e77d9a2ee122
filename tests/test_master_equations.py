"""General Gaussian channels, local and global master equations."""

import numpy as np
import pytest

from jaxent.gaussian.covariance import drift_diffusion
from jaxent.gaussian.lyapunov import lyapunov_steady_state
from jaxent.gaussian.master_equations import (
    drift_diffusion_from_jumps,
    global_drift_diffusion,
    global_jump_vectors,
    local_drift_diffusion,
)
from jaxent.gaussian.normal_modes import (
    bose_occupation,
    gibbs_covariance,
    ladder_coefficients,
    williamson,
)
from jaxent.models.oscillators import oscillator_hamiltonian


def test_per_mode_channels_are_a_special_case():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 6))
    G = X + X.T
    kappa = np.array([0.3, 0.1, 0.7])
    nbar = np.array([0.0, 1.5, 4.0])
    rows = []
    for j in range(3):
        a = np.zeros(6, complex)
        a[2 * j], a[2 * j + 1] = 1 / np.sqrt(2), 1j / np.sqrt(2)
        rows.append(np.sqrt(2 * kappa[j] * (nbar[j] + 1)) * a)
        rows.append(np.sqrt(2 * kappa[j] * nbar[j]) * a.conj())
    A, D = drift_diffusion_from_jumps(G, np.array(rows))
    A0, D0 = drift_diffusion(G, kappa, nbar)
    np.testing.assert_allclose(A, A0, atol=1e-14)
    np.testing.assert_allclose(D, D0, atol=1e-14)


def test_general_channel_against_fock_space():
    """d sigma/dt = A sigma + sigma A^T + D vs the Lindbladian in Fock space (QuTiP), for a
    jump operator mixing a_1, a_1^dag, a_2^dag and a squeezed-thermal-like initial state."""
    qutip = pytest.importorskip("qutip")
    nmax = 14
    a1 = qutip.tensor(qutip.destroy(nmax), qutip.qeye(nmax))
    a2 = qutip.tensor(qutip.qeye(nmax), qutip.destroy(nmax))
    ops = [a1, a2]
    quads = []
    for a in ops:
        quads += [(a + a.dag()) / np.sqrt(2), -1j * (a - a.dag()) / np.sqrt(2)]
    L = 0.7 * a1 + 0.3j * a2.dag() + (0.2 - 0.1j) * a1.dag()
    H = 1.1 * a1.dag() * a1 + 0.6 * a2.dag() * a2 + 0.25 * (a1 + a1.dag()) * (a2 + a2.dag())
    # quadrature vectors: L = c . r
    c = np.array([(0.7 + 0.2 - 0.1j) / np.sqrt(2), 1j * (0.7 - 0.2 + 0.1j) / np.sqrt(2),
                  0.3j / np.sqrt(2), 0.3j * (-1j) / np.sqrt(2)])
    G = np.array([[1.1, 0, 0.5, 0], [0, 1.1, 0, 0], [0.5, 0, 0.6, 0], [0, 0, 0, 0.6]])
    A, D = drift_diffusion_from_jumps(G, c[None, :])
    # a centred Gaussian-ish initial state: a thermal state with small occupations
    rho = qutip.tensor(qutip.thermal_dm(nmax, 0.2), qutip.thermal_dm(nmax, 0.1))
    drho = (-1j * (H * rho - rho * H) + L * rho * L.dag()
            - 0.5 * (L.dag() * L * rho + rho * L.dag() * L))
    sig = np.array([[qutip.expect((x * y + y * x) / 2, rho) for y in quads] for x in quads]).real
    dsig = np.array([[qutip.expect((x * y + y * x) / 2, drho) for y in quads] for x in quads]).real
    np.testing.assert_allclose(A @ sig + sig @ A.T + D, dsig, atol=1e-9)


@pytest.mark.parametrize("coupling", ["pp", "rw"])
@pytest.mark.parametrize("r", [0.3, 0.9, 0.99])
def test_global_equals_gibbs_at_equal_temperature(coupling, r):
    lc = np.sqrt(10.0) / (2 if coupling == "pp" else 1)
    G = oscillator_hamiltonian(5.0, 2.0, r * lc, coupling)
    for T in (98.0, 1.96):
        sigma = lyapunov_steady_state(*global_drift_diffusion(G, 1.5e-4, T))
        ref = gibbs_covariance(G, T)
        np.testing.assert_allclose(sigma, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())


def test_global_mode_occupations_weighted_by_baths():
    """Out of equilibrium each normal mode is thermal with
    N_k = sum_j w_jk N(w_k,T_j)/sum_j w_jk."""
    G = oscillator_hamiltonian(5.0, 2.0, 0.8 * np.sqrt(10.0), "rw")
    omega, S = williamson(G)
    T = np.array([50.0, 120.0])
    sigma = lyapunov_steady_state(*global_drift_diffusion(G, [1e-3, 3e-3], T))
    sp = S @ sigma @ S.T  # covariance of the normal-mode quadratures
    U, _V = ladder_coefficients(S)
    w = np.abs(np.asarray(U)) ** 2 * np.array([1e-3, 3e-3])[:, None]
    Nk = (w * bose_occupation(omega[None, :], T[:, None])).sum(0) / w.sum(0)
    np.testing.assert_allclose(np.diag(sp)[0::2] - 0.5, Nk, rtol=1e-9)
    np.testing.assert_allclose(sp[0, 2:], 0, atol=1e-9 * Nk.max())


def test_local_is_thermal_without_coupling_and_errors():
    G = oscillator_hamiltonian(5.0, 2.0, 0.0, "pp")
    sigma = lyapunov_steady_state(*local_drift_diffusion(G, 1e-3, [3.0, 7.0]))
    np.testing.assert_allclose(np.diag(sigma),
                               [0.5 / np.tanh(5 / 6)] * 2 + [0.5 / np.tanh(2 / 14)] * 2,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="T"):
        local_drift_diffusion(G, 1e-3, [0.0, 1.0])
    with pytest.raises(ValueError, match="T"):
        global_drift_diffusion(G, 1e-3, [-1.0, 1.0])
    with pytest.raises(ValueError, match="gamma"):
        local_drift_diffusion(G, -1e-3, 1.0)
    with pytest.raises(ValueError, match="not bounded below"):
        global_jump_vectors(oscillator_hamiltonian(5.0, 2.0, np.sqrt(10.0) / 2, "pp"), 1e-3, 1.0)
