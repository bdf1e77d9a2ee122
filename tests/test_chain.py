"""Harmonic chain with self-consistent reservoirs [MSCPL19, Sec. IV, Apps. B-E]."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.models.chain import (
    Chain,
    chain_closed_form,
    chain_covariance,
    chain_entropy_production,
    chain_ness,
    chain_occupations,
    chain_point,
    chain_points,
    local_slope,
)

# (L, gamma, Gamma, lam, n1, nL): Fig. 3 values, Fig. 2 values, ballistic, reversed gradient,
# negative coupling, strong coupling, L = 2, zero-temperature end
CASES = [
    (2, 1e-6, 1e-7, 3e-7, 1.0, 2.0),
    (7, 1e-6, 1e-7, 3e-7, 1.0, 2.0),
    (10, 1e-5, 1e-6, 1e-5, 1.0, 2.0),
    (10, 1e-5, 0.0, 3e-6, 1.0, 2.0),
    (25, 2e-5, 3e-6, 1e-6, 3.0, 0.5),
    (40, 1e-6, 1e-7, -3e-7, 0.2, 5.0),
    (13, 1e-3, 1e-2, 0.5, 0.0, 1.0),
    (300, 1e-6, 1e-7, 3e-7, 1.0, 2.0),
]


def _rel(a, b):
    """max |a - b| / |b| (0 where both vanish)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    err = np.abs(a - b)
    return np.max(np.where(err == 0, 0.0, err / np.where(b == 0, 1e-300, np.abs(b))))


@pytest.mark.parametrize("case", CASES)
def test_ness_equals_closed_forms(case):
    """Occupations, coherences, current and Pi_NESS vs Eqs. (29a), (29b), (30), (31); and
    Pi_r + Pi_sc = Eq. (31) (a trace identity the code does not use)."""
    ch = Chain(*case)
    ness = chain_ness(ch)
    ent = chain_entropy_production(ch, ness)
    cf = chain_closed_form(ch)
    assert _rel(ness.occupations, cf["occupations"]) < 1e-10
    assert _rel(ness.coherences, cf["coherence"]) < 1e-10
    assert _rel(ness.current, cf["current"]) < 1e-10
    assert _rel(ent.Pi_NESS, cf["Pi_NESS"]) < 1e-10
    assert _rel(ent.Pi_r + ent.Pi_sc, cf["Pi_NESS"]) < 1e-10
    assert float(ent.Pi_r) > 0 and float(ent.Pi_sc) >= 0
    if case[2] == 0.0:
        assert float(ent.Pi_sc) == 0.0
    assert float(ness.offband_residual) < 1e-10 and float(ness.residual) < 1e-12


def test_closed_form_occupations_by_hand():
    """Eq. (29a) at k = 1 reduces to n_1 + 2 lam^2 (n_L - n_1)/D (a hand check of the anchor)."""
    L, g, G, lam, n1, nL = 6, 1e-6, 1e-7, 3e-7, 1.0, 2.0
    D = 4 * lam**2 + g**2 + g * G * (L - 1)
    N = chain_ness(Chain(L, g, G, lam, n1, nL)).occupations
    assert abs(float(N[0]) - (n1 + 2 * lam**2 * (nL - n1) / D)) < 1e-14
    assert abs(float(N[-1]) - (nL - 2 * lam**2 * (nL - n1) / D)) < 1e-14


def _hamiltonian(L, lam, omega):
    """Single-particle matrix of Eq. (27): H_{k,k+1} = i lam, H_{k+1,k} = -i lam."""
    H = omega * np.eye(L, dtype=complex)
    for k in range(L - 1):
        H[k, k + 1] = 1j * lam
        H[k + 1, k] = -1j * lam
    return H


@pytest.mark.parametrize("case", [(2, 1e-6, 1e-7, 3e-7, 1.0, 2.0), (5, 1e-5, 1e-6, 1e-5, 1.0, 2.0),
                                  (6, 1e-5, 0.0, 3e-6, 2.0, 0.5), (4, 0.3, 0.7, 0.4, 0.0, 3.0)])
def test_full_linear_system_is_tridiagonal(case):
    """Independent of the ansatz: solve the full L^2 linear system
    dC/dt = i(H^T C - C H^T) - {G_tot, C}/2 + diag(g n) + Gamma diag(C_kk) = 0 for C_ij =
    <a_i^dag a_j> (derived directly from the master equation, self-consistency as the linear
    term Gamma C_d) and compare with the structured solver: C is real and tridiagonal."""
    L, g, G, lam, n1, nL = case
    H = _hamiltonian(L, lam, omega=1.7)
    rates = np.full(L, G)
    rates[0] += g
    rates[-1] += g
    src = np.zeros(L)
    src[0] += g * n1
    src[-1] += g * nL
    eye = np.eye(L)
    # row-major vec: vec(A X B) = (A kron B^T) vec(X)
    op = 1j * (np.kron(H.T, eye) - np.kron(eye, H)) - 0.5 * (np.kron(np.diag(rates), eye)
                                                            + np.kron(eye, np.diag(rates)))
    diag_idx = np.arange(L) * (L + 1)
    op[diag_idx, diag_idx] += G  # Gamma * C_kk feeds the diagonal (self-consistent source)
    C = np.linalg.solve(op, -np.diag(src).reshape(-1).astype(complex)).reshape(L, L)
    ness = chain_ness(Chain(L, g, G, lam, n1, nL, omega=1.7))
    C_ours = np.diag(np.asarray(ness.occupations)) + np.diag(np.asarray(ness.coherences), 1) \
        + np.diag(np.asarray(ness.coherences), -1)
    assert np.max(np.abs(C - C_ours)) < 1e-12 * np.max(np.abs(C))


def _dense_route(case):
    """Dense reference with the Gaussian core: Lyapunov NESS of the 2L quadratures with the
    self-consistent occupations fixed, then the per-channel Wigner production [MSCPL19, Eqs.
    (20), (C2)] from the dense inverse covariance."""
    from jaxent.gaussian.covariance import drift_diffusion, quadratic_hamiltonian_matrix
    from jaxent.gaussian.lyapunov import lyapunov_steady_state

    L, g, G, lam, n1, nL = case
    ch = Chain(*case)
    ntilde = np.asarray(chain_ness(ch).occupations)
    # channels (rate gamma_ch, occupation n_ch, site); Gaussian-core rate kappa = gamma / 2
    channels = [(g, n1, 0), (g, nL, L - 1)] + [(G, ntilde[k], k) for k in range(L)]
    kap = np.zeros(L)
    kn = np.zeros(L)
    for rate, n, k in channels:
        kap[k] += rate / 2
        kn[k] += rate / 2 * n
    Gm = quadratic_hamiltonian_matrix(jnp.asarray(_hamiltonian(L, lam, omega=1.0)))
    A, D = drift_diffusion(Gm, kap, kn / kap)
    sigma = np.asarray(lyapunov_steady_state(A, D, method="kron"))
    N = np.array([(sigma[2 * k, 2 * k] + sigma[2 * k + 1, 2 * k + 1]) / 2 - 0.5
                  for k in range(L)])
    sinv = np.linalg.inv(sigma)
    ginv = np.array([(sinv[2 * k, 2 * k] + sinv[2 * k + 1, 2 * k + 1]) / 2 for k in range(L)])
    pis = []
    for rate, n, k in channels:
        m = n + 0.5
        phi = rate * (N[k] - n) / m
        pis.append(phi - rate + rate * m * ginv[k])
    Pi_r = pis[0] + pis[1]
    Pi_sc = sum(pis[2:])
    Pi_NESS = g * (N[0] - n1) / (n1 + 0.5) + g * (N[-1] - nL) / (nL + 0.5)  # sum of fluxes
    return sigma, N, ntilde, Pi_r, Pi_sc, Pi_NESS


@pytest.mark.parametrize("case", [(2, 1e-1, 1e-2, 3e-2, 1.0, 2.0), (5, 0.2, 0.1, 0.3, 1.0, 2.0),
                                  (7, 0.1, 0.05, -0.2, 3.0, 0.5)])
def test_structured_equals_dense_route(case):
    """Structured solver == Gaussian-core dense Lyapunov route at small L: same covariance,
    self-consistency reproduced (diag of the dense NESS = the reservoir occupations), and the
    same Pi_r, Pi_sc, Pi_NESS. Rates are O(0.1) here so the naive (C2) differences of the
    dense route keep ~1e-12 accuracy."""
    sigma, N_dense, ntilde, Pi_r, Pi_sc, Pi_NESS = _dense_route(case)
    ch = Chain(*case)
    ness = chain_ness(ch)
    ent = chain_entropy_production(ch, ness)
    assert np.max(np.abs(np.asarray(chain_covariance(ness)) - sigma)) < 1e-11
    assert np.max(np.abs(N_dense - ntilde)) < 1e-11
    assert _rel(ent.Pi_r, Pi_r) < 1e-9
    assert _rel(ent.Pi_sc, Pi_sc) < 1e-9
    assert _rel(ent.Pi_NESS, Pi_NESS) < 1e-9


@pytest.mark.parametrize("case", [(3, 1e-1, 1e-2, 3e-2, 1.0, 2.0), (6, 0.1, 0.05, -0.2, 3.0, 0.5)])
def test_dense_route_with_production_module(case):
    """Same cross-check through the Gaussian core's per-channel functions
    (jaxent.gaussian.production, MSCPL19 Eqs. (20), (C2)): physical channels on sites 1, L and
    self-consistent channels with the structured solver's occupations."""
    from jaxent.gaussian.production import wigner_flux_per_channel, wigner_production_per_channel

    sigma, _, ntilde, _, _, _ = _dense_route(case)
    L, g, G, lam, n1, nL = case
    kap_r = np.zeros(L)
    kap_r[[0, -1]] = g / 2
    nb_r = np.zeros(L)
    nb_r[0], nb_r[-1] = n1, nL
    Pi_r = float(jnp.sum(wigner_production_per_channel(sigma, kap_r, nb_r)))
    Pi_sc = float(jnp.sum(wigner_production_per_channel(sigma, np.full(L, G / 2), ntilde)))
    Phi_sc = np.asarray(wigner_flux_per_channel(sigma, np.full(L, G / 2), ntilde))
    Phi_r = float(jnp.sum(wigner_flux_per_channel(sigma, kap_r, nb_r)))
    ent = chain_entropy_production(Chain(*case))
    assert _rel(ent.Pi_r, Pi_r) < 1e-9
    assert _rel(ent.Pi_sc, Pi_sc) < 1e-9
    assert _rel(ent.Pi_NESS, Phi_r) < 1e-9
    assert np.max(np.abs(Phi_sc)) < 1e-10 * abs(Phi_r)  # self-consistent fluxes vanish


def test_slopes_large_L():
    """Pi_r ~ L^-2 and Pi_sc ~ L^-1 [MSCPL19, Fig. 3]: local log-log slopes between L = 2000
    and 10^4 with the Fig. 3 parameters; the crossover is slow (slopes over 40..160 are far
    from the asymptotic ones)."""
    L = np.array([40, 160, 2000, 10_000])
    one = np.ones(4)
    r = chain_points(L, 1e-6 * one, 1e-7 * one, 3e-7 * one, one, 2 * one)
    s_r = local_slope(2000, r["Pi_r"][2], 10_000, r["Pi_r"][3])
    s_sc = local_slope(2000, r["Pi_sc"][2], 10_000, r["Pi_sc"][3])
    assert abs(s_r + 2) < 0.05, s_r
    assert abs(s_sc + 1) < 0.05, s_sc
    s_r_small = local_slope(40, r["Pi_r"][0], 160, r["Pi_r"][1])
    s_sc_small = local_slope(40, r["Pi_sc"][0], 160, r["Pi_sc"][1])
    assert abs(s_r_small + 1.7) < 0.05 and abs(s_sc_small + 0.7) < 0.05, (s_r_small, s_sc_small)
    assert np.all(r["ness_identity_residual"] < 1e-10)
    assert np.all(r["closed_form_residual"] < 1e-10)


def test_padded_batch_equals_single():
    """chain_points (padded, one compile for all L) == chain_point per chain."""
    cases = [(2, 1e-6, 1e-7, 3e-7, 1.0, 2.0), (9, 1e-5, 0.0, 1e-5, 2.0, 1.0),
             (17, 1e-6, 1e-7, 3e-7, 1.0, 2.0)]
    arr = np.asarray(cases, dtype=float)
    batch = chain_points(arr[:, 0].astype(int), *(arr[:, i] for i in range(1, 6)))
    for i, c in enumerate(cases):
        single = chain_point(Chain(*c))
        for k in ("current", "Pi_NESS", "Pi_r", "Pi_sc", "N_L"):
            assert _rel(batch[k][i], single[k]) < 1e-12, k
    prof = chain_occupations(arr[:, 0].astype(int), *(arr[:, i] for i in range(1, 6)))
    for i, c in enumerate(cases):
        assert len(prof[i]) == c[0]
        assert _rel(prof[i], chain_closed_form(Chain(*c))["occupations"]) < 1e-12


def test_grad_lambda_matches_finite_differences():
    """jax.grad of Pi_NESS wrt lambda == central differences == d/dlambda of Eq. (31)."""
    L, g, G, lam, n1, nL = 30, 1e-6, 1e-7, 3e-7, 1.0, 2.0

    def pi(lam_):
        return chain_entropy_production(Chain(L, g, G, lam_, n1, nL)).Pi_NESS

    grad = float(jax.jit(jax.grad(pi))(lam))
    pi = jax.jit(pi)
    h = 1e-3 * lam
    fd = (float(pi(lam + h)) - float(pi(lam - h))) / (2 * h)
    D = 4 * lam**2 + g**2 + g * G * (L - 1)
    aff = 1 / (n1 + 0.5) - 1 / (nL + 0.5)
    exact = 2 * g * (nL - n1) * aff * (2 * lam * D - lam**2 * 8 * lam) / D**2
    assert abs(grad / exact - 1) < 1e-9
    assert abs(fd / grad - 1) < 1e-5
    # and of the split: d(Pi_r + Pi_sc)/dlambda equals the same
    split = float(jax.grad(lambda x: (lambda e: e.Pi_r + e.Pi_sc)(
        chain_entropy_production(Chain(L, g, G, x, n1, nL))))(lam))
    assert abs(split / exact - 1) < 1e-8


def test_vmap_over_parameters():
    lams = jnp.array([1e-7, 3e-7, 1e-6])
    f = jax.jit(jax.vmap(
        lambda l_: chain_entropy_production(Chain(12, 1e-6, 1e-7, l_, 1.0, 2.0)).Pi_NESS))
    got = f(lams)
    for lv, gv in zip(lams, got):
        assert _rel(gv, chain_closed_form(Chain(12, 1e-6, 1e-7, float(lv), 1.0, 2.0))["Pi_NESS"]) \
            < 1e-12


@pytest.mark.parametrize("kwargs, name", [
    (dict(gamma=-1e-6), "gamma"),
    (dict(gamma=0.0), "gamma"),
    (dict(Gamma=-1e-7), "Gamma"),
    (dict(lam=0.0), "lam"),
    (dict(n1=-0.1), "n1"),
    (dict(nL=float("nan")), "nL"),
    (dict(lam=float("inf")), "lam"),
    (dict(L=1), "L"),
    (dict(L=3.5), "L"),
])
def test_bad_input_raises(kwargs, name):
    p = dict(L=5, gamma=1e-6, Gamma=1e-7, lam=3e-7, n1=1.0, nL=2.0)
    p.update(kwargs)
    with pytest.raises(ValueError, match=name):
        Chain(**p)


def test_bad_traced_input_raises():
    """Inside jit the parameters are tracers: equinox.error_if stops a negative gamma."""
    f = jax.jit(lambda g: chain_ness(Chain(5, g, 1e-7, 3e-7, 1.0, 2.0)).occupations)
    with pytest.raises(Exception, match="gamma"):
        jax.block_until_ready(f(-1e-6))


def test_equal_temperatures_no_nan():
    """n1 = nL: no current, no entropy production, finite residual columns."""
    r = chain_point(Chain(8, 1e-6, 1e-7, 3e-7, 1.5, 1.5))
    for k, v in r.items():
        assert math.isfinite(float(v)), k
    scale = float(chain_point(Chain(8, 1e-6, 1e-7, 3e-7, 1.0, 2.0))["Pi_NESS"])
    assert abs(float(r["Pi_NESS"])) < 1e-12 * scale and abs(float(r["Pi_sc"])) < 1e-12 * scale
    assert abs(float(r["current"])) < 1e-12 * scale


def _cli(tmp_path, *extra, L=("2", "5", "12"), Gamma=("0", "1e-7"), lam=("3e-7",)):
    from jaxent.cli import main

    main(["chain", "--L", *L, "--gamma", "1e-6", "--Gamma", *Gamma, "--lam", *lam, "--n1", "1",
          "--nL", "2", "--extend-to", "0", "--no-figures", "--no-progress", "--out",
          str(tmp_path), *extra])


def test_command_writes_csv_and_resumes(tmp_path, capsys):
    from jaxent.io import read_csv
    from jaxent.studies.chain import CHAIN_DIAGNOSTICS, CHAIN_OUTPUTS, chain_sweep

    _cli(tmp_path)
    assert "chain: computed 6 points (0 already in" in capsys.readouterr().out
    data = read_csv(tmp_path / "chain.csv")
    assert len(data["L"]) == 6
    for col in ("L", "gamma", "Gamma", "lam", "n1", "nL", "current", "Pi_NESS", "Pi_r", "Pi_sc"):
        assert col in data
    for i in range(6):
        ch = Chain(int(data["L"][i]), data["gamma"][i], data["Gamma"][i], data["lam"][i],
                   data["n1"][i], data["nL"][i])
        assert _rel(data["Pi_NESS"][i], chain_closed_form(ch)["Pi_NESS"]) < 1e-12
        # the padded, traced-L sweep equals the unpadded point function
        single = chain_point(ch)
        for k in ("Pi_r", "Pi_sc", "N_L"):
            assert _rel(data[k][i], single[k]) < 1e-12, k
        assert np.isfinite([data[k][i] for k in CHAIN_OUTPUTS + CHAIN_DIAGNOSTICS]).all()
        assert data["flags"][i] == ""
    # resume: a second run with one more size computes only the new rows
    r = chain_sweep(np.array([2, 5, 12, 20]), [1e-6], [0.0, 1e-7], [3e-7], [1.0], [2.0],
                    tmp_path / "chain.csv", progress=False)
    assert (r.computed, r.skipped) == (2, 6)
    _cli(tmp_path, L=("2", "5", "12", "20"))
    assert "chain: computed 0 points (8 already in" in capsys.readouterr().out


def test_command_grad_columns(tmp_path):
    """--grad lam: dPi_NESS_dlam equals jax.jacfwd of the point function and d/dlambda of the
    closed form Eq. (31)."""
    from jaxent.io import read_csv

    _cli(tmp_path, "--grad", "lam", "Gamma", L=("30",), Gamma=("1e-7",))
    row = {k: v[0] for k, v in read_csv(tmp_path / "chain.csv").items()}
    L, g, G, lam, n1, nL = 30, 1e-6, 1e-7, 3e-7, 1.0, 2.0
    D = 4 * lam**2 + g**2 + g * G * (L - 1)
    aff = 1 / (n1 + 0.5) - 1 / (nL + 0.5)
    exact = 2 * g * (nL - n1) * aff * (2 * lam * D - lam**2 * 8 * lam) / D**2
    assert abs(row["dPi_NESS_dlam"] / exact - 1) < 1e-9
    jac = jax.jacfwd(lambda x, y: chain_point(Chain(L, g, y, x, n1, nL))["Pi_sc"],
                     argnums=(0, 1))(lam, G)
    assert _rel(row["dPi_sc_dlam"], jac[0]) < 1e-10
    assert _rel(row["dPi_sc_dGamma"], jac[1]) < 1e-10


def test_command_bad_input(tmp_path, capsys):
    for kw, name in ((dict(Gamma=("-1e-7",)), "Gamma"), (dict(L=("1",)), "--L"),
                     (dict(lam=("0", "1e-7")), "lam"), (dict(Gamma=("nan",)), "--Gamma")):
        with pytest.raises(SystemExit):
            _cli(tmp_path, **kw)
        assert name in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli(tmp_path, "--grad", "L")
    assert "--grad" in capsys.readouterr().err
    csv = tmp_path / "chain.csv"
    assert not csv.exists() or len(open(csv).readlines()) == 1


def test_command_figures(tmp_path):
    from jaxent.cli import main

    main(["chain", "--L", "2", "10", "40", "--Gamma", "1e-7", "--extend-to", "200",
          "--no-progress", "--out", str(tmp_path)])
    assert (tmp_path / "chain_fig2.png").stat().st_size > 10_000
    assert (tmp_path / "chain_fig3.png").stat().st_size > 10_000


# --- point function under jit / vmap, padded variant, error style ----------------------------

PC = dict(gamma=0.2, Gamma=0.1, lam=0.3, n1=1.0, nL=2.0, omega=1.0)


def test_point_function_under_jit_and_vmap():
    import equinox as eqx

    from jaxent.models.chain import chain_point_padded

    ref = chain_point(Chain(5, **PC))
    f = jax.jit(lambda *p: chain_point(Chain(5, *p)))
    out = f(*PC.values())
    out_eqx = eqx.filter_jit(chain_point)(Chain(5, **PC))
    for k in ref:
        assert _rel(out[k], ref[k]) < 1e-14 and _rel(out_eqx[k], ref[k]) < 1e-14, k
    lams = jnp.array([0.1, 0.3, -0.5])
    batch = jax.jit(jax.vmap(lambda l_: chain_point(Chain(5, 0.2, 0.1, l_, 1.0, 2.0))))(lams)
    for i, lv in enumerate(lams):
        assert _rel(batch["Pi_NESS"][i], chain_point(Chain(5, 0.2, 0.1, float(lv), 1.0, 2.0))[
            "Pi_NESS"]) < 1e-13
    # padded: traced L (int or float), one compilation for all L <= size
    Ls = jnp.array([2.0, 5.0, 8.0])
    pad = jax.jit(jax.vmap(lambda L: chain_point_padded(Chain(8, **PC), L)))(Ls)
    for i, L in enumerate((2, 5, 8)):
        single = chain_point(Chain(L, **PC))
        for k in ("current", "Pi_NESS", "Pi_r", "Pi_sc", "N_1", "N_L"):
            assert _rel(pad[k][i], single[k]) < 1e-12, (L, k)
    with pytest.raises(Exception, match=r"\bL: must be an integer in \[2, 8\]"):
        jax.block_until_ready(jax.jit(lambda L: chain_point_padded(Chain(8, **PC), L))(9.0))
    with pytest.raises(ValueError, match=r"\bL: must be an integer in \[2, 8\]"):
        chain_point_padded(Chain(8, **PC), 2.5)


BAD_CHAIN = [("gamma", 0.0), ("gamma", float("nan")), ("Gamma", -0.1), ("Gamma", float("inf")),
             ("lam", 0.0), ("lam", float("nan")), ("n1", -0.5), ("nL", float("inf")),
             ("omega", 0.0), ("omega", float("nan"))]


@pytest.mark.parametrize("name, value", BAD_CHAIN)
def test_bad_value_eager_and_jit(name, value):
    kw = dict(PC)
    kw[name] = value
    with pytest.raises(ValueError, match=rf"\b{name}: "):
        Chain(5, **kw)

    def f(x):
        p = dict(PC)
        p[name] = x
        return chain_point(Chain(5, **p))["Pi_NESS"]

    with pytest.raises(Exception, match=rf"\b{name}: "):
        jax.block_until_ready(jax.jit(f)(value))
    with pytest.raises(Exception, match=rf"\b{name}: "):
        jax.block_until_ready(jax.jit(jax.vmap(f))(jnp.array([PC[name], value])))


def test_non_scalar_parameter_is_a_shape_error():
    with pytest.raises(ValueError, match=r"gamma must be a scalar \(got shape \(2,\)\)"):
        chain_point(Chain(5, jnp.array([0.1, 0.2]), 0.1, 0.3, 1.0, 2.0))
    with pytest.raises(ValueError, match=r"L must be an integer"):
        jax.jit(lambda L: Chain(L, **PC))(5)
