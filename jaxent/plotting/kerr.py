"""GFL20 Fig. 2 from a Kerr sweep CSV: Pi_U and Pi_d vs eps for two sizes (a, b), and the
finite-size collapse of Pi_U and Pi_d/N vs N(eps/eps_c - 1) (c, d)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from jaxent.plotting._figure import subplots

#: First-order transition of the Kerr model at kappa=1/2, Delta=-2, u=1 [GFL-quench, Sec. III].
EPS_C = 0.933


def _by_size(data: dict[str, list]) -> dict[float, dict[str, np.ndarray]]:
    cols = {k: np.asarray(v) for k, v in data.items() if k in
            ("N", "eps", "Pi_U", "Pi_d")}
    out = {}
    for N in np.unique(cols["N"]):
        m = cols["N"] == N
        order = np.argsort(cols["eps"][m])
        out[float(N)] = {k: v[m][order] for k, v in cols.items()}
    return out


def peak_of_pi_d_per_N(data: dict[str, list]) -> dict[float, tuple[float, float]]:
    """For each size N: (eps at the maximum of Pi_d/N over the sampled pumps, that maximum)."""
    return {N: (float(d["eps"][np.argmax(d["Pi_d"] / N)]), float(np.max(d["Pi_d"] / N)))
            for N, d in _by_size(data).items()}


def plot_kerr_fig2(data: dict[str, list], path: str | os.PathLike, eps_c: float = EPS_C,
                   sizes_ab: Sequence[float] | None = None) -> str:
    """Draw GFL20 Fig. 2 (a)-(d) from sweep columns (as read by :func:`jaxent.io.read_csv`)
    and save it to ``path``. ``sizes_ab``: the two sizes of panels (a), (b); default the
    paper's 10 and 30 where present, else the smallest and largest size."""
    import matplotlib

    by_N = _by_size(data)
    sizes = sorted(by_N)
    if sizes_ab is None:
        sizes_ab = [10.0, 30.0] if {10.0, 30.0} <= set(sizes) else [sizes[0], sizes[-1]]
    sizes_ab = list(dict.fromkeys(float(N) for N in sizes_ab))  # one size: one curve, one label
    # fixed margins: constrained layout measured every label's extent, 0.6 s of a 1.1 s figure
    fig, ax = subplots(2, 2, figsize=(9, 7))
    fig.subplots_adjust(left=0.095, right=0.985, bottom=0.075, top=0.915, wspace=0.24,
                        hspace=0.32)
    styles = ["--", "-"]
    for style, N in zip(styles, sizes_ab):
        d = by_N[float(N)]
        # markers too: a sweep of one or two pumps is points, which a bare line does not draw
        ax[0, 0].plot(d["eps"], d["Pi_U"], style, marker=".", ms=4, label=f"N = {N:g}")
        ax[0, 1].plot(d["eps"], d["Pi_d"], style, marker=".", ms=4, label=f"N = {N:g}")
    for a, name, lab in ((ax[0, 0], r"$\Pi_U$", "(a)"), (ax[0, 1], r"$\Pi_d$", "(b)")):
        a.set_xlabel(r"$\epsilon$")
        a.set_ylabel(name)
        a.axvline(eps_c, color="0.7", lw=0.8)
        a.legend()
        a.set_title(lab, loc="left")
    cmap = matplotlib.colormaps.get_cmap("viridis")
    inside = False  # any point in the paper's window |N (eps/eps_c - 1)| <= 6
    for i, N in enumerate(sizes):
        d = by_N[N]
        x = N * (d["eps"] / eps_c - 1)
        inside = inside or bool(np.any(np.abs(x) <= 6))
        c = cmap(i / max(len(sizes) - 1, 1))
        ax[1, 0].plot(x, d["Pi_U"], ".-", color=c, ms=3, lw=0.8, label=f"N = {N:g}")
        ax[1, 1].plot(x, d["Pi_d"] / N, ".-", color=c, ms=3, lw=0.8, label=f"N = {N:g}")
    for a, name, lab in ((ax[1, 0], r"$\Pi_U$", "(c)"), (ax[1, 1], r"$\Pi_d / N$", "(d)")):
        a.set_xlabel(r"$N(\epsilon/\epsilon_c - 1)$")
        a.set_ylabel(name)
        if inside:  # the paper's window; a sweep that misses it keeps its own range
            a.set_xlim(-6, 6)
        a.set_title(lab, loc="left")
    ax[1, 1].legend(fontsize=7, ncol=2)
    fig.suptitle(rf"Kerr model, GFL20 Fig. 2 ($\epsilon_c$ = {eps_c:g})")
    fig.savefig(path, dpi=130)
    return os.fspath(path)
