import csv
import errno
import fcntl
import gc
import math
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest

import jaxent.io as jio
from jaxent.io import ResumableCSV, StorageError, key_value, read_csv, select_rows


def test_resume_skips_written_points(tmp_path):
    path = tmp_path / "out.csv"
    cols = ["N", "eps", "value"]
    w = ResumableCSV(path, cols, key=["N", "eps"])
    eps = np.linspace(0.5, 1.3, 7)
    w.append([{"N": 10, "eps": float(e), "value": float(e) ** 2} for e in eps[:3]])
    # A new writer on the same file (as after an interrupted run) sees the finished points,
    # even though eps went through decimal text.
    w2 = ResumableCSV(path, cols, key=["N", "eps"])
    assert [w2.is_done(N=10, eps=float(e)) for e in eps] == [True] * 3 + [False] * 4
    assert not w2.is_done(N=20, eps=float(eps[0]))
    w2.append([{"N": 10, "eps": float(e), "value": float(e) ** 2} for e in eps[3:]])
    data = read_csv(path)
    assert len(data["eps"]) == 7
    np.testing.assert_allclose(data["value"], eps**2, rtol=1e-15)


def test_header_mismatch_is_an_error(tmp_path):
    path = tmp_path / "out.csv"
    ResumableCSV(path, ["a", "b"], key=["a"]).append([{"a": 1, "b": 2}])
    with pytest.raises(ValueError, match="columns"):
        ResumableCSV(path, ["a", "c"], key=["a"])


# --- storage safety -------------------------------------------------------------------------

COLS = ["N", "eps", "value", "flag"]
KEY = ["N", "eps"]


def _row(N, eps, value=None, flag=""):
    return {"N": N, "eps": eps, "value": eps**2 if value is None else value, "flag": flag}


def _csv_rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


@pytest.fixture(autouse=True)
def _no_lock_left_behind():
    yield
    gc.collect()
    assert not {k: v for k, v in jio._HELD.items() if v.pid == os.getpid()}, "a lock leaked"


def test_cut_last_row_is_dropped_and_recomputed(tmp_path):
    path = tmp_path / "out.csv"
    with ResumableCSV(path, COLS, KEY) as w:
        w.append([_row(10, 0.5), _row(10, 0.6)])
    with open(path, "a") as fh:  # a run killed in the middle of writing a row
        fh.write("10,0.7,0.4")
    with pytest.warns(RuntimeWarning, match=r"dropped a partial last row from .*out\.csv "
                                            r"\(interrupted write\); it will be recomputed"):
        w = ResumableCSV(path, COLS, KEY)
    assert w.is_done(N=10, eps=0.6) and not w.is_done(N=10, eps=0.7)
    assert open(path, "rb").read().endswith(b"\n")  # truncated at once, before any append
    w.append([_row(10, 0.7)])
    w.close()
    rows = _csv_rows(path)
    assert rows[0] == COLS and all(len(r) == len(COLS) for r in rows)
    assert [float(r[1]) for r in rows[1:]] == [0.5, 0.6, 0.7]
    assert read_csv(path)["value"] == [0.5**2, 0.6**2, 0.7**2]


def test_read_csv_ignores_partial_and_glued_rows(tmp_path):
    # What an old version left after a kill and a resume: a row glued onto the cut line.
    path = tmp_path / "out.csv"
    path.write_text("N,eps,value,flag\r\n10,0.5,0.25,\r\n10,0.6,0.3"
                    "10,0.7,0.49,\r\n10,0.8,0.64,\r\n10,0.9,0.8")
    with pytest.warns(RuntimeWarning, match="partial or malformed"):
        data = read_csv(path)  # used to raise KeyError: None
    assert data["eps"] == [0.5, 0.8]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        w = ResumableCSV(path, COLS, KEY)
    msgs = [str(r.message) for r in rec]
    assert any("dropped a partial last row" in m for m in msgs)
    assert any("ignored 1 malformed row(s)" in m and "line 3" in m for m in msgs)
    assert [w.is_done(N=10, eps=e) for e in (0.5, 0.6, 0.7, 0.8, 0.9)] == \
        [True, False, False, True, False]
    w.append([_row(10, e) for e in (0.6, 0.7, 0.9)])
    w.close()  # compaction removes the malformed row
    rows = _csv_rows(path)
    assert all(len(r) == len(COLS) for r in rows) and len(rows) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_csv(path)["eps"] == [0.5, 0.8, 0.6, 0.7, 0.9]


def test_unparsable_key_number_is_malformed(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("N,eps,value,flag\n10,0.5,0.25,\n10,0.6x,0.36,\n10,0.7,0.49,\n")
    with pytest.warns(RuntimeWarning, match="malformed"):
        w = ResumableCSV(path, COLS, KEY)
    assert len(w) == 2 and not w.is_done(N=10, eps=0.6)
    w.close()
    assert [r[1] for r in _csv_rows(path)[1:]] == ["0.5", "0.7"]


def test_interrupted_header_is_rewritten(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("N,ep")
    with ResumableCSV(path, COLS, KEY) as w:
        w.append([_row(1, 0.5)])
    assert _csv_rows(path) == [COLS, ["1", "0.5", "0.25", ""]]


_HOLDER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("jio", sys.argv[1])
jio = importlib.util.module_from_spec(spec); spec.loader.exec_module(jio)
w = jio.ResumableCSV(sys.argv[2], ["N", "eps", "value", "flag"], key=["N", "eps"])
w.append([{"N": 1, "eps": 0.5, "value": 0.25, "flag": ""}])
print("locked", flush=True)
sys.stdin.readline()
w.close()
"""


def _start_holder(path):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, jio.__file__, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_is_refused(tmp_path):
    path = tmp_path / "out.csv"
    proc = _start_holder(path)
    try:
        with pytest.raises(StorageError) as info:
            ResumableCSV(path, COLS, KEY)
        msg = str(info.value)
        assert msg == (f"{path} is being written by another jaxent process (pid {proc.pid}); "
                       "wait for it to finish or choose another --out")
        assert _csv_rows(path) == [COLS, ["1", "0.5", "0.25", ""]]  # nothing written
    finally:
        proc.communicate("\n", timeout=30)
    assert proc.returncode == 0
    with ResumableCSV(path, COLS, KEY) as w:  # released: a new writer works
        assert w.is_done(N=1, eps=0.5)
        w.append([_row(1, 0.6)])
    assert len(read_csv(path)["eps"]) == 2
    assert not os.path.exists(str(path) + ".lock")


def test_lock_of_killed_process_does_not_block(tmp_path):
    path = tmp_path / "out.csv"
    proc = _start_holder(path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert os.path.exists(str(path) + ".lock")  # left behind, but not locked
    with ResumableCSV(path, COLS, KEY) as w:
        assert w.is_done(N=1, eps=0.5)


def test_lock_is_taken_before_reading_and_released_on_gc(tmp_path):
    path = tmp_path / "out.csv"
    lock = str(path) + ".lock"
    w = ResumableCSV(path, COLS, KEY)
    assert open(lock).read().strip() == str(os.getpid())
    # Another open file description (as another process would have) cannot lock it.
    fd = os.open(lock, os.O_RDWR)
    with pytest.raises(BlockingIOError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    del w
    gc.collect()
    assert not os.path.exists(lock)
    # Held by someone else (a foreign fd): refused before the file is even read.
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"4242\n")
    try:
        with pytest.raises(StorageError, match=r"\(pid 4242\)"):
            ResumableCSV(path, ["other"], key=["other"])  # not a header error: lock first
    finally:
        os.close(fd)


def test_duplicates_last_row_wins_and_close_compacts(tmp_path):
    path = tmp_path / "out.csv"
    with ResumableCSV(path, COLS, KEY) as w:
        w.append([_row(10, e) for e in (0.5, 0.6, 0.7)])
    # An old version that ran twice over part of the sweep.
    with open(path, "a", newline="") as fh:
        csv.writer(fh).writerows([[10, 0.6, 99.0, ""], [10, 0.5, 98.0, ""]])
    assert len(read_csv(path)["eps"]) == 5
    assert read_csv(path, key=KEY)["value"] == [98.0, 99.0, 0.7**2]
    w = ResumableCSV(path, COLS, KEY)
    assert len(w) == 3 and all(w.is_done(N=10, eps=e) for e in (0.5, 0.6, 0.7))
    w.close()
    rows = _csv_rows(path)
    assert [(r[1], r[2]) for r in rows[1:]] == [("0.5", "98.0"), ("0.6", "99.0"),
                                                ("0.7", repr(0.7**2))]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_flagged_rows_recomputed_only_on_request(tmp_path):
    path = tmp_path / "out.csv"
    with ResumableCSV(path, COLS, KEY, flag_column="flag") as w:
        w.append([_row(10, 0.5), _row(10, 0.6, value=-1.0, flag="fock_tail"), _row(10, 0.7)])
        assert w.flagged_keys() == [(10.0, 0.6)]
    with ResumableCSV(path, COLS, KEY, flag_column="flag") as w:  # default: kept as done
        assert w.is_done(N=10, eps=0.6) and len(w.flagged_keys()) == 1
    with ResumableCSV(path, COLS, KEY, flag_column="flag", recompute_flagged=True) as w:
        todo = [e for e in (0.5, 0.6, 0.7) if not w.is_done(N=10, eps=e)]
        assert todo == [0.6] and len(w.flagged_keys()) == 1
        w.append([_row(10, 0.6, flag="")])
        assert w.is_done(N=10, eps=0.6) and w.flagged_keys() == []
        assert len(read_csv(path)["eps"]) == 4  # superseded row still there until close
    rows = _csv_rows(path)
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [
        ("0.5", "0.25", ""), ("0.6", repr(0.6**2), ""), ("0.7", repr(0.7**2), "")]
    # A row that fails again is written (flagged) once per run, not recomputed in a loop.
    with ResumableCSV(path, COLS, KEY, flag_column="flag") as w:
        w.append([_row(10, 0.5, flag="grid")])
    with ResumableCSV(path, COLS, KEY, flag_column="flag", recompute_flagged=True) as w:
        assert not w.is_done(N=10, eps=0.5)
        w.append([_row(10, 0.5, flag="grid")])
        assert w.is_done(N=10, eps=0.5) and len(w.flagged_keys()) == 1
    assert len(_csv_rows(path)) == 4
    with pytest.raises(ValueError, match="flag_column"):
        ResumableCSV(path, COLS, KEY, flag_column="nope")


def test_failed_compaction_leaves_the_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    with ResumableCSV(path, COLS, KEY) as w:
        w.append([_row(10, 0.5), _row(10, 0.6)])
        w.append([_row(10, 0.5, value=3.0)])
    before = path.read_bytes()
    with ResumableCSV(path, COLS, KEY) as w:
        w.append([_row(10, 0.6, value=4.0)])
        during = path.read_bytes()

        def killed(*a, **k):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(jio.os, "replace", killed)
        with pytest.warns(RuntimeWarning, match="could not compact .* the file is intact"):
            w.close()
    assert path.read_bytes() == during and during.startswith(before)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    monkeypatch.undo()
    with ResumableCSV(path, COLS, KEY):  # compacted next time
        pass
    assert read_csv(path)["value"] == [3.0, 4.0]
    assert len(_csv_rows(path)) == 3


def _one_line_storage_error(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg and isinstance(excinfo.value, ValueError)
    for n in needles:
        assert n in msg, msg


def test_unwritable_paths_are_one_line_errors(tmp_path, monkeypatch):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(StorageError) as info:  # directory under a regular file
        ResumableCSV(blocker / "sub" / "kerr.csv", COLS, KEY)
    _one_line_storage_error(info, f"cannot write results to {blocker / 'sub' / 'kerr.csv'}",
                            f"{blocker} is a file, not a directory", "choose another --out")
    with pytest.raises(StorageError) as info:  # the directory itself is a regular file
        ResumableCSV(blocker / "kerr.csv", COLS, KEY)
    _one_line_storage_error(info, "is a file, not a directory")
    (tmp_path / "kerr.csv").mkdir()  # a directory where the CSV should be
    with pytest.raises(StorageError) as info:
        ResumableCSV(tmp_path / "kerr.csv", COLS, KEY)
    _one_line_storage_error(info, "kerr.csv: it is a directory")

    real_open = os.open
    for err, reason in ((errno.EACCES, "permission denied"),
                        (errno.EROFS, "read-only file system")):
        def refusing(p, *a, _err=err, **k):
            if str(p).startswith(str(tmp_path / "ro")):
                raise OSError(_err, os.strerror(_err), p)
            return real_open(p, *a, **k)

        monkeypatch.setattr(jio.os, "open", refusing)
        with pytest.raises(StorageError) as info:
            ResumableCSV(tmp_path / "ro" / "kerr.csv", COLS, KEY)
        _one_line_storage_error(info, f"cannot write results to {tmp_path / 'ro' / 'kerr.csv'}: "
                                f"{reason}; choose another --out")
        monkeypatch.undo()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_directory_by_permissions(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="permission denied"):
            ResumableCSV(d / "kerr.csv", COLS, KEY)
    finally:
        d.chmod(0o700)


def test_disk_full_during_append_leaves_no_partial_row(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    w = ResumableCSV(path, COLS, KEY)
    w.append([_row(10, 0.5)])
    before = path.read_bytes()
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(jio.os, "write", half_then_full)
    with pytest.raises(StorageError, match="no space left on device"):
        w.append([_row(10, 0.6), _row(10, 0.7)])
    monkeypatch.undo()
    assert path.read_bytes() == before and not w.is_done(N=10, eps=0.6)
    w.close()


def test_header_mismatch_is_a_one_line_storage_error(tmp_path):
    path = tmp_path / "out.csv"
    with ResumableCSV(path, ["a", "b"], key=["a"]) as w:
        w.append([{"a": 1, "b": 2}])
    with pytest.raises(StorageError) as info:
        ResumableCSV(path, ["a", "c"], key=["a"])
    _one_line_storage_error(info, str(path), "missing c", "unexpected b",
                            "choose another --out or delete the file")
    with ResumableCSV(path, ["a", "b"], key=["a"]) as w:  # the failed open released its lock
        assert w.is_done(a=1)


def test_a_header_without_rows_does_not_block_other_columns(tmp_path):
    """A run refused or killed before its first rows leaves a header only (jaxent spectrum
    --k 20 refused at nmax 3 wrote its 20-eigenvalue header, and the next run with the default
    --k 4 was refused for 'different columns'): with no data to protect, the new header
    replaces it. A file with rows, even malformed ones, is still refused."""
    path = tmp_path / "out.csv"
    ResumableCSV(path, ["a", "b", "c"], key=["a"]).close()
    with ResumableCSV(path, ["a", "b"], key=["a"]) as w:
        w.append([{"a": 1, "b": 2}])
    assert read_csv(path) == {"a": [1.0], "b": [2.0]}
    for text in ("a,b,c\nnot,a row\n", "a,b,c\n1,2,3\n", "a,b,c\n1,2"):
        path.write_text(text)
        with pytest.raises(StorageError, match="different columns"):
            ResumableCSV(path, ["a", "b"], key=["a"])
        assert path.read_text() == text


def test_numbers_round_trip_exactly(tmp_path):
    path = tmp_path / "out.csv"
    vals = [0.1 + 0.2, 1 / 3, np.float64(np.pi), np.float32(0.1), 1e-300]
    with ResumableCSV(path, ["i", "x"], key=["i"]) as w:
        w.append([{"i": i, "x": v} for i, v in enumerate(vals)])
    assert read_csv(path)["x"] == [float(v) for v in vals]
    with ResumableCSV(path, ["i", "x"], key=["x"]) as w:
        assert all(w.is_done(x=float(f"{float(v):.15g}")) for v in vals)


def test_closed_writer_refuses_appends(tmp_path):
    w = ResumableCSV(tmp_path / "out.csv", COLS, KEY)
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        w.append([_row(1, 0.5)])


def test_key_value_matches_decimal_text_and_stays_finite():
    """Keys match after rounding to 12 significant digits: a float and its decimal text, sums
    that differ in the last bits; huge and tiny values stay finite and non-zero."""
    assert key_value(0.1 + 0.2) == key_value(0.3) == key_value(float("0.3"))
    assert key_value(1.2000000000000002) == 1.2
    assert key_value(1e300) == 1e300 and key_value(-3e-300) == -3e-300
    assert key_value(1.0) != key_value(1.0 + 1e-9)
    assert key_value("global") == "global" and key_value(0.0) == 0.0
    assert math.isinf(key_value(float("inf"))) and math.isnan(key_value(float("nan")))


def test_select_rows_keeps_this_sweeps_rows():
    """Rows whose columns hold one of the allowed values (one value or several), compared as
    keys are: the decimal text and a float that differs in the last bits both match."""
    table = {"N": [10.0, 10.0, 20.0, 20.0], "eps": [0.5, 0.7000000000000001, 0.7, 1e300],
             "flags": ["", "tail", "", ""]}
    assert select_rows(table, N=10.0) == {"N": [10.0, 10.0], "eps": [0.5, 0.7000000000000001],
                                          "flags": ["", "tail"]}
    assert select_rows(table, eps=[0.7, 1e300])["N"] == [10.0, 20.0, 20.0]
    assert select_rows(table, N=np.array([20.0]), eps=0.7)["eps"] == [0.7]
    assert select_rows(table, flags="tail")["N"] == [10.0]
    assert select_rows(table) == table and select_rows(table, N=30.0)["eps"] == []
    with pytest.raises(KeyError, match="no column 'kappa'"):
        select_rows(table, kappa=0.5)


def test_waiting_lock_excludes_waits_and_leaves_no_file(tmp_path):
    """waiting_lock (critical.csv's read-merge-write): one holder at a time, including across
    the removal of the lock file by each holder (a waiter on the removed file must not run
    beside one that created the next), and no lock file left behind."""
    import threading
    import time

    counter = tmp_path / "n.txt"
    counter.write_text("0")

    def work():
        for _ in range(5):
            with jio.waiting_lock(counter):
                v = int(counter.read_text())  # a non-atomic increment: lost without exclusion
                time.sleep(0.004)
                counter.write_text(str(v + 1))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(counter.read_text()) == 20
    assert not os.path.exists(str(counter) + ".lock")
    # a holder makes the next one wait
    order, held = [], threading.Event()

    def holder():
        with jio.waiting_lock(counter):
            held.set()
            time.sleep(0.2)
            order.append("holder out")

    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    with jio.waiting_lock(counter):
        order.append("waiter in")
    t.join()
    assert order == ["holder out", "waiter in"]
