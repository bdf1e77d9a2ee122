"""Input checks shared by the modules (eager Python values only; traced values pass through)."""

from __future__ import annotations

import operator


def static_int(value, name: str = "nmax", minimum: int = 1) -> int:
    """``value`` as a Python int >= ``minimum``; a ``ValueError`` naming ``name`` otherwise.

    Used for sizes that set array shapes (``nmax``, grid sizes), which must be static under jit.
    """
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a Python int (it sets array shapes), got {value!r}") from None
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    return n
