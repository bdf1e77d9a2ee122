"""The ``jaxent`` command line: ``jaxent <model> [options] --out DIR``.

Each sub-command lives in :mod:`jaxent.commands` and writes a tidy CSV plus the paper's
figures into ``--out``.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

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
    parser = argparse.ArgumentParser(prog="jaxent", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True)
    subparsers = {}
    for name, modname in COMMANDS.items():
        importlib.import_module(modname).add_parser(sub)
        subparsers[name] = sub.choices[name]
    return parser, subparsers


def build_parser() -> argparse.ArgumentParser:
    return _build()[0]


def _one_line(msg: str) -> str:
    return " ".join(part.strip() for part in str(msg).splitlines() if part.strip())


def _os_error_message(exc: OSError) -> str:
    msg = exc.strerror or str(exc)
    if exc.filename is not None:
        msg += f": {exc.filename}"
        if exc.filename2 is not None:
            msg += f" -> {exc.filename2}"
    return _one_line(msg)


def main(argv: list[str] | None = None) -> int:
    """Run ``jaxent <command> ...``. Errors are one line on stderr, no traceback: bad input or
    unusable output (``ValueError``, including :class:`jaxent.io.StorageError`) and operating
    system errors (``OSError``) exit with status 2; Ctrl-C exits with status 130 (re-running
    the same command resumes)."""
    module = None
    try:
        parser, subparsers = _build()
        args = parser.parse_args(argv)
        sub = subparsers[args.command]
        module = importlib.import_module(COMMANDS[args.command])
        from jaxent.sweep import enable_compilation_cache

        enable_compilation_cache()  # a repeated command does not compile again
        try:
            module.run(args)
        except (ValueError, argparse.ArgumentTypeError, MemoryError) as exc:
            sub.error(_one_line(exc))
        except OSError as exc:
            sys.stdout.flush()
            sub.exit(2, f"{sub.prog}: error: {_os_error_message(exc)}\n")
    except KeyboardInterrupt:
        sys.stdout.flush()
        # a command that writes its results only when it completes says so (INTERRUPTED)
        note = getattr(module, "INTERRUPTED", "re-run the same command to resume (rows "
                                               "already written are kept)")
        sys.stderr.write(f"interrupted: {note}\n")
        sys.exit(130)
    if argv is None:  # the console script: a Ctrl-C during interpreter shutdown is not an error
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
