"""Fock operators against QuTiP and the canonical commutator."""

import numpy as np
import pytest
import qutip as qt

from jaxent.fock.operators import create, destroy, expect, identity, number


@pytest.mark.parametrize("nmax", [2, 7])
def test_match_qutip(nmax):
    assert np.allclose(destroy(nmax), qt.destroy(nmax).full(), atol=0, rtol=1e-15)
    assert np.allclose(create(nmax), qt.create(nmax).full(), atol=0, rtol=1e-15)
    assert np.allclose(number(nmax), qt.num(nmax).full(), atol=0, rtol=1e-15)
    assert np.allclose(identity(nmax), np.eye(nmax))
    assert destroy(nmax).dtype == np.complex128


def test_commutator_truncated():
    n = 9
    a, ad = destroy(n), create(n)
    comm = np.asarray(a @ ad - ad @ a)
    expected = np.eye(n)
    expected[-1, -1] = -(n - 1)  # truncation: a^dag |n-1> = 0
    assert np.allclose(comm, expected, atol=1e-13)
    assert np.allclose(ad @ a, number(n))


def test_expect():
    n = 6
    rho = qt.coherent_dm(n, 0.7 + 0.2j).full()
    assert np.isclose(expect(destroy(n), rho), qt.expect(qt.destroy(n), qt.Qobj(rho)), atol=1e-14)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "4"])
def test_bad_nmax(bad):
    with pytest.raises(ValueError, match="nmax"):
        destroy(bad)
