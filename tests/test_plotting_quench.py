"""Quench figures (GFL-quench Figs. 3-8) from synthetic quench and gap tables: files are
written as PNGs, named as documented, and pyplot's backend and figure registry are untouched."""

import os

import matplotlib
import numpy as np
import pytest

from jaxent.plotting.quench import plot_gap, plot_quench_figures, use_log_time

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEMS = ("quench_G", "quench_Phi", "quench_Phi_q", "quench_Pi_d", "quench_Pi_U")
QUANTITIES = ("Phi", "Phi_q", "Pi_d", "Pi_U", "G")


def auto_like_times(T=30, t_end=1e5):
    """Like ``jaxent.studies.quench.auto_times`` for a long relaxation: 0, then a log grid."""
    return np.concatenate([[0.0], np.geomspace(0.05, t_end, T - 1)])


def quench_data(N_values=(5.0, 10.0), eps_i=(0.5,), eps_f=(0.6, 1.1),
                times=np.linspace(0.0, 20.0, 30), flag=True) -> dict[str, list]:
    """Synthetic quench rows (columns of ``jaxent.studies.quench``): every quantity relaxes
    exponentially from its NESS at eps_i (the t = 0 row) to its NESS at eps_f, with a transient
    bump; the non-Gaussianity starts and ends near zero. A few rows carry flags."""
    cols: dict[str, list] = {k: [] for k in (
        "N", "eps_i", "eps_f", "kappa", "delta", "u", "t", "nmax", "alpha_re", "alpha_im",
        "n_photons", "S_wehrl", "Phi", "Phi_q", "Pi_ext", "Pi_J", "Pi_d", "Pi_U", "dS_dt", "G",
        "Phi_ness_f", "Phi_q_ness_f", "Pi_d_ness_f", "Pi_U_ness_f", "G_ness_f", "flags")}
    times = np.asarray(times, float)
    t_max = float(times.max())
    for N in N_values:
        for ei in eps_i:
            for ef in eps_f:
                tau = 0.15 * t_max / (1 + 0.1 * N)
                relax = np.exp(-times / tau)
                bump = (times / tau) * np.exp(1 - times / tau)
                s = 1 + 0.02 * N  # NESS values that differ between sizes
                ness = {"Phi": s * N * ei ** 2, "Phi_q": 0.02 * s * ei, "Pi_d": 0.01 * s * ei,
                        "Pi_U": 0.005 * s * ei, "G": 0.01 / N}
                ness_f = {"Phi": s * N * ef ** 2, "Phi_q": 0.02 * s * ef,
                          "Pi_d": 0.01 * s * ef, "Pi_U": 0.005 * s * ef, "G": 0.02 / N}
                vals = {q: ness_f[q] + (ness[q] - ness_f[q]) * relax
                        + 0.3 * abs(ness_f[q] - ness[q]) * bump for q in QUANTITIES}
                # rows in reverse time order: the plot must sort them
                for j in range(times.size)[::-1]:
                    row = dict(N=N, eps_i=ei, eps_f=ef, kappa=0.5, delta=-2.0, u=1.0,
                               t=times[j], nmax=40.0, alpha_re=0.1, alpha_im=-0.2,
                               n_photons=vals["Phi"][j], S_wehrl=1.0, Pi_ext=0.0, Pi_J=0.0,
                               dS_dt=0.0, **{q: vals[q][j] for q in QUANTITIES},
                               **{f"{q}_ness_f": ness_f[q] for q in QUANTITIES})
                    row["flags"] = "tail" if flag and N == N_values[-1] and j in (3, 7) else ""
                    for k, v in row.items():
                        cols[k].append(float(v) if k != "flags" else v)
    return cols


def gap_data(N_values=(5.0, 10.0, 20.0), eps=np.linspace(0.3, 1.5, 60)) -> dict[str, list]:
    """Synthetic gap table: the gap dips inside the bistability window, deeper for larger N;
    includes a zero and a NaN gap, which must be dropped from the log plot."""
    cols: dict[str, list] = {"N": [], "eps": [], "gap": []}
    for N in N_values:
        g = 0.5 * np.exp(-N * np.exp(-((eps - 0.93) / 0.15) ** 2))
        g[3] = 0.0
        g[5] = np.nan
        cols["N"] += [N] * eps.size
        cols["eps"] += eps.tolist()
        cols["gap"] += g.tolist()
    return cols


def assert_png(path):
    assert os.path.isfile(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
    assert head == PNG_MAGIC
    assert os.path.getsize(path) > 1000


@pytest.fixture
def clean_pyplot():
    """The backend before a test, and a check that no pyplot figure is left after it."""
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    before = plt.get_fignums()  # other tests (notebooks) may have left pyplot figures
    yield
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == before


@pytest.mark.parametrize("times", [np.linspace(0.0, 20.0, 30), auto_like_times()],
                         ids=["linear", "auto-log"])
def test_quench_figures(tmp_path, clean_pyplot, times):
    paths = plot_quench_figures(quench_data(times=times), tmp_path)
    assert paths == [str(tmp_path / f"{s}.png") for s in STEMS]
    for p in paths:
        assert_png(p)


def test_several_eps_i_get_suffixed_names(tmp_path, clean_pyplot):
    data = quench_data(N_values=(5.0,), eps_i=(0.5, 0.7), eps_f=(0.6,))
    paths = plot_quench_figures(data, tmp_path)
    names = sorted(os.path.basename(p) for p in paths)
    assert names == sorted(f"{s}_epsi{e}.png" for s in STEMS for e in ("0.5", "0.7"))
    for p in paths:
        assert_png(p)


def test_quench_figures_need_the_quantities(tmp_path):
    data = quench_data()
    del data["Pi_U"]
    with pytest.raises(ValueError, match="Pi_U"):
        plot_quench_figures(data, tmp_path)


def test_plot_gap(tmp_path, clean_pyplot):
    path = plot_gap(gap_data(), tmp_path / "gap.png")
    assert path == str(tmp_path / "gap.png")
    assert_png(path)


def test_plot_gap_marks_unresolved_gaps(tmp_path, clean_pyplot, monkeypatch):
    """A gap resolved to worse than 1 % (the spectrum's ``resolution`` flag) is not a point of
    its curve: an open circle with the bar gap +- resolution_1 when that is below the gap (none
    for a NaN resolution), an open triangle at gap + resolution_1 (an upper bound) when not."""
    from matplotlib.container import ErrorbarContainer
    from matplotlib.figure import Figure

    eps = np.linspace(0.8, 1.0, 11)
    gap = 1e-6 * np.exp(-((eps - 0.9) / 0.05) ** 2)
    res = 1e-3 * gap                    # resolved
    res[[4, 6]] = 0.3 * gap[[4, 6]]     # bars
    res[5] = 4.0 * gap[5]               # an upper bound only
    res[3] = np.nan                     # unknown: open circle, no bar
    data = {"N": [40.0] * eps.size, "eps": eps.tolist(), "gap": gap.tolist(),
            "resolution_1": res.tolist()}
    saved = []
    real_savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig",
                        lambda self, *a, **k: (saved.append(self), real_savefig(self, *a, **k)))
    assert_png(plot_gap(data, tmp_path / "gap.png"))
    ax = saved[0].axes[0]
    curve = next(ln for ln in ax.get_lines() if ln.get_label() == "N = 40")
    y = np.asarray(curve.get_ydata(), float)
    unresolved = np.zeros(eps.size, bool)
    unresolved[[3, 4, 5, 6]] = True
    assert np.array_equal(np.isnan(y), unresolved)
    np.testing.assert_array_equal(y[~unresolved], gap[~unresolved])
    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    np.testing.assert_array_equal(bars.lines[0].get_xdata(), eps[[3, 4, 6]])
    np.testing.assert_array_equal(bars.lines[0].get_ydata(), gap[[3, 4, 6]])
    segs = bars.lines[2][0].get_segments()
    lo = [sg[0][1] for sg in segs]
    hi = [sg[1][1] for sg in segs]
    want = np.array([0.0, res[4], res[6]])
    np.testing.assert_allclose(lo, gap[[3, 4, 6]] - want, rtol=1e-12)
    np.testing.assert_allclose(hi, gap[[3, 4, 6]] + want, rtol=1e-12)
    (tri,) = [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    np.testing.assert_array_equal(tri.get_xdata(), eps[[5]])
    np.testing.assert_allclose(tri.get_ydata(), gap[[5]] + res[[5]], rtol=1e-12)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "gap $\\pm$ error bound (> 1%)" in texts and "unresolved: gap below the marker" in texts
    # an infinite or negative resolution is none: an open circle without a bar, never a
    # marker at infinity; a resolution column that does not match the gaps is refused
    saved.clear()
    res2 = res.copy()
    res2[5], res2[3] = np.inf, -1e-9
    plot_gap({**data, "resolution_1": res2.tolist()}, tmp_path / "gap3.png")
    ax = saved[0].axes[0]
    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    np.testing.assert_array_equal(bars.lines[0].get_xdata(), eps[[3, 4, 5, 6]])
    assert not [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    with pytest.raises(ValueError, match="resolution_1 has 10 values for 11 gaps"):
        plot_gap({**data, "resolution_1": res[:-1].tolist()}, tmp_path / "gap4.png")
    # with condition numbers (jaxent spectrum's condition_1) the bound is condition x
    # resolution: 3e-3 of the gap is still a point, 0.3 x 5 = 1.5 gaps an upper bound; a
    # condition number below 1 (none is) or NaN leaves the bound unknown
    saved.clear()
    cond = np.full(eps.size, 5.0)
    cond[0] = 3.0
    cond[8] = 0.5
    plot_gap({**data, "condition_1": cond.tolist()}, tmp_path / "gap5.png")
    ax = saved[0].axes[0]
    (tri,) = [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    np.testing.assert_array_equal(tri.get_xdata(), eps[[4, 5, 6]])
    np.testing.assert_allclose(tri.get_ydata(), gap[[4, 5, 6]] * (1 + 5 * res[[4, 5, 6]]
                                                                   / gap[[4, 5, 6]]), rtol=1e-12)
    (bars,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    np.testing.assert_array_equal(bars.lines[0].get_xdata(), eps[[3, 8]])
    curve = next(ln for ln in ax.get_lines() if ln.get_label() == "N = 40")
    assert np.isfinite(curve.get_ydata()[0])
    with pytest.raises(ValueError, match="condition_1 has 10 values for 11 gaps"):
        plot_gap({**data, "condition_1": cond[:-1].tolist()}, tmp_path / "gap6.png")
    # without resolution_1 (any other gap table) every positive gap is a point of the curve
    saved.clear()
    plot_gap({k: data[k] for k in ("N", "eps", "gap")}, tmp_path / "gap2.png")
    ax = saved[0].axes[0]
    assert not ax.containers
    curve = next(ln for ln in ax.get_lines() if ln.get_label() == "N = 40")
    np.testing.assert_array_equal(curve.get_ydata(), gap)


def test_use_log_time():
    assert use_log_time(auto_like_times())
    assert not use_log_time(np.linspace(0.0, 20.0, 30))
    assert not use_log_time(np.linspace(0.0, 200.0, 5001))  # dense but linear grid
    assert not use_log_time(np.geomspace(1.0, 500.0, 20))  # under three decades
    assert not use_log_time([0.0])


def test_single_eps_f_and_single_N_from_csv(tmp_path, clean_pyplot):
    """One panel with one curve, read back through a CSV file and jaxent.io.read_csv (empty
    flags come back as '' strings)."""
    import csv

    from jaxent.io import read_csv

    data = quench_data(N_values=(10.0,), eps_f=(0.933,), times=auto_like_times(12, 1e4))
    path = tmp_path / "quench.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(data))
        w.writerows(zip(*data.values()))
    back = read_csv(path)
    assert back["flags"][0] == ""
    paths = plot_quench_figures(back, tmp_path / "sub")
    assert [os.path.basename(p) for p in paths] == [f"{s}.png" for s in STEMS]
    for p in paths:
        assert_png(p)
