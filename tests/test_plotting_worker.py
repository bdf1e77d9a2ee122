"""jaxent.plotting.worker: plotting calls handed to a second process, with the same result,
errors and warnings as in this one, and this process as the fallback."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from jaxent.plotting.kerr import plot_kerr_fig2
from jaxent.plotting.worker import FigureWorker, draw, figures_in_background


def _kerr_data():
    eps = np.linspace(0.5, 1.3, 9)
    data = {"N": [], "eps": [], "Pi_U": [], "Pi_d": []}
    for N in (10.0, 30.0):
        data["N"] += [N] * eps.size
        data["eps"] += list(eps)
        data["Pi_U"] += list(N * eps**2)
        data["Pi_d"] += list(np.sin(N * eps))
    return data


def test_draw_without_a_worker_runs_here():
    assert draw(os.getpid) == os.getpid()


def test_the_worker_draws_the_same_figure(tmp_path):
    import matplotlib.image

    here = plot_kerr_fig2(_kerr_data(), tmp_path / "here.png")
    with figures_in_background() as worker:
        assert worker is not None
        pid = draw(os.getpid)
        there = draw(plot_kerr_fig2, _kerr_data(), tmp_path / "there.png")
    assert pid != os.getpid()  # the call ran in the worker
    assert there == os.fspath(tmp_path / "there.png")
    np.testing.assert_array_equal(matplotlib.image.imread(here), matplotlib.image.imread(there))
    assert worker.proc.poll() is not None  # ended with the context


def test_errors_and_warnings_come_back():
    with figures_in_background() as worker:
        assert worker is not None
        with pytest.raises(ValueError, match="invalid literal"):
            draw(int, "not a number")
        with pytest.warns(UserWarning, match="from the worker"):
            assert draw(warnings.warn, "from the worker", UserWarning) is None
        assert draw(os.getpid) == worker.proc.pid  # still serving after both


def test_calls_that_need_jax_are_drawn_here_and_prints_do_not_break_the_pipe():
    """The worker never imports JAX: a call that needs it is drawn here, and the worker
    serves on; what a call prints does not reach the replies."""
    import jax.numpy as jnp

    with figures_in_background() as worker:
        assert worker is not None
        assert float(draw(jnp.sum, np.ones(3))) == 3.0  # computed here
        assert draw(print, "to stderr, not into the replies") is None
        assert draw(os.getpid) == worker.proc.pid


def test_a_dead_worker_or_an_unpicklable_call_falls_back_here():
    with figures_in_background() as worker:
        assert worker is not None
        assert draw(lambda: os.getpid()) == os.getpid()  # a lambda cannot be sent
        assert draw(os.getpid, *[], **{}) == worker.proc.pid
        lock = __import__("threading").Lock()
        assert draw(str, lock).startswith("<unlocked _thread.lock")  # nor a lock
        assert draw(os.getpid) == worker.proc.pid
        worker.proc.kill()
        worker.proc.wait()
        assert draw(os.getpid) == os.getpid()
        assert draw(os.getpid) == os.getpid()  # and stays here


def test_a_worker_that_cannot_start(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert FigureWorker.start() is None
    with figures_in_background() as worker:
        assert worker is None
        assert draw(os.getpid) == os.getpid()


def test_disabled():
    with figures_in_background(enabled=False) as worker:
        assert worker is None
        assert draw(os.getpid) == os.getpid()


def test_the_console_command_draws_in_the_worker(tmp_path, python_c):
    """The console command (no JAX imported yet) hands its figure to the worker: the figure is
    written, this process never imports matplotlib, and the worker is gone when it returns."""
    code = ("import sys\n"
            "from jaxent.cli import main\n"
            f"sys.argv = ['jaxent', 'kerr', '--N', '3', '--eps', '0.5', '0.7', '--out', "
            f"{str(tmp_path)!r}, '--no-progress']\n"
            "status = main()\n"
            "import os, glob\n"
            "tasks = glob.glob(f'/proc/{os.getpid()}/task/*/children')\n"
            "kids = ''.join(open(f).read() for f in tasks).strip()\n"
            "print(status, 'matplotlib' in sys.modules, 'jax' in sys.modules, repr(kids))\n")
    out = python_c(code, timeout=600)
    # and the worker has ended (no child process left; Linux's /proc lists them)
    assert out.splitlines()[-1] == "0 False True ''"
    assert (tmp_path / "kerr_fig2.png").stat().st_size > 10_000


def test_a_worker_that_never_gets_ready_is_not_waited_for(monkeypatch):
    """A worker stuck before its first line: the call is drawn here after READY_TIMEOUT."""
    import jaxent.plotting.worker as worker_mod

    monkeypatch.setattr(worker_mod, "READY_TIMEOUT", 0.5)
    stuck = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    worker = FigureWorker(stuck)
    try:
        assert worker.call(os.getpid, (), {}) == (False, None)
        assert stuck.poll() is not None  # and it was ended
    finally:
        worker.close()
