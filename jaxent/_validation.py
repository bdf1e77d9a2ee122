"""Input checks shared by the modules (eager Python values only; traced values pass through)."""

from __future__ import annotations

import operator

import jax
import numpy as np
from jax.core import Tracer


def is_concrete(*xs) -> bool:
    """True when no leaf of ``xs`` is a JAX tracer, i.e. eager checks (``ValueError`` naming the
    parameter) can read the values; under ``jit``/``vmap``/``grad`` they are skipped."""
    return not any(isinstance(x, Tracer) for x in jax.tree_util.tree_leaves(xs))


def static_int(value, name: str = "nmax", minimum: int = 1) -> int:
    """``value`` as a Python int >= ``minimum``; a ``ValueError`` naming ``name`` otherwise.

    Used for sizes that set array shapes (``nmax``, grid sizes), which must be static under jit.
    """
    try:
        if isinstance(value, (bool, np.bool_)):  # operator.index(True) is 1: not a size
            raise TypeError
        n = operator.index(value)
    except TypeError:
        raise ValueError(
            f"{name} must be a Python int (it sets array shapes), got {value!r}") from None
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return n
