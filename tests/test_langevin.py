"""Exact quantum Langevin steady state [KL, Eqs. (5)-(8), (22)-(23)]."""

import jax
import mpmath as mp
import numpy as np
import pytest
from scipy.integrate import quad

from jaxent.gaussian.langevin import (
    digamma_complex,
    langevin_covariance,
    thermal_lorentzian_integral,
)
from jaxent.gaussian.normal_modes import gibbs_covariance, williamson
from jaxent.models.oscillators import (
    CoupledOscillators,
    occupations,
    oscillator_hamiltonian,
    oscillator_steady_state,
)


def test_digamma_complex():
    for z in [1 + 0.01j, 1 + 3j, 2.5 - 7j, 1.0001 + 100j, 0.3 + 0.2j]:
        ref = complex(mp.digamma(z))
        assert abs(complex(digamma_complex(z)) - ref) < 1e-14 * max(1, abs(ref))


def test_thermal_lorentzian_integral_against_quadrature():
    for T, a, b in [(1.3, 2.0 - 0.3j, -0.7 + 0.5j), (40.0, -5.0 - 0.01j, 4.9 + 0.02j)]:
        def f(nu):
            return mp.coth(nu / (2 * T)) / 2 / ((nu - a) * (nu - b))
        # principal value at nu = 0: integrate the even part on (0, inf)
        pts = [0, abs(a.real) / 2, abs(a.real), abs(b.real), 2 * max(abs(a.real), abs(b.real)) + 1,
               50, mp.inf]
        pts = sorted(set(float(p) if p != mp.inf else p for p in pts), key=lambda x: float(x))
        ref = complex(mp.quad(lambda nu: f(nu) + f(-nu), pts) / (2 * mp.pi))
        np.testing.assert_allclose(complex(thermal_lorentzian_integral(a, b, T)), ref, rtol=1e-9)


def _kl_eq23_n1(w1, w2, lam, kap, g1, g2, T1, T2):
    """<a_1^dag a_1> by direct quadrature of [KL, Eq. (23)] (principal value at nu = 0).

    M(nu) is [KL, Eq. (22)] with the columns of lambda and kappa in the off-diagonal blocks
    exchanged: the printed matrix couples a_1 to a_2^dag through lambda, i.e. it describes
    H with lambda <-> kappa; the Heisenberg equation da_1/dt = -i w1 a_1 - i lam a_2 - i kap a_2^dag
    of Eq. (1) fixes the entries used here (irrelevant for pp, where kappa = lambda).
    """
    def m_row(nu):
        M = np.array([[-1j * nu + 1j * w1, 0, 1j * lam, 1j * kap],
                      [0, -1j * nu - 1j * w1, -1j * kap, -1j * lam],
                      [1j * lam, 1j * kap, -1j * nu + 1j * w2, 0],
                      [-1j * kap, -1j * lam, 0, -1j * nu - 1j * w2]]) + np.diag([g1, g1, g2, g2])
        return np.abs(np.linalg.inv(M)[0]) ** 2

    def nu_times_integrand(nu):  # N(-nu) + 1 = -N(nu); nu N(nu) is smooth at 0
        a = m_row(nu)
        nuN = [T if nu == 0 else nu / np.expm1(nu / T) for T in (T1, T2)]
        return (g1 * (a[0] - a[1]) * nuN[0] + g2 * (a[2] - a[3]) * nuN[1]) / np.pi

    L = 60.0
    pv, _ = quad(nu_times_integrand, -L, L, weight="cauchy", wvar=0.0, limit=400)
    tails = sum(quad(lambda nu: nu_times_integrand(nu) / nu, lo, hi, limit=200)[0]
                for lo, hi in ((L, np.inf), (-np.inf, -L)))
    return pv + tails


@pytest.mark.parametrize("coupling", ["pp", "rw"])
def test_langevin_equals_kl_eq23_quadrature(coupling):
    m = CoupledOscillators(0.7, gamma1=0.05, gamma2=0.08, T1=3.0, T2=1.0, coupling=coupling)
    lam = float(m.lam)
    ref = _kl_eq23_n1(5.0, 2.0, lam, lam if coupling == "pp" else 0.0, 0.05, 0.08, 3.0, 1.0)
    n1 = occupations(oscillator_steady_state(m, "langevin"))[0]
    np.testing.assert_allclose(n1, ref, rtol=1e-9)


@pytest.mark.parametrize("coupling", ["pp", "rw"])
def test_langevin_tends_to_gibbs(coupling):
    """Delta T = 0: |sigma_L - sigma_Gibbs| = O(gamma) (tenfold per decade of gamma)."""
    errs = []
    for g in (1.5e-2, 1.5e-3, 1.5e-4):
        m = CoupledOscillators(0.9, gamma1=g, gamma2=g, T1=98.0, T2=98.0, coupling=coupling)
        L = oscillator_steady_state(m, "langevin")
        ref = oscillator_steady_state(m, "gibbs")
        errs.append(float(np.abs(L - ref).max() / np.abs(ref).max()))
    assert errs[-1] < 1e-4
    assert errs[1] / errs[0] < 0.2 and errs[2] / errs[1] < 0.2, errs


@pytest.mark.parametrize("coupling", ["pp", "rw"])
@pytest.mark.parametrize("T1,T2", [(98.0, 148.0), (148.0, 98.0), (1.46, 1.96)])
def test_global_equals_langevin_out_of_equilibrium(coupling, T1, T2):
    """Rotating-wave coupling: global (Davies) ME = Langevin for Delta T != 0. pp: the same holds
    for the global ME with the bath weights |U|^2 - |V|^2 of the Langevin model (weights='kms').

    Tolerance: the master equation is the gamma -> 0 limit of the Langevin solution (Born-Markov-
    secular); the corrections are first order in gamma / omega_- (Lorentzian tails, Lamb shifts,
    non-secular terms). We check rel. error < 20 gamma/omega_- at gamma = 1.5e-4 and that it
    drops at least tenfold when gamma does.
    """
    weights = "davies" if coupling == "rw" else "kms"
    errs = []
    for g in (1.5e-3, 1.5e-4):
        m = CoupledOscillators(0.99, gamma1=g, gamma2=g, T1=T1, T2=T2, coupling=coupling)
        L = oscillator_steady_state(m, "langevin")
        Gl = oscillator_steady_state(m, "global", weights=weights)
        errs.append(float(np.abs(L - Gl).max() / np.abs(L).max()))
    w_minus = float(williamson(m.G).omega[0])
    assert errs[1] < 20 * 1.5e-4 / w_minus, errs
    assert errs[1] / errs[0] < 0.15, errs  # at least linear in gamma


def test_pp_davies_global_differs_from_langevin():
    """For pp coupling out of equilibrium the Davies global ME is not exact (KL Fig. 3)."""
    m = CoupledOscillators(0.99, T1=98.0, T2=148.0, coupling="pp")
    n_l = occupations(oscillator_steady_state(m, "langevin"))[0]
    n_g = occupations(oscillator_steady_state(m, "global"))[0]
    assert abs(n_g / n_l - 1) > 1e-2


def test_langevin_errors_and_grad():
    G = oscillator_hamiltonian(5.0, 2.0, np.sqrt(10.0) / 2, "pp")
    with pytest.raises(ValueError, match="not bounded below"):
        langevin_covariance(G, 1e-3, 1.0)
    G = oscillator_hamiltonian(5.0, 2.0, 1.0, "pp")
    with pytest.raises(ValueError, match="T"):
        langevin_covariance(G, 1e-3, [1.0, 0.0])
    with pytest.raises(ValueError, match="gamma"):
        langevin_covariance(G, 0.0, 1.0)

    def n1(T1):
        return langevin_covariance(G, 1e-3, jax.numpy.stack([T1, 5.0]))[0, 0]
    g = jax.grad(n1)(3.0)
    fd = (n1(3.0 + 1e-4) - n1(3.0 - 1e-4)) / 2e-4
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    _ = gibbs_covariance
