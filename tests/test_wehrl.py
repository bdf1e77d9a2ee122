"""Wehrl entropy terms [GFL20 Eqs. (4)-(10), GFL-quench Eqs. (18)-(25), (B6), (B7)]:
closed forms, exact identities, QuTiP steady states, transformations and bad input."""

import warnings
from math import lgamma

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qutip
from scipy.special import digamma

from jaxent.entropy.wehrl import (
    check_terms,
    entropy_rate,
    kerr_unitary_entropy_production,
    photon_loss_terms,
    unitary_entropy_production,
    wehrl_entropy,
)
from jaxent.phase_space.coherent import coherent_state
from jaxent.phase_space.grid import polar_grid
from jaxent.phase_space.husimi import husimi_polar
from jaxent.tolerances import GRID_NORM_TOL, POSITIVITY_TOL, STATE_TOL

# What a failed equinox.error_if raises at run time: EquinoxRuntimeError outside jax.jit
# (e.g. under a bare vmap/grad), JaxRuntimeError (XlaRuntimeError) under jax.jit.
RUNTIME_ERRORS = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)

KAPPA = 0.5


def kerr_H(N, eps, nmax, delta=-2.0, u=1.0, drive=True):
    """H = Delta a^dag a + (u/2N) a^dag^2 a^2 + i eps sqrt(N) (a^dag - a)   [GFL20 Eq. (11)]."""
    a = qutip.destroy(nmax)
    H = delta * a.dag() * a + u / (2 * N) * a.dag() ** 2 * a**2
    if drive:
        H += 1j * eps * np.sqrt(N) * (a.dag() - a)
    return H


def kerr_ness(N, eps, nmax):
    H = kerr_H(N, eps, nmax)
    rho = qutip.steadystate(H, [np.sqrt(2 * KAPPA) * qutip.destroy(nmax)])
    return rho.full(), H.full()


def lindblad_rhs(rho, H, kappa):
    """L rho = -i[H, rho] + 2 kappa (a rho a^dag - {a^dag a, rho}/2), in plain numpy."""
    a = qutip.destroy(rho.shape[0]).full()
    n = a.conj().T @ a
    return (-1j * (H @ rho - rho @ H)
            + 2 * kappa * (a @ rho @ a.conj().T - 0.5 * (n @ rho + rho @ n)))


@pytest.fixture(scope="module")
def grid40():
    return polar_grid(40)


def test_coherent_state_closed_forms(grid40):
    # Q = e^{-|mu-b|^2}/pi: S = ln(pi) + <|mu-b|^2> = 1 + ln(pi).
    # J = kappa <mu|a rho|mu>/pi = kappa b Q, so Pi_J = 2 kappa |b|^2 int Q = 2 kappa |b|^2 = Phi,
    # and J - kappa<a>Q = 0 gives Pi_d = 0.
    beta = 1.3 + 0.7j
    psi = coherent_state(beta, 40, normalize=True)
    rho = jnp.outer(psi, psi.conj())
    t = photon_loss_terms(rho, jnp.zeros((40, 40)), KAPPA, grid40)
    assert abs(float(t.S_wehrl) - (1 + np.log(np.pi))) < 1e-12
    assert abs(float(t.Pi_J) - 2 * KAPPA * abs(beta) ** 2) < 1e-12
    assert abs(float(t.Phi) - 2 * KAPPA * abs(beta) ** 2) < 1e-12
    assert abs(float(t.Pi_d)) < 1e-12 and abs(float(t.Phi_q)) < 1e-12
    # wehrl_entropy on its own
    assert abs(float(wehrl_entropy(husimi_polar(rho, grid40), grid40)) - 1 - np.log(np.pi)) < 1e-12


@pytest.mark.parametrize("nbar", [0.3, 2.0])
def test_thermal_state_closed_forms(nbar, grid40):
    # Q = e^{-|mu|^2/(nbar+1)} / (pi (nbar+1)): S = 1 + ln(pi (nbar+1)).
    # d_mubar Q = -mu Q/(nbar+1) so J = kappa mu Q nbar/(nbar+1) and
    # Pi_J = 2 kappa (nbar/(nbar+1))^2 <|mu|^2>_Q = 2 kappa nbar^2/(nbar+1);
    # Phi = 2 kappa nbar  =>  Pi_J - Phi = -2 kappa nbar/(nbar+1).
    p = (nbar / (nbar + 1)) ** np.arange(40)
    # truncation at 40 levels leaves (nbar/(nbar+1))^40 < 1e-7 for nbar = 2; renormalised
    p /= p.sum()
    rho = np.diag(p)
    nb = float(np.dot(np.arange(40), p))  # <n> of the truncated state
    t = photon_loss_terms(rho, np.zeros((40, 40)), KAPPA, grid40)
    if nbar < 1:  # here truncation is invisible (< 1e-20): compare with the infinite-space forms
        assert abs(float(t.S_wehrl) - (1 + np.log(np.pi * (nbar + 1)))) < 1e-12
        assert abs(float(t.Pi_J - t.Phi) + 2 * KAPPA * nbar / (nbar + 1)) < 1e-12
        assert abs(float(t.Pi_J) - 2 * KAPPA * nbar**2 / (nbar + 1)) < 1e-12
    else:  # truncated geometric state: the same forms hold only up to the ~1e-7 cut weight
        assert abs(float(t.Pi_J - t.Phi) + 2 * KAPPA * nb / (nb + 1)) < 1e-5
    assert abs(float(t.Pi_J - t.Pi_ext - t.Pi_d)) < 1e-12


@pytest.mark.parametrize("n", [0, 1, 4])
def test_fock_state_wehrl_entropy(n, grid40):
    # Q = e^{-r^2} r^{2n}/(pi n!),
    # so S = <r^2> - n <ln r^2> + ln(pi n!) = n + 1 - n psi(n+1) + ln(pi n!).
    rho = np.zeros((40, 40))
    rho[n, n] = 1.0
    S = float(wehrl_entropy(husimi_polar(rho, grid40), grid40))
    assert abs(S - (n + 1 - n * digamma(n + 1) + np.log(np.pi) + lgamma(n + 1))) < 1e-10


@pytest.mark.parametrize("N,eps,nmax", [(3, 0.933, 40), (5, 0.933, 40), (5, 0.5, 40),
                                        (4, 1.2, 40), (10, 0.933, 70)])
def test_kerr_ness_identities(N, eps, nmax):
    # NESS: dS/dt = 0 gives Pi_U + Pi_J = Phi, i.e. Pi_u + Pi_d = Phi_q  [GFL20 Eq. (10)].
    rho, H = kerr_ness(N, eps, nmax)
    assert abs(rho[-1, -1]) < 1e-12  # truncation invisible (needed for the closed form below)
    grid = polar_grid(nmax)
    t = photon_loss_terms(rho, H, KAPPA, grid)
    assert abs(float(t.Pi_U + t.Pi_J - t.Phi)) < 1e-8 * float(t.Phi)
    assert abs(float(t.Pi_U + t.Pi_d - t.Phi_q)) < 1e-8 * float(t.Phi_q)
    assert abs(float(t.Pi_J - t.Pi_ext - t.Pi_d)) < 1e-12 * float(t.Pi_J)
    assert float(t.Pi_d) > 0
    # Closed form of Pi_U for the Kerr term [GFL-quench Eq. (B7)] == exact commutator form.
    pk = float(kerr_unitary_entropy_production(rho, 1.0 / N, grid))
    assert abs(pk - float(t.Pi_U)) < 1e-9 * max(1.0, abs(pk))
    assert float(t.norm_error) < 1e-12 and float(t.edge_mass) < 1e-15


def test_non_steady_states_entropy_rate(grid40):
    # For any state: dS/dt = -int Q[L rho] ln Q = Pi_U + Pi_J - Phi; and dS/dt itself against a
    # central finite difference of S(rho + h L rho) (independent of the phase-space formulas).
    H = kerr_H(4, 0.8, 40).full()
    for seed in (1, 2):
        rho = qutip.rand_dm(40, seed=seed).full()
        t = photon_loss_terms(rho, H, KAPPA, grid40)
        drho = lindblad_rhs(rho, H, KAPPA)
        rate = float(entropy_rate(rho, drho, grid40))
        assert abs(rate - float(t.dS_dt)) < 1e-10 * float(t.Phi)
        assert abs(float(t.dS_dt - (t.Pi_U + t.Pi_J - t.Phi))) < 1e-8 * float(t.Phi)
        h = 1e-4
        S = lambda r: float(wehrl_entropy(husimi_polar(r, grid40), grid40))
        fd = (S(rho + h * drho) - S(rho - h * drho)) / (2 * h)
        assert abs(fd - rate) < 1e-6 * float(t.Phi)
        # Kerr closed form vs commutator: the drive term of a truncated H is not exact on a
        # state that fills the top level, so compare with the (diagonal, exact) undriven H.
        H0 = kerr_H(4, 0.0, 40, drive=False).full()
        assert abs(float(kerr_unitary_entropy_production(rho, 0.25, grid40))
                   - float(unitary_entropy_production(rho, H0, grid40))) < 1e-9


def _mixture(p, beta, nmax=20):
    """p |beta><beta| + (1-p) |-beta><-beta| (a phase-averaged 'cat' mixture), differentiable."""
    k1 = coherent_state(beta, nmax)
    k2 = coherent_state(-beta, nmax)
    return p * jnp.outer(k1, k1.conj()) + (1 - p) * jnp.outer(k2, k2.conj())


def test_jit_vmap_grad():
    nmax = 20
    g = polar_grid(nmax)
    H = jnp.asarray(kerr_H(2, 0.7, nmax).full())
    rhos = jnp.stack([_mixture(p, 1.1 + 0.3j) for p in (0.2, 0.5, 0.9)])
    f = jax.jit(jax.vmap(photon_loss_terms, in_axes=(0, None, None, None)))
    batch = f(rhos, H, KAPPA, g)
    for k in range(3):
        single = photon_loss_terms(rhos[k], H, KAPPA, g)
        for name in ("S_wehrl", "Pi_J", "Pi_d", "Pi_U", "dS_dt"):
            assert abs(float(getattr(batch, name)[k]) - float(getattr(single, name))) < 1e-13
    assert check_terms(batch) == []

    def pid(p, b):
        return photon_loss_terms(_mixture(p, b), H, KAPPA, g).Pi_d

    p0, b0 = 0.3, 1.1
    dp, db = jax.grad(pid, argnums=(0, 1))(p0, b0)
    h = 1e-5
    fd_p = (pid(p0 + h, b0) - pid(p0 - h, b0)) / (2 * h)
    fd_b = (pid(p0, b0 + h) - pid(p0, b0 - h)) / (2 * h)
    np.testing.assert_allclose(float(dp), float(fd_p), rtol=1e-7)
    np.testing.assert_allclose(float(db), float(fd_b), rtol=1e-7)
    # Pi_d of this mixture: J^v = kappa <mu|(a - <a>) rho|mu>/pi, nonzero unless p in {0, 1}
    assert float(pid(p0, b0)) > 0.1


def test_second_derivatives_finite_where_q_is_rounding_noise():
    """Far out on a large grid Q is rounding noise (+-1e-17 of its peak, often negative). The
    integrands treat it as zero to every order of derivative: forward-over-reverse second
    derivatives (Newton's curvature in jaxent.critical) were NaN there when the floor was
    float64's tiny, whose square and cube underflow, and carried ~1e-7 of noise while the floor
    was 1e-100 absolute (ln Q of values between 1e-100 and ~1e-26 of the peak: d2 Pi_U 1.5e-7
    where it is 2e-11; moving the grid's amplitudes by 1-2 ulps moved d2 dS_dt by 6e-5 of it).
    With the floor at 1e-20 of the peak: checked against central differences of the
    reverse-mode gradient (converged to 1e-12 from h = 3e-4 down to 3e-5); over four random
    1-2 ulp perturbations of the grid's former pair table the largest difference was 3.7e-10
    absolute, 6.5e-8 relative."""
    nmax, b0 = 64, 3.0
    g = polar_grid(nmax)
    H = jnp.asarray(kerr_H(8, 0.9, nmax).full())
    assert float(jnp.min(husimi_polar(_mixture(0.3, b0, nmax), g))) <= 0.0  # the case at hand

    def terms(b):
        t = photon_loss_terms(_mixture(0.3, b, nmax), H, KAPPA, g, check=False)
        return jnp.stack([t.S_wehrl, t.Pi_J, t.Pi_d, t.Pi_U, t.dS_dt])

    d2 = np.asarray(jax.jit(jax.jacfwd(jax.jacrev(terms)))(b0))
    assert np.all(np.isfinite(d2)), d2
    d1 = jax.jit(jax.jacrev(terms))
    h = 1e-4
    fd = np.asarray(d1(b0 + h) - d1(b0 - h)) / (2 * h)
    np.testing.assert_allclose(d2, fd, rtol=1e-6, atol=2e-9)


def test_bad_input_and_diagnostics(grid40):
    rho = np.eye(40) / 40
    H = np.zeros((40, 40))
    with pytest.raises(ValueError, match="rho"):
        photon_loss_terms(np.eye(40)[:, :39], H, KAPPA, grid40)
    with pytest.raises(ValueError, match="nmax"):
        photon_loss_terms(np.eye(30) / 30, np.zeros((30, 30)), KAPPA, grid40)
    bad = rho.copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="rho"):
        photon_loss_terms(bad, H, KAPPA, grid40)
    with pytest.raises(ValueError, match="^kappa"):
        photon_loss_terms(rho, H, -0.1, grid40)
    with pytest.raises(ValueError, match="H"):
        photon_loss_terms(rho, np.ones((40, 39)), KAPPA, grid40)
    # A grid that cuts the state off: warned at construction (radius) and in the result (edge).
    with pytest.warns(UserWarning, match="radius"):
        small = polar_grid(40, radius=4.0)
    with pytest.warns(UserWarning, match="outside the grid"):
        t = photon_loss_terms(rho, H, KAPPA, small)
    assert float(t.edge_mass) > 1e-3
    # A coarse grid: the integration-by-parts self-check flags it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coarse = polar_grid(40, n_r=30, n_theta=80)
    with pytest.warns(UserWarning, match="refine"):
        photon_loss_terms(qutip.rand_dm(40, seed=5).full(), H, KAPPA, coarse)


# ---- validation of the state and of kappa, eagerly and under jit (regressions) ----------------

def _valid_state(nmax=20):
    return _mixture(0.3, 1.1 + 0.3j, nmax)


def _non_psd(nmax=20):
    """Hermitian, trace 1, one eigenvalue -0.3."""
    return jnp.diag(jnp.zeros(nmax).at[0].set(1.3).at[1].set(-0.3)).astype(jnp.complex128)


def test_diagnostic_tol_is_the_project_grid_tolerance():
    from jaxent.entropy import wehrl
    assert wehrl.DIAGNOSTIC_TOL == GRID_NORM_TOL
    assert STATE_TOL == 1e-8 and POSITIVITY_TOL == 1e-8


def test_unnormalised_rho_rejected_eager_and_jit():
    # Was accepted silently: Pi_d of 2 rho came out ~2100x that of rho (not linear in rho).
    g = polar_grid(20)
    H = jnp.zeros((20, 20))
    rho = _valid_state()
    with pytest.raises(ValueError, match=r"^rho: trace is 2 \(must be 1 within 1e-08\); normalise"):
        photon_loss_terms(2 * rho, H, KAPPA, g)
    with pytest.raises(ValueError, match=r"^rho: trace is 1\.000001 "):
        photon_loss_terms((1 + 1e-6) * rho, H, KAPPA, g)
    photon_loss_terms((1 + 1e-10) * rho, H, KAPPA, g)  # within STATE_TOL: accepted
    f = jax.jit(lambda r: photon_loss_terms(r, H, KAPPA, g).Pi_d)
    with pytest.raises(RUNTIME_ERRORS, match=r"rho: trace is not 1 \(must be 1 within 1e-08\)"):
        jax.block_until_ready(f(2 * rho))
    fv = jax.vmap(lambda r: photon_loss_terms(r, H, KAPPA, g).Pi_d)
    with pytest.raises(RUNTIME_ERRORS, match="rho: trace is not 1"):
        jax.block_until_ready(fv(jnp.stack([rho, 2 * rho])))
    # check=False restores the old unchecked behaviour
    assert float(photon_loss_terms(2 * rho, H, KAPPA, g, check=False).Pi_d) > 0


def test_non_positive_rho_rejected_eager_and_jit():
    g = polar_grid(20)
    H = jnp.zeros((20, 20))
    bad = _non_psd()
    assert abs(float(jnp.trace(bad).real) - 1) < 1e-15
    with pytest.raises(ValueError,
                       match=r"^rho: not positive semidefinite \(smallest eigenvalue -0\.3"):
        photon_loss_terms(bad, H, KAPPA, g)
    with pytest.raises(RUNTIME_ERRORS, match="rho: not positive semidefinite"):
        jax.block_until_ready(jax.jit(lambda r: photon_loss_terms(r, H, KAPPA, g).Pi_d)(bad))
    # Rounding-level negative eigenvalues (relative 1e-12) pass.
    ok = _valid_state()
    lam, v = jnp.linalg.eigh(ok)
    ok2 = (v * lam.at[0].set(-1e-12 * lam[-1])) @ v.conj().T
    assert float(jnp.linalg.eigvalsh(ok2)[0]) < -5e-13
    photon_loss_terms(ok2 / jnp.trace(ok2).real, H, KAPPA, g)
    # A constant rho inside someone else's jit is checked at trace time (ValueError).
    with pytest.raises(ValueError, match="^rho: not positive semidefinite"):
        jax.jit(lambda k: photon_loss_terms(bad, H, k, g).Pi_d)(KAPPA)


def test_non_hermitian_and_nonfinite_rho_and_H():
    g = polar_grid(20)
    H = jnp.asarray(kerr_H(2, 0.7, 20).full())
    rho = _valid_state()
    skew = rho + 1e-3j * jnp.triu(jnp.ones((20, 20)), 1)
    with pytest.raises(ValueError, match="^rho: not Hermitian"):
        photon_loss_terms(skew, H, KAPPA, g)
    with pytest.raises(ValueError, match="^H: not Hermitian"):
        photon_loss_terms(rho, H + jnp.triu(jnp.ones((20, 20)), 1), KAPPA, g)
    with pytest.raises(ValueError, match="^H: contains NaN or inf"):
        photon_loss_terms(rho, H.at[2, 2].set(jnp.inf), KAPPA, g)
    jf = jax.jit(lambda r, h: photon_loss_terms(r, h, KAPPA, g).Pi_d)
    with pytest.raises(RUNTIME_ERRORS, match="rho: not Hermitian"):
        jax.block_until_ready(jf(skew, H))
    with pytest.raises(RUNTIME_ERRORS, match="rho: contains NaN or inf"):
        jax.block_until_ready(jf(rho.at[3, 3].set(jnp.nan), H))
    with pytest.raises(RUNTIME_ERRORS, match="H: contains NaN or inf"):
        jax.block_until_ready(jf(rho, H.at[2, 2].set(jnp.nan)))


@pytest.mark.parametrize("kappa", ["abc", 1 + 1j, np.complex128(0.5), True, [0.5], np.ones(2)])
def test_kappa_wrong_type_rejected(kappa):
    # "abc" used to raise a JAX-internal TypeError; complex was silently cast to its real part.
    g = polar_grid(20)
    with pytest.raises(ValueError, match="^kappa: must be a"):
        photon_loss_terms(_valid_state(), jnp.zeros((20, 20)), kappa, g)
    with pytest.raises(ValueError, match="^kappa: must be a"):  # static: also at trace time
        jax.jit(lambda r: photon_loss_terms(r, jnp.zeros((20, 20)), kappa, g).Pi_d)(_valid_state())


@pytest.mark.parametrize("kappa,msg", [(np.inf, "kappa: is infinite"), (np.nan, "kappa: is NaN"),
                                       (-1.0, "kappa: must be a loss rate > 0"),
                                       (0.0, "kappa: must be a loss rate > 0")])
def test_kappa_bad_value_rejected_eager_and_jit(kappa, msg):
    # kappa = inf used to be accepted (Pi_d = inf).
    g = polar_grid(20)
    rho, H = _valid_state(), jnp.zeros((20, 20))
    with pytest.raises(ValueError, match="^" + msg):
        photon_loss_terms(rho, H, kappa, g)
    with pytest.raises(ValueError, match="^" + msg):
        photon_loss_terms(rho, H, jnp.asarray(kappa), g)
    f = jax.jit(lambda k: photon_loss_terms(rho, H, k, g).Pi_d)
    with pytest.raises(RUNTIME_ERRORS, match=msg):
        jax.block_until_ready(f(kappa))
    # a bare grad w.r.t. kappa traces it too
    with pytest.raises(RUNTIME_ERRORS, match=msg):
        jax.grad(lambda k: photon_loss_terms(rho, H, k, g).Pi_J)(kappa)


def test_valid_state_same_numbers_under_jit_vmap_grad():
    nmax = 20
    g = polar_grid(nmax)
    H = jnp.asarray(kerr_H(2, 0.7, nmax).full())
    rho = _valid_state(nmax)
    names = ("S_wehrl", "Phi", "Pi_J", "Pi_d", "Pi_U", "dS_dt")
    eager = photon_loss_terms(rho, H, KAPPA, g)
    unchecked = photon_loss_terms(rho, H, KAPPA, g, check=False)
    jitted = jax.jit(lambda r, h, k: photon_loss_terms(r, h, k, g))(rho, H, KAPPA)
    vm = jax.vmap(photon_loss_terms, in_axes=(0, None, None, None))(jnp.stack([rho, rho]), H,
                                                                    KAPPA, g)
    vk = jax.jit(jax.vmap(lambda k: photon_loss_terms(rho, H, k, g)))(jnp.array([KAPPA, 2 * KAPPA]))
    for n in names:
        ref = float(getattr(eager, n))
        assert abs(float(getattr(unchecked, n)) - ref) < 1e-13
        assert abs(float(getattr(jitted, n)) - ref) < 1e-13
        assert np.all(np.abs(np.asarray(getattr(vm, n)) - ref) < 1e-13)
        assert abs(float(getattr(vk, n)[0]) - ref) < 1e-13
    # gradients: the checks (on stop_gradient values) do not enter them
    def pid(p, k, check):
        return photon_loss_terms(_mixture(p, 1.1 + 0.3j, nmax), H, k, g, check=check).Pi_d
    for fn in (jax.grad, lambda f, **kw: jax.jit(jax.grad(f, **kw))):
        gp, gk = fn(lambda p, k: pid(p, k, True), argnums=(0, 1))(0.3, KAPPA)
        gp0, gk0 = jax.grad(lambda p, k: pid(p, k, False), argnums=(0, 1))(0.3, KAPPA)
        assert abs(float(gp) - float(gp0)) < 1e-13 * max(1.0, abs(float(gp0)))
        assert abs(float(gk) - float(gk0)) < 1e-13 * max(1.0, abs(float(gk0)))
        assert np.isfinite(float(gp)) and abs(float(gk) - float(eager.Pi_d) / KAPPA) < 1e-12


def test_banded_hamiltonian_equals_dense_and_wrong_band_is_refused(grid40):
    # h_bandwidth = 1 applies the Kerr H by its three diagonals: the same terms as the dense
    # product, for a random (non-steady) state, eagerly and under jit
    H = kerr_H(4, 0.8, 40).full()
    rho = qutip.rand_dm(40, seed=3).full()
    dense = photon_loss_terms(rho, H, KAPPA, grid40)
    banded = photon_loss_terms(rho, H, KAPPA, grid40, h_bandwidth=1)
    jitted = jax.jit(lambda r: photon_loss_terms(r, H, KAPPA, grid40, h_bandwidth=1,
                                                 check=False))(rho)
    for t in (banded, jitted):
        for f in ("Pi_U", "dS_dt", "Pi_J", "S_wehrl", "ibp_error"):
            a, b = float(getattr(t, f)), float(getattr(dense, f))
            assert abs(a - b) <= 1e-13 * max(1.0, abs(b)), (f, a, b)
    assert abs(float(dense.Pi_U)) > 1e-3  # the unitary part is really exercised
    # a band that is too narrow (H has one off-diagonal) is refused, eagerly and under jit
    with pytest.raises(ValueError, match=r"^H: has entries beyond h_bandwidth=0"):
        photon_loss_terms(rho, H, KAPPA, grid40, h_bandwidth=0)
    with pytest.raises(Exception, match="H: has entries beyond h_bandwidth=0"):
        jax.jit(lambda h: photon_loss_terms(rho, h, KAPPA, grid40, h_bandwidth=0))(H)
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="^h_bandwidth: must be None or an integer >= 0"):
            photon_loss_terms(rho, H, KAPPA, grid40, h_bandwidth=bad)
    # a pentadiagonal H (a^2 + a^dag^2 squeezing term) at b = 2, and a band wider than the
    # matrix (the whole matrix) on a small space
    a = qutip.destroy(40)
    H2 = H + (0.3 * (a**2 + a.dag() ** 2)).full()
    ref = photon_loss_terms(rho, H2, KAPPA, grid40)
    for b in (2, 39, 45):
        t = photon_loss_terms(rho, H2, KAPPA, grid40, h_bandwidth=b)
        assert abs(float(t.Pi_U) - float(ref.Pi_U)) <= 1e-13 * abs(float(ref.Pi_U)), b
    with pytest.raises(ValueError, match="beyond h_bandwidth=1"):
        photon_loss_terms(rho, H2, KAPPA, grid40, h_bandwidth=1)


def test_a_non_finite_q_is_not_hidden_by_the_noise_floor():
    """The floor below which Q counts as zero is relative to the grid's peak: an infinite Q
    must not lift it above every value (the entropy was -0.0, a finite wrong number)."""
    g = polar_grid(8)
    Q = husimi_polar(_mixture(0.5, 1.0, 8), g)
    assert np.isfinite(float(wehrl_entropy(Q, g)))
    assert not np.isfinite(float(wehrl_entropy(Q.at[3, 5].set(jnp.inf), g)))
    assert not np.isfinite(float(wehrl_entropy(Q.at[3, 5].set(jnp.nan), g)))
