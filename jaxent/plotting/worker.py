r"""Figures drawn by a second process that gets matplotlib ready while the command computes.

On the command line, matplotlib's import and its first figure (font files, the mathtext
parser, the Agg canvas) cost 1.0-1.3 s of a 7 s ``jaxent kerr --N 40`` sweep on the 2-core CI
machine, all of it on one core after the results are in. The sweep itself spends its first
seconds importing JAX and tracing on one core, which leaves the other idle. So the console
command starts a :class:`FigureWorker` first thing: a Python process that imports matplotlib
and draws a throw-away figure on that idle core, then waits. At the end the command hands it
each plotting call (:func:`draw`), which then costs what a second figure costs (0.4 s).

The worker never imports JAX (its import is blocked there): a plotting function that needs it
(one that computes curves, or arguments holding JAX arrays) is drawn in the command's own
process instead. Its imports come from the command's ``sys.path``, so it runs the same code.

Every plotting call stays an ordinary function of :mod:`jaxent.plotting` that a notebook or a
test calls directly. :func:`draw` runs it here when no worker is active (a library call, a
test, a process that had already imported JAX, where the worker would not start in parallel
with anything), and runs it here as well if the worker is gone or cannot take the call, so
the figure never depends on the worker. An exception raised by the plotting function itself
is raised here, and its warnings are re-issued here, as if it had run in this process.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import select
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import IO, Any

#: The worker's first line on stdout once matplotlib is loaded and warm.
READY = b"jaxent-figure-worker-ready\n"
#: Seconds the first call waits for :data:`READY` before drawing here instead (the warm-up
#: takes about 1 s; a worker stuck in it must not hang the command). A call itself has no
#: limit: it takes as long as the same call here would.
READY_TIMEOUT = 60.0
#: Largest message accepted (bytes): a corrupt length is an error, not an allocation.
MAX_MESSAGE = 1 << 30

_ACTIVE: list[FigureWorker] = []


class FigureWorker:
    """A process that draws figures for this one (module docstring). :meth:`start` it early;
    :meth:`call` runs a plotting function there; :meth:`close` ends it (it also ends by
    itself when this process exits, its stdin then being closed)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.ready = False  # READY read from its stdout

    @classmethod
    def start(cls) -> FigureWorker | None:
        """Start a worker (:func:`serve` in a new Python process), or ``None`` if it cannot
        be started. Returns at once: the worker gets ready in the background."""
        # this process's sys.path, not `python -m`'s (the current directory first): the worker
        # imports the same jaxent and matplotlib as the command
        boot = (f"import sys; sys.path[:] = {sys.path!r}; "
                "from jaxent.plotting.worker import serve; serve()")
        try:
            proc = subprocess.Popen([sys.executable, "-c", boot], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            return None
        return cls(proc)

    def call(self, func: Callable, args: tuple, kwargs: dict) -> tuple[bool, Any]:
        """Run ``func(*args, **kwargs)`` in the worker: ``(True, result)``, or ``(False,
        None)`` when the worker cannot take the call (dead, not started, a function it cannot
        import by name, arguments that cannot be sent, a call that needs JAX). The function's
        own exception is raised here; its warnings are re-issued here."""
        proc = self.proc
        if (proc.poll() is not None or proc.stdin is None or proc.stdout is None
                or _resolve(getattr(func, "__module__", None),
                            getattr(func, "__qualname__", "")) is not func):
            return False, None  # not a function the worker can import by name (a lambda)
        try:
            request = _frame((func.__module__, func.__qualname__, args, kwargs))
        except Exception:  # an argument that cannot be sent: this call is drawn here
            return False, None
        try:
            if not self.ready:  # waits for the warm-up to end (it started first)
                if not _readable(proc.stdout, READY_TIMEOUT) or proc.stdout.readline() != READY:
                    self.close()
                    return False, None
                self.ready = True
            proc.stdin.write(request)
            proc.stdin.flush()
            status, value, caught = pickle.loads(_read_frame(proc.stdout))
        except Exception:  # the worker is gone or spoke nonsense: no more calls to it
            self.close()
            return False, None
        for w in caught:
            warnings.warn_explicit(w[0], w[1], w[2], w[3])
        if status == "raised":
            raise value
        return status == "returned", value

    def close(self) -> None:
        """End the worker (idempotent)."""
        proc = self.proc
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        for f in (proc.stdin, proc.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


@contextlib.contextmanager
def figures_in_background(enabled: bool = True) -> Iterator[FigureWorker | None]:
    """Within this context, :func:`draw` hands plotting calls to a :class:`FigureWorker`
    started now (none if ``enabled`` is false or it cannot start); it is closed on exit."""
    worker = FigureWorker.start() if enabled else None
    if worker is None:
        yield None
        return
    _ACTIVE.append(worker)
    try:
        yield worker
    finally:
        _ACTIVE.remove(worker)
        worker.close()


def draw(func: Callable, *args, **kwargs):
    """``func(*args, **kwargs)`` (a plotting function that needs only numpy and matplotlib),
    run by the active :class:`FigureWorker` if there is one and it takes the call, else here."""
    if _ACTIVE:
        ok, value = _ACTIVE[-1].call(func, args, kwargs)
        if ok:
            return value
    return func(*args, **kwargs)


def _resolve(module: str | None, qualname: str):
    """The object named ``module``.``qualname`` (``None`` if there is none)."""
    try:
        obj: Any = importlib.import_module(module or "")
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError, TypeError):
        return None
    return obj


def _readable(stream: IO[bytes], timeout: float) -> bool:
    """Whether ``stream`` (a pipe) has data or EOF within ``timeout`` s (always true where
    pipes cannot be polled)."""
    try:
        return bool(select.select([stream], [], [], timeout)[0])
    except (OSError, ValueError, TypeError):
        return True


def _frame(obj) -> bytes:
    """``obj`` pickled, after its length (8 bytes): one message on a pipe."""
    data = pickle.dumps(obj)
    return len(data).to_bytes(8, "little") + data


def _read_frame(stream: IO[bytes]) -> bytes:
    """The pickled body of the next message of ``stream`` (``EOFError`` at its end)."""
    size = int.from_bytes(_read_exactly(stream, 8), "little")
    if size > MAX_MESSAGE:
        raise ValueError(f"figure worker message of {size} bytes")
    return _read_exactly(stream, size)


class _NeedsJax(ImportError):
    """Raised in the worker by an import of JAX (the call is drawn by the command)."""


class _BlockJax:
    """Meta-path finder of the worker: JAX is not imported there (module docstring)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("jax", "jaxlib"):
            raise _NeedsJax(f"{name} is not imported by the figure worker")
        return None


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise EOFError("figure worker closed its pipe")
    return data


def _warm_up() -> None:
    """Load what every figure needs: the Agg canvas, the default fonts at the sizes the
    figures use, the mathtext parser and a colormap (the first figure's extra cost)."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots(2, 2)
    cmap = matplotlib.colormaps.get_cmap("viridis")
    for i, a in enumerate(ax.flat):
        a.plot([0.0, 1.0], [0.0, 1.0], ".-", color=cmap(i / 3), ms=3, label="N = 1")
        a.set_xlabel(r"$N(\epsilon/\epsilon_c - 1)$")
        a.set_ylabel(r"$\Pi_d / N$")
        a.set_title("(a)", loc="left")
        a.legend(fontsize=7)
    fig.suptitle(r"warm-up ($\epsilon_c$)")
    fig.savefig(io.BytesIO(), format="png", dpi=30)


def serve() -> None:
    """The worker's main loop (run by :meth:`FigureWorker.start` in a new process): warm up,
    say :data:`READY`, then answer calls on stdin until it closes. Whatever a plotting call
    prints goes to stderr, so that stdout carries only the replies."""
    # Ctrl-C reaches this process too (same process group): end at once, silently
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.meta_path.insert(0, _BlockJax())
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    requests = sys.stdin.buffer
    _warm_up()
    replies.write(READY)
    replies.flush()
    while True:
        try:
            body = _read_frame(requests)
        except EOFError:  # the command closed the pipe or exited
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                module, qualname, args, kwargs = pickle.loads(body)
                func = _resolve(module, qualname)
                if func is None:  # the command calls it itself
                    raise _NeedsJax(f"{module}.{qualname} is not importable here")
                reply = ("returned", func(*args, **kwargs))
            except _NeedsJax:
                reply = ("unavailable", None)
            except Exception as exc:  # raised again in the command (FigureWorker.call)
                reply = ("raised", exc)
        ws = [(w.message, w.category, w.filename, w.lineno) for w in caught]
        try:
            replies.write(_frame((*reply, ws)))
            replies.flush()
        except Exception:  # an unpicklable result or exception: the command draws it itself
            return


if __name__ == "__main__":
    serve()
