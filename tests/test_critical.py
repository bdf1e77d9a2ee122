"""Critical points: Newton machinery, finite-size extrapolation, Kerr eps_c and Dicke lambda_c."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.critical import (
    batched_derivatives,
    extrapolate,
    newton_extremum,
    newton_root,
    parabola_extremum,
    zoom_scan,
)
from jaxent.models.dicke import Dicke, dicke_critical_coupling, dicke_point, normal_branch_pi_d
from jaxent.models.kerr import Kerr, kerr_exact_moments
from jaxent.studies.critical import (
    dicke_critical,
    dicke_exponent,
    gap_minimum,
    pi_d_peak,
    susceptibility_peak,
)
from jaxent.studies.kerr import kerr_point

# --------------------------------------------------------------------------- generic machinery


def test_newton_extremum_batch_and_kind():
    f = lambda x, a: -jnp.cosh(3.0 * (x - a)) + 0.1 * (x - a) ** 3  # noqa: E731  max at a
    a = np.array([0.3, -1.2, 2.0])
    st = newton_extremum(f, a + 0.05, a, kind="max", xtol=1e-13)
    assert st.success.all()
    np.testing.assert_allclose(st.x, a, atol=1e-13)
    assert np.all(st.curvature < 0) and np.all(st.step < 1e-13)
    # the same point asked for as a minimum is refused, not reported
    assert not newton_extremum(f, a + 0.05, a, kind="min").success.any()
    with pytest.raises(ValueError, match="kind"):
        newton_extremum(f, a, a, kind="saddle")


@pytest.mark.parametrize("batch", ["map", "vmap"])
def test_shared_arrays_enter_as_arguments(batch):
    """``shared`` (not batched) reaches f as its third argument, with the results of a closure,
    and is an argument of the compiled program, not constants compiled into it."""
    w = jnp.linspace(0.0, 1.0, 200_001)  # 1.6 MB: sum 100000.5
    f = lambda x, a, s: -jnp.sum(s) * (x - a) ** 2 + jnp.sin(x)  # noqa: E731
    a = np.array([0.3, -0.2])
    st = newton_extremum(f, a + 0.05, a, xtol=1e-13, batch=batch, shared=w)
    ref = newton_extremum(lambda x, b: f(x, b, w), a + 0.05, a, xtol=1e-13, batch=batch)
    assert st.success.all()
    np.testing.assert_allclose(st.x, a + np.cos(st.x) / (2 * 100000.5), rtol=0, atol=1e-15)
    for k in ("x", "value", "grad", "curvature"):
        np.testing.assert_array_equal(getattr(st, k), getattr(ref, k))
    st = newton_root(lambda x, b, s: x - b * s[-1], np.zeros(2), a, shared=w, batch=batch)
    np.testing.assert_allclose(st.x, a, rtol=1e-15)
    derivs = batched_derivatives(f, batch)
    args = (jnp.asarray(a), jnp.asarray(a), jnp.ones(2, bool))
    shared_text = jax.jit(derivs).lower(*args, w).as_text()
    closure_text = jax.jit(batched_derivatives(lambda x, b: f(x, b, w), batch)).lower(
        *args).as_text()
    assert len(closure_text) > w.nbytes and len(shared_text) < 0.05 * w.nbytes


def test_newton_root_backtracks_from_undefined_region():
    # sqrt(1 - x) is NaN past x = 1; a full Newton step from 0 lands exactly there
    f = lambda x, c: jnp.sqrt(1.0 - x) - c  # noqa: E731  root at 1 - c^2
    c = np.array([0.5, 0.1])
    st = newton_root(f, np.zeros(2), c, xtol=1e-14)
    assert st.success.all()
    np.testing.assert_allclose(st.x, 1.0 - c**2, rtol=1e-13)


def test_newton_result_on_bracket_edge_is_no_success():
    f = lambda x, a: -(x - a) ** 2  # noqa: E731
    st = newton_extremum(f, np.array([0.0]), np.array([5.0]), lower=-1.0, upper=1.0)
    assert not st.success[0]


def test_zoom_scan_finds_sharp_peak_and_refuses_edge():
    peak = lambda xs: 1.0 / (1.0 + ((np.asarray(xs) - 0.9371) / 1e-4) ** 2)  # noqa: E731
    best, lo, hi = zoom_scan(peak, 0.8, 1.1, width=1e-5)
    assert lo <= 0.9371 <= hi and abs(best - 0.9371) < 1e-5
    with pytest.raises(ValueError, match="widen"):
        zoom_scan(lambda xs: np.asarray(xs), 0.0, 1.0)


def _log_cosh(x):
    return np.log(np.cosh(30.0 * (x - 0.3))) + 0.1 * x


#: the minimum of _log_cosh: 30 tanh(30 (x - 0.3)) + 0.1 = 0
X_LOG_COSH = 0.3 + math.atanh(-0.1 / 30.0) / 30.0


def test_parabola_extremum_exact_and_noisy():
    exact = lambda xs: (_log_cosh(xs), np.full(len(xs), 1e-16))  # noqa: E731
    r = parabola_extremum(exact, 0.25, 0.02, lower=0.0, upper=1.0, xtol=1e-10)
    assert r["success"] and r["step"] < 1e-9
    assert abs(r["x"] - X_LOG_COSH) < 1e-9 and abs(r["curvature"] / 900.0 - 1) < 1e-3
    # noise of known size stops the search before a noise-dominated stencil, and the result is
    # inside twice its own (noise-limited) accuracy for (nearly) every seed
    for noise in (1e-8, 1e-6, 1e-4):
        inside = 0
        for seed in range(20):
            rng = np.random.default_rng(seed)
            noisy = lambda xs: (_log_cosh(xs) + noise * rng.standard_normal(len(xs)),  # noqa
                                np.full(len(xs), noise))
            r = parabola_extremum(noisy, 0.25, 0.02, lower=0.0, upper=1.0, xtol=1e-10)
            assert r["success"] and r["converged"]
            inside += abs(r["x"] - X_LOG_COSH) < 2 * r["step"]
        assert inside >= 18, (noise, inside)
        assert r["step"] < 5 * (noise / 900.0) ** 0.5  # ~ sqrt(noise / f'') at the best h
    # a maximum, and a function without an interior extremum in the interval
    flip = lambda xs: (-_log_cosh(xs), np.zeros(len(xs)))  # noqa: E731
    r = parabola_extremum(flip, 0.35, 0.02, lower=0.0, upper=1.0, kind="max", xtol=1e-10)
    assert r["success"] and abs(r["x"] - X_LOG_COSH) < 1e-9
    r = parabola_extremum(lambda xs: (xs, np.zeros(len(xs))), 0.5, 0.1, lower=0.0, upper=1.0)
    assert not r["success"] and r["stencil"] is None and math.isnan(r["value"])
    # out of evaluations while still walking: no fit for the returned point, no success
    r = parabola_extremum(exact, 0.9, 0.01, lower=0.0, upper=1.0, max_evals=10)
    assert not r["success"] and r["step"] == math.inf


def test_extrapolate_exact_polynomial_and_noise():
    N = np.array([10.0, 15, 20, 25, 30, 35, 40])
    y = 0.933 + 0.23 / N - 0.4 / N**2 + 1.5 / N**3
    e = extrapolate(N, y)
    assert abs(e.value - 0.933) < 1e-12 and e.order >= 3
    # with noise of known size the error bar covers the truth and the jackknife stays inside it
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(40):
        e = extrapolate(N, y + 1e-6 * rng.standard_normal(N.size), sigma=np.full(N.size, 1e-6))
        hits += abs(e.value - 0.933) <= 2 * e.stderr
    assert hits >= 34  # ~95 % expected; P(<= 33 of 40 | p = 0.95) < 1e-3


@pytest.mark.parametrize("N, y, sigma, match", [
    ([10, 20], [0.9, 0.91], None, "at least 3"),
    ([10, 20, 30], [0.9, np.nan, 0.91], None, "y must be finite"),
    ([10, -20, 30], [0.9, 0.9, 0.91], None, "N must be positive"),
    ([10, 20, 20], [0.9, 0.9, 0.91], None, "repeat"),
    ([10, 20, 30], [0.9, 0.9, 0.91], [1e-6, 0.0, 1e-6], "sigma"),
])
def test_extrapolate_bad_input(N, y, sigma, match):
    with pytest.raises(ValueError, match=match):
        extrapolate(N, y, sigma)


# --------------------------------------------------------------------------------------- Kerr


@pytest.fixture(scope="module")
def kerr_peaks():
    """The susceptibility and Pi_d peaks at N = 10, 20 (one NESS truncation, nmax = 112)."""
    N = [10.0, 20.0]
    chi = susceptibility_peak(N)
    pid = pi_d_peak(N, starts=chi["x"], nmax_step=16)
    return chi, pid


def test_pi_d_peak_repeated_compiles_nothing(kerr_peaks, xla_compilations):
    """The same search again (a notebook cell run twice) reuses its derivative programs and
    returns the same peaks. (Before, each call built a new function and compiled its derivative
    programs again: pi_d_peak([4, 6]) took 19.3 s, then 15.3 s; now 2.6 s the second time.)"""
    chi, pid = kerr_peaks
    before = xla_compilations()
    again = pi_d_peak([10.0, 20.0], starts=chi["x"], nmax_step=16)
    assert xla_compilations() == before
    np.testing.assert_array_equal(again["x"], pid["x"])


def _scan_refine(values, x0, width):
    """Derivative-free reference: scans of 11 points, each over the 2 cells around the previous
    scan's best point, down to a spacing of 3e-5, then the vertex of the parabola through the
    best three points. A peak outside the first window fails (its best point is an end)."""
    lo, hi = x0 - width, x0 + width
    while True:
        xs = np.linspace(lo, hi, 11)
        v = np.asarray(values(xs))
        i = int(np.argmax(v))
        assert 0 < i < len(xs) - 1, "the scan lost the peak"
        h = xs[1] - xs[0]
        if h < 3e-5:
            break
        lo, hi = xs[i] - h, xs[i] + h
    a, b, c = v[i - 1], v[i], v[i + 1]
    return xs[i] + 0.5 * h * (a - c) / (a - 2 * b + c)


def test_pi_d_peak_matches_dense_scan(kerr_peaks):
    """Newton through the NESS agrees with a dense scan of the same curve, refined by parabolic
    interpolation, to 1e-6 in eps (N = 10, 20)."""
    _, pid = kerr_peaks
    assert pid["success"].all()
    assert np.all(pid["refinement_shift"] < 1e-9) and np.all(pid["step"] < 1e-10)
    nmax = int(pid["nmax"][0])
    # N traced: one compilation for both sizes
    f = jax.jit(lambda e, N: jax.lax.map(lambda x: kerr_point(
        Kerr(eps=x, N=N), nmax, n_terms=1024, check=False)["Pi_d"] / N, e))
    for N in (10.0, 20.0):
        j = list(pid["N"]).index(N)
        x_scan = _scan_refine(lambda xs, N=N: f(jnp.asarray(xs), N), pid["x"][j], 0.1 / N)
        assert abs(x_scan - pid["x"][j]) < 1e-6, (N, x_scan, pid["x"][j])


def test_susceptibility_peak_matches_dense_scan_and_ness(kerr_peaks):
    chi, pid = kerr_peaks
    assert chi["success"].all()
    c = jax.jit(jax.vmap(jax.grad(lambda e, N: kerr_exact_moments(Kerr(eps=e, N=N), 1024).n / N),
                         in_axes=(0, None)))  # N traced: one compilation for both sizes
    for N in (10.0, 20.0):
        j = list(chi["N"]).index(N)
        x_scan = _scan_refine(lambda xs, N=N: c(jnp.asarray(xs), N), chi["x"][j], 2.0 / N)
        assert abs(x_scan - chi["x"][j]) < 1e-6
    # the NESS's own d<n>/d eps (implicit derivative) is the exact susceptibility at the peak
    j = list(chi["N"]).index(10.0)
    g = jax.grad(lambda e: kerr_point(Kerr(eps=e, N=10.0), int(pid["nmax"][0]), n_terms=1024,
                                      check=False)["n_photons"] / 10.0)(chi["x"][j])
    assert abs(float(g) / chi["value"][j] - 1.0) < 1e-8


def test_gap_minimum_matches_dense_eig():
    """The gap minimum (shift-invert Arnoldi, successive parabolas) against the dense ``eig`` of
    the superoperator at the same truncation: the minimum of the degree-4 interpolant through
    five dense gaps around it (N = 3, nmax = 24: small enough for dense eig)."""
    from jaxent.lindblad.spectrum import liouvillian_spectrum
    from jaxent.models.kerr import kerr_lindbladian

    r = gap_minimum([3.0], nmax=24, refine=8)
    assert r["success"][0] and r["rel_resolution"][0] < 1e-10 and r["step"][0] < 1e-6
    x = float(r["x"][0])
    dense = jax.jit(lambda e: liouvillian_spectrum(kerr_lindbladian(Kerr(eps=e, N=3.0), 24), 1,
                                                   method="dense").gap)
    t = np.arange(-2.0, 3.0)
    g = np.log([float(dense(x + 2e-3 * s)) for s in t])
    poly = np.polynomial.Polynomial.fit(t, g, 4)
    roots = poly.deriv().roots()
    t_min = min((z.real for z in roots if abs(z.imag) < 1e-9), key=abs)
    assert abs(2e-3 * t_min) < 1e-6, 2e-3 * t_min
    assert abs(float(r["value"][0]) / math.exp(poly(t_min)) - 1) < 1e-9


def test_extrapolations_agree_and_error_bars_are_honest():
    """eps_c from N = 10..40 agrees with the exact-moment susceptibility at N up to 2560 within
    the error bars; error bars <= 1e-3; each jackknife over the sizes stays inside its error bar.
    (The Pi_d definition at N = 10..40 needs nmax = 224: `jaxent critical --model kerr` runs it,
    the closing note of issue 9 quotes it.)"""
    chi_small = susceptibility_peak([10, 15, 20, 25, 30, 35, 40])
    big = susceptibility_peak([40, 80, 160, 320, 640, 1280, 2560])
    fits = {"chi": extrapolate(chi_small["N"], chi_small["x"]),
            "chi_big": extrapolate(big["N"], big["x"])}
    for name, e in fits.items():
        assert e.stderr <= 1e-3, name
        assert e.jackknife_inside, (name, e.jackknife - e.value, e.stderr)
    e, ref = fits["chi"], fits["chi_big"]
    assert abs(e.value - ref.value) <= math.hypot(e.stderr, ref.stderr), (e.value, ref.value)
    assert ref.stderr < 1e-8 and e.stderr < 1e-5
    assert abs(ref.value - 0.933) < 5e-4  # GFL-quench's "eps_c = 0.933", to its 3 digits


# -------------------------------------------------------------------------------------- Dicke


def test_normal_branch_is_dicke_point_below_lambda_c():
    lc = float(dicke_critical_coupling(0.005, 0.01, 1.0))
    for lam in (0.3 * lc, 0.99 * lc):
        m = Dicke(lam, gamma=1e-3)
        assert abs(float(normal_branch_pi_d(m)) / float(dicke_point(m)["Pi_d"]) - 1) < 1e-12


def test_dicke_lambda_c_shift_and_exponent():
    res = dicke_critical(log=lambda msg: None)
    inst = res["instability"]
    assert inst["success"].all()
    # every lambda_*(gamma) is the closed form lambda_c sqrt(1 + gamma^2/omega0^2)
    np.testing.assert_allclose(inst["x"], inst["lam_star_analytic"], rtol=1e-12)
    rows = {r["definition"]: r for r in res["rows"]}
    lc = float(dicke_critical_coupling(0.005, 0.01, 1.0))
    assert abs(rows["lambda_star(gamma=1e-06)"]["value"] / lc - 1) < 1e-6
    assert abs(rows["lambda_c"]["value"] / lc - 1) < 1e-6
    assert abs(rows["lambda_c"]["value"] - lc) <= rows["lambda_c"]["stderr"]
    ex = res["exponent"]
    assert abs(ex["nu"] + 1.0) <= ex["stderr"] and ex["stderr"] < 1e-3


def test_dicke_exponent_error_bar_grows_with_a_bad_window():
    """Far from the transition the power law has corrections; the window term of the error bar
    must notice (the estimate stays consistent with -1)."""
    near = dicke_exponent(1e-6, window=(1e-5, 1e-2))
    far = dicke_exponent(1e-6, window=(1e-3, 3e-1))
    assert far["window_err"] > 10 * near["window_err"]
    assert abs(far["nu"] + 1.0) <= far["stderr"]


def test_dicke_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        dicke_critical(gammas=[1e-3], log=lambda m: None)
    with pytest.raises(ValueError, match="window"):
        dicke_exponent(window=(0.1, 0.01))


# ---------------------------------------------------------------------------------------- CLI


def _cli(argv):
    from jaxent.cli import main

    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_cli_dicke_writes_csv_and_figure_and_keeps_other_rows(tmp_path, capsys):
    out = tmp_path / "crit"
    out.mkdir()
    (out / "critical.csv").write_text(
        "model,definition,N,value,stderr\nkerr,Pi_d,10.0,0.95,1e-12\n")
    assert _cli(["critical", "--model", "dicke", "--gamma", "1e-3", "1e-4", "1e-5", "1e-6",
                 "--out", str(out)]) == 0
    from jaxent.io import read_csv

    d = read_csv(out / "critical.csv")
    assert list(d)[:5] == ["model", "definition", "N", "value", "stderr"]
    defs = dict(zip(d["definition"], d["value"]))
    assert d["model"].count("kerr") == 1 and "exponent" in defs
    lc = float(dicke_critical_coupling(0.005, 0.01, 1.0))
    assert abs(defs["lambda_c"] / lc - 1) < 1e-6
    assert all(n == math.inf for m, n in zip(d["model"], d["N"]) if m == "dicke")
    assert (out / "critical_dicke.png").stat().st_size > 10_000
    assert not (out / "critical.csv.lock").exists()  # the merge's lock is released and removed


def test_cli_kerr_small_sizes(tmp_path, capsys):
    # one truncation for every size and definition: few compilations
    assert _cli(["critical", "--model", "kerr", "--N", "3", "4", "5", "--large-N", "0",
                 "--nmax", "40", "--out", str(tmp_path)]) == 0
    from jaxent.io import read_csv

    d = read_csv(tmp_path / "critical.csv")
    inf_rows = [i for i, n in enumerate(d["N"]) if n == math.inf]
    # every definition's eps*(N) lies inside the bracket, near the susceptibility peak
    peak = {(d["definition"][i], n): d["value"][i] for i, n in enumerate(d["N"]) if n != math.inf}
    for (name, n), x in peak.items():
        assert 0.8 < x < 1.1 and abs(x - peak[("susceptibility", n)]) < 0.05, (name, n, x)
    assert sorted(d["definition"][i] for i in inf_rows) == ["Pi_d", "gap", "susceptibility"]
    assert all(d["converged"][i] == 1.0 for i, n in enumerate(d["N"]) if n != math.inf)
    assert (tmp_path / "critical_kerr.png").stat().st_size > 10_000
    out = capsys.readouterr().out
    # 3 small sizes fit only a first-order law: the agreement is reported, whatever it is, and
    # the user is told that so few sizes make the error bars unreliable
    assert "agree within their error bars" in out and "only 3 sizes" in out


@pytest.mark.parametrize("argv, msg", [
    (["--model", "kerr", "--N", "10", "20"], "at least 3 distinct sizes"),
    (["--model", "kerr", "--N", "10", "x"], "--N: cannot parse"),
    (["--model", "kerr", "--N", "10.5", "20", "30"], "--N: sizes must be positive integers"),
    (["--model", "kerr", "--N", "10", "20", "30", "--large-N", "-5"], "--large-N: sizes must be"),
    (["--model", "kerr", "--N", "1e9", "2e9", "3e9"], "series needs too many terms"),
    (["--model", "kerr", "--N", "10", "20", "30", "--definitions", "gapp"], "invalid choice"),
    (["--model", "dicke", "--gamma=-1e-3"], "--gamma: must be positive"),
    (["--model", "dicke", "--gamma", "1e-3"], "at least 2 values"),
    (["--model", "dicke", "--omega0", "nan"], "--omega0: must be positive"),
    (["--model", "ising"], "invalid choice"),
])
def test_cli_bad_input_is_one_line(tmp_path, capsys, argv, msg):
    assert _cli(["critical", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert msg in err[-1] and "Traceback" not in "".join(err)
