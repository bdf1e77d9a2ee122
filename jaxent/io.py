"""Tidy CSV output that is written as a sweep goes and lets an interrupted sweep resume.

A row is identified by its *key* columns (the parameters of the point, e.g. ``N, eps, kappa,
delta, u``). On start, the rows already in the file are read back and their keys skipped, so a
re-run computes only what is missing. Keys are compared after rounding to ``key_digits``
significant digits, because they round-trip through decimal text (floats are written with
``repr``, which round-trips exactly).

The storage never loses or corrupts finished rows:

* every :meth:`ResumableCSV.append` is flushed and fsync'ed, so a killed run loses at most the
  chunk in flight;
* a partial last row (a run killed mid-write) is cut off on open, with a warning, and its point
  recomputed; malformed rows elsewhere are ignored (recomputed) and removed at compaction;
* one process at a time writes a file: an exclusive ``flock`` on ``PATH + ".lock"`` (released
  by the kernel when the holder dies, so a killed run leaves no stale lock);
* if a key occurs twice, the last row wins; :meth:`ResumableCSV.close` then compacts the file
  to one row per key by writing a temporary file and atomically ``os.replace``-ing it;
* every failure to write says, in one line (:class:`StorageError`), which path and why.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import math
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterable, Mapping, Sequence

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, writers are not exclusive there
    fcntl = None

__all__ = ["StorageError", "ResumableCSV", "read_csv"]

_LINE_END = "\r\n"  # what csv.writer writes by default (and what older files hold)


class StorageError(ValueError):
    """The results file cannot be used: unwritable path, another writer holds it, or its header
    does not match. The message is one line naming the file."""


# ---------------------------------------------------------------------------------------------
# helpers


#: Significant digits to which key values are compared (:class:`ResumableCSV`, :func:`read_csv`).
KEY_DIGITS = 12


def key_value(x, digits: int = KEY_DIGITS):
    """``x`` as compared in a key: strings as they are, finite non-zero floats rounded to
    ``digits`` significant digits (a value and its decimal text match; ``1e300`` stays finite,
    where rounding to decimals would overflow), ``0``, ``inf`` and NaN as they are."""
    if isinstance(x, str):
        return x
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def select_rows(table: Mapping[str, Sequence], **allowed) -> dict[str, list]:
    """The rows of ``table`` (columns, as :func:`read_csv` returns them) whose column ``k``
    holds one of ``allowed[k]`` (one value, or an iterable of values) for every ``k`` given,
    compared as keys are (:func:`key_value`); every column is kept. A command picks its own
    sweep's rows this way out of a file that may hold other sweeps (resume is by full key).
    ``KeyError`` names a column the table does not have."""
    want = {}
    for k, vals in allowed.items():
        if k not in table:
            raise KeyError(f"select_rows: no column {k!r} (columns: {', '.join(table)})")
        if isinstance(vals, str) or not isinstance(vals, Iterable):
            vals = [vals]
        want[k] = {key_value(v) for v in vals}
    n = len(next(iter(table.values()))) if table else 0
    keep = [i for i in range(n) if all(key_value(table[k][i]) in w for k, w in want.items())]
    return {k: [col[i] for i in keep] for k, col in table.items()}


def _text_key_value(v: str, digits: int):
    try:
        return key_value(float(v), digits)
    except ValueError:
        return v


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _format(v) -> str:
    """Cell text: floats as ``repr(float(x))`` (exact round trip), no line breaks in text."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(float(v))
    dtype = getattr(v, "dtype", None)
    if dtype is not None and getattr(v, "shape", None) == ():  # numpy / JAX scalars
        kind = getattr(dtype, "kind", "")
        if kind == "f":
            return repr(float(v))
        if kind in "iu":
            return str(int(v))
        if kind == "b":
            return str(bool(v))
    s = str(v)
    if "\n" in s or "\r" in s:
        s = " ".join(s.splitlines())
    return s


def _reason(exc: OSError, path: str) -> str:
    """Short, human reason for an OSError while creating/writing ``path``."""
    if exc.errno == errno.ENOTDIR:
        p = os.path.dirname(os.path.abspath(path))
        while p and p != os.path.dirname(p):
            if os.path.exists(p) and not os.path.isdir(p):
                return f"{p} is a file, not a directory"
            p = os.path.dirname(p)
        return "a component of the path is not a directory"
    if exc.errno == errno.EEXIST:
        name = exc.filename if isinstance(exc.filename, str) else path
        if os.path.exists(name) and not os.path.isdir(name):
            return f"{name} is a file, not a directory"
    reasons = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOSPC: "no space left on device",
        errno.EISDIR: "it is a directory",
        errno.ENAMETOOLONG: "file name too long",
    }
    if hasattr(errno, "EDQUOT"):
        reasons[errno.EDQUOT] = "disk quota exceeded"
    return reasons.get(exc.errno or -1, (exc.strerror or str(exc)).lower())


def _cannot_write(path: str, exc: OSError, hint: str = "choose another --out") -> StorageError:
    return StorageError(f"cannot write results to {path}: {_reason(exc, path)}; {hint}")


class _Scan:
    """A CSV file split into lines, with each line judged well-formed or not.

    Attributes: ``header`` (list of names, or None when there is no complete first line),
    ``header_line`` (its bytes), ``rows`` (list of ``(lineno, fields, line_bytes)`` of the
    well-formed data rows), ``malformed`` (line numbers of bad rows before the last good one),
    ``blank`` (number of blank lines there), ``good_end`` (byte offset just after the last
    well-formed line), ``dropped_tail`` (whether anything after ``good_end`` exists: a partial
    and/or malformed end), ``tail`` (bytes after the last newline).
    """

    def __init__(self, data: bytes, key_names: Sequence[str] | None = None):
        lines: list[tuple[int, int]] = []
        pos = 0
        while True:
            nl = data.find(b"\n", pos)
            if nl < 0:
                break
            lines.append((pos, nl + 1))
            pos = nl + 1
        self.tail = data[pos:]
        self.header = None
        self.header_line = b""
        self.rows = []
        self.malformed: list[int] = []
        self.blank = 0
        self.good_end = 0
        self.trailing_blank = False
        if not lines:
            self.dropped_tail = bool(self.tail)
            return
        s, e = lines[0]
        self.header_line = data[s:e]
        self.header = self._fields(self.header_line)
        self.good_end = e
        if self.header is None:
            return
        ncol = len(self.header)
        cand: list[tuple[int, list[str] | None, bytes, int]] = []  # lineno, fields, bytes, end
        for lineno, (s, e) in enumerate(lines[1:], start=2):
            raw = data[s:e]
            fields = self._fields(raw)
            if fields is not None and len(fields) != ncol:
                fields = None
            cand.append((lineno, fields, raw, e))
        # Key columns that hold numbers in some well-formed row must parse as numbers in all.
        if key_names:
            idx = [self.header.index(k) for k in key_names if k in self.header]
            numeric = [i for i in idx
                       if any(f is not None and _is_number(f[i]) for _, f, _, _ in cand)]
            for j, (lineno, f, raw, e) in enumerate(cand):
                if f is not None and any(not _is_number(f[i]) for i in numeric):
                    cand[j] = (lineno, None, raw, e)
        last_good = max((j for j, c in enumerate(cand) if c[1] is not None), default=-1)
        if last_good >= 0:
            self.good_end = cand[last_good][3]
        for j, (lineno, f, raw, e) in enumerate(cand[:last_good + 1]):
            if f is not None:
                self.rows.append((lineno, f, raw))
            elif raw.strip() == b"":
                self.blank += 1
            else:
                self.malformed.append(lineno)
        self.dropped_tail = self.good_end < len(data) and data[self.good_end:].strip() != b""
        self.trailing_blank = self.good_end < len(data) and not self.dropped_tail

    @staticmethod
    def _fields(raw: bytes) -> list[str] | None:
        if not raw.endswith(b"\n"):
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        if text.strip() == "":
            return None
        try:
            rows = list(csv.reader([text], strict=True))
        except csv.Error:
            return None
        return rows[0] if len(rows) == 1 else None


# ---------------------------------------------------------------------------------------------
# the per-file lock


class _Held:
    __slots__ = ("fd", "count", "pid")

    def __init__(self, fd: int, pid: int):
        self.fd, self.count, self.pid = fd, 1, pid


_HELD: dict[str, _Held] = {}  # lock path -> this process's lock (shared by its writers)
_HELD_GUARD = threading.RLock()  # reentrant: __del__ may run (GC) while it is held


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"


def _lock_file(real: str, csv_path: str, wait: bool) -> int:
    """Open the lock file ``real`` and take its exclusive ``flock``, waiting for another holder
    (``wait``) or refusing with a ``StorageError`` naming its pid. Returns the descriptor.

    A holder unlinks the lock file on release (:func:`_unlink_and_close`), so a lock taken on a
    file that is no longer the one at the path is worthless: it is dropped and the file now at
    the path locked instead."""
    for _ in range(100):
        try:
            fd = os.open(real, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise _cannot_write(csv_path, exc) from None
        if fcntl is None:  # no flock on this platform: nothing to hold
            return fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            other = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StorageError(
                    f"{csv_path} is being written by another jaxent process (pid {other}); "
                    "wait for it to finish or choose another --out") from None
            raise _cannot_write(csv_path, exc) from None
        try:
            same = os.path.samestat(os.stat(real), os.fstat(fd))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise StorageError(f"cannot lock {csv_path}: its lock file {real} keeps changing")


def _unlink_and_close(real: str, fd: int) -> None:
    """Release a lock taken by :func:`_lock_file`: the file is unlinked while still locked, so
    nobody else holds this inode's lock, then closed."""
    try:
        os.unlink(real)
    except OSError:
        pass
    os.close(fd)


def _acquire(lock_path: str, csv_path: str) -> str:
    """Take the exclusive lock for ``csv_path`` (shared by writers of this same process)."""
    real = os.path.realpath(lock_path)
    pid = os.getpid()
    with _HELD_GUARD:
        held = _HELD.get(real)
        if held is not None and held.pid == pid:
            held.count += 1
            return real
        fd = _lock_file(real, csv_path, wait=False)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{pid}\n".encode(), 0)
        except OSError:
            pass  # the pid is only informative
        _HELD[real] = _Held(fd, pid)
        return real


def _release(real: str) -> None:
    with _HELD_GUARD:
        held = _HELD.get(real)
        if held is None or held.pid != os.getpid():
            return
        held.count -= 1
        if held.count > 0:
            return
        del _HELD[real]
        _unlink_and_close(real, held.fd)


@contextlib.contextmanager
def waiting_lock(path: str | os.PathLike):
    """Hold the exclusive lock of ``path`` (an ``flock`` on ``path + ".lock"``, the file
    :class:`ResumableCSV` locks) for a short read-modify-write, *waiting* while another process
    holds it (:class:`ResumableCSV` refuses instead: a sweep is long). The lock file is removed
    on exit, while still locked; a waiter that then finds the path bound to another file locks
    that one instead, so two processes never both hold it."""
    real = os.path.realpath(os.fspath(path) + ".lock")
    fd = _lock_file(real, os.fspath(path), wait=True)
    try:
        yield
    finally:
        _unlink_and_close(real, fd)


def _fsync_dir(dirname: str) -> None:
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# the writer


class ResumableCSV:
    """Append-only CSV with resume-by-key, safe against kills, concurrent runs and bad paths.

    Parameters
    ----------
    path: file to create or extend (its directory is created).
    columns: all column names, in order. An existing file must have exactly this header
        (otherwise a :class:`StorageError`, a ``ValueError``, says how the header differs).
    key: the columns that identify a point.
    key_digits: keys are compared after rounding to this many significant digits.
    flag_column: optional column holding a short text naming the failed checks of a row
        (empty when the row passed).
    recompute_flagged: if true, points whose stored row is flagged are not :meth:`is_done`,
        so a sweep recomputes them; the new row supersedes the old one.

    Opening takes an exclusive lock on ``path + ".lock"`` (a second *process* is refused with a
    :class:`StorageError`; writers within one process share it), then reads the file: a partial
    last row is cut off with a warning, malformed rows are ignored with a warning, and a key
    stored twice counts with its last row. :meth:`close` (also via ``with``, or on garbage
    collection) compacts the file to one row per key if needed and releases the lock.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str], key: Sequence[str],
                 key_digits: int = KEY_DIGITS, flag_column: str | None = None,
                 recompute_flagged: bool = False):
        self._closed = True  # until the lock is held (so __del__ of a failed init is a no-op)
        self.path = os.fspath(path)
        self.columns = list(columns)
        self.key = list(key)
        self.key_digits = key_digits
        self.flag_column = flag_column
        self.recompute_flagged = bool(recompute_flagged)
        missing = [k for k in self.key if k not in self.columns]
        if missing:
            raise ValueError(f"key columns {missing} are not among columns {self.columns}")
        if flag_column is not None and flag_column not in self.columns:
            raise ValueError(f"flag_column {flag_column!r} is not among columns {self.columns}")
        self._key_idx = [self.columns.index(k) for k in self.key]
        self._flag_idx = None if flag_column is None else self.columns.index(flag_column)
        self._flagged: dict[tuple, bool] = {}  # key -> whether its latest row is flagged
        self._written: set[tuple] = set()  # keys appended by this writer
        self._needs_compaction = False

        if os.path.isdir(self.path):
            raise StorageError(f"cannot write results to {self.path}: it is a directory; "
                               "choose another --out")
        dirname = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(dirname, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None
        self._lock = _acquire(self.path + ".lock", self.path)
        self._closed = False
        try:
            self._open()
        except BaseException:
            self._closed = True
            _release(self._lock)
            raise

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None
        try:
            with os.fdopen(fd, "r+b", closefd=False) as fh:
                data = fh.read()
            header_text = self._header_bytes()
            scan = _Scan(data, self.key)
            if scan.header is None:
                if data.strip() and not header_text.startswith(data.rstrip(b"\r\n")):
                    raise StorageError(
                        f"{self.path} does not start with a CSV header (expected columns "
                        f"{','.join(self.columns)}); choose another --out or delete the file")
                # Empty, or killed while writing the header: (re)write it.
                self._rewrite_fd(fd, header_text)
                return
            if scan.header != self.columns:
                if not (scan.rows or scan.malformed or scan.dropped_tail):
                    # a header and nothing else (a run refused or killed before its first
                    # rows): no data to protect, so it must not block the next command
                    self._rewrite_fd(fd, header_text)
                    return
                raise StorageError(self._header_mismatch(scan.header))
            if scan.dropped_tail or scan.trailing_blank:
                try:
                    os.ftruncate(fd, scan.good_end)
                    os.fsync(fd)
                except OSError as exc:
                    raise _cannot_write(self.path, exc) from None
            if scan.dropped_tail:
                warnings.warn(f"dropped a partial last row from {self.path} (interrupted write); "
                              "it will be recomputed", RuntimeWarning, stacklevel=3)
            if scan.malformed:
                lines = ", ".join(map(str, scan.malformed[:10]))
                more = ", ..." if len(scan.malformed) > 10 else ""
                warnings.warn(f"ignored {len(scan.malformed)} malformed row(s) in {self.path} "
                              f"(line {lines}{more}); they will be recomputed and removed when "
                              "the file is compacted", RuntimeWarning, stacklevel=3)
                self._needs_compaction = True
            if scan.blank:
                self._needs_compaction = True
            for _, fields, _ in scan.rows:
                k = self._text_key(fields)
                if k in self._flagged:
                    self._needs_compaction = True
                self._flagged[k] = self._is_flagged_text(fields)
        finally:
            os.close(fd)

    def _rewrite_fd(self, fd: int, content: bytes) -> None:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, content, 0)
            os.fsync(fd)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None

    def _header_bytes(self) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator=_LINE_END).writerow(self.columns)
        return buf.getvalue().encode("utf-8")

    def _header_mismatch(self, found: list[str]) -> str:
        missing = [c for c in self.columns if c not in found]
        extra = [c for c in found if c not in self.columns]
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        if not parts:
            parts.append("same names in another order")
        return (f"{self.path} has different columns than this command writes "
                f"({'; '.join(parts)}); choose another --out or delete the file")

    # -- keys ------------------------------------------------------------------------------

    def _text_key(self, fields: Sequence[str]) -> tuple:
        return tuple(_text_key_value(fields[i], self.key_digits) for i in self._key_idx)

    def _row_key(self, row: Mapping) -> tuple:
        return tuple(key_value(row[k], self.key_digits) for k in self.key)

    def _is_flagged_text(self, fields: Sequence[str]) -> bool:
        return self._flag_idx is not None and fields[self._flag_idx].strip() != ""

    def is_done(self, **point) -> bool:
        """Whether a row with these key values is in the file (and, with
        ``recompute_flagged``, is not a flagged row from an earlier run)."""
        k = self._row_key(point)
        if k not in self._flagged:
            return False
        if self.recompute_flagged and self._flagged[k] and k not in self._written:
            return False
        return True

    def flagged_keys(self) -> list[tuple]:
        """Keys (tuples in ``key`` order, as rounded for matching) whose current row is flagged.
        With ``recompute_flagged``, those not yet rewritten by this writer are the ones a sweep
        will recompute."""
        return [k for k, f in self._flagged.items() if f]

    def __len__(self) -> int:
        """Number of distinct keys stored."""
        return len(self._flagged)

    # -- writing ---------------------------------------------------------------------------

    def append(self, rows: Iterable[Mapping]) -> None:
        """Append rows (mappings with every column), flush and fsync. A row whose key is
        already stored supersedes it (the file is compacted at :meth:`close`)."""
        if self._closed:
            raise ValueError(f"{self.path}: append to a closed ResumableCSV")
        rows = list(rows)
        if not rows:
            return
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator=_LINE_END)
        keys, flags = [], []
        for row in rows:
            missing = [c for c in self.columns if c not in row]
            if missing:
                raise ValueError(f"row is missing columns {missing}")
            cells = [_format(row[c]) for c in self.columns]
            writer.writerow(cells)
            keys.append(self._row_key(row))
            flags.append(self._flag_idx is not None and cells[self._flag_idx].strip() != "")
        payload = buf.getvalue().encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                         | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None
        try:
            start = os.fstat(fd).st_size
            if start == 0:  # the file was removed under us: start it again
                payload = self._header_bytes() + payload
            try:
                view = memoryview(payload)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            except OSError as exc:
                try:  # leave no partial row behind
                    os.ftruncate(fd, start)
                    os.fsync(fd)
                except OSError:
                    pass
                raise _cannot_write(self.path, exc, "rows written before are kept; free the "
                                    "problem and re-run the same command to resume") from None
        finally:
            os.close(fd)
        for k, f in zip(keys, flags):
            if k in self._flagged:
                self._needs_compaction = True
            self._flagged[k] = f
            self._written.add(k)

    def compact(self) -> bool:
        """Rewrite the file with one row per key (the last one written, at the position of the
        key's first row), without malformed rows. Atomic: written to a temporary file in the
        same directory, fsync'ed, then ``os.replace``-d over the file. Returns whether the file
        was rewritten."""
        if self._closed:
            raise ValueError(f"{self.path}: compact a closed ResumableCSV")
        with open(self.path, "rb") as fh:
            data = fh.read()
        scan = _Scan(data, self.key)
        if scan.header is None or scan.header != self.columns:
            return False
        latest: dict[tuple, bytes] = {}
        for _, fields, raw in scan.rows:
            latest[self._text_key(fields)] = raw  # dict keeps first-insertion order
        if (len(latest) == len(scan.rows) and not scan.malformed and not scan.blank
                and not scan.dropped_tail):
            self._needs_compaction = False
            return False
        out = scan.header_line + b"".join(latest.values())
        dirname = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.path) + ".",
                                   suffix=".tmp", dir=dirname)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(out)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.chmod(tmp, os.stat(self.path).st_mode & 0o7777)
            except OSError:
                pass
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        _fsync_dir(dirname)
        self._needs_compaction = False
        return True

    def close(self) -> None:
        """Compact the file if it holds superseded, duplicate or malformed rows, and release the
        lock. Idempotent. A failed compaction leaves the file as it was (with a warning)."""
        if self._closed:
            return
        try:
            if self._needs_compaction:
                try:
                    self.compact()
                except OSError as exc:
                    warnings.warn(f"could not compact {self.path} ({_reason(exc, self.path)}); "
                                  "the file is intact and will be compacted next time",
                                  RuntimeWarning, stacklevel=2)
        finally:
            self._closed = True
            _release(self._lock)

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> ResumableCSV:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if getattr(self, "_closed", True):
            return
        try:
            if sys.is_finalizing():
                self._closed = True
                _release(self._lock)
            else:
                self.close()
        except Exception:
            pass


# ---------------------------------------------------------------------------------------------
# reading


def read_csv(path: str | os.PathLike, key: Sequence[str] | None = None,
             key_digits: int = KEY_DIGITS) -> dict[str, list]:
    """Read a CSV written by :class:`ResumableCSV` into columns (numbers as float where they
    parse, strings otherwise).

    A partial last line (interrupted write) and malformed rows are skipped with a warning. With
    ``key``, a key stored more than once counts with its last row (at its first position), as
    for :class:`ResumableCSV`.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        data = fh.read()
    scan = _Scan(data, key)
    if scan.header is None:
        return {}
    bad = len(scan.malformed) + (1 if scan.dropped_tail else 0)
    if bad:
        warnings.warn(f"skipped {bad} partial or malformed row(s) in {path}", RuntimeWarning,
                      stacklevel=2)
    rows = [fields for _, fields, _ in scan.rows]
    if key is not None:
        idx = [scan.header.index(k) for k in key]
        latest: dict[tuple, list[str]] = {}
        for fields in rows:
            latest[tuple(_text_key_value(fields[i], key_digits) for i in idx)] = fields
        rows = list(latest.values())
    cols: dict[str, list] = {name: [] for name in scan.header}
    for fields in rows:
        for name, v in zip(scan.header, fields):
            try:
                cols[name].append(float(v))
            except ValueError:
                cols[name].append(v)
    return cols
