"""Figures without pyplot: the plotting functions save files and must not switch the user's
matplotlib backend (e.g. in a notebook) or leave figures registered with pyplot."""

from __future__ import annotations

from matplotlib.figure import Figure


def subplots(*args, figsize=None, constrained_layout: bool = False, **kwargs):
    """Like ``plt.subplots`` but backend-free: a bare :class:`~matplotlib.figure.Figure`, which
    ``savefig`` renders with the Agg canvas on any machine (no display needed)."""
    fig = Figure(figsize=figsize, layout="constrained" if constrained_layout else None)
    return fig, fig.subplots(*args, **kwargs)
