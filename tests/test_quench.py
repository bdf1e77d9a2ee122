"""Kerr quench and spectrum studies (jaxent.studies.quench, jaxent.studies.spectrum) and their
commands: rows per save time, one compilation per shape, resume, bad input."""

import csv

import numpy as np
import pytest

from jaxent.cli import main
from jaxent.io import read_csv
from jaxent.models.kerr import Kerr
from jaxent.studies.kerr import kerr_point
from jaxent.studies.quench import QUENCH_PARAMS, quench_sweep
from jaxent.studies.spectrum import spectrum_sweep

QUENCH_COLUMNS = ["N", "eps_i", "eps_f", "t", "nmax", "alpha_re", "alpha_im", "n_photons",
                  "S_wehrl", "Phi", "Phi_q", "Pi_ext", "Pi_J", "Pi_d", "Pi_U", "dS_dt", "G"]


def _run(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_quench_sweep_rows_compile_once_and_resume(tmp_path):
    out = tmp_path / "quench.csv"
    ts = np.linspace(0.0, 2.0, 5)
    r = quench_sweep([1], [0.5], [0.6, 1.3], out, t_values=ts, chunk=2, progress=False)
    assert (r.computed, r.compilations) == (2, 1)  # two quenches, one program
    data = read_csv(out, key=list(QUENCH_PARAMS) + ["t"])
    assert set(QUENCH_COLUMNS) <= set(data)
    assert len(data["t"]) == 10 and not any(data["flags"])
    t0 = [i for i in range(10) if data["t"][i] == 0.0]
    # t = 0 is the NESS at eps_i (kerr_point: an independent pipeline through the same terms)
    ness = kerr_point(Kerr(eps=0.5, N=1), int(data["nmax"][0]))
    for i in t0:
        assert data["Phi"][i] == pytest.approx(float(ness["Phi"]), abs=1e-12)
    # the two quenches differ after t = 0
    later = {data["eps_f"][i]: data["Phi"][i] for i in range(10) if data["t"][i] == 2.0}
    assert abs(later[0.6] - later[1.3]) > 0.1
    # a re-run computes nothing; a trajectory with a missing row is recomputed whole
    r = quench_sweep([1], [0.5], [0.6, 1.3], out, t_values=ts, chunk=2, progress=False)
    assert (r.computed, r.skipped) == (0, 2)
    with open(out) as f:
        lines = f.readlines()
    with open(out, "w") as f:
        f.writelines(lines[:-1])
    r = quench_sweep([1], [0.5], [0.6, 1.3], out, t_values=ts, chunk=2, progress=False)
    assert (r.computed, r.skipped) == (1, 1)
    assert len(read_csv(out)["t"]) == 10


# nmax 16 is too small for some of these rows (flagged): only the compilations matter here
@pytest.mark.filterwarnings("ignore::jaxent.sweep.SweepWarning")
def test_later_sweeps_of_the_same_shapes_compile_nothing(tmp_path, xla_compilations):
    """Within one process (a notebook), a second spectrum or quench sweep at other sizes and
    parameters but the same shapes reuses every program: the sweep's point program and the
    gaps that set the automatic save times. (Before, the spectrum's point function was a
    closure made per call and the gaps were jitted per call with N baked in: a notebook paid
    4-9 s of compilation per call.)"""
    kw = dict(nmax=16, chunk=2, progress=False)
    spectrum_sweep([1, 2], [0.6, 0.9], tmp_path / "s1.csv", **kw)
    quench_sweep([1, 2], [0.5], [0.6, 1.3], tmp_path / "q1.csv", t_auto=5, **kw)
    before = xla_compilations()
    r = spectrum_sweep([3], [0.7, 1.0], tmp_path / "s2.csv", kappa=0.6, **kw)
    assert r.computed == 2 and r.compilations == 0
    r = quench_sweep([1.5], [0.4], [0.7, 1.2], tmp_path / "q2.csv", t_auto=5, kappa=0.6, **kw)
    assert r.computed == 2 and r.compilations == 0
    assert xla_compilations() == before


def test_quench_sweep_bad_input(tmp_path):
    out = tmp_path / "q.csv"
    with pytest.raises(ValueError, match="^t:"):
        quench_sweep([1], [0.5], [0.6], out, t_values=[0.0, 2.0, 1.0], progress=False)
    with pytest.raises(ValueError, match="^t:"):
        quench_sweep([1], [0.5], [0.6], out, progress=False)
    with pytest.raises(ValueError, match="^eps_f"):
        quench_sweep([1], [0.5], [float("nan")], out, t_values=[0.0, 1.0], progress=False)
    with pytest.raises(ValueError, match="^kappa"):
        quench_sweep([1], [0.5], [0.6], out, t_values=[0.0, 1.0], kappa=-1.0, progress=False)


def test_quench_command_and_its_errors(tmp_path, capsys):
    out = tmp_path / "q"
    # --chunk 2: the program of the test above (same shapes), no second compilation
    assert _run(["quench", "--N", "1", "--eps-f", "0.6", "--t", "0:2:5", "--out", str(out),
                 "--chunk", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "quench.csv" in printed
    for name in ("quench.csv", "quench_G.png", "quench_Phi.png", "quench_Phi_q.png",
                 "quench_Pi_d.png", "quench_Pi_U.png"):
        assert (out / name).stat().st_size > 0
    with open(out / "quench.csv") as f:
        header = next(csv.reader(f))
    assert header[:4] == ["N", "eps_i", "eps_f", "kappa"] and set(QUENCH_COLUMNS) <= set(header)
    for bad, msg in ((["--t", "2:0:3"], "--t: save times must be strictly increasing"),
                     (["--t", "0", "2", "1"], "--t: save times must be strictly increasing"),
                     (["--t", "auto", "5"], "--t: cannot parse"),
                     (["--t", "auto:2"], "--t: auto needs at least 3 save times"),
                     (["--t", "soon"], "--t: cannot parse"),
                     (["--eps-f", "-1"], "--eps-f: pumps must be >= 0")):
        argv = ["quench", "--N", "1", "--out", str(tmp_path / "bad"), "--no-progress"] + bad
        assert _run(argv) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert msg in err[-1] and err[-1].startswith("jaxent quench: error:"), err
        assert not any("Traceback" in ln for ln in err)


def test_spectrum_sweep_and_command(tmp_path, capsys):
    out = tmp_path / "s"
    assert _run(["spectrum", "--N", "1", "--eps", "0.6", "1.0", "--k", "3", "--out", str(out),
                 "--no-progress"]) == 0
    data = read_csv(out / "spectrum.csv")
    for col in ("N", "eps", "nmax", "gap", "lambda_1_re", "lambda_1_im", "lambda_3_im",
                "resolution_1"):
        assert col in data
    assert np.allclose(data["gap"], -np.asarray(data["lambda_1_re"]))
    assert (out / "spectrum_gap.png").stat().st_size > 0
    r = spectrum_sweep([1], [0.6, 1.0], out / "spectrum.csv", k=3, progress=False)
    assert (r.computed, r.skipped) == (0, 2)
    with pytest.raises(ValueError, match="^k must"):
        spectrum_sweep([1], [0.6], tmp_path / "x.csv", k=0, progress=False)


def test_save_times_take_values_and_ranges_in_any_mix():
    from jaxent.commands.quench import parse_times

    ts, auto = parse_times(["0", "0.5", "1:2:3"])
    np.testing.assert_array_equal(ts, [0.0, 0.5, 1.0, 1.5, 2.0])
    assert auto is None
    np.testing.assert_array_equal(parse_times(["0,0.5", "1"])[0], [0.0, 0.5, 1.0])
    assert parse_times(["auto:7"]) == (None, 7) and parse_times("auto") == (None, 201)
