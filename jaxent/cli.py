"""The ``jaxent`` command line: ``jaxent <model> [options] --out DIR``.

Each sub-command lives in :mod:`jaxent.commands` and writes a tidy CSV plus the paper's
figures into ``--out``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import re
import signal
import sys
import warnings

# Sub-command name -> module in jaxent.commands (imported lazily so `jaxent kerr` does not
# pay for importing the Gaussian machinery and vice versa).
COMMANDS = {
    "kerr": "jaxent.commands.kerr",
    "dicke": "jaxent.commands.dicke",
    "chain": "jaxent.commands.chain",
    "oscillators": "jaxent.commands.oscillators",
    "quench": "jaxent.commands.quench",
    "spectrum": "jaxent.commands.spectrum",
    "critical": "jaxent.commands.critical",
    "fit": "jaxent.commands.fit",
}


class HelpFormatter(argparse.HelpFormatter):
    """Help text that shows each flag's default (unless its help already says it)."""

    def _get_help_string(self, action):
        help = action.help or ""
        default = action.default
        if ("default" in help.lower() or default in (None, False, argparse.SUPPRESS)
                or default == [] or action.option_strings == []):
            return help
        if isinstance(default, (list, tuple)):
            default = " ".join(str(d) for d in default)
        return f"{help} (default: {default})"


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` for jaxent's commands.

    - A token that starts with ``-`` and a digit is a value, not a flag, so negative numbers
      in any notation (``--gamma -1e-3``, ``--delta -2``, ``--eps -1:1:5``) are read as values.
      (argparse's own rule only knows ``-2`` and ``-.5``, and misread ``-1e-3`` as a flag.)
    - Help shows defaults (:class:`HelpFormatter`).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?[0-9]")


class _VersionAction(argparse.Action):
    """``--version``: imports jaxent only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0,
                         help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        import jaxent

        print(f"jaxent {jaxent.__version__}")
        parser.exit()


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and each sub-command's own parser (for its usage line in errors)."""
    parser = Parser(prog="jaxent", description=(__doc__ or "jaxent").splitlines()[0])
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True)
    subparsers = {}
    for name, modname in COMMANDS.items():
        importlib.import_module(modname).add_parser(sub)
        subparsers[name] = sub.choices[name]
        subparsers[name].description = _plain(subparsers[name].description)
    return parser, subparsers


def _plain(doc: str | None) -> str | None:
    """A module docstring as ``--help`` text: reST roles and literals as plain words
    (``:mod:`jaxent.x``` and double-backquoted literals print as ``jaxent.x``)."""
    if doc is None:
        return None
    doc = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", doc)
    return doc.replace("``", "")


def build_parser() -> argparse.ArgumentParser:
    return _build()[0]


def _remove_if_empty(out: str | None, created: bool) -> None:
    """A refused command leaves no empty output folder behind: the commands create ``--out``
    before their parameters are checked against each other (``os.rmdir`` removes only an empty
    folder, and only one this run created)."""
    if created and out is not None:
        try:
            os.rmdir(out)
        except OSError:
            pass


def _one_line(msg: str) -> str:
    return " ".join(part.strip() for part in str(msg).splitlines() if part.strip())


def _os_error_message(exc: OSError, out: str | None = None) -> str:
    """One line for an operating-system error; ``--out: `` first when it is about making the
    output folder ``out`` (the folder itself or a folder above it; a file inside it may be an
    input, e.g. ``jaxent fit --data res/kerr.csv --out res``, and is named by its path)."""
    msg = exc.strerror or str(exc)
    name = exc.filename
    if out and isinstance(name, (str, bytes, os.PathLike)) and _at_or_above(os.fsdecode(name),
                                                                             out):
        msg = "--out: " + msg
    if exc.filename is not None:
        msg += f": {exc.filename}"
        if exc.filename2 is not None:
            msg += f" -> {exc.filename2}"
    return _one_line(msg)


def _at_or_above(name: str, out: str) -> bool:
    a, b = os.path.abspath(name), os.path.abspath(out)
    return a == b or b.startswith(a.rstrip(os.sep) + os.sep)


def _format_warning(prog: str):
    """``warnings.formatwarning`` for the command line: one line, ``PROG: warning: MESSAGE``,
    without the line of jaxent's source that Python repeats by default. (Only the format is
    replaced, so a caller recording warnings, e.g. pytest, still sees them.)"""

    def fmt(message, category, filename, lineno, line=None):
        return f"{prog}: warning: {_one_line(message)}\n"

    return fmt


class _DropOnClosedPipe:
    """``sys.stdout`` of the console command: once the reader has closed the pipe
    (``jaxent kerr ... | head``), further output goes to ``os.devnull`` instead of raising
    ``BrokenPipeError``, so the command still finishes its work (rows, figures, result files)
    and exits 0. Everything else is the wrapped stream's."""

    def __init__(self, stream):
        self._stream = stream

    def _drop(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # buffered text now flushes into devnull
        os.close(devnull)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._drop()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._drop()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _drop_output_on_closed_pipe() -> None:
    if sys.stdout is not None and not isinstance(sys.stdout, _DropOnClosedPipe):
        sys.stdout = _DropOnClosedPipe(sys.stdout)


#: Set by the console command's Ctrl-C (:func:`_on_sigint`), in case its exception is lost.
_INTERRUPTED = False


def _on_sigint(signum, frame):
    """The console command's Ctrl-C: a ``KeyboardInterrupt``, and it is recorded as well, in
    case Python swallows the exception in a garbage collector callback (e.g. JAX's while it is
    imported): :func:`main` checks :data:`_INTERRUPTED` once the command is loaded, and a
    running sweep is told (:func:`jaxent.sweep.interrupt_sweeps`)."""
    global _INTERRUPTED
    _INTERRUPTED = True
    # not loaded (or still loading): no sweep is running
    tell = getattr(sys.modules.get("jaxent.sweep"), "interrupt_sweeps", None)
    if tell is not None:
        tell()
    raise KeyboardInterrupt


def _quiet_interrupts(hook):
    """``sys.unraisablehook`` that says nothing of a swallowed ``KeyboardInterrupt`` (Python's
    "Exception ignored in ... _xla_gc_callback" and its traceback): :func:`_on_sigint` has told
    the sweep already, which stops and says what it saved."""
    def quiet(unraisable):
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            return
        hook(unraisable)
    return quiet


def main(argv: list[str] | None = None) -> int:
    """Run ``jaxent <command> ...``. Errors are one line on stderr, no traceback: bad input or
    unusable output (``ValueError``, including :class:`jaxent.io.StorageError`) and operating
    system errors (``OSError``) exit with status 2; Ctrl-C exits with status 130 (re-running
    the same command resumes)."""
    global _INTERRUPTED
    module = None
    if argv is None:  # the console script
        _drop_output_on_closed_pipe()
    try:
        parser, subparsers = _build()
        args, extra = parser.parse_known_args(argv)
        sub = subparsers[args.command]
        if extra:  # the sub-command's usage line, not the top level's
            sub.error(f"unrecognized arguments: {' '.join(extra)}")
        out = getattr(args, "out", None)
        if isinstance(out, str) and not out.strip():
            sub.error(f"--out: must name a folder, got {out!r}")
        if argv is None:  # before JAX is imported: a Ctrl-C from here on is handled below
            _INTERRUPTED = False
            signal.signal(signal.SIGINT, _on_sigint)
            sys.unraisablehook = _quiet_interrupts(sys.unraisablehook)
        from jaxent.plotting.worker import figures_in_background

        # A console command that has still to import JAX gets matplotlib ready in a second
        # process meanwhile (jaxent.plotting.worker); in a process that has JAX already (a
        # test, a notebook) the figures are drawn here.
        with figures_in_background(argv is None and "jax" not in sys.modules):
            module = importlib.import_module(COMMANDS[args.command])
            from jaxent.sweep import enable_compilation_cache

            if argv is None and _INTERRUPTED:  # a Ctrl-C whose exception the imports swallowed
                _INTERRUPTED = False
                raise KeyboardInterrupt

            enable_compilation_cache()  # a repeated command does not compile again
            new_out = isinstance(out, str) and not os.path.lexists(out)
            try:
                fmt, warnings.formatwarning = warnings.formatwarning, _format_warning(sub.prog)
                try:
                    module.run(args)
                finally:
                    warnings.formatwarning = fmt
            except (ValueError, argparse.ArgumentTypeError, MemoryError) as exc:
                _remove_if_empty(out, new_out)
                sub.error(_one_line(str(exc)))
            except OSError as exc:
                _remove_if_empty(out, new_out)
                sys.stdout.flush()
                sub.exit(2, f"{sub.prog}: error: {_os_error_message(exc, out)}\n")
    except KeyboardInterrupt as exc:
        if argv is None:  # a second Ctrl-C must not cut the message or the exit below
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout.flush()
        # a command that writes its results only when it completes says so (INTERRUPTED); a
        # sweep says what it saved (jaxent.sweep.SweepInterrupted)
        note = getattr(module, "INTERRUPTED", "re-run the same command to resume (rows "
                                               "already written are kept)")
        sweep = sys.modules.get("jaxent.sweep")  # loaded by every command that sweeps
        if sweep is not None and isinstance(exc, sweep.SweepInterrupted):
            note = f"{exc}; re-run the same command to resume"
        sys.stderr.write(f"interrupted: {note}\n")
        if argv is None:
            # Every file is closed by now (the sweep's store left its `with`). An XLA
            # compilation cut by the Ctrl-C can still be running on XLA's threads, and
            # Python's teardown then aborted 1 time in 4 after this message ("pure virtual
            # method called", SIGABRT instead of 130): the console command leaves without it.
            sys.stderr.flush()
            try:
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
            os._exit(130)
        sys.exit(130)
    if argv is None:  # the console script: a Ctrl-C during interpreter shutdown is not an error
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # Every result is on disk and closed by now. Python's teardown would garbage-collect
        # the whole heap of jax, equinox and matplotlib objects before exiting: 0.4-0.6 s after
        # a Kerr sweep on the 2-core CPU, 15 % of the warm `jaxent kerr --N 40` command.
        # Frozen objects are skipped by that collection (they are still freed); nothing else
        # changes.
        gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
