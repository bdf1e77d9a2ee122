"""Shared fixtures. Importing jaxent enables float64 before any test builds an array."""

import os
import shutil
import subprocess
import sys
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
# One OpenBLAS thread per test process (jaxlib's CPU LAPACK calls go to scipy's OpenBLAS).
# OpenBLAS threads busy-wait between calls: two xdist workers (plus a notebook kernel) on CI's
# two cores, each with its own spinning pool next to XLA's threads, ran the fit tests 4-7x
# slower than alone (test_fit.py: 58 s alone, 383 s beside one notebook); with one thread, two
# concurrent copies of a fit test take 65 s against 191 s. The xdist workers, the notebook
# kernels and the CLI subprocesses start with it; in this (main) process a pytest plugin may
# have loaded numpy's own OpenBLAS first, but scipy's, which jaxlib calls, is loaded later.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The tests' programs are compiled with LLVM's optimisation passes off (XLA's own HLO
# optimisations, fusion included, still run). Most of the suite's time is XLA compilation of
# programs that run once: at level 0 a Kerr point compiles in 1.3 s instead of 2.9 s and runs
# 1.5-2x slower (test_husimi.py + test_wehrl.py: 168 -> 117 s). The arithmetic is the same:
# test_package.py checks that a Kerr point and its gradient agree to rounding with a process
# at the default level, which the commands and benchmarks use. Inherited by the xdist
# workers, the notebook kernels and the CLI subprocesses; a level given in XLA_FLAGS is kept.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()
# One XLA compilation cache per test run, kept apart from the user's ~/.cache/jaxent or
# JAXENT_CACHE_DIR (the CLI tests enable the cache as well): tests that build the same program
# (same function, same static shapes) compile it once, and a new run starts cold, like CI. The
# pytest process creates the folder before it starts the xdist workers, which inherit it and
# recognise it by their parent's pid; only that process removes it.
if os.environ.get("JAXENT_TEST_CACHE_OWNER") == str(os.getppid()):  # an xdist worker
    OWNS_CACHE = False
else:
    os.environ["JAXENT_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxent-tests-xla-")
    os.environ["JAXENT_TEST_CACHE_OWNER"] = str(os.getpid())
    OWNS_CACHE = True
CACHE_DIR = os.environ["JAXENT_CACHE_DIR"]

# The jaxtyping annotations (shapes, dtypes) of jaxent are checked on every call in the tests:
# the import hook decorates the package's functions and classes as they are imported, so it
# is installed before jaxent is (the checker: tests/_jaxtyping_check.py, on sys.path here).
import _jaxtyping_check  # noqa: E402,F401
import jax  # noqa: E402
import jaxtyping  # noqa: E402
import pytest  # noqa: E402

jaxtyping.install_import_hook(["jaxent"], "_jaxtyping_check.check_arrays")

import jaxent  # noqa: E402,F401
from jaxent.sweep import enable_compilation_cache  # noqa: E402

assert jax.config.jax_enable_x64
enable_compilation_cache()
# ... and every program of the test processes goes into it, not only those that took 0.5 s to
# compile (the commands' threshold): at optimisation level 0 most compile faster than that, and
# the two workers, and tests in different files, build many of the same programs.
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@pytest.fixture
def python_c():
    """``python_c(code, env=None, timeout=120)``: run ``python -c code`` in a new interpreter
    (this one's) and return its stdout; a non-zero exit fails the test with its stderr's end."""

    def run(code: str, env: dict | None = None, timeout: float = 120) -> str:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=timeout)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    return run


@pytest.fixture
def xla_compilations():
    """A function returning the number of XLA programs this test has had compiled since the
    fixture was set up: built by XLA, or read from the persistent compilation cache (which the
    test processes use; a program found in the process's own jit caches counts nothing)."""
    count = [0]

    def on_duration(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            count[0] += 1

    def on_event(event, **kwargs):
        if event == "/jax/compilation_cache/cache_hits":
            count[0] += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    yield lambda: count[0]
    jax.monitoring.unregister_event_duration_listener(on_duration)
    jax.monitoring.unregister_event_listener(on_event)


def pytest_sessionfinish(session, exitstatus):
    """The process that created the run's compilation cache removes it."""
    if OWNS_CACHE:
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


#: The slowest test files (minutes each, measured), scheduled first: the xdist workers take
#: files in collection order, and a long file collected last leaves one worker idle while the
#: other finishes it (longest-first scheduling).
SLOW_FILES = ("test_notebooks.py", "test_fit.py", "test_critical.py", "test_kerr.py",
              "test_evolution.py", "test_dissection.py")


def pytest_collection_modifyitems(session, config, items):
    """Slow files first; the order within each file and among the others is kept."""
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
