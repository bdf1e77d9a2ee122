"""The ``jaxent`` command line: ``jaxent <model> [options] --out DIR``.

Each sub-command lives in :mod:`jaxent.commands` and writes a tidy CSV plus the paper's
figures into ``--out``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Sub-command name -> module in jaxent.commands (imported lazily so `jaxent kerr` does not
# pay for importing the Gaussian machinery and vice versa).
COMMANDS = {
    "kerr": "jaxent.commands.kerr",
    "dicke": "jaxent.commands.dicke",
    "chain": "jaxent.commands.chain",
    "oscillators": "jaxent.commands.oscillators",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxent", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, modname in COMMANDS.items():
        importlib.import_module(modname).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command])
    try:
        module.run(args)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
