"""The Gaussian models on the sweep engine (jaxent.studies.{dicke, chain, oscillators}): CSV
columns, one compilation per static shape, one failure policy (flagged rows written, the sweep
goes on, --recompute-flagged recomputes them)."""

import warnings

import numpy as np
import pytest

import jaxent.sweep as sweep
from jaxent.io import read_csv
from jaxent.studies import chain as chain_study, dicke as dicke_study, oscillators as osc_study
from jaxent.sweep import SweepWarning, run_sweep

W0, W, K = 0.005, 0.01, 1.0


def test_columns_keep_their_names():
    """The physics and diagnostic column names of the old commands are part of the interface."""
    assert dicke_study.DICKE_COLUMNS == [
        "lam_over_lamc", "omega0", "omega", "kappa", "gamma",
        "lam", "lam_c", "Pi_U", "dPi_U_dlam", "Pi_d", "dPi_d_dlam", "Phi_q", "Pi_d_a",
        "n_a_fluct", "n_b_fluct", "alpha_re", "alpha_im", "beta",
        "superradiant", "at_critical", "max_re_eig", "ness_identity_residual", "lyapunov_residual",
        "flags"]
    assert chain_study.CHAIN_COLUMNS == [
        "L", "gamma", "Gamma", "lam", "n1", "nL",
        "current", "Pi_NESS", "Pi_r", "Pi_sc", "Phi_1", "Phi_L", "N_1", "N_L",
        "residual", "offband_residual", "ness_identity_residual", "closed_form_residual", "flags"]
    assert osc_study.OSC_COLUMNS == [
        "lam_over_lamc", "T1", "T2", "omega1", "omega2", "gamma1", "gamma2", "coupling", "method",
        "lam", "omega_minus", "omega_plus", "n1", "n2", "mutual_info", "min_symplectic_eig",
        "flags"]
    # the command modules repeat the keys (so the parser does not import JAX): same lists
    from jaxent.commands import chain, dicke, oscillators

    assert dicke.DICKE_KEY == dicke_study.DICKE_STUDY.key
    assert chain.CHAIN_KEY == chain_study.CHAIN_STUDY.key
    assert oscillators.KEY == osc_study.OSC_STUDY.key
    assert dicke_study.DICKE_STUDY.columns(["gamma"])[-2] == "dbeta_dgamma"


def _dicke_points(ratios, gamma):
    return [dict(lam_over_lamc=r, omega0=W0, omega=W, kappa=K, gamma=g)
            for r in ratios for g in gamma]


def _chain_points(Ls, lam):
    return [dict(L=float(L), gamma=1e-6, Gamma=1e-7, lam=la, n1=1.0, nL=2.0)
            for L in Ls for la in lam]


def _osc_points(ratios, T2s):
    return [dict(lam_over_lamc=r, T1=98.0, T2=T2, omega1=5.0, omega2=2.0, gamma1=1.5e-4,
                 gamma2=1.5e-4, coupling="rw", method="langevin") for r in ratios for T2 in T2s]


@pytest.mark.parametrize("study, first, second", [
    (dicke_study.DICKE_STUDY, _dicke_points([0.5, 1.2], [1e-3]),
     _dicke_points([0.3, 0.8, 2.0], [1e-6, 1e-2])),
    # sizes 3..8 share the padded size 8; L itself is traced
    (chain_study.CHAIN_STUDY, _chain_points([3, 5], [3e-7]),
     _chain_points([2, 7, 8], [1e-7, 1e-6])),
    (osc_study.OSC_STUDY, _osc_points([0.2, 0.5], [98.0]), _osc_points([0.1, 0.9, 0.95], [120.0])),
], ids=["dicke", "chain", "oscillators"])
def test_one_compilation_per_static_shape(study, first, second, tmp_path, monkeypatch):
    """Other parameter values (sizes included for the chain) with the same static data reuse the
    compiled batch function: 1 trace for the first sweep, 0 for the second."""
    monkeypatch.setattr(sweep, "_COMPILED", {})
    r1 = run_sweep(study, first, tmp_path / "a.csv", chunk=4, progress=False)
    r2 = run_sweep(study, second, tmp_path / "b.csv", chunk=4, progress=False)
    assert (r1.computed, r2.computed) == (len(first), len(second))
    assert (r1.compilations, r2.compilations) == (1, 0)
    assert r1.flagged == r2.flagged == 0


def test_chain_flagged_rows_are_written_and_recomputed(tmp_path, monkeypatch):
    """One policy: rows failing a check are written with their flags and a warning, the sweep
    continues; --recompute-flagged recomputes exactly those rows."""
    out = tmp_path / "chain.csv"
    monkeypatch.setattr(chain_study, "RESIDUAL_TOL", -1.0)  # every residual "fails"
    with pytest.warns(SweepWarning, match="ness_identity_residual = .* > -1"):
        r = chain_study.chain_sweep([3, 6], [1e-6], [1e-7], [3e-7], [1.0], [2.0], out, chunk=4,
                                    progress=False)
    assert (r.computed, r.flagged) == (2, 2)
    data = read_csv(out, key=chain_study.CHAIN_KEY)
    assert all("identity" in f and "closed_form" in f for f in data["flags"])
    assert np.all(np.isfinite(data["Pi_NESS"]))
    monkeypatch.setattr(chain_study, "RESIDUAL_TOL", 1e-9)
    r = chain_study.chain_sweep([3, 6, 9], [1e-6], [1e-7], [3e-7], [1.0], [2.0], out, chunk=4,
                                progress=False)
    assert (r.computed, r.skipped) == (1, 2)  # flagged rows are kept unless asked
    with warnings.catch_warnings():
        warnings.simplefilter("error", SweepWarning)
        r = chain_study.chain_sweep([3, 6, 9], [1e-6], [1e-7], [3e-7], [1.0], [2.0], out,
                                    chunk=4, recompute_flagged=True, progress=False)
    assert (r.computed, r.skipped, r.flagged) == (2, 1, 0)
    data = read_csv(out, key=chain_study.CHAIN_KEY)
    assert len(data["L"]) == 3 and data["flags"] == ["", "", ""]


def test_oscillators_unphysical_flag_and_recompute(tmp_path, monkeypatch):
    out = tmp_path / "osc.csv"
    monkeypatch.setattr(osc_study, "UNCERTAINTY_TOL", -1e9)  # nu_min >= 5e8 required: all fail
    with pytest.warns(SweepWarning, match="uncertainty principle"):
        r = osc_study.oscillators_sweep([0.3, 0.6], [(98.0, 120.0)], out, couplings=["rw"],
                                        methods=["langevin"], chunk=4, progress=False)
    assert r.flagged == 2
    monkeypatch.setattr(osc_study, "UNCERTAINTY_TOL", 1e-9)
    r = osc_study.oscillators_sweep([0.3, 0.6], [(98.0, 120.0)], out, couplings=["rw"],
                                    methods=["langevin"], chunk=4, recompute_flagged=True,
                                    progress=False)
    assert (r.computed, r.flagged) == (2, 0)
    data = read_csv(out, key=osc_study.OSC_KEY)
    assert data["flags"] == ["", ""]
    assert all(nu > 0.5 for nu in data["min_symplectic_eig"])


@pytest.mark.parametrize("call, match", [
    (lambda p: dicke_study.dicke_sweep([0.5, -0.1], p), "lam_over_lamc: values must be >= 0"),
    (lambda p: dicke_study.dicke_sweep([0.5], p, omega=0.0), "omega: values must be > 0"),
    (lambda p: dicke_study.dicke_sweep([0.5], p, gamma=float("nan")),
     "gamma: values must be finite"),
    (lambda p: dicke_study.dicke_sweep([0.5], p, grad=["lam"]), "--grad: unknown parameter"),
    (lambda p: chain_study.chain_sweep([2, 3.5], [1e-6], [0.0], [1e-7], [1.0], [2.0], p), "L: "),
    (lambda p: chain_study.chain_sweep([4], [1e-6], [-1.0], [1e-7], [1.0], [2.0], p), "Gamma"),
    (lambda p: chain_study.chain_sweep([4], [1e-6], [0.0], [1e-7], [1.0], [2.0], p, grad=["L"]),
     "L is an integer"),
    (lambda p: osc_study.oscillators_sweep([1.0], [(98.0, 98.0)], p), r"lam_over_lamc: .*\[0, 1\)"),
    (lambda p: osc_study.oscillators_sweep([0.5], [(98.0, 90.0)], p, methods=["gibbs"]),
     "Gibbs state needs T1 == T2"),
    (lambda p: osc_study.oscillators_sweep([0.5], [(0.0, 90.0)], p), "T1/T2"),
], ids=["dicke-ratio", "dicke-omega", "dicke-nan", "dicke-grad", "chain-L", "chain-Gamma",
        "chain-grad-L", "osc-ratio", "osc-gibbs", "osc-T"])
def test_bad_input_is_refused_before_anything_is_computed(call, match, tmp_path):
    path = tmp_path / "x.csv"
    with pytest.raises(ValueError, match=match):
        call(path)
    assert not path.exists() or len(path.read_text().splitlines()) <= 1
