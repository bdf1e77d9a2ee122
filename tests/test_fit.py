"""Kerr parameter fits (:mod:`jaxent.studies.fit`, ``jaxent fit``).

Synthetic data: the exact model curves at known parameters plus Gaussian noise of 1 % of each
value (and a floor of 1e-3 where a value crosses zero, ``alpha_im``). Every fit here shares one
configuration (N, 12 pumps across the bistable switch, three observables, ``nmax``), so the
whole file compiles each fit program once.

Statistics over the 10 seeds, with bounds derived from the distributions they follow:

- coverage: each of the 30 (parameter, seed) pairs lies within 2 standard errors with
  probability 0.954 if the errors are honest; ``X ~ Binomial(30, 0.954)`` has
  ``P(X <= 22) = 4e-5`` (9e-5 for p = 0.95), so at least 23 of 30 are required;
- ``chi2/dof``: each fit's chi2 is ~ chi2 with ``dof = 36 - 3 = 33`` degrees of freedom, so the
  mean of 10 values of chi2/dof has mean 1 and standard deviation ``sqrt(2 / (33 x 10)) =
  0.078``; four of those (``|mean - 1| < 0.31``) fail with probability 1e-4 (the sum of the
  ten chi2 is chi2 with 330 degrees of freedom);
- error bars against the spread: for each parameter the RMS deviation of the 10 best fits from
  the truth, over the mean standard error, is ``sqrt(chi2_10 / 10)`` if the errors are honest;
  it lies within a factor 2 (``2.5 < chi2_10 < 40``) with probability 0.99 per parameter.
"""

import argparse
import csv
import math

import numpy as np
import pytest

import jaxent.cli as cli
from jaxent.commands import fit as fit_cmd
from jaxent.studies.fit import (
    FIT_OBSERVABLES,
    LM_CHUNK,
    LM_KEEP,
    fit_data,
    fit_kerr,
    kerr_curves,
    read_fit_data,
)

N = 6.0
EPS = np.linspace(0.4, 1.4, 12)
OBS = ("n_photons", "alpha_re", "alpha_im")
TRUTH = {"kappa": 0.5, "delta": -2.0, "u": 1.0}
PARAMS = ("kappa", "delta", "u")
SEEDS = range(10)
#: A guess off the truth by 10-20 %, where the recovery fits start.
GUESS = {"kappa": 0.6, "delta": -1.8, "u": 1.1}


@pytest.fixture(scope="module")
def clean():
    return kerr_curves(EPS, N, OBS, **TRUTH)


@pytest.fixture(scope="module")
def nmax():
    """The truncation every fit shares (the fit's own rule at the truth; one compilation)."""
    from jaxent.studies.fit import NMAX_MARGIN, _needed_nmax

    return _needed_nmax(N, float(EPS.max()), TRUTH, NMAX_MARGIN)


def _noisy(clean, seed):
    rng = np.random.default_rng(seed)
    sigma = 0.01 * np.abs(clean) + 1e-3
    return clean + sigma * rng.standard_normal(clean.shape), sigma


def _data(values, sigma, eps=EPS):
    return fit_data(eps, {o: values[:, k] for k, o in enumerate(OBS)},
                    {o: sigma[:, k] for k, o in enumerate(OBS)}, N=N)


@pytest.fixture(scope="module")
def recovery(clean, nmax):
    fits = []
    for seed in SEEDS:
        values, sigma = _noisy(clean, seed)
        fits.append(fit_kerr(_data(values, sigma), N, guess=GUESS, starts=1, nmax=nmax))
    return fits


def test_recovery_within_two_sigma(recovery):
    truth = np.array([TRUTH[p] for p in PARAMS])
    for f in recovery:
        assert f.params == PARAMS and f.converged and f.identifiable
        assert f.dof == len(EPS) * len(OBS) - 3
    z = np.array([(f.value - truth) / f.stderr for f in recovery])
    inside = int(np.sum(np.abs(z) < 2))
    assert inside >= 23, f"only {inside} of 30 pairs within 2 sigma: z = {z}"
    mean = np.mean([f.chi2_per_dof for f in recovery])
    assert abs(mean - 1.0) < 0.31, mean


def test_stderr_matches_spread(recovery):
    truth = np.array([TRUTH[p] for p in PARAMS])
    values = np.array([f.value for f in recovery])
    stderr = np.array([f.stderr for f in recovery])
    # the Laplace errors barely change between seeds (same design, same noise level)
    assert np.all(np.std(stderr, axis=0) < 0.1 * np.mean(stderr, axis=0))
    ratio = np.sqrt(np.mean((values - truth) ** 2, axis=0)) / np.mean(stderr, axis=0)
    assert np.all((ratio > 0.5) & (ratio < 2.0)), dict(zip(PARAMS, ratio))


def test_hessian_is_exact_not_gauss_newton(recovery):
    """The covariance is the inverse exact Hessian of chi2/2 in (kappa, delta, u); the
    Gauss-Newton part J^T J alone differs from it by the residual curvature term."""
    f = recovery[0]
    assert np.allclose(f.covariance, np.linalg.inv(f.hessian), rtol=1e-10, atol=0)
    assert np.allclose(f.stderr, np.sqrt(np.diag(f.covariance)))
    # the model curves at the data are the data minus the residuals
    assert np.allclose(f.curves - f.residuals * f.sigma, f.data, rtol=0, atol=1e-12)


def test_far_guess_multistart(clean, nmax):
    """From a guess with the wrong sign of the detuning, the multi-start (the guess and the
    best-ranked candidate of a grid around it and of its (delta, u) mirror images) finds the
    truth. (At this N a single Levenberg-Marquardt run in log kappa gets there too, from every
    guess tried, kappa 0.05-1e6, |delta| up to 30, u 0.1-40; the multi-start is insurance for
    sharper switches, and this checks that it runs and keeps the best run.)"""
    values, sigma = _noisy(clean, 100)
    far = {"kappa": 0.5, "delta": 8.0, "u": 1.0}
    f = fit_kerr(_data(values, sigma), N, guess=far, starts=2, nmax=nmax)
    assert f.n_starts == 2 and f.converged and 1 <= f.n_at_best <= 2
    for p, v, s in zip(f.params, f.value, f.stderr):
        assert abs(v - TRUTH[p]) < 4 * s, (p, v, s)
    assert f.chi2_per_dof < 2.0


def test_a_start_that_wanders_off_stops_after_one_chunk(clean, nmax):
    """A start that LM drives to where the model barely depends on the parameters (kappa =
    0.02, |delta| = 30: chi2/dof ~ 1e3 after 32 steps) stops after LM_CHUNK steps once another
    start is more than LM_KEEP times lower; the fit is the other start's, converged. (Before,
    every start ran up to max_steps: from the default guess, the notebook's fit at N = 5
    spent 37 of its 45 s on such a start.)"""
    values, sigma = _noisy(clean, 100)
    stuck = {"kappa": 0.02, "delta": -30.0, "u": 6.0}
    f = fit_kerr(_data(values, sigma), N, starts=[GUESS, stuck], nmax=nmax)
    assert f.n_starts == 2 and f.start_index == 0 and f.converged
    assert f.start_steps[0] == f.n_steps < LM_CHUNK
    assert f.start_steps[1] == LM_CHUNK
    assert f.start_chi2[1] > LM_KEEP * f.start_chi2[0]
    assert f.start_chi2[0] == pytest.approx(f.chi2, rel=1e-9)
    for p, v, s in zip(f.params, f.value, f.stderr):
        assert abs(v - TRUTH[p]) < 4 * s, (p, v, s)


def test_not_identifiable_is_refused(nmax):
    """Deep in the linear regime (eps = 1e-4: <n> ~ 1e-8) the Kerr term changes the curves by a
    relative ~u<n>/N ~ 1e-9, far below the 1 % noise: u cannot be determined, and the fit
    says so instead of quoting an error bar of ~1e8."""
    eps = np.full(len(EPS), 1e-4)
    clean = kerr_curves(eps, N, OBS, **TRUTH, nmax=nmax)
    sigma = 0.01 * np.abs(clean)
    data = _data(clean, sigma, eps)
    with pytest.raises(ValueError, match="not identifiable") as exc:
        fit_kerr(data, N, guess=TRUTH, starts=1, nmax=nmax)
    msg = str(exc.value)
    assert msg.startswith("the free parameters are not identifiable from n_photons, alpha_re, "
                          "alpha_im at these pumps: the Hessian of chi2/2 is singular")
    assert "along u;" in msg and "fix one of them" in msg
    f = fit_kerr(data, N, guess=TRUTH, starts=1, nmax=nmax, allow_singular=True)
    assert not f.identifiable and np.all(np.isnan(f.stderr))
    assert any("not identifiable" in n for n in f.notes)


def test_unweighted_fit_says_so(clean, nmax):
    """Without uncertainties: sigma = 1, chi2/dof is the residual variance and the errors are
    scaled by sqrt(chi2/dof)."""
    values, _ = _noisy(clean, 3)
    data = fit_data(EPS, {o: values[:, k] for k, o in enumerate(OBS)}, N=N)
    assert data.sigma is None
    f = fit_kerr(data, guess=GUESS, starts=1, nmax=nmax)
    assert not f.weighted and f.notes[0].startswith("no uncertainties in the data: unweighted")
    assert np.all(f.sigma == 1.0)
    assert math.isclose(f.chi2_per_dof, np.sum((f.curves - values) ** 2) / f.dof, rel_tol=1e-9)
    cov = np.linalg.inv(f.hessian) * f.chi2_per_dof
    assert np.allclose(f.stderr, np.sqrt(np.diag(cov)), rtol=1e-10, atol=0)
    for p, v, s in zip(f.params, f.value, f.stderr):
        assert abs(v - TRUTH[p]) < 4 * s, (p, v, s)


# ----------------------------------------------------------------------------------------------
# bad input: one clear line naming the problem


def _write(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"data file .*nope.csv does not exist"):
        read_fit_data(tmp_path / "nope.csv")
    p = _write(tmp_path / "a.csv", ["pump", "n_photons"], [[0.5, 1.0]])
    with pytest.raises(ValueError, match=r"no 'eps' column \(found: pump, n_photons\)"):
        read_fit_data(p)
    p = _write(tmp_path / "b.csv", ["eps", "S_wehrl"], [[0.5, 1.0]])
    with pytest.raises(ValueError, match="no observable column; expected one or more of "
                                         "n_photons, alpha_re, alpha_im, Phi, Pi_d"):
        read_fit_data(p)
    p = _write(tmp_path / "c.csv", ["eps", "n_photons", "alpha_re"],
               [[0.5, 1.0, 0.1], [0.6, "nan", 0.2]])
    with pytest.raises(ValueError, match=r"column 'n_photons', line 3 is nan \(every value "
                                         r"must be a finite number\)"):
        read_fit_data(p)
    p = _write(tmp_path / "d.csv", ["eps", "alpha_re"], [[0.5, "inf"]])
    with pytest.raises(ValueError, match="column 'alpha_re', line 2 is inf"):
        read_fit_data(p)
    p = _write(tmp_path / "e.csv", ["eps", "n_photons"], [[0.5, "abc"]])
    with pytest.raises(ValueError, match="column 'n_photons', line 2: 'abc' is not a number"):
        read_fit_data(p)
    p = _write(tmp_path / "f.csv", ["eps", "n_photons", "sigma_n_photons"],
               [[0.5, 1.0, 0.1], [0.6, 2.0, -0.1]])
    with pytest.raises(ValueError, match="column 'sigma_n_photons', line 3: uncertainty -0.1 "
                                         "must be positive"):
        read_fit_data(p)
    p = _write(tmp_path / "g.csv", ["eps", "n_photons", "alpha_re", "sigma"], [[0.5, 1, 2, 3]])
    with pytest.raises(ValueError, match="a single 'sigma' column is ambiguous with several "
                                         r"observables \(n_photons, alpha_re\)"):
        read_fit_data(p)
    p = _write(tmp_path / "h.csv", ["eps", "n_photons", "alpha_re", "sigma_n_photons"],
               [[0.5, 1, 2, 3]])
    with pytest.raises(ValueError, match="sigma_alpha_re missing"):
        read_fit_data(p)
    p = _write(tmp_path / "i.csv", ["N", "eps", "n_photons"], [[20, 0.5, 1.0], [20, 0.6, 2.0]])
    with pytest.raises(ValueError, match="column 'N' holds N=20 but N=10 was given"):
        read_fit_data(p, N=10)
    data = read_fit_data(p)
    assert data.N == 20 and data.sigma is None and data.observables == ("n_photons",)
    with pytest.raises(ValueError, match="column 'N' holds N=20 but N=10 was given"):
        fit_kerr(data, 10)
    p = _write(tmp_path / "j.csv", ["N", "eps", "n_photons"],
               [[20, 0.5, 1.0], [30, 0.6, 2.0], [20, 0.7, 3.0], [30, 0.8, -1.0]])
    with pytest.raises(ValueError, match=r"several sizes \(20, 30\); fit one size at a time: "
                                         "choose it with --N"):
        read_fit_data(p)
    # N picks its rows out of a file of several sizes (the default kerr sweep's kerr.csv)
    data = read_fit_data(p, N=20)
    assert data.N == 20 and list(data.eps) == [0.5, 0.7] and list(data.column("n_photons")) == [
        1.0, 3.0]
    with pytest.raises(ValueError, match=r"holds the sizes 20, 30, not N=25 \(--N\)"):
        read_fit_data(p, N=25)
    p = _write(tmp_path / "j2.csv", ["N", "eps", "n_photons"],
               [[20, 0.5, 1.0], [30, 0.6, 2.0], [20, -0.7, 3.0]])
    with pytest.raises(ValueError, match="column 'eps', line 4: pump -0.7"):  # the file's line
        read_fit_data(p, N=20)
    p = _write(tmp_path / "k.csv", ["eps", "n_photons"], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="column 'eps', line 2: pump 0.0 must be positive"):
        read_fit_data(p)
    p = _write(tmp_path / "l.csv", ["eps", "n_photons", "alpha_re"], [[0.5, 1.0, 0.1]])
    with pytest.raises(ValueError, match="observable 'gamma' does not exist"):
        read_fit_data(p, observables=["gamma"])
    assert read_fit_data(p, observables=["alpha_re"]).observables == ("alpha_re",)


def test_bad_fit_arguments(tmp_path):
    data = fit_data(EPS, {"n_photons": np.arange(1.0, 13.0)}, 0.1)
    with pytest.raises(ValueError, match="free parameter 'gamma' does not exist; choose from "
                                         "kappa, delta, u"):
        fit_kerr(data, N, free=("delta", "gamma"))
    with pytest.raises(ValueError, match=r"N is not given: pass the size parameter N \(--N\)"):
        fit_kerr(data)
    with pytest.raises(ValueError, match="N must be positive"):
        fit_kerr(data, -3.0)
    with pytest.raises(ValueError, match="kappa is both free and fixed"):
        fit_kerr(data, N, free=("kappa",), fixed={"kappa": 0.5})
    with pytest.raises(ValueError, match="kappa must be positive"):
        fit_kerr(data, N, free=("delta",), fixed={"kappa": -0.5})
    small = fit_data(EPS[:2], {"n_photons": [1.0, 2.0]})
    with pytest.raises(ValueError, match="2 points x 1 observables cannot fit 3 free parameters"):
        fit_kerr(small, N)
    with pytest.raises(ValueError, match="uncertainty -1.0 must be positive"):
        fit_data(EPS, {"n_photons": np.ones(12)}, -1.0)
    with pytest.raises(ValueError, match="observable 'gamma' does not exist"):
        fit_data(EPS, {"gamma": np.ones(12)})
    assert set(FIT_OBSERVABLES) == {"n_photons", "alpha_re", "alpha_im", "Phi", "Pi_d"}


# ----------------------------------------------------------------------------------------------
# the command line


def _run(argv, monkeypatch):
    monkeypatch.setitem(cli.COMMANDS, "fit", "jaxent.commands.fit")
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code


def test_cli_writes_fit_csv_and_png(tmp_path, clean, nmax, capsys):
    # the sub-command's own parser and run() (jaxent.cli.main would also switch on the
    # persistent compilation cache, which makes this process compile everything again)
    values, sigma = _noisy(clean, 7)
    header = ["N", "eps"] + list(OBS) + [f"sigma_{o}" for o in OBS]
    rows = [[N, e, *values[i], *sigma[i]] for i, e in enumerate(EPS)]
    data = _write(tmp_path / "measured.csv", header, rows)
    out = tmp_path / "out"
    sub = argparse.ArgumentParser().add_subparsers()
    fit_cmd.add_parser(sub)
    args = sub.choices["fit"].parse_args(
        ["--data", str(data), "--N", "6", "--free", "u", "delta", "kappa", "--kappa", "0.6",
         "--delta", "-1.8", "--u", "1.1", "--starts", "1", "--nmax", str(nmax), "--out",
         str(out)])
    fit_cmd.run(args)
    printed = capsys.readouterr().out
    assert "chi2/dof" in printed and "converged" in printed and "kappa" in printed
    with open(out / "fit.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["param", "value", "stderr"]
    assert [r["param"] for r in rows] == ["kappa", "delta", "u", "chi2_per_dof"]
    for r in rows[:3]:
        v, s = float(r["value"]), float(r["stderr"])
        assert 0 < s < 0.05 and abs(v - TRUTH[r["param"]]) < 5 * s
    assert rows[3]["stderr"] == "" and 0.3 < float(rows[3]["value"]) < 3
    png = (out / "fit.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert sorted(p.name for p in out.iterdir()) == ["fit.csv", "fit.png"]


def test_cli_errors_are_one_line(tmp_path, monkeypatch, capsys):
    data = _write(tmp_path / "m.csv", ["eps", "n_photons"], [[0.5, 1.0], [0.6, 2.0],
                                                             [0.7, 3.0], [0.8, 4.0]])
    code = _run(["fit", "--data", str(data), "--N", "6", "--free", "gamma", "--out",
                 str(tmp_path / "o")], monkeypatch)
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 2
    assert err[-1] == ("jaxent fit: error: free parameter 'gamma' does not exist; choose from "
                       "kappa, delta, u")
    code = _run(["fit", "--data", str(data), "--out", str(tmp_path / "o")], monkeypatch)
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and "N is not given" in err[-1]
    assert not (tmp_path / "o").exists()


def test_parser_without_cli_registration():
    sub = argparse.ArgumentParser().add_subparsers()
    fit_cmd.add_parser(sub)
    args = sub.choices["fit"].parse_args(["--data", "x.csv", "--N", "20", "--free", "delta",
                                          "--u", "2", "--out", "o"])
    assert args.free == ["delta"] and args.u == 2.0 and args.kappa is None and args.starts == 4
    assert math.isclose(args.N, 20.0)
