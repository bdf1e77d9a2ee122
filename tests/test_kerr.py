"""Kerr model: exact 0F2 moments (mpmath, numerical NESS), structured NESS vs exact over N and eps
(near-critical included), truncation control, gradients, validation."""

import warnings

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import qutip as qt

from jaxent.fock.steady_state import steady_state_dense
from jaxent.fock.truncation import TruncationWarning, check_truncation
from jaxent.models.kerr import (
    Kerr,
    choose_nmax,
    kerr_exact_moments,
    kerr_hamiltonian,
    kerr_jump_ops,
    kerr_steady_state,
    mean_field_bistability,
    mean_field_photons,
)


def _moments(rho):
    rho = np.asarray(rho)
    k = np.arange(rho.shape[-1])
    a = np.einsum("k,...k->...", np.sqrt(k[1:]), np.diagonal(rho, -1, -2, -1))
    n = np.einsum("k,...k->...", k, np.real(np.diagonal(rho, 0, -2, -1)))
    return a, n


def _mp_moments(N, eps, kappa=0.5, delta=-2.0, u=1.0, dps=40):
    """Independent evaluation of the corrected [GFL-quench, Eq. (6)] with mpmath."""
    with mp.workdps(dps):
        E, U = mp.mpf(eps) * mp.sqrt(N), mp.mpf(u) / N
        xi = 2 * E / (1j * U)
        x = 2 * (1j * delta + kappa) / (1j * U)
        xb = mp.conj(x)
        z = 2 * abs(xi) ** 2
        F0 = mp.hyper([], [xb, x], z)
        a = xi / x * mp.hyper([], [xb, x + 1], z) / F0
        n = abs(xi) ** 2 / (x * xb) * mp.hyper([], [xb + 1, x + 1], z) / F0
        return complex(a), float(mp.re(n))


def test_mean_field_bistability_paper_values():
    em, ep = mean_field_bistability(0.5, -2.0, 1.0)
    assert abs(em - 0.701373) < 1e-6 and abs(ep - 1.16616) < 1e-5  # [GFL-quench, Eq. (5)]
    assert len(mean_field_photons(0.94)) == 3 and len(mean_field_photons(1.3)) == 1
    with pytest.raises(ValueError, match="delta"):
        mean_field_bistability(0.5, -0.5, 1.0)


def test_exact_moments_fix_eq6_against_numerical_ness():
    """The corrected Eq. (6) (argument 2|xi|^2) reproduces a converged numerical NESS (QuTiP)."""
    for N, eps in [(2.0, 0.8), (3.0, 1.2)]:
        nmax = 45
        a = qt.destroy(nmax)
        H = (-2.0 * a.dag() * a + 1 / (2 * N) * a.dag() ** 2 * a**2
             + 1j * eps * np.sqrt(N) * (a.dag() - a))
        rho = qt.steadystate(H, [a]).full()
        a_num, n_num = _moments(rho)
        g2_num = np.real(np.trace((a.dag() ** 2 * a**2).full() @ rho))
        mom = kerr_exact_moments(Kerr(eps=eps, N=N))
        assert abs(mom.a - a_num) < 1e-10 * abs(a_num)
        assert abs(mom.n - n_num) < 1e-10 * n_num
        assert abs(mom.g2num - g2_num) < 1e-9 * g2_num


@pytest.mark.parametrize("N,eps", [(5.0, 0.9), (20.0, 0.94), (40.0, 0.94), (40.0, 1.3)])
def test_exact_moments_against_mpmath(N, eps):
    mom = kerr_exact_moments(Kerr(eps=eps, N=N))
    a, n = _mp_moments(N, eps)
    assert abs(complex(mom.a) - a) < 1e-11 * abs(a)
    assert abs(float(mom.n) - n) < 1e-11 * n
    assert float(mom.series_tail) < 1e-30


def test_exact_moments_grad_vmap():
    def n_of(eps):
        return kerr_exact_moments(Kerr(eps=eps, N=20.0), n_terms=1024).n

    e0, h = 1.0, 1e-6
    fd = (n_of(e0 + h) - n_of(e0 - h)) / (2 * h)
    assert np.isclose(jax.grad(n_of)(e0), fd, rtol=1e-7)
    vals = jax.vmap(n_of)(jnp.array([0.5, 1.0]))
    assert np.allclose(vals, [n_of(0.5), n_of(1.0)], rtol=1e-13)


# --- structured NESS against the exact moments -------------------------------------------------

EPS_GRID = [0.5, 0.7, 0.9, 0.93, 0.94, 0.95, 0.97, 1.1, 1.3]


def _ness_batch(N, eps_list):
    nmax = choose_nmax(Kerr(eps=max(eps_list), N=N), round_to=8)
    nmax = max(nmax, max(choose_nmax(Kerr(eps=e, N=N)) for e in eps_list))

    @jax.jit
    def run(eps):
        return jax.vmap(lambda e: kerr_steady_state(Kerr(eps=e, N=N), nmax))(eps)

    return nmax, run(jnp.asarray(eps_list))


@pytest.mark.parametrize("N,eps_list", [
    (5.0, EPS_GRID),
    (10.0, EPS_GRID),
    (20.0, [0.5, 0.9, 0.94, 0.96, 1.3]),
    pytest.param(30.0, [0.94, 1.3], marks=pytest.mark.slow),
    pytest.param(40.0, [0.94, 1.3], marks=pytest.mark.slow),
])
def test_structured_ness_matches_exact_moments(N, eps_list):
    nmax, ss = _ness_batch(N, eps_list)
    a, n = _moments(ss.rho)
    for i, eps in enumerate(eps_list):
        mom = kerr_exact_moments(Kerr(eps=eps, N=N))
        rel_a = abs(a[i] - complex(mom.a)) / abs(complex(mom.a))
        rel_n = abs(n[i] - float(mom.n)) / float(mom.n)
        print(f"N={N:g} eps={eps} nmax={nmax} rel_err<a>={rel_a:.1e} rel_err<n>={rel_n:.1e} "
              f"pinned={bool(ss.pinned[i])} gap~{float(ss.gap_estimate[i]):.2e} "
              f"err_est={float(ss.error_estimate[i]):.1e} tail={float(ss.tail_population[i]):.1e}")
        assert rel_a < 1e-6 and rel_n < 1e-6
        # <a> is never pinned: where the weight was fixed from <n>, <a> is an independent check
        assert rel_a < 1e-9
        assert float(ss.tail_population[i]) < 1e-10  # choose_nmax is large enough
        assert float(ss.residual_norm[i]) < 1e-10
        if not bool(ss.pinned[i]):
            assert rel_n < 1e-9 and float(ss.error_estimate[i]) < 1e-10
    # the slow mode must have been detected (and pinned) near eps_c from N = 10 on
    if N >= 10 and 0.94 in eps_list:
        assert bool(ss.pinned[eps_list.index(0.94)])


# --- truncation ----------------------------------------------------------------------------------

def test_truncation_too_small_warns_and_raises():
    m = Kerr(eps=1.3, N=5.0)  # <n> = 13.3, std 2.8
    with pytest.warns(TruncationWarning, match=r"nmax=\d+"):
        ss = kerr_steady_state(m, 24)
    assert float(ss.tail_population) > 1e-10
    with pytest.raises(ValueError, match="Fock truncation"):
        kerr_steady_state(m, 24, truncation="raise")
    with pytest.raises(ValueError, match="nmax"):
        kerr_steady_state(m, 12)  # far below <n> + 2 std
    with pytest.raises(ValueError, match="nmax"):
        kerr_steady_state(m, 1)
    good = choose_nmax(m)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = kerr_steady_state(m, good)
    assert check_truncation(ok, action="raise")
    assert choose_nmax(5.0, 1.3) == good and choose_nmax(m, round_to=16) % 16 == 0


# --- gradients -----------------------------------------------------------------------------------

def test_grad_through_structured_ness():
    N, nmax = 10.0, 28

    def obs(eps):
        rho = kerr_steady_state(Kerr(eps=eps, N=N), nmax).rho
        a, n = jnp.sum(jnp.sqrt(jnp.arange(1, nmax)) * jnp.diagonal(rho, -1)), jnp.real(
            jnp.sum(jnp.arange(nmax) * jnp.diagonal(rho)))
        return n + jnp.abs(a) ** 2

    e0, h = 0.5, 1e-5
    fd = (obs(e0 + h) - obs(e0 - h)) / (2 * h)
    g = jax.grad(obs)(e0)
    assert abs(g - fd) < 1e-5 * abs(fd)
    # and against the exact moments' own gradient (independent of the solver)
    exact = jax.grad(lambda e: (lambda m: m.n + jnp.abs(m.a) ** 2)(
        kerr_exact_moments(Kerr(eps=e, N=N), n_terms=1024)))(e0)
    assert abs(g - exact) < 1e-7 * abs(exact)


# --- validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,name", [
    (dict(eps=1.0, N=10.0, kappa=-0.5), "kappa"),
    (dict(eps=1.0, N=10.0, kappa=0.0), "kappa"),
    (dict(eps=float("nan"), N=10.0), "eps"),
    (dict(eps=1.0, N=0.0), "N"),
    (dict(eps=1.0, N=-3.0), "N"),
    (dict(eps=1.0, N=10.0, delta=float("inf")), "delta"),
    (dict(eps=1.0, N=10.0, u=float("nan")), "u"),
    (dict(eps=[1.0, 2.0], N=10.0), "eps"),
])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Kerr(**kwargs)


def test_model_is_traceable_and_dense_builders_agree():
    # construction under jit/vmap skips the concrete checks
    f = jax.jit(jax.vmap(lambda e: Kerr(eps=e, N=5.0).E))
    assert np.allclose(f(jnp.array([1.0, 2.0])), np.sqrt(5.0) * np.array([1.0, 2.0]))
    m, n = Kerr(eps=1.3, N=5.0), 24  # same static arguments as the truncation test (one compile)
    sd = steady_state_dense(kerr_hamiltonian(m, n), kerr_jump_ops(m, n), diagnose=False)
    sb = kerr_steady_state(m, n, truncation="ignore")
    assert np.abs(np.asarray(sd.rho - sb.rho)).max() < 1e-12
    with pytest.raises(ValueError, match="nmax"):
        kerr_hamiltonian(m, 2.5)
