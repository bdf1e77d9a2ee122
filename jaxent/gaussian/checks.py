"""Parameter checks that work the same eagerly and under ``jit``/``vmap``/``jacfwd``.

Every check takes a value and the name of the parameter and returns the value:

* concrete value (Python number, NumPy or JAX array outside a trace): checked with NumPy;
  a violation raises ``ValueError`` whose message starts with the parameter name, e.g.
  ``"kappa: loss rates must be finite and >= 0, got -1.0"``;
* traced value: returned through :func:`equinox.error_if`, so a violation raises at run time
  (``equinox.EquinoxRuntimeError`` / ``jax.errors.JaxRuntimeError``) with the same message
  minus the value. **Use the returned value** in the computation: a check whose result is
  unused may be removed by dead-code elimination.

Shapes are static, so :func:`check_scalar` always raises ``ValueError``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

__all__ = [
    "is_traced",
    "check_scalar",
    "check_finite",
    "check_positive",
    "check_nonnegative",
    "check_nonzero",
    "check_interval",
]


def is_traced(x) -> bool:
    """True when ``x`` (any pytree) holds a JAX tracer, i.e. its value is unknown in Python."""
    return any(isinstance(v, Tracer) for v in jax.tree_util.tree_leaves(x))


def check_scalar(x, name: str):
    """``x`` unchanged if it is a scalar (shape ``()``); ``ValueError`` otherwise."""
    shape = np.shape(x) if not hasattr(x, "shape") else tuple(x.shape)
    if shape != ():
        raise ValueError(f"{name} must be a scalar (got shape {shape}); use jax.vmap to batch")
    return x


def check_value(x, name: str, ok_np, ok_jnp, what: str):
    if is_traced(x):
        return eqx.error_if(x, ~ok_jnp(x), f"{name}: {what}")
    try:
        if np.iscomplexobj(x):
            raise TypeError
        v = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a real number, got {type(x).__name__} {x!r}") from None
    if not np.all(ok_np(v)):
        shown = v.item() if v.ndim == 0 else v
        raise ValueError(f"{name}: {what}, got {shown}")
    return x


def check_finite(x, name: str, what: str = "must be finite"):
    """Reject NaN and +-inf."""
    return check_value(x, name, np.isfinite, jnp.isfinite, what)


def check_positive(x, name: str, what: str = "must be finite and > 0"):
    """Reject ``x <= 0``, NaN and inf."""
    return check_value(x, name, lambda v: np.isfinite(v) & (v > 0),
                  lambda v: jnp.isfinite(v) & (v > 0), what)


def check_nonnegative(x, name: str, what: str = "must be finite and >= 0"):
    """Reject ``x < 0``, NaN and inf."""
    return check_value(x, name, lambda v: np.isfinite(v) & (v >= 0),
                  lambda v: jnp.isfinite(v) & (v >= 0), what)


def check_nonzero(x, name: str, what: str = "must be finite and nonzero"):
    """Reject ``x == 0``, NaN and inf."""
    return check_value(x, name, lambda v: np.isfinite(v) & (v != 0),
                  lambda v: jnp.isfinite(v) & (v != 0), what)


def check_interval(x, name: str, what: str | None = None, *, lo: float, hi: float):
    """Reject values outside ``[lo, hi)`` (and NaN)."""
    what = what or f"must lie in [{lo}, {hi})"
    return check_value(x, name, lambda v: (v >= lo) & (v < hi),
                       lambda v: (v >= lo) & (v < hi), what)
