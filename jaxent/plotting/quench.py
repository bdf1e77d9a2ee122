r"""Figures of Kerr quench dynamics from a quench CSV (:mod:`jaxent.studies.quench`).

The system starts in the NESS at pump ``eps_i`` and evolves under the Liouvillian at ``eps_f``
[GFL-quench, Sec. IV]. :func:`plot_quench_figures` draws, for each ``eps_i``, one figure per
quantity with one panel per ``eps_f`` and one curve per size ``N`` against time ``t``:

- ``quench_G.png``: the non-Gaussianity $G(\rho_t)$, Eq. (27) [GFL-quench, Fig. 4];
- ``quench_Phi.png``: the entropy flux rate per size, $\Phi/N$, Eq. (22) [GFL-quench, Fig. 5];
- ``quench_Phi_q.png``: the quantum entropy flux $\Phi_q$, Eq. (23) [GFL-quench, Fig. 6];
- ``quench_Pi_d.png``: the dissipative entropy production $\Pi_d$, Eq. (24)
  [GFL-quench, Fig. 7];
- ``quench_Pi_U.png``: the unitary (coarse-graining) contribution $\Pi_U$, Eq. (25)
  [GFL-quench, Fig. 8].

Thin dashed lines in each curve's colour mark the two NESS values the quench connects: at
``eps_i`` (the curve's ``t = 0`` row; short dashes) and at ``eps_f`` (the ``*_ness_f`` columns,
exact at that ``N``; long dashes). The paper draws the thermodynamic-limit NESS instead.
Rows with a non-empty ``flags`` column are marked with a red ``x``. A panel whose positive
times span more than three decades on an uneven grid (``--t auto`` grids out to slow
tunnelling) gets a symlog time axis, linear below the first positive save time so the
``t = 0`` NESS stays visible; other panels are linear in ``t``. A file with several ``eps_i``
(or kappa, delta, u) values gives one set of figures per value, named with a suffix
(``quench_G_epsi0.5.png``).

:func:`plot_gap` draws the Liouvillian gap versus pump, one curve per ``N``, with the
mean-field bistability window and the critical pump [GFL-quench, Fig. 3].

Figures are built without pyplot (:func:`jaxent.plotting._figure.subplots`), so the user's
matplotlib backend and pyplot's figure registry are left alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np

from jaxent.plotting._figure import subplots

if TYPE_CHECKING:
    from matplotlib.layout_engine import ConstrainedLayoutEngine

#: First-order transition of the Kerr model at kappa=1/2, Delta=-2, u=1 [GFL-quench, Sec. IV A].
EPS_C = 0.933
#: Mean-field bistability window (eps_-, eps_+) at the same parameters [GFL-quench, Sec. IV A].
BISTABILITY_WINDOW = (0.701373, 1.16616)

#: (column, file stem, y label, paper figure, divide by N) of the five quench figures.
QUENCH_FIGURES = (
    ("G", "quench_G", r"$G(\rho_t)$", 4, False),
    ("Phi", "quench_Phi", r"$\Phi/N$", 5, True),
    ("Phi_q", "quench_Phi_q", r"$\Phi_q$", 6, False),
    ("Pi_d", "quench_Pi_d", r"$\Pi_d$", 7, False),
    ("Pi_U", "quench_Pi_U", r"$\Pi_U$", 8, False),
)
#: Parameters besides ``eps_i`` that split the data into separate figures when they vary.
_FIGURE_PARAMS = ("kappa", "delta", "u")
#: Decades of positive save times above which a panel's time axis is logarithmic.
LOG_DECADES = 3.0

_PARAM_TEX = {"kappa": r"$\kappa$", "delta": r"$\Delta$", "u": r"$u$"}
_LS_INITIAL = (0, (2, 2))   # NESS at eps_i
_LS_FINAL = (0, (6, 3))     # NESS at eps_f


def _colors(n: int) -> list:
    """``n`` viridis colours, stopping short of the pale yellow end (unreadable on white)."""
    import matplotlib  # here, as in jaxent.plotting._figure

    cmap = matplotlib.colormaps.get_cmap("viridis")
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


def _floats(values) -> np.ndarray:
    """A column as floats; entries that are not numbers (e.g. an empty CSV field) become NaN."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        out = []
        for v in values:
            try:
                out.append(float(v))
            except (TypeError, ValueError):
                out.append(math.nan)
        return np.asarray(out, dtype=float)


def _flagged(data: dict[str, list], n: int) -> np.ndarray:
    flags = data.get("flags")
    if flags is None:
        return np.zeros(n, bool)
    return np.array([isinstance(f, str) and f.strip() != "" for f in flags], bool)


def use_log_time(t: Sequence[float] | np.ndarray) -> bool:
    """Whether save times ``t`` want a logarithmic axis: the positive times span more than
    :data:`LOG_DECADES` decades and are not evenly spaced (a dense linear grid stays linear)."""
    t = np.asarray(t, float)
    t = t[np.isfinite(t)]
    pos = np.unique(t[t > 0])
    if pos.size < 2 or pos[-1] / pos[0] <= 10.0 ** LOG_DECADES:
        return False
    steps = np.diff(np.unique(t))
    return not np.allclose(steps, steps[0], rtol=1e-6, atol=0.0)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _figure_groups(cols: dict[str, np.ndarray]) -> list[tuple[np.ndarray, dict[str, float], str]]:
    """(row mask, parameter values, file-name suffix) per figure: one per ``eps_i`` (and per
    kappa/delta/u where the file holds several); the suffix names only what varies."""
    names = ["eps_i"] + [p for p in _FIGURE_PARAMS if p in cols]
    valid = np.ones(cols["eps_i"].shape, bool)  # rows that can be placed at all
    for p in names + ["N", "eps_f", "t"]:
        valid &= np.isfinite(cols[p])
    keys = sorted(set(zip(*(cols[p][valid].tolist() for p in names))))
    varying = [p for i, p in enumerate(names) if len({k[i] for k in keys}) > 1]
    tags = {"eps_i": "epsi"}
    out = []
    for key in keys:
        vals = dict(zip(names, key))
        mask = valid.copy()
        for p in names:
            mask &= cols[p] == vals[p]
        suffix = "".join(f"_{tags.get(p, p)}{_fmt(vals[p])}" for p in varying)
        out.append((mask, vals, suffix))
    return out


def _panel_title(letter: str, eps_f: float, eps_c: float) -> str:
    title = rf"({letter}) $\epsilon_f$ = {_fmt(eps_f)}"
    if math.isclose(eps_f, eps_c, rel_tol=0, abs_tol=5e-4):
        title += r" $\approx \epsilon_c$"
    return title


def _set_time_axis(ax, t: np.ndarray) -> None:
    from matplotlib.ticker import FixedLocator, NullFormatter

    t = t[np.isfinite(t)]
    if t.size == 0:
        return
    lo, hi = float(t.min()), float(t.max())
    if use_log_time(t):
        pos = t[t > 0]
        if lo <= 0:
            thresh = float(pos.min())
            ax.set_xscale("symlog", linthresh=thresh, linscale=0.5)
            # labelled decades from 10x the first positive time (so "0" keeps its room), at
            # most about seven labels; the other decades of the log part get minor ticks
            k0 = math.ceil(math.log10(thresh) + 1.0 - 1e-9)
            k1 = math.floor(math.log10(hi) + 1e-9)
            step = max(1, math.ceil((k1 - k0 + 1) / 6))
            major = [10.0 ** k for k in range(k0, k1 + 1, step)]
            ax.xaxis.set_major_locator(FixedLocator([0.0] + major))
            ax.xaxis.set_minor_locator(FixedLocator(
                [10.0 ** k for k in range(math.ceil(math.log10(thresh) - 1e-9), k1 + 1)
                 if 10.0 ** k not in major]))
            ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            ax.set_xscale("log")
        ax.set_xlim(lo, hi)
    elif hi > lo:
        ax.set_xlim(lo, hi)


def _quench_figure(cols, flagged, mask, vals, column, ylabel, fig_no, per_N, eps_c, path):
    from matplotlib.lines import Line2D

    eps_f_values = sorted(set(cols["eps_f"][mask].tolist()))
    sizes = sorted(set(cols["N"][mask].tolist()))
    colors = dict(zip(sizes, _colors(len(sizes))))
    npan = len(eps_f_values)
    ncols = min(3, npan)
    nrows = math.ceil(npan / ncols)
    fig, axes = subplots(nrows, ncols, figsize=(max(4.3 * ncols, 6.0), 3.2 * nrows + 0.5),
                         constrained_layout=True, squeeze=False)
    # room at the figure's edges for a last tick label centred on a panel's right spine,
    # which constrained layout may place after its final pass
    cast("ConstrainedLayoutEngine", fig.get_layout_engine()).set(w_pad=0.12)
    ness_col = f"{column}_ness_f"
    any_flag = False
    for k, (ax, eps_f) in enumerate(zip(axes.flat, eps_f_values)):
        pmask = mask & (cols["eps_f"] == eps_f)
        for N in sizes:
            m = pmask & (cols["N"] == N)
            if not m.any():
                continue
            order = np.argsort(cols["t"][m], kind="stable")
            t = cols["t"][m][order]
            scale = 1.0 / N if per_N else 1.0
            y = cols[column][m][order] * scale
            c = colors[N]
            ax.plot(t, y, "-" if t.size > 1 else "o", color=c, lw=1.3, ms=4,
                    label=f"N = {_fmt(N)}")
            at0 = np.flatnonzero(t == 0)
            if at0.size and np.isfinite(y[at0[0]]):
                ax.axhline(y[at0[0]], color=c, ls=_LS_INITIAL, lw=0.7, alpha=0.8)
            if ness_col in cols:
                yf = cols[ness_col][m] * scale
                yf = yf[np.isfinite(yf)]
                if yf.size:
                    ax.axhline(float(np.median(yf)), color=c, ls=_LS_FINAL, lw=0.7, alpha=0.8)
            f = flagged[m][order]
            if f.any():
                any_flag = True
                ax.plot(t[f], y[f], "x", color="red", ms=4, mew=1.0, zorder=5)
        _set_time_axis(ax, cols["t"][pmask])
        ax.set_xlabel(r"$t$")
        ax.set_ylabel(ylabel)
        ax.set_title(_panel_title("abcdefghijklmnopqrstuvwxyz"[k % 26], eps_f, eps_c),
                     loc="left", fontsize=10)
        ax.grid(alpha=0.25, lw=0.5)
    for ax in list(axes.flat)[npan:]:
        fig.delaxes(ax)
    ax0 = axes.flat[0]
    handles, _ = ax0.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.4", ls=_LS_INITIAL, lw=0.9,
                       label=r"NESS at $\epsilon_i$"),
                Line2D([], [], color="0.4", ls=_LS_FINAL, lw=0.9, label=r"NESS at $\epsilon_f$")]
    if any_flag:
        handles.append(Line2D([], [], color="red", marker="x", ls="none", label="flagged row"))
    ax0.legend(handles=handles, fontsize=7, loc="best", framealpha=0.8,
               ncol=2 if len(handles) > 6 else 1)
    extra = ", ".join(f"{_PARAM_TEX[p]} = {_fmt(vals[p])}" for p in _FIGURE_PARAMS if p in vals)
    title = (rf"GFL-quench Fig. {fig_no}: {ylabel} after $\epsilon_i$ = {_fmt(vals['eps_i'])}"
             r" $\to$ $\epsilon_f$")
    if extra:  # on its own line where one column leaves no room beside the rest
        title += ("\n" if ncols == 1 else "  ") + f"({extra})"
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=130)
    return os.fspath(path)


def plot_quench_figures(data: dict[str, list], out_dir: str | os.PathLike,
                        eps_c: float = EPS_C) -> list[str]:
    """Draw GFL-quench Figs. 4-8 from quench rows (as read by :func:`jaxent.io.read_csv`) into
    ``out_dir``: ``quench_G.png``, ``quench_Phi.png``, ``quench_Phi_q.png``,
    ``quench_Pi_d.png``, ``quench_Pi_U.png``. With several ``eps_i`` (or kappa/delta/u) values,
    one set per value, suffixed e.g. ``quench_G_epsi0.5.png``. Returns the paths written."""
    required = ("N", "eps_i", "eps_f", "t") + tuple(q[0] for q in QUENCH_FIGURES)
    missing = [c for c in required if c not in data]
    if missing:
        raise ValueError(f"quench data lack column(s) {missing}")
    n = len(data["t"])
    if n == 0:
        raise ValueError("quench data have no rows")
    numeric = set(required) | {f"{q[0]}_ness_f" for q in QUENCH_FIGURES} | set(_FIGURE_PARAMS)
    cols = {k: _floats(v) for k, v in data.items() if k in numeric}
    flagged = _flagged(data, n)
    os.makedirs(out_dir, exist_ok=True)
    groups = _figure_groups(cols)
    if not groups:
        raise ValueError("quench data have no row with finite N, eps_i, eps_f and t")
    paths = []
    for mask, vals, suffix in groups:
        for column, stem, ylabel, fig_no, per_N in QUENCH_FIGURES:
            path = os.path.join(os.fspath(out_dir), f"{stem}{suffix}.png")
            paths.append(_quench_figure(cols, flagged, mask, vals, column, ylabel, fig_no,
                                        per_N, eps_c, path))
    return paths


#: A gap resolved to better than this fraction of itself is drawn as a point of its curve: the
#: criterion of the ``resolution`` flag of :mod:`jaxent.studies.spectrum`.
GAP_RESOLVED = 0.01


def plot_gap(data: dict[str, list], path: str | os.PathLike,
             window: tuple[float, float] | None = BISTABILITY_WINDOW,
             eps_c: float = EPS_C) -> str:
    r"""Draw GFL-quench Fig. 3: the Liouvillian gap ``gap`` versus ``eps`` on a log axis, one
    curve per ``N``, with the mean-field bistability ``window`` shaded and ``eps_c`` dashed.

    Where the table has the gap's error bound (``condition_1 * resolution_1``, as
    ``jaxent spectrum`` writes them; the resolution alone, a backward error, for a table
    without ``condition_1``), a gap known to worse than :data:`GAP_RESOLVED` of itself is not a
    point of its curve (the line breaks there): it is drawn as an open circle with the error
    bar ``gap`` $\pm$ bound when the bound is below the gap (no bar when it is NaN, infinite or
    negative, or the condition number is below 1, which no condition number is), and as an open
    downward triangle at ``gap + bound``, an upper bound, when it is not (near eps_c at
    N >= 40 the gap is within a few float64 roundings of $\|L\|$). Non-positive or non-finite
    gaps are left out.
    Returns ``path``."""
    missing = [c for c in ("N", "eps", "gap") if c not in data]
    if missing:
        raise ValueError(f"gap data lack column(s) {missing}")
    cols = {k: _floats(data[k]) for k in ("N", "eps", "gap")}
    res = (_floats(data["resolution_1"]) if "resolution_1" in data
           else np.zeros_like(cols["gap"]))
    if res.shape != cols["gap"].shape:
        raise ValueError(f"resolution_1 has {res.size} values for {cols['gap'].size} gaps")
    res = np.where(res >= 0, res, np.nan)  # a negative resolution is no resolution
    if "condition_1" in data:  # the forward error bound (jaxent.lindblad.spectrum)
        cond = _floats(data["condition_1"])
        if cond.shape != res.shape:
            raise ValueError(f"condition_1 has {cond.size} values for {res.size} gaps")
        # kappa >= 1 exactly; 1 - 2e-16 is a normal eigenvalue's rounding, not an error
        res = res * np.where(cond >= 1 - 1e-8, np.maximum(cond, 1.0), np.nan)
    from matplotlib.lines import Line2D

    sizes = sorted(set(cols["N"][np.isfinite(cols["N"])].tolist()))
    fig, ax = subplots(1, 1, figsize=(6, 4.3), constrained_layout=True)
    cast("ConstrainedLayoutEngine", fig.get_layout_engine()).set(w_pad=0.12)
    if window is not None:
        ax.axvspan(window[0], window[1], color="orange", alpha=0.2,
                   label="bistability (mean field)")
    ax.axvline(eps_c, color="k", ls="--", lw=1.0, label=rf"$\epsilon_c$ = {_fmt(eps_c)}")
    drew_bars = drew_bounds = False
    for N, c in zip(sizes, _colors(len(sizes))):
        m = (cols["N"] == N) & np.isfinite(cols["eps"]) & np.isfinite(cols["gap"]) \
            & (cols["gap"] > 0)
        if not m.any():
            continue
        order = np.argsort(cols["eps"][m], kind="stable")
        eps, gap, r = cols["eps"][m][order], cols["gap"][m][order], res[m][order]
        resolved = r < GAP_RESOLVED * gap  # NaN bound: not resolved
        ax.plot(eps, np.where(resolved, gap, np.nan), ".-", color=c, ms=3, lw=1.2,
                label=f"N = {_fmt(N)}")
        bound = (r >= gap) & np.isfinite(r)
        # an unknown (NaN) or unbounded (inf) bound: the open circle, no bar
        bar = ~resolved & ~bound
        if bar.any():
            ax.errorbar(eps[bar], gap[bar], yerr=np.where(np.isfinite(r[bar]), r[bar], 0.0),
                        fmt="o", mfc="none", color=c, ms=3.5, lw=0.8, capsize=2)
            drew_bars = True
        if bound.any():
            ax.plot(eps[bound], gap[bound] + r[bound], "v", mfc="none", color=c, ms=4, lw=0)
            drew_bounds = True
    handles, labels = ax.get_legend_handles_labels()
    if drew_bars:
        handles.append(Line2D([], [], marker="o", mfc="none", color="0.3", ls="none", ms=3.5))
        labels.append(f"gap $\\pm$ error bound (> {GAP_RESOLVED:.0%})")
    if drew_bounds:
        handles.append(Line2D([], [], marker="v", mfc="none", color="0.3", ls="none", ms=4))
        labels.append("unresolved: gap below the marker")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\epsilon$")
    ax.set_ylabel(r"Liouvillian gap $\lambda$")
    ax.grid(alpha=0.25, lw=0.5, which="major")
    ax.legend(handles, labels, fontsize=7, loc="best", framealpha=0.8)
    fig.suptitle("GFL-quench Fig. 3: Liouvillian gap", fontsize=11)
    fig.savefig(path, dpi=130)
    return os.fspath(path)
