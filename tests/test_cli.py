"""The command line's error handling: every failure is one line, never a traceback."""

import csv
import fcntl
import os

import pytest

import jaxent
import jaxent.commands.kerr as kerr_cmd
from jaxent.cli import main


def _run(argv):
    """``main(argv)`` -> exit code (0 when it returns)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _err_lines(capsys):
    return [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]


def test_version(capsys):
    assert _run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jaxent {jaxent.__version__}"


def test_out_is_a_regular_file(tmp_path, capsys):
    out = tmp_path / "results"
    out.write_text("not a directory")
    assert _run(["kerr", "--N", "5", "--eps", "0.5", "--out", str(out), "--no-progress"]) == 2
    assert _err_lines(capsys) == [f"jaxent kerr: error: File exists: {out}"]
    out2 = out / "sub"  # a directory under a regular file
    assert _run(["kerr", "--N", "5", "--eps", "0.5", "--out", str(out2), "--no-progress"]) == 2
    assert _err_lines(capsys) == [f"jaxent kerr: error: Not a directory: {out2}"]


def test_storage_error_shows_subcommand_usage(tmp_path, capsys):
    (tmp_path / "kerr.csv").mkdir()  # a directory where the CSV should be
    code = _run(["kerr", "--N", "5", "--eps", "0.5", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    err = _err_lines(capsys)
    assert err[0].startswith("usage: jaxent kerr ")
    assert err[-1] == (f"jaxent kerr: error: cannot write results to {tmp_path / 'kerr.csv'}: "
                       "it is a directory; choose another --out")
    assert not any("Traceback" in ln for ln in err)


def test_file_locked_by_another_process(tmp_path, capsys):
    # A foreign open file description holding the lock, as another jaxent process would.
    fd = os.open(str(tmp_path / "kerr.csv.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, b"31337\n")
    try:
        code = _run(["kerr", "--N", "5", "--eps", "0.5", "--out", str(tmp_path), "--no-progress"])
    finally:
        os.close(fd)
    assert code == 2
    assert _err_lines(capsys)[-1] == (
        f"jaxent kerr: error: {tmp_path / 'kerr.csv'} is being written by another jaxent "
        "process (pid 31337); wait for it to finish or choose another --out")


def test_bad_value_shows_subcommand_usage(tmp_path, capsys):
    assert _run(["kerr", "--N", "5.5", "--out", str(tmp_path)]) == 2
    err = _err_lines(capsys)
    assert err[0].startswith("usage: jaxent kerr ")
    assert err[-1].startswith("jaxent kerr: error: --N: sizes must be positive integers")


@pytest.mark.parametrize("exc, line", [
    (PermissionError(13, "Permission denied", "/x/y/kerr.csv"),
     "jaxent kerr: error: Permission denied: /x/y/kerr.csv"),
    (OSError(28, "No space left on device", "/x/kerr.csv"),
     "jaxent kerr: error: No space left on device: /x/kerr.csv"),
])
def test_os_errors_are_one_line(tmp_path, capsys, monkeypatch, exc, line):
    def run(args):
        raise exc

    monkeypatch.setattr(kerr_cmd, "run", run)
    assert _run(["kerr", "--out", str(tmp_path)]) == 2
    assert _err_lines(capsys) == [line]


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    def run(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(kerr_cmd, "run", run)
    assert _run(["kerr", "--out", str(tmp_path)]) == 130
    assert _err_lines(capsys) == [
        "interrupted: re-run the same command to resume (rows already written are kept)"]


def test_ctrl_c_of_a_command_that_writes_at_the_end(tmp_path, capsys, monkeypatch):
    """`jaxent critical` writes critical.csv only when it completes: Ctrl-C says so (no
    promise of resuming)."""
    from jaxent.commands import critical as critical_cmd

    def run(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(critical_cmd, "run", run)
    assert _run(["critical", "--model", "dicke", "--out", str(tmp_path)]) == 130
    (line,) = _err_lines(capsys)
    assert line.startswith("interrupted: critical.csv is written only when a run completes")


def test_resume_after_a_cut_row(tmp_path, capsys):
    """End to end: a kerr run killed while writing its row is recomputed on the re-run."""
    argv = ["kerr", "--N", "5", "--eps", "0.5", "--out", str(tmp_path), "--no-progress"]
    assert _run(argv) == 0
    path = tmp_path / "kerr.csv"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])  # the row cut mid-write
    with pytest.warns(RuntimeWarning, match="dropped a partial last row"):
        assert _run(argv) == 0
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 2 and len(rows[1]) == len(rows[0])
    assert path.read_bytes() == data  # recomputed to the same row
