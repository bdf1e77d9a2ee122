"""KL coupled-oscillator model: occupations, mutual information, local vs global, CLI."""

import numpy as np
import pytest
from conftest import fock_pp_gibbs

from jaxent.gaussian.entropies import (
    mutual_information,
    symplectic_eigenvalues,
    von_neumann_entropy,
)
from jaxent.models.oscillators import (
    CoupledOscillators,
    occupations,
    oscillator_steady_state,
    two_mode_mutual_information,
)


@pytest.mark.parametrize("coupling", ["pp", "rw"])
@pytest.mark.parametrize("method", ["local", "global", "langevin"])
def test_mutual_information_formula(coupling, method):
    m = CoupledOscillators(0.9, T1=98.0, T2=148.0, coupling=coupling)
    s = oscillator_steady_state(m, method)
    I_kl = two_mode_mutual_information(s)
    # S(rho_1) + S(rho_2) - S(rho) from symplectic eigenvalues
    I_sym = (von_neumann_entropy(s[:2, :2]) + von_neumann_entropy(s[2:, 2:])
             - von_neumann_entropy(s))
    np.testing.assert_allclose(I_kl, I_sym, rtol=1e-8)
    np.testing.assert_allclose(I_kl, mutual_information(s, [0], [1]), rtol=1e-8)
    assert np.all(symplectic_eigenvalues(s) >= 0.5 - 1e-9)


def test_mutual_information_against_fock_space():
    """Gibbs state of the pp model at low temperature vs a Fock-space density matrix (QuTiP)."""
    qutip = pytest.importorskip("qutip")
    w1, w2, T = 1.0, 0.8, 0.5
    m = CoupledOscillators(0.6, omega1=w1, omega2=w2, T1=T, T2=T, coupling="pp")
    a1, _, rho = fock_pp_gibbs(w1, w2, float(m.lam), T, nmax=30)
    I_fock = qutip.entropy_mutual(rho, 0, 1)
    s = oscillator_steady_state(m, "gibbs")
    np.testing.assert_allclose(two_mode_mutual_information(s), I_fock, rtol=1e-7)
    np.testing.assert_allclose(occupations(s)[0], qutip.expect(a1.dag() * a1, rho), rtol=1e-8)


def test_local_deviates_near_criticality():
    n = {}
    for c in ("pp", "rw"):
        for r in (0.1, 0.99):
            m = CoupledOscillators(r, coupling=c)
            n[c, r] = {meth: float(occupations(oscillator_steady_state(m, meth))[0])
                       for meth in ("local", "gibbs")}
    for c in ("pp", "rw"):
        assert abs(n[c, 0.1]["local"] / n[c, 0.1]["gibbs"] - 1) < 0.1
        assert abs(n[c, 0.99]["local"] / n[c, 0.99]["gibbs"] - 1) > 0.4


def test_rw_local_has_no_divergence_at_lambda_c():
    """rw: the local drift -i h - gamma is stable for every lambda, so <a1^dag a1> stays finite
    through lambda_c while the Gibbs/global/Langevin occupations diverge ~ T/omega_-."""
    from jaxent.gaussian.lyapunov import lyapunov_steady_state
    from jaxent.gaussian.master_equations import local_drift_diffusion
    from jaxent.models.oscillators import oscillator_hamiltonian

    lc = np.sqrt(10.0)
    n_local = [occupations(lyapunov_steady_state(*local_drift_diffusion(
        oscillator_hamiltonian(5.0, 2.0, r * lc, "rw"), 1.5e-4, 98.0)))[0]
        for r in (0.99, 1.0, 1.01)]
    assert np.all(np.isfinite(n_local))
    assert max(n_local) / min(n_local) < 1.01
    n_gibbs = [occupations(oscillator_steady_state(CoupledOscillators(r, coupling="rw"),
                                                   "gibbs"))[0] for r in (0.99, 0.9999)]
    assert n_gibbs[1] > 50 * n_gibbs[0]


def test_pp_local_diverges_only_because_of_lambda_c():
    # the pp local steady state stays finite below lambda_c but is far below Gibbs at 0.99
    m = CoupledOscillators(0.99, coupling="pp")
    assert occupations(oscillator_steady_state(m, "local"))[0] < 0.7 * occupations(
        oscillator_steady_state(m, "gibbs"))[0]


@pytest.mark.parametrize("bad", [dict(lam_over_lamc=1.0), dict(lam_over_lamc=1.2),
                                 dict(T1=0.0), dict(T2=-5.0), dict(gamma1=-1e-3),
                                 dict(omega1=float("nan"))])
def test_bad_parameters_raise(bad):
    kw = dict(lam_over_lamc=0.5)
    kw.update(bad)
    with pytest.raises(ValueError, match=list(bad)[0]):
        CoupledOscillators(**kw)


def test_gibbs_needs_equal_temperatures():
    with pytest.raises(ValueError, match="T1 == T2"):
        oscillator_steady_state(CoupledOscillators(0.5, T1=98.0, T2=99.0), "gibbs")


def _main(argv):
    # only this sub-command's parser: the dispatcher imports every sub-command module
    import argparse

    from jaxent.commands import oscillators

    parser = argparse.ArgumentParser()
    oscillators.add_parser(parser.add_subparsers(dest="command"))
    oscillators.run(parser.parse_args(argv))


def test_cli_writes_csv_and_figures(tmp_path, capsys):
    from jaxent.io import read_csv

    main = _main

    out = tmp_path / "osc"
    main(["oscillators", "--coupling", "both", "--lam-over-lamc", "0.2", "0.9", "--T1", "98",
          "--T2", "98", "--delta-T", "-50", "50", "--no-low-T", "--no-progress", "--out",
          str(out)])
    data = read_csv(out / "oscillators.csv")
    for col in ("coupling", "lam_over_lamc", "T1", "T2", "method", "n1", "n2", "mutual_info"):
        assert col in data
    rows = list(zip(data["coupling"], data["lam_over_lamc"], data["T1"], data["T2"],
                    data["method"]))
    assert ("pp", 0.9, 98.0, 98.0, "gibbs") in rows
    assert not any(meth == "gibbs" and t1 != t2 for _, _, t1, t2, meth in rows)
    assert (out / "oscillators_fig2.png").exists()
    # a rerun resumes: nothing is recomputed or duplicated
    n_rows = len(rows)
    main(["oscillators", "--coupling", "both", "--lam-over-lamc", "0.2", "0.9", "--T1", "98",
          "--T2", "98", "--delta-T", "-50", "50", "--no-low-T", "--no-progress", "--out",
          str(out)])
    assert len(read_csv(out / "oscillators.csv")["n1"]) == n_rows
    assert f"oscillators: computed 0 points ({n_rows} already in" in capsys.readouterr().out
    assert set(data["flags"]) == {""}
    i = rows.index(("pp", 0.9, 98.0, 98.0, "gibbs"))
    ref = occupations(oscillator_steady_state(CoupledOscillators(0.9, coupling="pp"), "gibbs"))[0]
    np.testing.assert_allclose(data["n1"][i], ref, rtol=1e-12)


def test_sweep_grad_columns_equal_jacfwd(tmp_path):
    """--grad columns of the oscillator sweep equal jax.jacfwd of the point function."""
    import jax

    from jaxent.io import read_csv
    from jaxent.models.oscillators import oscillator_point
    from jaxent.studies.oscillators import oscillators_sweep

    out = tmp_path / "osc.csv"
    r = oscillators_sweep([0.4, 0.8], [(98.0, 120.0)], out, couplings=["pp"],
                          methods=["global"], grad=["T1", "lam_over_lamc"], progress=False)
    assert (r.computed, r.flagged, r.compilations) == (2, 0, 1)
    data = read_csv(out)

    def n1(x, T1):
        return oscillator_point(CoupledOscillators(x, T1=T1, T2=120.0, coupling="pp"),
                                "global")["n1"]

    jac = jax.jit(jax.jacfwd(n1, argnums=(0, 1)))
    for i, x in enumerate(data["lam_over_lamc"]):
        jx, jT = jac(x, 98.0)
        np.testing.assert_allclose(data["dn1_dlam_over_lamc"][i], jx, rtol=1e-12)
        np.testing.assert_allclose(data["dn1_dT1"][i], jT, rtol=1e-12)
        assert 0 < data["dn1_dT1"][i] < 1  # T1 heats oscillator 1, n1 ~ T/omega


def test_cli_flag_errors_name_the_flag(tmp_path, capsys):
    from jaxent.cli import main

    for argv, flag in ((["--lam-over-lamc", "1.0"], "--lam-over-lamc"),
                       (["--gamma1", "0"], "--gamma1"),
                       (["--grad", "coupling"], "--grad")):
        with pytest.raises(SystemExit):
            main(["oscillators", *argv, "--out", str(tmp_path)])
        assert flag in capsys.readouterr().err
    assert not (tmp_path / "oscillators.csv").exists()


# --- point function under jit / vmap, error style ---------------------------------------------

PO = dict(lam_over_lamc=0.5, omega1=5.0, omega2=2.0, gamma1=1.5e-4, gamma2=2e-4, T1=98.0,
          T2=120.0)


@pytest.mark.parametrize("method", ["local", "global", "langevin", "gibbs"])
def test_point_function_matches_and_runs_under_jit_vmap(method):
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from jaxent.models.oscillators import kl_normal_frequencies, oscillator_point

    p = dict(PO, T2=98.0) if method == "gibbs" else PO
    m = CoupledOscillators(**p)
    s = oscillator_steady_state(m, method)
    ref = oscillator_point(m, method)
    assert set(ref) == {"lam", "omega_minus", "omega_plus", "n1", "n2", "mutual_info"}
    np.testing.assert_allclose([ref["n1"], ref["n2"]], occupations(s), rtol=1e-14)
    np.testing.assert_allclose(ref["mutual_info"], two_mode_mutual_information(s), rtol=1e-14)
    np.testing.assert_allclose([ref["omega_minus"], ref["omega_plus"]],
                               kl_normal_frequencies(5.0, 2.0, m.lam, "pp"), rtol=1e-14)
    jit_out = jax.jit(lambda *a: oscillator_point(CoupledOscillators(*a), method))(*p.values())
    eqx_out = eqx.filter_jit(oscillator_point)(m, method)
    for k in ref:
        np.testing.assert_allclose(jit_out[k], ref[k], rtol=1e-10, err_msg=k)
        np.testing.assert_allclose(eqx_out[k], ref[k], rtol=1e-10, err_msg=k)
    rs = jnp.array([0.2, 0.5, 0.9])
    kw = {k: v for k, v in p.items() if k != "lam_over_lamc"}
    batch = jax.jit(jax.vmap(lambda r: oscillator_point(CoupledOscillators(r, **kw), method)))(rs)
    np.testing.assert_allclose(batch["n1"][1], ref["n1"], rtol=1e-10)


BAD_OSC = [("lam_over_lamc", 1.0), ("lam_over_lamc", -0.1), ("lam_over_lamc", float("nan")),
           ("omega1", 0.0), ("omega2", float("inf")), ("gamma1", 0.0), ("gamma2", -1e-4),
           ("T1", 0.0), ("T2", float("nan"))]


@pytest.mark.parametrize("name, value", BAD_OSC)
def test_bad_value_eager_and_jit(name, value):
    import jax
    import jax.numpy as jnp

    from jaxent.models.oscillators import oscillator_point

    kw = dict(PO)
    kw[name] = value
    with pytest.raises(ValueError, match=rf"\b{name}: "):
        CoupledOscillators(**kw)

    def f(x):
        p = dict(PO)
        p[name] = x
        return oscillator_point(CoupledOscillators(**p), "local")["n1"]

    with pytest.raises(Exception, match=rf"\b{name}: "):
        jax.block_until_ready(jax.jit(f)(value))
    with pytest.raises(Exception, match=rf"\b{name}: "):
        jax.block_until_ready(jax.jit(jax.vmap(f))(jnp.array([PO[name], value])))


def test_point_static_errors():
    import jax
    import jax.numpy as jnp

    from jaxent.models.oscillators import oscillator_point

    with pytest.raises(ValueError, match="method"):
        oscillator_point(CoupledOscillators(0.5), "exact")
    with pytest.raises(ValueError, match=r"T1 must be a scalar \(got shape \(2,\)\)"):
        oscillator_point(CoupledOscillators(0.5, T1=jnp.array([98.0, 99.0])), "local")
    with pytest.raises(ValueError, match="T1 == T2"):
        oscillator_point(CoupledOscillators(0.5, T1=98.0, T2=99.0), "gibbs")
    with pytest.raises(Exception, match="T1 == T2"):
        jax.block_until_ready(jax.jit(
            lambda t: oscillator_point(CoupledOscillators(0.5, T1=t), "gibbs")["n1"])(99.0))
