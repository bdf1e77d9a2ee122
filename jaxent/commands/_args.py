"""Argument parsing shared by the sub-commands."""

from __future__ import annotations

import argparse

import numpy as np


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
                out.append(float(parts[0]))
            elif len(parts) == 3:
                start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
                if count < 1:
                    raise ValueError("count must be >= 1")
                out.extend(np.linspace(start, stop, count).tolist())
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
