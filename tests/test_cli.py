"""The command line's error handling: every failure is one line, never a traceback."""

import argparse
import csv
import fcntl
import os
import sys
import warnings

import pytest

import jaxent
import jaxent.commands.kerr as kerr_cmd
from jaxent.cli import main

_FORMAT = warnings.formatwarning


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


def test_closed_stdout_is_no_error(tmp_path):
    """``jaxent ... | head``: once the reader has closed the pipe, the command drops the rest
    of its output and still finishes its work: the sweep's rows and its figure are written,
    the status is 0, and nothing is said on stderr (before: ``BrokenPipeError``, status 1 or
    ``error: Broken pipe``, status 2, and no figure when the pipe broke before it). The read
    end is closed before the process starts, so every write fails for certain."""
    import subprocess

    from jaxent.io import read_csv

    r, w = os.pipe()
    os.close(r)
    try:
        for argv in (["--version"],
                     ["kerr", "--N", "3", "--eps", "0.5", "0.7", "--out", str(tmp_path),
                      "--no-progress"]):
            proc = subprocess.run([sys.executable, "-m", "jaxent", *argv], stdout=w,
                                  stderr=subprocess.PIPE, text=True, timeout=600)
            assert proc.returncode == 0 and proc.stderr == "", (argv, proc.stderr)
    finally:
        os.close(w)
    data = read_csv(tmp_path / "kerr.csv", key=["N", "eps", "kappa", "delta", "u"])
    assert sorted(data["eps"]) == [0.5, 0.7] and not any(data["flags"])
    assert (tmp_path / "kerr_fig2.png").stat().st_size > 1000


def test_out_is_a_regular_file(tmp_path, capsys):
    out = tmp_path / "results"
    out.write_text("not a directory")
    assert _run(["kerr", "--N", "5", "--eps", "0.5", "--out", str(out), "--no-progress"]) == 2
    assert _err_lines(capsys) == [f"jaxent kerr: error: --out: File exists: {out}"]
    out2 = out / "sub"  # a directory under a regular file
    assert _run(["kerr", "--N", "5", "--eps", "0.5", "--out", str(out2), "--no-progress"]) == 2
    assert _err_lines(capsys) == [f"jaxent kerr: error: --out: Not a directory: {out2}"]
    assert _run(["kerr", "--N", "5", "--eps", "0.5", "--out", "", "--no-progress"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "jaxent kerr: error: --out: must name a folder, got ''")


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


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's /sys")
def test_unwritable_out_is_one_line(capsys):
    """A real unwritable folder (/sys refuses mkdir even to root, so this runs as root too)."""
    assert _run(["dicke", "--lam-over-lamc", "0.5", "--out", "/sys/jaxent-test/out"]) == 2
    assert _err_lines(capsys) == [
        "jaxent dicke: error: --out: Operation not permitted: /sys/jaxent-test"]


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    def run(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(kerr_cmd, "run", run)
    assert _run(["kerr", "--out", str(tmp_path)]) == 130
    assert _err_lines(capsys) == [
        "interrupted: re-run the same command to resume (rows already written are kept)"]


def test_ctrl_c_during_a_sweep_says_what_was_saved_and_resumes(tmp_path, capsys, monkeypatch):
    """A real Kerr sweep interrupted after its first chunk (Ctrl-C arriving while the second
    is being written): one line with the rows saved and the file, exit 130; the re-run
    computes only the rest."""
    import jaxent.io as jio

    append = jio.ResumableCSV.append
    calls = []

    def interrupted_append(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt
        append(self, rows)

    monkeypatch.setattr(jio.ResumableCSV, "append", interrupted_append)
    argv = ["kerr", "--N", "4", "--eps", "0.5:0.8:4", "--chunk", "2", "--nmax", "16",
            "--no-progress", "--out", str(tmp_path)]
    assert _run(argv) == 130
    csv_path = tmp_path / "kerr.csv"
    assert _err_lines(capsys) == [
        f"interrupted: 2 rows saved to {csv_path}; re-run the same command to resume"]
    monkeypatch.setattr(jio.ResumableCSV, "append", append)
    assert _run(argv) == 0
    out = capsys.readouterr().out
    assert "computed 2 points (2 already in" in out


def test_only_errors_making_the_output_folder_name_out(tmp_path, capsys, monkeypatch):
    """A file inside --out may be an input (jaxent fit --data res/kerr.csv --out res): its
    error is named by its path alone; --out is named for the folder or a folder above it."""
    inside = str(tmp_path / "kerr.csv")
    for exc, line in ((PermissionError(13, "Permission denied", inside),
                       f"jaxent kerr: error: Permission denied: {inside}"),
                      (PermissionError(13, "Permission denied", str(tmp_path.parent)),
                       f"jaxent kerr: error: --out: Permission denied: {tmp_path.parent}"),
                      (OSError(9, "Bad file descriptor", 3),
                       "jaxent kerr: error: Bad file descriptor: 3")):
        def run(args, exc=exc):
            raise exc

        monkeypatch.setattr(kerr_cmd, "run", run)
        assert _run(["kerr", "--out", str(tmp_path)]) == 2
        assert _err_lines(capsys) == [line]


def test_console_ctrl_c_leaves_without_interpreter_teardown(tmp_path):
    """The console command (main() without argv) exits 130 through os._exit after its message:
    a Ctrl-C during an XLA compilation made Python's teardown abort 1 time in 4 (SIGABRT,
    "pure virtual method called"). atexit handlers do not run on that path: the marker below
    proves it was taken."""
    import subprocess

    code = ("import atexit, sys\n"
            "import jaxent.commands.kerr as k\n"
            "from jaxent.cli import main\n"
            "def run(args):\n"
            "    raise KeyboardInterrupt\n"
            "k.run = run\n"
            "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
            f"sys.argv = ['jaxent', 'kerr', '--out', {str(tmp_path)!r}]\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 130, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["interrupted: re-run the same command to resume (rows already written "
                     "are kept)"], lines


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


# --- what a hurried user types (issue "Newcomer and docs"): one line naming the flag ----------


def _usage_and_error(capsys):
    err = _err_lines(capsys)
    assert not any("Traceback" in ln for ln in err)
    return err[0], err[-1]


@pytest.mark.parametrize("argv, value", [
    (["dicke", "--gamma", "-1e-3"], "-1e-3"),
    (["dicke", "--gamma", "-.5"], "-.5"),
    (["kerr", "--delta", "-2.5e0", "--eps", "-1:1:3"], "-2.5e0"),
])
def test_negative_numbers_are_values_not_flags(argv, value):
    from jaxent.cli import build_parser

    args = build_parser().parse_args(argv + ["--out", "x"])
    got = args.gamma if argv[0] == "dicke" else [str(args.delta)]
    assert got == [value] or float(got[0]) == float(value)
    if argv[0] == "kerr":
        assert args.eps == ["-1:1:3"]


def test_negative_rate_is_refused_by_name(tmp_path, capsys):
    assert _run(["dicke", "--gamma", "-1e-3", "--out", str(tmp_path)]) == 2
    usage, line = _usage_and_error(capsys)
    assert usage.startswith("usage: jaxent dicke ")
    assert line == "jaxent dicke: error: --gamma: values must be >= 0, got [-0.001]"


def test_unknown_flag_shows_the_subcommand_usage(tmp_path, capsys):
    assert _run(["dicke", "--bogus", "3", "--out", str(tmp_path)]) == 2
    usage, line = _usage_and_error(capsys)
    assert usage.startswith("usage: jaxent dicke ")
    assert line == "jaxent dicke: error: unrecognized arguments: --bogus 3"


@pytest.mark.parametrize("step", ["0", "-3", "x"])
def test_nmax_step_must_be_a_positive_integer(tmp_path, capsys, step):
    assert _run(["kerr", "--nmax-step", step, "--out", str(tmp_path)]) == 2
    _, line = _usage_and_error(capsys)
    want = (f"expected an integer, got '{step}'" if step == "x"
            else f"must be >= 1, got {step}")
    assert line == f"jaxent kerr: error: argument --nmax-step: {want}"


def test_help_shows_defaults(capsys):
    assert _run(["dicke", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 1e-3)" in text and "(default: 0.5:1.5:200)" in text
    assert _run(["kerr", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 10:40:7)" in text or "--N" in text
    assert text.count("(default") >= 8


def test_ranges_give_the_decimals_typed():
    from jaxent.commands._args import parse_values

    vals = parse_values(["0.5:1.3:41"], "eps").tolist()
    assert vals[35] == 1.2 and vals[5] == 0.6 and vals[-1] == 1.3
    assert parse_values(["1:2:1"], "x").tolist() == [1.0]
    assert parse_values(["-1e-3"], "x").tolist() == [-0.001]
    # a range typed with a dash is told the form ranges take
    with pytest.raises(argparse.ArgumentTypeError, match=r"^--eps: cannot parse '0.5-1.3' "
                                                         r"\(not a number; a range is "
                                                         r"start:stop:count\)$"):
        parse_values(["0.5-1.3"], "eps")


@pytest.mark.parametrize("argv, line", [
    (["--T1", "-3"], "--T1: temperatures must be > 0, got -3"),
    (["--T2", "nan"], "--T2: values must be finite, got ['nan']"),
    (["--delta-T-low", "3"], "--delta-T-low: T1 = --T-low - Delta T must be > 0, got -1.04"),
])
def test_oscillator_temperatures_name_the_flag(tmp_path, capsys, argv, line):
    assert _run(["oscillators", *argv, "--out", str(tmp_path)]) == 2
    assert _usage_and_error(capsys)[1] == f"jaxent oscillators: error: {line}"


def test_oscillators_compute_only_the_temperatures_asked_for(tmp_path, capsys):
    from jaxent.io import read_csv

    argv = ["oscillators", "--coupling", "pp", "--lam-over-lamc", "0.3", "0.6", "--T1", "98",
            "--T2", "98", "--out", str(tmp_path), "--no-progress"]
    assert _run(argv) == 0
    data = read_csv(tmp_path / "oscillators.csv")
    assert set(zip(data["T1"], data["T2"])) == {(98.0, 98.0)}
    # 2 pumps x 1 pair x 4 methods (local, global, Langevin, Gibbs at T1 = T2), pp only
    assert "computed 8 points" in capsys.readouterr().out


def test_dicke_fit_window_checks_and_fit_quality(tmp_path, capsys):
    out = str(tmp_path)
    assert _run(["dicke", "--fit-window", "0.1", "0.001", "--out", out]) == 2
    assert _usage_and_error(capsys)[1] == (
        "jaxent dicke: error: --fit-window: needs 0 < LO < HI (a range of |lam - lam_c|/lam_c), "
        "got 0.1 0.001")
    # the README example: the exact critical point is skipped with a note, the rest computed
    argv = ["dicke", "--lam-over-lamc", "0.9:1.1:21", "--gamma", "1e-6", "--out", out,
            "--no-progress"]
    with pytest.warns(Warning, match=r"exactly at lambda_c .* skipped"):
        assert _run(argv) == 0
    cap = capsys.readouterr()
    assert "(21 points, 1 flagged; 20 in the figure)" in cap.out
    slopes = next(ln for ln in cap.out.splitlines() if "slope of log10 Pi_d" in ln)
    assert slopes.count("+-") == 2 and "rms" in slopes and "local slope" in slopes
    # fewer than 3 points in the window: says why instead of printing nan
    assert _run(argv + ["--fit-window", "0.001", "0.015"]) == 0
    slopes = next(ln for ln in capsys.readouterr().out.splitlines() if "slope of" in ln)
    assert "no fit (1 point in the window, 3 needed" in slopes


def test_dicke_slope_fit_quality_measures():
    import numpy as np

    from jaxent.plotting.dicke import fit_slope

    x = np.linspace(-3, -1, 9)
    line = fit_slope(x, 2.0 - 1.0 * x)
    assert abs(line.slope + 1) < 1e-12 and line.rms < 1e-12 and line.n == 9
    assert abs(line.local_lo - line.local_hi) < 1e-9
    curved = fit_slope(x, -0.2 * x**2)  # local slope 1.2 at x = -3 and 0.4 at x = -1
    assert abs(curved.local_lo - 1.2) < 1e-9 and abs(curved.local_hi - 0.4) < 1e-9
    assert curved.rms > 1e-2 and curved.stderr > 0


def test_chain_with_an_absurd_rate_is_flagged_not_a_crash(tmp_path, capsys):
    argv = ["chain", "--gamma", "1e300", "--L", "2", "5", "--out", str(tmp_path), "--no-progress"]
    with pytest.warns(Warning, match="use rates of similar size"):
        assert _run(argv) == 0
    cap = capsys.readouterr()
    assert "max()" not in cap.err + cap.out
    assert "no figures: every row of this sweep is flagged" in cap.out


def test_warnings_are_one_line_without_source(tmp_path):
    """As a user sees them (a subprocess: pytest records warnings instead of printing them)."""
    import subprocess

    argv = ["kerr", "--N", "5", "--eps", "1.3", "--nmax", "12", "--out", str(tmp_path),
            "--no-progress"]
    proc = subprocess.run([sys.executable, "-m", "jaxent", *argv], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    warn = [ln for ln in err if ln.startswith("jaxent kerr: warning: ")]
    assert len(warn) == 1 and "raise --nmax above 12" in warn[0], err
    assert not any("run_sweep(" in ln or ln.startswith("  ") for ln in err), err


def test_warning_format_is_restored(tmp_path, capsys):
    assert _run(["dicke", "--lam-over-lamc", "0.5", "--out", str(tmp_path), "--no-progress"]) == 0
    assert warnings.formatwarning is _FORMAT


def _kerr_figure(data, path, monkeypatch):
    """The Figure ``plot_kerr_fig2`` draws from ``data`` (saved to ``path``)."""
    import jaxent.plotting.kerr as kerr_plot

    figs = []
    plain = kerr_plot.subplots

    def subplots(*args, **kwargs):
        fig, ax = plain(*args, **kwargs)
        figs.append(fig)
        return fig, ax

    monkeypatch.setattr(kerr_plot, "subplots", subplots)
    kerr_plot.plot_kerr_fig2(data, path)
    return figs[0]


def test_kerr_figure_with_one_size_labels_it_once(tmp_path, monkeypatch):
    import numpy as np

    eps = np.linspace(0.5, 1.3, 5)
    data = {"N": [5.0] * 5, "eps": list(eps), "Pi_U": list(eps), "Pi_d": list(eps**2)}
    for ax in _kerr_figure(data, tmp_path / "k.png", monkeypatch).axes[:2]:  # panels (a), (b)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["N = 5"]


def test_kerr_figure_of_one_pump_shows_it(tmp_path, monkeypatch):
    """One pump (a README example, ``--N 40 --eps 1.3``): every panel draws the point, with a
    marker, and the collapse panels keep it in view (it lies outside the paper's window)."""
    import numpy as np

    data = {"N": [40.0], "eps": [1.3], "Pi_U": [0.19], "Pi_d": [0.69]}
    for ax in _kerr_figure(data, tmp_path / "k.png", monkeypatch).axes[:4]:
        line = ax.get_lines()[0]  # the data (then eps_c's vertical line in (a), (b))
        assert line.get_marker() not in (None, "", "None")
        x, y = line.get_xydata()[0]
        lo, hi = ax.get_xlim()
        assert lo <= x <= hi and np.isfinite(y)


def test_refused_command_leaves_no_new_empty_folder(tmp_path, capsys):
    """A command refused after it created --out (parameters checked in the sweep) removes that
    folder when still empty; a folder that existed before is kept."""
    new = tmp_path / "new"
    assert _run(["kerr", "--N", "10", "--eps", "0.9", "--kappa", "-0.5", "--out", str(new)]) == 2
    assert "kappa must be positive" in capsys.readouterr().err and not new.exists()
    old = tmp_path / "old"
    old.mkdir()
    assert _run(["kerr", "--N", "10", "--eps", "-0.9", "--out", str(old)]) == 2
    assert old.is_dir()


def test_console_ctrl_c_while_importing_is_one_line(tmp_path):
    """A Ctrl-C in the command's first second, while it imports JAX: the same one line and
    exit 130 as later, no traceback (the handler is installed before the imports)."""
    import signal
    import subprocess
    import time

    env = dict(os.environ, JAXENT_CACHE_DIR=str(tmp_path / "xla"))
    argv = [sys.executable, "-m", "jaxent", "kerr", "--N", "5", "--eps", "0.5", "--no-progress",
            "--out", str(tmp_path / "out")]
    # Python leaves SIGINT ignored if it was ignored at its start (a background job): a shim
    # restores the default and execs the command (no preexec_fn: a fork of this
    # multithreaded JAX process)
    shim = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
            f"os.execv(sys.executable, {argv!r})")
    proc = subprocess.Popen([sys.executable, "-c", shim], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    # The figure worker is started right after the handler, just before the command imports
    # JAX (about 1 s): its appearance is the moment to press Ctrl-C.
    children = f"/proc/{proc.pid}/task/{proc.pid}/children"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with open(children) as fh:
                if fh.read().strip():
                    break
        except OSError:
            pytest.skip("no /proc children list on this system")
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        "interrupted: re-run the same command to resume (rows already written are kept)"]


def test_a_leftover_interrupt_flag_does_not_stop_a_later_call(tmp_path, monkeypatch, capsys):
    """The console handler's record of a Ctrl-C (set by an earlier console run in this
    process, or a test of the handler) concerns that run only: main(argv) runs normally."""
    import jaxent.cli as cli

    monkeypatch.setattr(cli, "_INTERRUPTED", True)
    assert _run(["kerr", "--N", "2", "--eps", "0.5", "--nmax", "8", "--out", str(tmp_path),
                 "--no-progress"]) == 0
