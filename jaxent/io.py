"""Tidy CSV output that is written as a sweep goes and lets an interrupted sweep resume.

A row is identified by its *key* columns (the parameters of the point, e.g. ``N, eps, kappa,
delta, u``). On start, the rows already in the file are read back and their keys skipped, so a
re-run computes only what is missing. Every append is flushed and fsync'ed, so a killed run
loses at most the chunk in flight. Keys are compared after rounding to ``key_digits``
significant digits, because they round-trip through decimal text.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence


def _key_value(x, digits: int):
    if isinstance(x, str):
        return x
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


class ResumableCSV:
    """Append-only CSV with resume-by-key.

    Parameters
    ----------
    path: file to create or extend.
    columns: all column names, in order. An existing file must have exactly this header
        (otherwise a ``ValueError`` says which file and how the header differs).
    key: the columns that identify a point.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str], key: Sequence[str],
                 key_digits: int = 12):
        self.path = os.fspath(path)
        self.columns = list(columns)
        self.key = list(key)
        self.key_digits = key_digits
        missing = [k for k in self.key if k not in self.columns]
        if missing:
            raise ValueError(f"key columns {missing} are not among columns {self.columns}")
        self._done: set[tuple] = set()
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            with open(self.path, newline="") as fh:
                reader = csv.DictReader(fh)
                if reader.fieldnames != self.columns:
                    raise ValueError(
                        f"{self.path} has columns {reader.fieldnames}, expected {self.columns}; "
                        "write to another --out directory or delete the file")
                for row in reader:
                    self._done.add(self._row_key(row, from_text=True))
        else:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path, "w", newline="") as fh:
                csv.writer(fh).writerow(self.columns)

    def _row_key(self, row: Mapping, from_text: bool = False) -> tuple:
        vals = []
        for k in self.key:
            v = row[k]
            if from_text:
                try:
                    v = float(v)
                except ValueError:
                    pass
            vals.append(_key_value(v, self.key_digits))
        return tuple(vals)

    def is_done(self, **point) -> bool:
        """Whether a row with these key values is already in the file."""
        return self._row_key(point) in self._done

    def __len__(self) -> int:
        return len(self._done)

    def append(self, rows: Iterable[Mapping]) -> None:
        """Append rows (mappings with every column), flush and fsync."""
        rows = list(rows)
        if not rows:
            return
        with open(self.path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="raise")
            for row in rows:
                missing = [c for c in self.columns if c not in row]
                if missing:
                    raise ValueError(f"row is missing columns {missing}")
                writer.writerow({c: (repr(float(row[c])) if isinstance(row[c], float) else row[c])
                                 for c in self.columns})
                self._done.add(self._row_key(row))
            fh.flush()
            os.fsync(fh.fileno())


def read_csv(path: str | os.PathLike) -> dict[str, list]:
    """Read a CSV written by :class:`ResumableCSV` into columns (numbers as float where they
    parse, strings otherwise)."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        cols: dict[str, list] = {name: [] for name in reader.fieldnames or []}
        for row in reader:
            for name, v in row.items():
                try:
                    cols[name].append(float(v))
                except ValueError:
                    cols[name].append(v)
    return cols
