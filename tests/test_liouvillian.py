"""Dense Liouvillian against qutip.liouvillian; matrix-free action; input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qutip as qt

from jaxent.fock.liouvillian import apply_liouvillian, liouvillian, unvec, vec
from jaxent.fock.operators import create, destroy, number


def _random_system(n, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    H = A + A.conj().T
    cs = [rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)) for _ in range(2)]
    return H, cs


def test_vec_convention_matches_qutip():
    rho = np.arange(9.0).reshape(3, 3) + 1j
    assert np.array_equal(np.asarray(vec(rho)), qt.operator_to_vector(qt.Qobj(rho)).full().ravel())
    assert np.array_equal(np.asarray(unvec(vec(rho), 3)), rho)


def test_equals_qutip_random():
    H, cs = _random_system(5)
    L = liouvillian(H, cs)
    Lq = qt.liouvillian(qt.Qobj(H), [qt.Qobj(c) for c in cs]).full()
    assert np.abs(np.asarray(L) - Lq).max() < 1e-12


def test_equals_qutip_kerr():
    n, N, eps = 12, 5.0, 0.9
    a, ad = destroy(n), create(n)
    H = -2.0 * number(n) + 0.5 / N * ad @ ad @ a @ a + 1j * eps * np.sqrt(N) * (ad - a)
    L = liouvillian(H, [np.sqrt(1.0) * a])
    aq = qt.destroy(n)
    Hq = (-2.0 * aq.dag() * aq + 0.5 / N * aq.dag() ** 2 * aq**2
          + 1j * eps * np.sqrt(N) * (aq.dag() - aq))
    assert np.abs(np.asarray(L) - qt.liouvillian(Hq, [aq]).full()).max() < 1e-12


def test_matrix_free_and_trace_preserving():
    H, cs = _random_system(4, seed=1)
    rng = np.random.default_rng(2)
    rho = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    L = liouvillian(H, cs)
    out = apply_liouvillian(H, cs, rho)
    assert np.allclose(vec(out), L @ vec(rho), atol=1e-12)
    assert abs(np.trace(np.asarray(out))) < 1e-12  # tr L(rho) = 0 for any rho
    # stacked (k, n, n) c_ops and no c_ops are accepted
    assert np.allclose(liouvillian(H, jnp.stack(cs)), L)
    assert np.allclose(liouvillian(H, ()), -1j * (np.kron(np.eye(4), H) - np.kron(H.T, np.eye(4))))


def test_jit_vmap_grad():
    n = 4
    a = destroy(n)

    def f(g):
        H = g * (a + a.conj().T)
        return jnp.real(jnp.sum(jnp.abs(liouvillian(H, [a])) ** 2))

    gs = jnp.array([0.1, 0.5])
    assert jax.jit(jax.vmap(f))(gs).shape == (2,)
    g0, h = 0.3, 1e-6
    fd = (f(g0 + h) - f(g0 - h)) / (2 * h)
    assert np.isclose(jax.grad(f)(g0), fd, rtol=1e-7)


def test_bad_shapes():
    a = destroy(3)
    with pytest.raises(ValueError, match="H"):
        liouvillian(np.ones((3, 4)), [a])
    with pytest.raises(ValueError, match="H"):
        liouvillian(np.ones(3), [a])
    with pytest.raises(ValueError, match="c_ops"):
        liouvillian(np.eye(3), [destroy(4)])
    with pytest.raises(ValueError, match="c_ops"):
        liouvillian(np.eye(3), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="Hermitian"):
        liouvillian(np.array([[0, 1], [0, 0]]), [])
    with pytest.raises(ValueError, match="NaN"):
        liouvillian(np.array([[np.nan, 0], [0, 0]]), [])
    with pytest.raises(ValueError, match="rho"):
        apply_liouvillian(np.eye(3), [a], np.eye(2))
