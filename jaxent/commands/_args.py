"""Argument parsing shared by the sub-commands."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

import numpy as np


def decimal_range(start: str, stop: str, count: int) -> list[float]:
    """``count`` equally spaced values from ``start`` to ``stop`` inclusive, computed in decimal
    arithmetic, so ``0.5:1.3:5`` gives exactly the decimals 0.5, 0.7, 0.9, 1.1, 1.3 (float
    ``linspace`` gives ``0.7000000000000001``-style values that then appear in the CSV).
    """
    try:
        a, b = Decimal(start), Decimal(stop)
    except InvalidOperation:
        raise ValueError("start and stop must be numbers") from None
    if count == 1:
        return [float(a)]
    step = (b - a) / (count - 1)
    return [float(a + i * step) for i in range(count - 1)] + [float(b)]


def parse_values(tokens: list[str], name: str) -> np.ndarray:
    """Parse a flag's values: explicit numbers (``0.5 0.933 1.3``) and/or ranges
    ``start:stop:count`` (inclusive, like ``numpy.linspace``), in any mix.

    Raises ``argparse.ArgumentTypeError`` naming the flag on malformed input or NaN.
    """
    out: list[float] = []
    for tok in tokens:
        parts = tok.split(":")
        try:
            if len(parts) == 1:
                try:
                    out.append(float(parts[0]))
                except ValueError:
                    raise ValueError("not a number; a range is start:stop:count") from None
            elif len(parts) == 3:
                count = int(parts[2])
                if count < 1:
                    raise ValueError("count must be >= 1")
                out.extend(decimal_range(parts[0].strip(), parts[1].strip(), count))
            else:
                raise ValueError("expected a number or start:stop:count")
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"--{name}: cannot parse {tok!r} ({exc})") from None
    arr = np.asarray(out, dtype=float)
    if arr.size == 0:
        raise argparse.ArgumentTypeError(f"--{name}: no values given")
    if not np.all(np.isfinite(arr)):
        raise argparse.ArgumentTypeError(f"--{name}: values must be finite, got {tokens}")
    return arr


def add_values_argument(parser: argparse.ArgumentParser, flag: str, default: list[str] | None,
                        help: str) -> None:
    """Register a flag taking numbers and/or start:stop:count ranges (parsed later by
    :func:`parse_values`, so errors can name the flag)."""
    parser.add_argument(f"--{flag}", nargs="+", default=default, metavar="V", help=help
                        + " (numbers and/or start:stop:count)")


def add_sweep_arguments(parser: argparse.ArgumentParser, params: list[str], chunk: int = 8) -> None:
    """The flags every sweep command shares: ``--chunk``, ``--grad``, ``--recompute-flagged``,
    ``--no-progress``. ``params`` are the parameter names ``--grad`` accepts."""
    parser.add_argument("--chunk", type=int, default=chunk,
                        help=f"points per batch, written together (default {chunk}; vmapped, "
                             "but one after the other on a CPU for the Kerr, quench and "
                             "spectrum points)")
    parser.add_argument("--grad", nargs="+", default=[], metavar="PARAM", choices=params,
                        help="add d<column>_d<PARAM> columns (jax.jacfwd through the steady "
                             f"state) for these parameters: {', '.join(params)}")
    parser.add_argument("--recompute-flagged", action="store_true",
                        help="recompute rows of an earlier run whose checks failed (their "
                             "'flags' column is not empty), e.g. after changing what their "
                             "warning named")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def positive_int(text: str) -> int:
    """argparse ``type=`` for an integer >= 1 (argparse's error names the flag)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def report_sweep(result, what: str) -> None:
    """One line on what a sweep did: points computed, skipped (already in the file), flagged,
    compilations and wall time."""
    print(f"{what}: computed {plural(result.computed, 'point')} ({result.skipped} already in "
          f"{result.path}), {result.flagged} flagged, "
          f"{plural(result.compilations, 'compilation')}, {result.seconds:.1f} s")


def plural(n: int, word: str) -> str:
    """``1 point``, ``2 points``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
