"""Husimi Q / Bargmann transforms against qutip.qfunc, normalisation, Bargmann identity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qutip

from jaxent.phase_space.grid import polar_grid, square_points
from jaxent.phase_space.husimi import (
    annihilation_polar,
    bargmann_harmonics,
    bargmann_points,
    bargmann_polar,
    husimi_points,
    husimi_polar,
)


def kerr_ness(N, eps, nmax, kappa=0.5, delta=-2.0, u=1.0):
    a = qutip.destroy(nmax)
    H = (delta * a.dag() * a + u / (2 * N) * a.dag() ** 2 * a**2
         + 1j * eps * np.sqrt(N) * (a.dag() - a))
    return qutip.steadystate(H, [np.sqrt(2 * kappa) * a]).full()


STATES = {
    "random": lambda: qutip.rand_dm(15, seed=7).full(),
    "kerr_ness": lambda: kerr_ness(5, 0.933, 30),
}


@pytest.mark.parametrize("name", list(STATES))
def test_matches_qutip_qfunc(name):
    rho = STATES[name]()
    nmax = rho.shape[0]
    # qutip.qfunc with g=2 evaluates <alpha|rho|alpha>/pi at alpha = x + i y.
    x = np.linspace(-5, 5, 23)
    y = np.linspace(-4, 6, 19)
    ref = qutip.qfunc(qutip.Qobj(rho), x, y, g=2)
    got = np.asarray(husimi_points(rho, square_points(x, y)))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13)
    # Polar FFT grid: against qfunc at a sample of grid points, and against the point
    # evaluator everywhere.
    g = polar_grid(nmax)
    Q = np.asarray(husimi_polar(rho, g))
    mu = np.asarray(g.points())
    for i, k in [(3, 0), (10, 17), (25, g.n_theta // 3), (40, g.n_theta - 1), (g.n_r - 30, 5)]:
        q = qutip.qfunc(qutip.Qobj(rho), [mu[i, k].real], [mu[i, k].imag], g=2)[0, 0]
        assert abs(Q[i, k] - q) < 1e-13
    np.testing.assert_allclose(Q, np.asarray(husimi_points(rho, mu)), rtol=0, atol=1e-13)
    # normalisation on the polar grid
    assert abs(float(g.integrate(Q)) - 1.0) < 1e-12


def test_fock_states_normalised_and_nonhermitian_transform():
    nmax = 40
    g = polar_grid(nmax)
    fock = jnp.stack([jnp.zeros((nmax, nmax)).at[n, n].set(1.0) for n in (0, 1, 20, 39)])
    norms = g.integrate(husimi_polar(fock, g))  # stacked input
    np.testing.assert_allclose(np.asarray(norms), 1.0, rtol=0, atol=1e-12)
    # Non-Hermitian X: polar FFT route == point route, and int <mu|X|mu> d^2mu/pi = Tr X.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(nmax, nmax)) + 1j * rng.normal(size=(nmax, nmax))
    X *= np.exp(-0.2 * np.add.outer(np.arange(nmax), np.arange(nmax)))
    F = bargmann_polar(X, g)
    np.testing.assert_allclose(np.asarray(F), np.asarray(bargmann_points(X, g.points())),
                               rtol=0, atol=1e-13)
    assert abs(complex(g.integrate(F)) - np.trace(X)) < 1e-12
    # Hermitian X: half the harmonics and a real FFT give the same (real) transform
    Xh = X + X.conj().T
    Fh = bargmann_polar(jnp.stack([Xh, 2 * Xh]), g, hermitian=True)
    assert Fh.dtype == jnp.float64
    ref = np.asarray(bargmann_points(Xh, g.points()))
    np.testing.assert_allclose(np.asarray(Fh[0]), ref.real, rtol=0, atol=1e-13)
    np.testing.assert_allclose(np.asarray(Fh[1]), 2 * ref.real, rtol=0, atol=2e-13)
    assert np.abs(ref.imag).max() < 1e-13


@pytest.mark.parametrize("nmax", [1, 2, 3, 7, 29])
def test_polar_transform_keeps_every_fock_term(nmax):
    # The contraction runs over blocks of harmonics and only the Fock range each touches
    # (grid.block_runs): an undamped random X (weight up to the top level, every diagonal),
    # against the point-by-point sum, for sizes with fewer harmonics than a block too. Tolerance:
    # both routes sum ~nmax^2 rounded terms (9e-15 of the largest value apart at nmax = 29);
    # a dropped Fock term is an O(1e-2) error.
    tol = 5e-14
    rng = np.random.default_rng(nmax)
    X = rng.normal(size=(nmax, nmax)) + 1j * rng.normal(size=(nmax, nmax))
    g = polar_grid(nmax)
    ref = np.asarray(bargmann_points(X, g.points()))
    scale = np.abs(ref).max()
    np.testing.assert_allclose(np.asarray(bargmann_polar(X, g)), ref, rtol=0, atol=tol * scale)
    Xh = X + X.conj().T
    refh = np.asarray(bargmann_points(Xh, g.points())).real
    np.testing.assert_allclose(np.asarray(bargmann_polar(Xh, g, hermitian=True)), refh, rtol=0,
                               atol=tol * np.abs(refh).max())
    # <mu|a X|mu> from the Hermitian harmonics of X and {N, X} (annihilation_polar) equals the
    # direct transform of a X, point by point
    k = np.arange(nmax)
    a = np.diag(np.sqrt(k[1:]), 1)
    refa = np.asarray(bargmann_points(a @ Xh, g.points()))
    harm = bargmann_harmonics(jnp.stack([Xh, (k[:, None] + k[None, :]) * Xh]), g, hermitian=True)
    np.testing.assert_allclose(np.asarray(annihilation_polar(harm[0], harm[1], g)), refa,
                               rtol=0, atol=tol * max(np.abs(refa).max(), 1.0))
    if nmax > 1:
        assert np.abs(refa).max() > 1e-3  # a X is not zero: the check compares something


@pytest.mark.parametrize("nmax", [33, 70, 161, 200])
def test_factored_transform_over_several_blocks(nmax):
    # Sizes past one block of harmonics (BLOCK = 32), one block per run (161: 6 blocks, 6 runs)
    # and runs of several blocks (200: 7 blocks in 6 runs): the factored tables (band x ladder
    # x r^e) against the direct sum
    # sum_{m,n} X_mn C_m C_n e^{-i(m-n) theta} at every 5th radius and 7th angle (the whole
    # grid at nmax = 200 would be 5e9 products). X is random with every diagonal and a
    # state-like decay e^{-(m+n)/nmax}, so that the top levels still weigh ~e^-2.
    from jaxent.phase_space.grid import BLOCK, block_runs

    assert len(block_runs(nmax)) == min(6, -(-nmax // BLOCK))
    rng = np.random.default_rng(nmax)
    k = np.arange(nmax)
    X = (rng.normal(size=(nmax, nmax)) + 1j * rng.normal(size=(nmax, nmax))) \
        * np.exp(-(k[:, None] + k[None, :]) / nmax)
    g = polar_grid(nmax)
    pts = np.asarray(g.points())[::5, ::7]
    ref = np.asarray(bargmann_points(X, pts))
    got = np.asarray(bargmann_polar(X, g))[::5, ::7]
    # both routes round ~nmax^2 terms of log-space amplitudes: against 40-digit mpmath sums at
    # the three largest disagreements at nmax = 200 the factored route was off by <= 2.0e-14
    # of the largest value, the point-by-point sum by <= 3.4e-14 (a lost term: ~1e-2)
    tol = 1e-13
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol * np.abs(ref).max())
    Xh = X + X.conj().T
    refh = np.asarray(bargmann_points(Xh, pts)).real
    goth = np.asarray(bargmann_polar(Xh, g, hermitian=True))[::5, ::7]
    np.testing.assert_allclose(goth, refh, rtol=0, atol=tol * np.abs(refh).max())
    # and where the values are small, relative to the Fock terms that make them: the far edge
    # of the disc, where r^e of the factored form is largest. Against 40-digit mpmath sums at
    # r = 12.4 and 12.9 (nmax = 70) both routes were off by up to 3e-14 (factored) and 5e-14
    # (point by point) of the sum of |terms|: the rounding of the log-space amplitudes C_n
    # that both use. A lost or underflowed term would be O(1) of it.
    edge = np.abs(pts) > 0.8 * g.radius
    # sum of |terms|: |X| at the real point |mu| (C_n >= 0, no phases)
    terms = np.asarray(bargmann_points(np.abs(Xh), np.abs(pts))).real
    assert np.all(np.abs(goth - refh)[edge] <= 2e-13 * terms[edge] + 1e-300)


@pytest.mark.parametrize("nmax", [257, 600])
def test_factored_tables_equal_the_amplitude_products(nmax):
    # band x ladder x r^e = C_{n+d} C_n for every harmonic d >= 0 (runs of 2 blocks at 257, of
    # 3-4 at 600), against the products of the grid's amplitudes, wherever those are above
    # 1e-200 (below ~1e-270 the factored form may underflow: nothing there weighs). Both sides
    # carry the rounding of the log-space amplitudes C_n, eps x |log C_n| <~ 4.5e-13 each at
    # nmax = 600 (against mpmath the worst entry was off by 5.2e-13 factored, 3.7e-13 direct);
    # a wrong ladder or r^e factor is O(1)
    from jaxent.phase_space.grid import BLOCK, block_runs

    g = polar_grid(nmax)
    amp, ladder, rpow = (np.asarray(x) for x in (g.amp, g.ladder, g.rpow))
    assert len(g.band) == len(block_runs(nmax)) == 6
    assert any(b - a > 1 for a, b in block_runs(nmax))
    for band, (a, b) in zip(g.band, block_runs(nmax)):
        band = np.asarray(band)
        hi = band.shape[-1]
        assert hi == nmax - BLOCK * a
        for j, blk in enumerate(range(a, b)):
            for e in (0, 1, BLOCK // 2, BLOCK - 1):
                d = BLOCK * blk + e
                if d >= nmax:
                    continue
                n = np.arange(hi)
                direct = np.where(n + d < nmax,
                                  amp[:, np.minimum(n + d, nmax - 1)] * amp[:, :hi], 0.0)
                factored = band[j] * ladder[:hi, d][None, :] * rpow[:, e][:, None]
                big = direct > 1e-200
                np.testing.assert_allclose(factored[big], direct[big], rtol=2e-12, atol=0)
                assert np.all(np.abs(factored[~big]) <= 1e-199)


def test_bargmann_identity_against_autodiff():
    # d Q / d mubar = -mu Q + <mu|a rho|mu>/pi  [GFL20 Eq. (B3)]; the left side by autodiff of the
    # point evaluator (Wirtinger derivative (d_x + i d_y)/2), independent of the identity.
    rho = qutip.rand_dm(12, seed=3).full()
    a = qutip.destroy(12).full()
    for mu in [0.3 + 0.2j, -1.1 + 0.7j, 2.0 - 1.5j]:
        Qxy = lambda x, y: husimi_points(rho, x + 1j * y)
        dx, dy = jax.grad(Qxy, argnums=(0, 1))(mu.real, mu.imag)
        lhs = 0.5 * (dx + 1j * dy)
        rhs = -mu * husimi_points(rho, mu) + bargmann_points(a @ rho, mu)
        assert abs(complex(lhs) - complex(rhs)) < 1e-14


def test_vmap_jit_and_bad_input():
    g = polar_grid(8)
    rhos = jnp.stack([jnp.asarray(qutip.rand_dm(8, seed=s).full()) for s in range(3)])
    batched = jax.jit(jax.vmap(husimi_polar, in_axes=(0, None)))(rhos, g)
    for k in range(3):
        np.testing.assert_allclose(np.asarray(batched[k]), np.asarray(husimi_polar(rhos[k], g)),
                                   rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="square"):
        husimi_polar(jnp.zeros((8, 7)), g)
    with pytest.raises(ValueError, match="nmax"):
        husimi_polar(jnp.eye(9) / 9, g)
