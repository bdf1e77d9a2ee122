"""Shared fixtures. Importing jaxent enables float64 before any test builds an array."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

import jaxent  # noqa: E402,F401

assert jax.config.jax_enable_x64


def fock_pp_gibbs(w1, w2, lam, T, nmax):
    """Independent reference: ``(a1, a2, rho)`` for two oscillators with position-position
    coupling, ``rho = exp(-H/T)/Z`` built in a truncated Fock space with QuTiP."""
    import pytest

    qutip = pytest.importorskip("qutip")
    a1 = qutip.tensor(qutip.destroy(nmax), qutip.qeye(nmax))
    a2 = qutip.tensor(qutip.qeye(nmax), qutip.destroy(nmax))
    H = w1 * a1.dag() * a1 + w2 * a2.dag() * a2 + lam * (a1 + a1.dag()) * (a2 + a2.dag())
    rho = (-H / T).expm()
    return a1, a2, rho / rho.tr()
