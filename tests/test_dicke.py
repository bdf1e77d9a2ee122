"""Gaussianized open Dicke model [GFL20, Sec. V, App. C]: critical point, linearisation,
NESS identity, critical behaviour, gradients and input errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.gaussian.covariance import drift_diffusion
from jaxent.gaussian.lyapunov import lyapunov_steady_state, max_real_eigenvalue
from jaxent.models.dicke import (
    Dicke,
    check_dicke,
    dicke_critical_coupling,
    dicke_critical_coupling_main_text,
    dicke_point,
    drift_diffusion_dicke,
    drift_matrix_c25,
    fluctuation_hamiltonian,
    hp_coefficients,
    mean_field,
    mean_field_rhs,
    normal_phase_instability,
)

W0, W, K = 0.005, 0.01, 1.0
LC = float(dicke_critical_coupling(W0, W, K))


@jax.jit
def _batch(lams, gamma):
    return jax.vmap(lambda lam: dicke_point(Dicke(lam, W0, W, K, gamma)))(lams)


def dicke_sweep(lams, gamma=1e-3):
    """``jax.vmap`` of the point function over ``lam`` at the default frequencies."""
    lams = jnp.atleast_1d(jnp.asarray(lams, dtype=float))
    check_dicke(Dicke(lams, W0, W, K, gamma))
    return _batch(lams, jnp.asarray(gamma, float))


def normal_branch_drift(lam, gamma):
    """Drift of the fluctuations around the normal phase (beta = 0), continued past lambda_c."""
    G = jnp.array([[W, 0, 2 * lam, 0], [0, W, 0, 0], [2 * lam, 0, W0, 0], [0, 0, 0, W0]])
    return drift_diffusion(G, jnp.array([K, gamma]), 0.0)


def test_dicke_critical_coupling_value_and_main_text_discrepancy():
    np.testing.assert_allclose(LC, 0.5 * np.sqrt(W0 * (K**2 + W**2) / W), rtol=1e-15)
    np.testing.assert_allclose(LC, 0.35357106782, rtol=1e-10)
    # gamma = 0: the normal phase loses stability exactly at the App. C lambda_c ...
    assert float(max_real_eigenvalue(normal_branch_drift(LC * (1 - 1e-6), 0.0)[0])) < 0
    assert float(max_real_eigenvalue(normal_branch_drift(LC * (1 + 1e-6), 0.0)[0])) > 0
    # ... while at the main-text value (7.07) it has long been unstable
    lmt = float(dicke_critical_coupling_main_text(W0, W, K))
    assert lmt > 10 * LC
    assert float(max_real_eigenvalue(normal_branch_drift(0.5 * lmt, 0.0)[0])) > 0


@pytest.mark.parametrize("r", [0.7, 1.05, 1.6, 3.0])
def test_mean_field_is_a_fixed_point(r):
    m = Dicke(r * LC)
    alpha, beta, w = mean_field(m)
    for v in mean_field_rhs(m, alpha, beta, w):
        assert abs(complex(v)) < 1e-15
    np.testing.assert_allclose(abs(beta) ** 2 + w**2, 0.25, rtol=1e-14)  # spin length
    assert (float(beta) > 0) == (r > 1)


@pytest.mark.parametrize("r", [1.02, 1.5, 4.0])
def test_hp_coefficients_equal_c17_c19(r):
    m = Dicke(r * LC)
    alpha, beta, _ = mean_field(m)
    bm = np.sqrt((1 - np.sqrt(1 - 4 * beta**2)) / 2)  # (C13), the minus root
    bp = np.sqrt((1 + np.sqrt(1 - 4 * beta**2)) / 2)
    np.testing.assert_allclose(bm * bp, beta, rtol=1e-12)
    x = 2 * np.real(alpha)
    lam = r * LC
    w0t = W0 - lam * x * bm / bp  # (C17)
    lamt = lam * bp * (1 - bm**2 / bp**2)  # (C18)
    zeta = lam * x / 2 * bm / bp * (1 + bm**2 / (2 * bp**2))  # (C19)
    np.testing.assert_allclose(hp_coefficients(m), [w0t, lamt, zeta], rtol=1e-12)


@pytest.mark.parametrize("r", [0.6, 1.3])
def test_fluctuation_drift_equals_linearised_mean_field(r):
    """The Gaussian fluctuation drift (gamma = 0) must have the spectrum of the Jacobian of the
    mean-field flow (C3)-(C5) on the spin sphere (w < 0 hemisphere) at the fixed point: an
    independent check of (C14)-(C19) and of the drift matrix."""
    m = Dicke(r * LC, gamma=0.0)

    def flow(y):
        a, b = y[0] + 1j * y[1], y[2] + 1j * y[3]
        w = -jnp.sqrt(0.25 - jnp.abs(b) ** 2)
        da, db, _ = mean_field_rhs(m, a, b, w)
        return jnp.array([da.real, da.imag, db.real, db.imag])

    alpha, beta, _ = mean_field(m)
    y0 = jnp.array([alpha.real, alpha.imag, beta, 0.0])
    jac = jax.jacfwd(flow)(y0)
    ev_mf = np.sort_complex(np.linalg.eigvals(np.asarray(jac)))
    A, _ = drift_diffusion_dicke(m)
    ev_q = np.sort_complex(np.linalg.eigvals(np.asarray(A)))
    np.testing.assert_allclose(ev_q, ev_mf, atol=1e-12)


@pytest.mark.parametrize("r", [0.8, 1.2])
def test_drift_matrix_matches_printed_c25(r):
    m = Dicke(r * LC)
    A, D = drift_diffusion_dicke(m)
    perm = np.array([2, 3, 0, 1])  # (q_a, p_a, q_b, p_b) -> (q_b, p_b, q_a, p_a)
    np.testing.assert_allclose(np.asarray(A)[np.ix_(perm, perm)], drift_matrix_c25(m), atol=1e-15)
    np.testing.assert_allclose(np.diag(np.asarray(D))[perm], [1e-3, 1e-3, K, K], rtol=1e-15)


@pytest.mark.parametrize("gamma", [1e-3, 1e-6])
def test_ness_identity_both_channels(gamma):
    lams = LC * np.concatenate([np.linspace(0.3, 0.999, 7), np.linspace(1.001, 2.0, 7)])
    out = dicke_sweep(lams, gamma=gamma)
    lhs = np.asarray(out["Pi_U"] + out["Pi_d"])
    np.testing.assert_allclose(lhs, out["Phi_q"], rtol=1e-8)
    # Phi_q = 2 kappa <da^dag da> + 2 gamma <db^dag db> [GFL20, Eq. (7)]
    np.testing.assert_allclose(out["Phi_q"],
                               2 * K * out["n_a_fluct"] + 2 * gamma * out["n_b_fluct"], rtol=1e-12)
    assert np.all(np.asarray(out["Pi_d"]) > 0) and np.all(np.asarray(out["Pi_U"]) > 0)
    # vmap sweep == pointwise evaluation
    p = dicke_point(Dicke(lams[3], gamma=gamma))
    np.testing.assert_allclose(out["Pi_d"][3], p["Pi_d"], rtol=1e-12)


def _pi(lam, key, gamma=1e-3):
    return dicke_point(Dicke(lam, gamma=gamma))[key]


def test_pi_u_continuous_with_derivative_jump():
    g = jax.jit(jax.grad(lambda lam: _pi(lam, "Pi_U")))
    f = jax.jit(lambda lam: _pi(lam, "Pi_U"))
    left, right = float(g(LC * (1 - 1e-9))), float(g(LC * (1 + 1e-9)))
    for eps in (1e-5, 1e-7):  # continuity: the jump shrinks linearly with the gap
        jump = abs(float(f(LC * (1 + eps)) - f(LC * (1 - eps))))
        assert jump <= 1.01 * eps * LC * (abs(left) + abs(right))
    # one-sided limits are stable (the derivative itself is continuous on each side) ...
    np.testing.assert_allclose(g(LC * (1 - 1e-7)), left, rtol=1e-3)
    np.testing.assert_allclose(g(LC * (1 + 1e-7)), right, rtol=1e-3)
    # ... and differ: a kink
    assert abs(left - right) > 0.1 * max(abs(left), abs(right))


def _slope(lams, gamma):
    pd = np.asarray(dicke_sweep(lams, gamma=gamma)["Pi_d"])
    return np.polyfit(np.log(np.abs(lams - LC)), np.log(pd), 1)[0]


def test_pi_d_diverges_as_inverse_distance_small_gamma():
    d = np.logspace(-3, -2, 12) * LC
    for side in (-1, 1):
        slope = _slope(LC + side * d, 1e-6)
        assert abs(slope + 1) < 0.02, (side, slope)


def test_instability_location_with_paper_gamma():
    gamma = 1e-3
    lstar = float(normal_phase_instability(W0, W, K, gamma))
    np.testing.assert_allclose(lstar / LC, np.sqrt(1 + (gamma / W0) ** 2), rtol=1e-14)
    # det A of the normal branch vanishes at lambda_*, eigenvalue crosses zero there
    assert float(max_real_eigenvalue(normal_branch_drift(lstar * (1 - 1e-7), gamma)[0])) < 0
    assert float(max_real_eigenvalue(normal_branch_drift(lstar * (1 + 1e-7), gamma)[0])) > 0
    np.testing.assert_allclose(np.linalg.det(normal_branch_drift(lstar, gamma)[0]), 0.0, atol=1e-15)
    # at lambda_c both branches are stable and Pi_d is finite and (nearly) continuous
    lo, hi = float(_pi(LC * (1 - 1e-9), "Pi_d")), float(_pi(LC * (1 + 1e-9), "Pi_d"))
    np.testing.assert_allclose(lo, hi, rtol=1e-5)
    assert lo < 1e4
    # the normal branch continued past lambda_c diverges at lambda_*, not at lambda_c
    d = np.logspace(-5, -4, 6) * lstar
    pd = []
    for lam in lstar - d:
        A, D = normal_branch_drift(lam, gamma)
        s = lyapunov_steady_state(A, D)
        pd.append(float(K * (s[0, 0] + s[1, 1] - 1)))  # Phi_q's cavity part ~ Pi_d
    slope = np.polyfit(np.log(d), np.log(pd), 1)[0]
    assert abs(slope + 1) < 0.02
    # the superradiant branch stays stable everywhere above lambda_c
    out = dicke_sweep(LC * np.linspace(1.0001, 5.0, 50), gamma=gamma)
    assert np.all(np.asarray(out["max_re_eig"]) < 0)


@pytest.mark.parametrize("r", [0.9, 1.1])
def test_grad_pi_d_matches_finite_differences(r):
    f = jax.jit(lambda lm: _pi(lm, "Pi_d"))
    lam = r * LC
    g = jax.grad(f)(lam)
    h = 1e-6 * lam
    fd = (f(lam + h) - f(lam - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6)
    # and w.r.t. the other parameters (tree gradient)
    gm = jax.jit(jax.grad(lambda m: dicke_point(m)["Pi_d"]))(Dicke(lam))
    assert all(np.isfinite(float(x)) for x in jax.tree_util.tree_leaves(gm))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="lam: exactly at the critical"):
        dicke_point(Dicke(LC))
    with pytest.raises(ValueError, match="lam: exactly at the critical"):
        check_dicke(Dicke(np.array([0.5 * LC, LC])))
    with pytest.raises(ValueError, match="kappa"):
        dicke_point(Dicke(0.5, kappa=-1.0))
    with pytest.raises(ValueError, match="gamma"):
        Dicke(np.array([0.2]), gamma=-1e-3)
    with pytest.raises(ValueError, match="omega0"):
        dicke_point(Dicke(0.2, omega0=-0.005))
    with pytest.raises(ValueError, match="lam"):
        dicke_point(Dicke(float("nan")))
    # no stabilising loss and no coupling: the spin fluctuation is undamped -> no NESS; under
    # jit/vmap the bad point is flagged, never silently finite (the sweep writes it flagged
    # no_ness, test_cli_flags_critical_and_no_ness_rows)
    out = jax.jit(dicke_point)(Dicke(0.0, gamma=0.0))
    assert float(out["max_re_eig"]) >= 0 and np.isnan(float(out["Pi_d"]))
    out = dicke_sweep(np.array([0.1 * LC, 0.0]), gamma=0.0)
    assert list(np.asarray(out["max_re_eig"]) >= 0) == [False, True]


def test_fluctuation_hamiltonian_is_c22():
    m = Dicke(1.3 * LC)
    w0t, lamt, zeta = hp_coefficients(m)
    G = fluctuation_hamiltonian(m)
    r = jnp.array([0.3, -0.2, 0.7, 0.4])  # (q_a, p_a, q_b, p_b)
    h2 = (w0t / 2 * (r[2] ** 2 + r[3] ** 2) + W / 2 * (r[0] ** 2 + r[1] ** 2)
          + 2 * lamt * r[0] * r[2] - 2 * zeta * r[2] ** 2)
    np.testing.assert_allclose(0.5 * r @ G @ r, h2, rtol=1e-14)


def _report(capsys) -> str:
    return [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("dicke: ")][-1]


def test_cli_writes_csv_figure_and_resumes(tmp_path, capsys):
    from jaxent.cli import main
    from jaxent.io import read_csv

    out = tmp_path / "d"
    args = ["dicke", "--lam-over-lamc", "0.8:1.2:6", "--gamma", "1e-3", "1e-6", "--out", str(out),
            "--no-progress"]
    main(args)
    assert "computed 12 points" in _report(capsys)
    data = read_csv(out / "dicke.csv")
    for col in ("lam", "lam_c", "Pi_U", "Pi_d", "Phi_q", "n_a_fluct", "dPi_U_dlam"):
        assert col in data
    assert len(data["lam"]) == 12
    vals = np.array([[float(v) for v in data[c]] for c in ("Pi_U", "Pi_d", "Phi_q", "dPi_U_dlam")])
    assert np.all(np.isfinite(vals))
    assert data["flags"] == [""] * 12
    np.testing.assert_allclose(data["lam_c"], LC, rtol=1e-12)
    np.testing.assert_allclose(data["lam"], np.multiply(data["lam_over_lamc"], LC), rtol=1e-15)
    # the CSV's jax.jvp column equals finite differences of the model
    i = 0
    lam = data["lam"][i]
    h = 1e-6 * lam
    gam = data["gamma"][i]
    fd = (float(_pi(lam + h, "Pi_U", gam)) - float(_pi(lam - h, "Pi_U", gam))) / (2 * h)
    np.testing.assert_allclose(data["dPi_U_dlam"][i], fd, rtol=1e-6)
    assert (out / "dicke_fig3.png").stat().st_size > 10_000
    # resume: nothing recomputed, nothing duplicated
    main(args)
    assert "computed 0 points (12 already in" in _report(capsys)
    assert len(read_csv(out / "dicke.csv")["lam"]) == 12
    # negative rates are refused with the flag named, before anything is written
    with pytest.raises(SystemExit):
        main(["dicke", "--kappa", "-1", "--out", str(tmp_path / "f")])
    assert "--kappa" in capsys.readouterr().err
    assert not (tmp_path / "f" / "dicke.csv").exists()


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log10:RuntimeWarning")
def test_cli_flags_critical_and_no_ness_rows(tmp_path, capsys):
    """Exactly lambda_c (in 0.9:1.1:5) and no NESS (lam = 0 without stabilising loss) do not
    abort the sweep: those rows are written flagged (NaN physics), the others computed, the
    figure drawn from the finite rows; --recompute-flagged recomputes exactly them."""
    from jaxent.cli import main
    from jaxent.io import read_csv
    from jaxent.sweep import SweepWarning

    out = tmp_path / "d"
    # --chunk 4: each problem row comes first in its chunk, so each gets its own warning
    args = ["dicke", "--lam-over-lamc", "0", "0.9:1.1:5", "--gamma", "1e-6", "0", "--out",
            str(out), "--no-progress", "--chunk", "4"]
    with pytest.warns(SweepWarning) as rec:
        main(args)
    msgs = [str(w.message) for w in rec if w.category is SweepWarning]
    assert any("exactly at lambda_c" in m and "evaluate either side" in m for m in msgs)
    assert any("no steady state at this coupling" in m and "--gamma" in m for m in msgs)
    assert "computed 12 points" in _report(capsys)
    data = read_csv(out / "dicke.csv")
    flags = {(r, g): f for r, g, f in zip(data["lam_over_lamc"], data["gamma"], data["flags"])}
    assert flags.pop((1.0, 1e-6)) == "critical" and flags.pop((1.0, 0.0)) == "critical"
    assert flags.pop((0.0, 0.0)) == "no_ness"
    assert set(flags.values()) == {""}
    for i, f in enumerate(data["flags"]):
        assert np.isfinite(data["Pi_d"][i]) == (f == "")
    assert (out / "dicke_fig3.png").stat().st_size > 10_000
    with pytest.warns(SweepWarning):
        main(args + ["--recompute-flagged"])
    assert "computed 3 points (9 already in" in _report(capsys)
    assert len(read_csv(out / "dicke.csv")["lam"]) == 12


def test_cli_grad_columns_equal_jacfwd_and_finite_differences(tmp_path):
    from jaxent.cli import main
    from jaxent.io import read_csv

    out = tmp_path / "g"
    main(["dicke", "--lam-over-lamc", "0.7", "1.3", "--gamma", "1e-3", "--grad", "lam_over_lamc",
          "gamma", "--out", str(out), "--no-progress"])
    data = read_csv(out / "dicke.csv")

    def pi_u(x, g):
        return dicke_point(Dicke(x * dicke_critical_coupling(W0, W, K), W0, W, K, g))["Pi_U"]

    f, jac = jax.jit(pi_u), jax.jit(jax.jacfwd(pi_u, argnums=(0, 1)))
    for i, r in enumerate(data["lam_over_lamc"]):
        jr, jg = jac(r, 1e-3)
        np.testing.assert_allclose(data["dPi_U_dlam_over_lamc"][i], jr, rtol=1e-12)
        np.testing.assert_allclose(data["dPi_U_dgamma"][i], jg, rtol=1e-12)
        # the chain rule: d/d(lam/lam_c) = lam_c d/dlam
        np.testing.assert_allclose(data["dPi_U_dlam_over_lamc"][i], LC * data["dPi_U_dlam"][i],
                                   rtol=1e-12)
        h = 1e-7
        fd = (float(f(r, 1e-3 + h)) - float(f(r, 1e-3 - h))) / (2 * h)
        np.testing.assert_allclose(data["dPi_U_dgamma"][i], fd, rtol=1e-5)
        assert np.isfinite(data["dPi_d_dgamma"][i]) and np.isfinite(data["dbeta_dlam_over_lamc"][i])


# --- point function: jit / vmap / filter_jit, lam = 0, lam = lambda_c, error style ---------

P0 = dict(omega0=W0, omega=W, kappa=K, gamma=1e-3)


def test_point_function_under_jit_and_vmap():
    import equinox as eqx

    ref = dicke_point(Dicke(0.2, **P0))
    got = {
        "filter_jit": eqx.filter_jit(dicke_point)(Dicke(0.2)),
        "jit": jax.jit(lambda lam: dicke_point(Dicke(lam, W0, W, K, 1e-3)))(0.2),
        "jit_all": jax.jit(lambda *p: dicke_point(Dicke(*p)))(0.2, W0, W, K, 1e-3),
    }
    for name, out in got.items():
        assert set(out) == set(ref), name
        for k in ref:
            np.testing.assert_allclose(out[k], ref[k], rtol=1e-12, atol=1e-300, err_msg=(name, k))
    lams = jnp.array([0.1, 0.2, 0.5])
    batch = jax.jit(jax.vmap(lambda lam: dicke_point(Dicke(lam, W0, W, K, 1e-3))))(lams)
    np.testing.assert_allclose(batch["Pi_d"][1], ref["Pi_d"], rtol=1e-12)
    batch2 = jax.vmap(dicke_point)(Dicke(lams, *(jnp.full(3, v) for v in P0.values())))
    np.testing.assert_allclose(batch2["Pi_d"], batch["Pi_d"], rtol=1e-12)


def test_lam_zero_is_the_vacuum_and_residual_vanishes():
    """At lam = 0 the NESS is the vacuum: Pi_U = Pi_d = Phi_q = 0 and the identity residual is
    0 (a plain /Phi_q gave 0/0 -> -1 there), eagerly and under jit; for small lam the residual
    stays at round-off although the terms themselves are tiny."""
    for out in (dicke_point(Dicke(0.0)), jax.jit(lambda lam: dicke_point(Dicke(lam)))(0.0)):
        for k in ("Pi_U", "Pi_d", "Phi_q", "n_a_fluct", "n_b_fluct"):
            assert abs(float(out[k])) < 1e-15, k
        assert abs(float(out["ness_identity_residual"])) < 1e-15
        assert float(out["max_re_eig"]) < 0 and float(out["at_critical"]) == 0
    small = jax.vmap(lambda lam: dicke_point(Dicke(lam)))(LC * jnp.array([1e-8, 1e-4, 1e-2, 0.5]))
    assert np.all(np.abs(np.asarray(small["ness_identity_residual"])) < 1e-14)
    # where Phi_q >> kappa + gamma it is the relative residual
    big = dicke_point(Dicke(0.99 * LC))
    assert float(big["Phi_q"]) > 100 * (K + 1e-3)
    np.testing.assert_allclose(
        big["ness_identity_residual"] * (abs(big["Phi_q"]) + K + 1e-3),
        big["Pi_U"] + big["Pi_d"] - big["Phi_q"], rtol=1e-12, atol=1e-300)


def test_lambda_c_flagged_not_raised_under_vmap():
    """Exactly at lambda_c: ValueError for a concrete call, NaN entropy columns (values and
    derivatives) and at_critical = 1 in a traced batch, which the other points survive."""
    with pytest.raises(ValueError, match="lam: exactly at the critical"):
        dicke_point(Dicke(LC))
    lc = dicke_critical_coupling(jnp.asarray(W0), W, K)
    f = jax.jit(jax.vmap(lambda r: dicke_point(Dicke(r * lc, W0, W, K, 1e-3))))
    out = f(jnp.array([0.5, 1.0, 1.5]))
    assert list(np.asarray(out["at_critical"])) == [0.0, 1.0, 0.0]
    for k in ("Pi_U", "Pi_d", "Phi_q", "Pi_d_a", "n_a_fluct", "n_b_fluct"):
        v = np.asarray(out[k])
        assert np.isnan(v[1]) and np.all(np.isfinite(v[[0, 2]])), k
    assert np.all(np.asarray(out["max_re_eig"]) < 0)  # gamma > 0: the NESS exists there
    g = jax.jit(jax.vmap(jax.grad(lambda r: dicke_point(Dicke(r * lc, W0, W, K, 1e-3))["Pi_d"])))
    dg = np.asarray(g(jnp.array([0.5, 1.0, 1.5])))
    assert np.isnan(dg[1]) and np.all(np.isfinite(dg[[0, 2]]))


def test_non_numbers_are_named():
    with pytest.raises(ValueError, match="^lam: must be a real number, got str 'a'$"):
        Dicke(lam="a")
    with pytest.raises(ValueError, match=r"^kappa: must be a real number, got complex \(1\+1j\)$"):
        Dicke(lam=0.1, kappa=1 + 1j)


BAD = [("lam", -0.1), ("lam", float("nan")), ("lam", float("inf")), ("omega0", 0.0),
       ("omega0", -0.005), ("omega", -0.01), ("omega", float("nan")), ("kappa", -1.0),
       ("kappa", float("inf")), ("gamma", -1e-3), ("gamma", float("nan"))]


@pytest.mark.parametrize("name, value", BAD)
def test_bad_value_eager_and_jit(name, value):
    kw = dict(lam=0.2, **P0)
    kw[name] = value
    with pytest.raises(ValueError, match=rf"\b{name}: "):
        Dicke(**kw)

    def f(x):
        p = dict(lam=0.2, **P0)
        p[name] = x
        return dicke_point(Dicke(**p))["Pi_d"]

    with pytest.raises(Exception, match=rf"\b{name}: "):
        jax.block_until_ready(jax.jit(f)(value))
    with pytest.raises(Exception, match=rf"\b{name}: "):  # one bad point aborts the batch
        jax.block_until_ready(jax.jit(jax.vmap(f))(jnp.array([0.3, value])))


def test_non_scalar_parameter_is_a_shape_error():
    msg = r"lam must be a scalar \(got shape \(2,\)\); use jax.vmap to batch"
    with pytest.raises(ValueError, match=msg):
        dicke_point(Dicke(jnp.array([0.1, 0.2])))
    with pytest.raises(ValueError, match=msg):
        jax.jit(lambda lam: dicke_point(Dicke(lam)))(jnp.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="gamma must be a scalar"):
        jax.jit(lambda g: dicke_point(Dicke(0.1, gamma=g)))(jnp.ones(3))
