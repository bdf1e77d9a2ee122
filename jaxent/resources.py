"""Memory estimates, checked before a computation starts, so a too-large problem is refused
with a clear message instead of swapping the machine or dying in the allocator."""

from __future__ import annotations

import os

#: Fraction of the available memory a computation may plan to use.
MEMORY_FRACTION = 0.7


def available_memory_bytes() -> int:
    """Memory available to this process: ``MemAvailable`` from ``/proc/meminfo`` (Linux), else
    the physical memory. ``JAXENT_MEMORY_BYTES`` overrides it (tests, shared machines)."""
    env = os.environ.get("JAXENT_MEMORY_BYTES")
    if env:
        return int(float(env))
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 34


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024.0
    return f"{n:.3g} TB"


def fits_in_memory(nbytes: float) -> bool:
    return nbytes <= MEMORY_FRACTION * available_memory_bytes()


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """``MemoryError`` (one line: what, how much, how much is available, what to do) when
    ``nbytes`` exceeds :data:`MEMORY_FRACTION` of the available memory."""
    if not fits_in_memory(nbytes):
        raise MemoryError(f"{what} needs about {format_bytes(nbytes)} but "
                          f"{format_bytes(available_memory_bytes())} is available; {fix}")


def banded_memory_bytes(nmax: int, n_buckets: int = 4, batch: int = 1) -> float:
    """Peak memory of one :class:`~jaxent.lindblad.BandedElimination` steady state with its
    gradient machinery: the block LU factors (one padded ``Q x Q`` complex block per diagonal,
    ~``nmax^3 / 3`` entries unpadded) plus a few dense ``nmax x nmax`` work arrays and the
    Husimi grid, times ``batch`` points evaluated together."""
    if nmax > 4096:
        # the unpadded factors alone, sum_d (nmax - d + 1)^2 ~ nmax^3 / 3 entries (> 1 TB here):
        # a lower bound that refuses at once, where the padding's dynamic programme
        # (O(n_buckets nmax^2)) took minutes (a Kerr sweep at N = 1e5 asks for nmax ~ 2.5e5)
        blocks = nmax * (nmax + 1) * (2 * nmax + 1) // 6 - 1  # sum_{j=2}^{nmax} j^2
    else:
        from jaxent.lindblad.solvers import bucket_bounds

        blocks = sum((hi - lo + 1) * (nmax - lo + 1) ** 2
                     for lo, hi in bucket_bounds(nmax, n_buckets))
    per_point = 16.0 * 2.5 * blocks + 16.0 * 64 * nmax**2 + 8.0 * 200 * nmax**2
    return batch * per_point


def exact_state_memory_bytes(nmax: int, n_terms: int, batch: int = 1) -> float:
    """Peak memory of one exact Kerr NESS (:func:`~jaxent.models.kerr.kerr_exact_state`) with its
    Wehrl terms: a few ``nmax x K`` complex work arrays of the series (``K = n_terms / 2``), the
    dense ``nmax x nmax`` ones and the Husimi grid, as in :func:`banded_memory_bytes`, times
    ``batch`` points evaluated together."""
    per_point = 16.0 * 8 * nmax * (n_terms // 2) + 16.0 * 64 * nmax**2 + 8.0 * 200 * nmax**2
    return batch * per_point
