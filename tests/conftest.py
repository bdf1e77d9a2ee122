"""Shared fixtures. Importing jaxent enables float64 before any test builds an array."""

import os
import shutil
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# One XLA compilation cache per test run, kept apart from the user's ~/.cache/jaxent (the CLI
# tests enable the cache as well): tests that build the same program (same function, same
# static shapes) compile it once. The pytest process sets the path before it starts the xdist
# workers, which inherit it; a new run starts cold, like CI.
CACHE_DIR = os.environ.setdefault(
    "JAXENT_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"jaxent-tests-xla-{os.getpid()}"))

import jax  # noqa: E402

import jaxent  # noqa: E402,F401
from jaxent.sweep import enable_compilation_cache  # noqa: E402

assert jax.config.jax_enable_x64
enable_compilation_cache()


def pytest_sessionfinish(session, exitstatus):
    """The controller (not an xdist worker) removes the run's compilation cache."""
    if not hasattr(session.config, "workerinput") and "jaxent-tests-xla-" in CACHE_DIR:
        shutil.rmtree(CACHE_DIR, ignore_errors=True)


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
