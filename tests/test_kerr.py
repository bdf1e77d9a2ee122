"""Kerr model: exact 0F2 moments (mpmath, numerical NESS), structured NESS vs exact over N and eps
(near-critical included), the exact Fock-basis state against both solvers and QuTiP, truncation
control, implicit gradients against the exact derivatives, the linear-cavity limit, validation."""

import os
import sys
import warnings

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
import qutip as qt

from jaxent.fock.truncation import TruncationWarning, check_truncation
from jaxent.lindblad import (
    BandedElimination,
    DenseLindbladian,
    DenseSolver,
    ExactMoment,
    steady_state,
)
from jaxent.models.kerr import (
    Kerr,
    choose_nmax,
    kerr_exact_moments,
    kerr_exact_state,
    kerr_hamiltonian,
    kerr_jump_ops,
    kerr_lindbladian,
    kerr_ness,
    kerr_steady_state,
    linear_cavity_limit,
    log_factorial_moments,
    mean_field_bistability,
    mean_field_photons,
    photon_number_estimate,
    series_terms,
    tail_bound,
)

sys.path.insert(0, os.path.dirname(__file__))
from kerr_reference import exact_moment_derivatives_mp, exact_moments_mp  # noqa: E402


def steady_state_dense(H, c_ops, diagnose=True):
    return steady_state(DenseLindbladian.from_operators(H, c_ops), DenseSolver(diagnose=diagnose))


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


def _ness_batch(N, eps_list, method):
    nmax = choose_nmax(Kerr(eps=max(eps_list), N=N), round_to=8)
    nmax = max(nmax, max(choose_nmax(Kerr(eps=e, N=N)) for e in eps_list))

    @jax.jit
    def run(eps):
        return jax.vmap(lambda e: kerr_steady_state(Kerr(eps=e, N=N), nmax, method=method))(eps)

    return nmax, run(jnp.asarray(eps_list))


@pytest.mark.parametrize("method", ["banded", "exact"])
@pytest.mark.parametrize("N,eps_list", [
    (5.0, EPS_GRID),
    (10.0, EPS_GRID),
    (20.0, [0.5, 0.9, 0.94, 0.96, 1.3]),
    pytest.param(30.0, [0.94, 1.3], marks=pytest.mark.slow),
    pytest.param(40.0, [0.94, 1.3], marks=pytest.mark.slow),
])
def test_structured_ness_matches_exact_moments(N, eps_list, method):
    """<a> and <n> of the NESS (banded solver, pinned where ill-conditioned; or the exact
    Fock-basis state) against the exact complex-P moments, a different series."""
    nmax, ss = _ness_batch(N, eps_list, method)
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
        if method == "exact":  # nothing to pin; the series is converged
            assert not bool(ss.pinned[i]) and float(ss.error_estimate[i]) < 1e-17
    # the slow mode must have been detected (and pinned) near eps_c from N = 10 on
    if method == "banded" and N >= 10 and 0.94 in eps_list:
        assert bool(ss.pinned[eps_list.index(0.94)])


# --- the exact Fock-basis state ----------------------------------------------------------------

def _trace_norm(A):
    return float(np.sum(np.abs(np.linalg.eigvalsh(np.asarray(A)))))


@pytest.mark.parametrize("N", [5.0, 20.0, 40.0])
def test_exact_state_equals_both_solvers(N):
    """The closed-form NESS equals the NESS of the truncated Liouvillian by block elimination
    and by nested dissection to 1e-12 in trace norm, on both sides of eps_c and at the points
    near it where the solvers must pin (gap ~1e-13 at N = 40). At nmax = choose_nmax + 8: at
    choose_nmax itself the solvers' states still carry the truncation wall (3e-9 at N = 40,
    eps = 0.5), which the exact state does not have."""
    eps_list = [0.6, 0.933, 0.95, 1.3]
    nmax = max(choose_nmax(Kerr(eps=e, N=N)) for e in eps_list) + 8
    K = max(series_terms(Kerr(eps=e, N=N)) for e in eps_list)

    def states(method):
        return jax.jit(jax.vmap(lambda e: kerr_ness(Kerr(eps=e, N=N), nmax, "auto", 4, K, True,
                                                    method)))(jnp.asarray(eps_list))

    ex, bt, nd = states("exact"), states("banded"), states("dissection")
    for i, eps in enumerate(eps_list):
        d_bt = _trace_norm(ex.rho[i] - bt.rho[i])
        d_nd = _trace_norm(ex.rho[i] - nd.rho[i])
        print(f"N={N:g} eps={eps} nmax={nmax} |ex-bt|_1={d_bt:.1e} |ex-nd|_1={d_nd:.1e} "
              f"pinned={bool(bt.pinned[i])} solver err_est={float(bt.error_estimate[i]):.1e}")
        assert d_bt < 1e-12 and d_nd < 1e-12, (N, eps, d_bt, d_nd)
        # positive semidefinite by construction (a Gram matrix), Hermitian to the last bit
        assert np.linalg.eigvalsh(np.asarray(ex.rho[i])).min() > -1e-15
        assert float(jnp.max(jnp.abs(ex.rho[i] - jnp.conj(ex.rho[i]).T))) == 0.0
    if N >= 20:  # the comparison covered states the solvers could only get by pinning
        assert bool(jnp.any(bt.pinned)) and bool(jnp.any(nd.pinned))
    assert not bool(jnp.any(ex.pinned)) and bool(jnp.all(ex.resolvable))


def test_exact_state_against_qutip():
    """Against ``qutip.steadystate`` of the same model at a converged truncation."""
    for N, eps in [(2.0, 0.8), (3.0, 1.2)]:
        nmax = 45
        a = qt.destroy(nmax)
        H = (-2.0 * a.dag() * a + 1 / (2 * N) * a.dag() ** 2 * a**2
             + 1j * eps * np.sqrt(N) * (a.dag() - a))
        ref = qt.steadystate(H, [a]).full()  # kappa = 1/2: 2 kappa D[a] = D[a]
        ex = kerr_exact_state(Kerr(eps=eps, N=N), nmax)
        assert _trace_norm(np.asarray(ex.rho) - ref) < 1e-12


def test_exact_state_is_analytic_at_the_vacuum():
    """At eps = 0 the state is |0><0| and its derivative is the linear response
    d<a>/d eps = sqrt(N)/(kappa + i Delta); the other parameters do not move the vacuum."""
    N, nmax = 10.0, 24

    def a_of(eps, kappa):
        rho = kerr_exact_state(Kerr(eps=eps, N=N, kappa=kappa), nmax).rho
        return jnp.sum(jnp.sqrt(jnp.arange(1.0, nmax)) * jnp.diagonal(rho, -1))

    vac = np.zeros((nmax, nmax))
    vac[0, 0] = 1.0
    np.testing.assert_array_equal(np.asarray(kerr_exact_state(Kerr(eps=0.0, N=N), nmax).rho), vac)
    ref = np.sqrt(N) / (0.5 - 2.0j)
    for part, want in ((jnp.real, ref.real), (jnp.imag, ref.imag)):
        g_eps, g_kappa = jax.grad(lambda e, k: part(a_of(e, k)), argnums=(0, 1))(0.0, 0.5)
        assert abs(float(g_eps) - want) < 1e-14 and float(g_kappa) == 0.0


def test_exact_state_reports_tail_and_series():
    """``trace_error`` is the exact population beyond nmax (that of a larger truncation);
    a series cut too short says so through ``error_estimate`` / ``resolvable``."""
    m = Kerr(eps=1.3, N=10.0)
    small, big = 40, 80
    s1 = kerr_exact_state(m, small)
    s2 = kerr_exact_state(m, big)
    beyond = float(np.sum(np.real(np.diagonal(np.asarray(s2.rho)))[small:]))
    assert 1e-9 < beyond < 1e-3
    assert abs(float(s1.trace_error) - beyond) < 1e-6 * beyond
    # 1 - (truncated trace)/F is resolved to the rounding of log F, a log-space sum of
    # ~1000 terms of size ~log|xi|: ~1e-14 (1.4e-14 here), not to eps
    assert float(s2.trace_error) < 1e-13
    short = kerr_exact_state(Kerr(eps=1.3, N=40.0), 172, n_terms=128)
    assert float(short.error_estimate) > 1e-3 and not bool(short.resolvable)
    assert bool(kerr_exact_state(Kerr(eps=1.3, N=40.0), 172, n_terms=1024).resolvable)


# --- truncation ----------------------------------------------------------------------------------

def test_truncation_too_small_warns_and_raises():
    m = Kerr(eps=1.3, N=5.0)  # <n> = 13.3, std 2.8
    good = choose_nmax(m)
    # one piece of advice for one point, whichever check catches the truncation (they used to
    # say "use nmax >= 70" and "try nmax=89" for the same point)
    with pytest.warns(TruncationWarning, match=rf"use nmax={good}$"):
        ss = kerr_steady_state(m, 24)
    assert float(ss.tail_population) > 1e-10
    with pytest.raises(ValueError, match="Fock truncation"):
        kerr_steady_state(m, 24, truncation="raise")
    with pytest.raises(ValueError, match=rf"use nmax >= {good} \(choose_nmax\)$"):
        kerr_steady_state(m, 12)  # far below <n> + 2 std
    with pytest.raises(ValueError, match="nmax"):
        kerr_steady_state(m, 1)
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
    (dict(eps="abc", N=10.0), "^eps must be a real number, got 'abc'"),
    (dict(eps=1 + 1j, N=10.0), r"^eps must be a real number, got \(1\+1j\)"),
    (dict(eps=None, N=10.0), "^eps must be a real number, got None"),
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
    # the NESS of the same truncated Liouvillian (the exact state has no truncation wall)
    sb = kerr_steady_state(m, n, method="banded", truncation="ignore")
    assert np.abs(np.asarray(sd.rho - sb.rho)).max() < 1e-12
    with pytest.raises(ValueError, match="nmax"):
        kerr_hamiltonian(m, 2.5)


# --- implicit gradients against the exact derivatives -------------------------------------------

PARAMS = ("eps", "kappa", "delta", "u")
GRAD_EPS = [0.6, 0.92, 0.933, 0.94, 0.95, 1.2]


def _observables(theta, N, nmax, n_terms, method):
    eps, kappa, delta, u = theta
    ss = kerr_ness(Kerr(eps=eps, N=N, kappa=kappa, delta=delta, u=u), nmax, "auto", 4, n_terms,
                   True, method)
    k = jnp.arange(nmax)
    n = jnp.real(jnp.sum(k * jnp.diagonal(ss.rho)))
    a = jnp.sum(jnp.sqrt(k[1:]) * jnp.diagonal(ss.rho, -1))
    return jnp.stack([n, jnp.real(a), jnp.imag(a)]), ss


@pytest.mark.parametrize("method", ["banded", "exact"])
@pytest.mark.parametrize("N", [10.0, 40.0])  # the ends of the range (CI time)
def test_gradients_match_exact_moment_derivatives(N, method):
    """d<n>/dp and d<a>/dp through the NESS (banded: implicit differentiation; exact: autodiff
    of the Fock-basis series; forward mode for all four parameters, reverse mode for <n>)
    against the analytic derivatives of the exact complex-P moments at 50 digits
    (tests/kerr_reference.py), to 1e-8 relative (exact state: 1e-11; 3.5e-13 measured),
    including the bistability window where the gap is ~1e-13 at N = 40 (pinned state and
    pinned derivative for the solver)."""
    nmax = max(choose_nmax(Kerr(eps=e, N=N)) for e in GRAD_EPS)
    K = max(series_terms(Kerr(eps=e, N=N)) for e in GRAD_EPS)
    theta = jnp.array([[e, 0.5, -2.0, 1.0] for e in GRAD_EPS])
    fwd = jax.jit(jax.vmap(jax.jacfwd(lambda t: _observables(t, N, nmax, K, method),
                                      has_aux=True)))
    J, ss = fwd(theta)
    rev = jax.jit(jax.vmap(jax.grad(lambda t: _observables(t, N, nmax, K, method)[0][0])))(theta)
    worst = 0.0
    for i, e in enumerate(GRAD_EPS):
        ref = exact_moment_derivatives_mp(e, N)
        R = np.array([[float(ref[(mo, p)]) for p in PARAMS] for mo in ("n", "a_re", "a_im")])
        scale = np.abs(R[0])  # d<n>/dp
        scale_a = np.hypot(R[1], R[2])  # |d<a>/dp|
        err_n = np.abs(np.asarray(J[i, 0]) - R[0]) / scale
        err_a = np.hypot(np.asarray(J[i, 1]) - R[1], np.asarray(J[i, 2]) - R[2]) / scale_a
        err_rev = np.abs(np.asarray(rev[i]) - R[0]) / scale
        worst = max(worst, err_n.max(), err_a.max(), err_rev.max())
        print(f"N={N:g} eps={e} nmax={nmax} pinned={bool(ss.pinned[i])} "
              f"err_est={float(ss.error_estimate[i]):.1e} grad rel err <n>: "
              + " ".join(f"{p}={x:.1e}" for p, x in zip(PARAMS, err_n))
              + "  <a>: " + " ".join(f"{p}={x:.1e}" for p, x in zip(PARAMS, err_a)))
    assert worst < (1e-11 if method == "exact" else 1e-8)
    if N >= 30 and method == "banded":  # ill-conditioned window: the pin must have been used
        assert bool(ss.pinned[GRAD_EPS.index(0.933)])


def test_unpinned_gradient_is_flagged_untrusted():
    """Without the pin, the N = 30 state near eps_c is only resolved to ~1e-4 (gap ~3e-10): the
    diagnostics must say so, since its gradient is as ill-conditioned as the state."""
    m = Kerr(eps=0.95, N=30.0)
    nmax = choose_nmax(m)
    plain = kerr_steady_state(m, nmax, method="banded", pin=False)
    assert not bool(plain.trusted) and float(plain.error_estimate) > 1e-6
    pinned = kerr_steady_state(m, nmax, method="banded")
    assert bool(pinned.trusted) and bool(pinned.pinned)


def _pipeline(theta, N, nmax, K):
    from jaxent.studies.kerr import kerr_point

    eps, kappa, delta, u = theta
    out = kerr_point(Kerr(eps=eps, N=N, kappa=kappa, delta=delta, u=u), nmax, n_terms=K)
    return jnp.stack([out["Pi_d"], out["Pi_U"]])


@pytest.mark.parametrize("N,eps", [(10.0, 0.6), (20.0, 0.94)])
def test_entropy_term_gradients_match_finite_differences(N, eps):
    """dPi_d/dp and dPi_U/dp (implicit NESS derivative through the Husimi integrals) against a
    six-point central difference of the same pipeline (error O(h^6))."""
    nmax = choose_nmax(Kerr(eps=eps, N=N))
    K = series_terms(Kerr(eps=eps, N=N))
    f = jax.jit(lambda t: _pipeline(t, N, nmax, K))
    theta = jnp.array([eps, 0.5, -2.0, 1.0])
    J = np.asarray(jax.jit(jax.jacfwd(lambda t: _pipeline(t, N, nmax, K)))(theta))
    h = 2e-4
    for j in range(4):
        e = np.zeros(4)
        e[j] = h
        vals = {s: np.asarray(f(theta + s * e)) for s in (-3, -2, -1, 1, 2, 3)}
        fd = ((vals[3] - 9 * vals[2] + 45 * vals[1] - 45 * vals[-1] + 9 * vals[-2] - vals[-3])
              / (60 * h))
        np.testing.assert_allclose(J[:, j], fd, rtol=2e-7, atol=1e-10,
                                   err_msg=f"d(Pi_d, Pi_U)/d{PARAMS[j]} at N={N}, eps={eps}")


# --- truncation that holds in the bistability window --------------------------------------------

FINE_EPS = sorted(set(np.round(np.concatenate([np.arange(0.5, 1.3001, 0.025),
                                               np.arange(0.88, 0.975, 0.01)]), 4)))


def _masked(model, n_big, n_trunc):
    """The Kerr Lindbladian on n_big levels with the drive cut above level n_trunc - 1: levels
    >= n_trunc only decay into the rest, so the NESS is exactly that of truncation at n_trunc,
    and all points of one size share one compiled shape."""
    L = kerr_lindbladian(model, n_big)
    keep = jnp.arange(n_big - 1) < n_trunc - 1
    return eqx_tree_at(lambda t: t.h_low, L, jnp.where(keep, L.h_low, 0.0))


def eqx_tree_at(*a):
    import equinox as eqx

    return eqx.tree_at(*a)


@pytest.mark.parametrize("N", [5.0, 10.0, 20.0, 30.0, 40.0])
def test_choose_nmax_matches_exact_moments_on_a_fine_grid(N):
    """For every single point of a fine pump grid (0.5..1.3 step 0.025 plus 0.88..0.97 step
    0.01), the NESS at nmax = choose_nmax(point) reproduces the exact <a> and <n> to 1e-10.
    The state is pinned where ill-conditioned (that fixes <n>), so <a> is the truncation check
    there. Cases of the issue: (20, 0.92), (30, 0.90), (40, 0.90) were off by up to 8.8 %."""
    models = [Kerr(eps=float(e), N=N) for e in FINE_EPS]
    ntr = np.array([choose_nmax(m) for m in models])
    n_big = int(16 * np.ceil(ntr.max() / 16))
    K = max(series_terms(m) for m in models)

    @jax.jit
    def run(eps, nt):
        def one(e, t):
            m = Kerr(eps=e, N=N)
            c = ExactMoment(jnp.arange(n_big, dtype=jnp.float64), kerr_exact_moments(m, K).n)
            ss = steady_state(_masked(m, n_big, t), BandedElimination(), constraint=c)
            k = jnp.arange(n_big)
            return (jnp.real(jnp.sum(k * jnp.diagonal(ss.rho))),
                    jnp.sum(jnp.sqrt(k[1:]) * jnp.diagonal(ss.rho, -1)), ss.pinned)

        return jax.vmap(one)(eps, nt)

    n, a, pinned = run(jnp.asarray(FINE_EPS), jnp.asarray(ntr))
    for i, e in enumerate(FINE_EPS):
        ref = exact_moments_mp(float(e), N)
        rel_a = abs(complex(a[i]) - complex(ref["a"])) / abs(complex(ref["a"]))
        rel_n = abs(float(n[i]) - float(ref["n"])) / float(ref["n"])
        assert rel_a < 1e-10 and rel_n < 1e-10, (N, e, ntr[i], rel_a, rel_n)


@pytest.mark.parametrize("eps,N,kappa,delta,u", [
    (0.94, 40.0, 0.5, -2.0, 1.0),   # next to eps_c: dark and bright branches
    (1.3, 40.0, 0.5, -2.0, 1.0),
    (0.5, 5.0, 0.5, -2.0, 1.0),
    (1.6, 20.0, 2.0, 1.0, -0.5),    # blue detuning, negative u: Re x > 0
    (0.0, 10.0, 0.5, -2.0, 1.0),    # the vacuum: only the j = 0 term
])
def test_log_factorial_moments_against_mpmath(eps, N, kappa, delta, u):
    r"""log <a^dag^k a^k> = k log|xi|^2 - log|(x)_k|^2 + log 0F2(xb+k, x+k; 2|xi|^2)/0F2(xb, x; .)
    from mpmath's own hypergeometric function at 30 digits, for rows k far beyond the series
    peak: the sums stop early (once the rest is provably below e^-40 of each) and must still
    equal the full series to float64 rounding."""
    m = Kerr(eps=eps, N=N, kappa=kappa, delta=delta, u=u)
    ks = [0, 1, 2, 7, 60, 150, 299]
    lF = log_factorial_moments(m, 300, series_terms(m))
    with mp.workdps(30):
        E, U = mp.mpf(eps) * mp.sqrt(N), mp.mpf(u) / N
        xi = 2 * E / (1j * U)
        x = 2 * (1j * mp.mpf(delta) + kappa) / (1j * U)
        z = 2 * abs(xi) ** 2
        F0 = mp.re(mp.hyper([], [mp.conj(x), x], z))
        for k in ks:
            Fk = mp.re(mp.hyper([], [mp.conj(x) + k, x + k], z))
            ref = (k * mp.log(abs(xi) ** 2) if k else 0) - 2 * mp.log(abs(mp.rf(x, k))) \
                + mp.log(Fk / F0)
            assert abs(lF[k] - float(ref)) <= 1e-12 * max(1.0, abs(float(ref))), (k, lF[k], ref)


def test_tail_bound_is_an_upper_bound():
    """P(n >= M) from a converged NESS never exceeds the factorial-moment bound."""
    m = Kerr(eps=0.93, N=20.0)
    nmax = 120
    ss = kerr_steady_state(m, nmax)
    p = np.real(np.diag(np.asarray(ss.rho)))
    tail = np.cumsum(p[::-1])[::-1]
    Ms = np.arange(5, 100, 5)
    bound = tail_bound(m, Ms)
    # Far out the true populations are < 1e-19, but float64 resolves each one only to a few
    # ulps of the largest (|p_k| ~ 1e-16 of rounding, either sign, whichever LAPACK threading
    # ran the solve), so the tail sum of the nmax - M populations is resolved to
    # ~(nmax - M) x 4 eps: that is the floor of the comparison, not a fixed 1e-15.
    floor = (nmax - Ms) * 4 * np.finfo(float).eps
    assert np.all(tail[Ms] <= bound * (1 + 1e-9) + floor)
    assert bound[-1] < 1e-12


# --- the linear cavity (u -> 0) ------------------------------------------------------------------

@pytest.mark.parametrize("u", [0.0, 1e-9])
def test_linear_cavity_is_the_coherent_state(u):
    """u = 0: the NESS of a driven lossy cavity is the coherent state |alpha>,
    alpha = E/(kappa + i Delta), exactly; u = 1e-9 differs by O(u) (no 8.9 TB series)."""
    m = Kerr(eps=0.5, N=10.0, u=u)
    nmax = choose_nmax(m)
    ss = kerr_steady_state(m, nmax)
    alpha = complex(linear_cavity_limit(m))
    k = np.arange(nmax)
    from scipy.special import gammaln

    logc = (k * np.log(abs(alpha)) + 1j * k * np.angle(alpha) - 0.5 * gammaln(k + 1)
            - abs(alpha) ** 2 / 2)
    psi = np.exp(logc)
    np.testing.assert_allclose(np.asarray(ss.rho), np.outer(psi, psi.conj()), atol=1e-12 + 10 * u)
    assert not bool(ss.pinned) and bool(ss.resolvable)
    if u:
        return
    # with an explicit series length too (no series at u = 0: the coherent state's <n>)
    n, sd = photon_number_estimate(m, 4096)
    assert abs(n - abs(alpha) ** 2) <= 1e-9 * max(1.0, n) and abs(sd - abs(alpha)) <= 1e-6
    ss2 = kerr_steady_state(m, nmax, n_terms=4096, method="banded")
    np.testing.assert_allclose(np.asarray(ss2.rho), np.outer(psi, psi.conj()),
                               atol=1e-12 + 10 * u)


def test_bad_traced_parameters_name_the_parameter():
    f = jax.jit(lambda k: kerr_ness(Kerr(eps=0.5, N=5.0, kappa=k), 20).rho)
    with pytest.raises(Exception, match="kappa must be positive"):
        f(-1.0)
    g = jax.jit(lambda n: kerr_ness(Kerr(eps=0.5, N=n), 20).rho)
    with pytest.raises(Exception, match="N must be positive"):
        g(-2.0)
    for bad, name in (("abc", "eps"), (1 + 1j, "eps")):
        with pytest.raises(ValueError, match=name):
            Kerr(eps=bad, N=1.0)
