r"""Phase-space grids for integrals $\int d^2\mu\, f(\mu)$,
$d^2\mu = d{\rm Re}\mu\, d{\rm Im}\mu$.

:class:`PolarGrid` is the grid the entropy terms use: $\mu = r e^{i\theta}$ with Gauss-Legendre
radial nodes on $[0, R]$ and $n_\theta$ equispaced angles $\theta_k = 2\pi k/n_\theta$, so

$$\int d^2\mu\, f \approx \sum_{i,k} w_i\, r_i\, \frac{2\pi}{n_\theta}\, f(r_i e^{i\theta_k}).$$

Why this grid: (i) the angular rule is the trapezoid rule for a periodic function, exact for
the harmonics $e^{-id\theta}$, $|d|\le {\rm nmax}-1$, of a Husimi function as long as
$n_\theta \ge 2\,{\rm nmax}-1$, and spectrally accurate for smooth non-polynomial integrands
such as $Q\ln Q$; (ii) Gauss-Legendre converges spectrally for the smooth, Gaussian-decaying
radial integrands (a trapezoid rule in $r$ with the $r\,dr$ measure would be only
$O(h^2)$); (iii) the Fourier structure in $\theta$ turns the Husimi transform into an FFT
(see :mod:`jaxent.phase_space.husimi`).

Automatic sizes (``polar_grid(nmax)``): the radius $R$ satisfies
$R^2 = {\rm nmax} + 8.5\sqrt{{\rm nmax}} + 28$, which leaves less than 1e-16 of the
probability of the top Fock level ${\rm nmax}-1$ outside the disc (the mass outside radius $R$
of $|n\rangle$ is the regularised incomplete gamma function $\Gamma(n+1, R^2)/n!$);
$n_r = \lceil 7R\rceil + 30$ Gauss-Legendre nodes and $n_\theta = \max(4\,{\rm nmax}, 64)$.
Normalisation alone converges at $n_r \approx 4R$ and $n_\theta = 2\,{\rm nmax}-1$ (exact), but
$\ln Q$ and $|J|^2/Q$ are not polynomial: $\ln Q$ has complex-plane branch points near the
real axis in the tails, and for states populating all levels (random density matrices)
the angular spectrum of $\ln Q$ extends past ${\rm nmax}$. The margins were chosen from the
self-check ``ibp_error`` (see :mod:`jaxent.entropy.wehrl`), which reaches ~1e-12 relative on
Kerr steady states and random states with these defaults.
At nmax = 160: $R = 17.2$, $n_r = 151$, $n_\theta = 640$.

:func:`square_points` builds a Cartesian set of points for comparison with ``qutip.qfunc``.
"""

from __future__ import annotations

import math
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxent._special import log_factorial, poisson_tails
from jaxent._validation import static_int

#: Default tolerance of the grid self-checks (quadrature and disc-edge tail).
GRID_TOL = 1e-10

#: Harmonics per block of the factored transform tables (:class:`PolarGrid`). ``r^e`` for
#: ``e < BLOCK`` stays below 1e54 up to radius 50 (nmax ~ 2000), so no product of the factored
#: transform over- or underflows where ``C_{n+d} C_n`` itself is above ~1e-250. 32: at nmax
#: 176 one state's four fields transform 3-4x faster than with the unfactored 77 MB table;
#: 16, 24 and 64 measured within noise of it.
BLOCK = 32

#: Runs of blocks contracted separately, each over the Fock range its harmonics reach
#: (``n < nmax - d``): the factored tables skip most of the zeros of ``C_{n+d} C_n``
#: (6 runs: 1.3-2x faster than one at nmax 96-320).
RUNS = 6


def default_radius(nmax: int) -> float:
    r"""Default disc radius: $R = \sqrt{{\rm nmax} + 8.5\sqrt{\rm nmax} + 28}$ (tail of level
    ${\rm nmax}-1$ outside the disc < 1e-16)."""
    return math.sqrt(nmax + 8.5 * math.sqrt(nmax) + 28.0)


def default_n_r(radius: float) -> int:
    """Default number of Gauss-Legendre radial nodes, ``ceil(7 R) + 30``."""
    return int(math.ceil(7.0 * radius)) + 30


def default_n_theta(nmax: int) -> int:
    """Default number of angles, ``max(4 nmax, 64)`` (>= 2 nmax - 1 is required)."""
    return max(4 * nmax, 64)


class PolarGrid(eqx.Module):
    r"""Polar quadrature grid on the disc $|\mu| \le R$ (see the module docstring).

    Array fields (pytree leaves; shared by all states, pass with ``in_axes=None`` under vmap):

    - ``r``: ``(n_r,)`` Gauss-Legendre radial nodes in $(0, R)$.
    - ``area``: ``(n_r,)`` area weight of each node per angle, $w_i r_i\,2\pi/n_\theta$.
    - ``amp``: ``(n_r, nmax)`` table $C_n(r_i) = e^{-r_i^2/2} r_i^n/\sqrt{n!}$ (log space).
    - ``band``, ``ladder``, ``rpow``: the state-independent half of the Husimi transform,
      $C_{n+d}(r_i)\,C_n(r_i)$ for the harmonics $d \ge 0$, factored by blocks of
      :data:`BLOCK` harmonics $d = d_b + e$, $d_b = $ ``BLOCK`` $b$, $0 \le e <$ ``BLOCK``:

      $$C_{n+d}(r)\,C_n(r) = \underbrace{C_n(r)\,C_{n+d_b}(r)}_{\texttt{band}}\;
        \underbrace{\sqrt{(n+d_b)!/(n+d)!}}_{\texttt{ladder}[n,\,d]}\;
        \underbrace{r^e}_{\texttt{rpow}[i,\,e]},$$

      so that the transform is one GEMM per block against ``band``
      (:func:`~jaxent.phase_space.husimi.bargmann_harmonics`). ``band`` is a tuple of
      ``min(RUNS, ceil(nmax / BLOCK))`` arrays ``(blocks, n_r, nmax - d_first)``, one per run
      of blocks (:func:`block_runs`), each cut to
      the Fock range its harmonics reach ($n + d <$ nmax): 0.7 MB at nmax = 176 (1.2 MB with
      the other tables), where the unfactored table $C_{n+d}C_n$ took 77 MB and every state
      streamed it from memory. ``ladder`` ``(nmax, nmax)`` (zero where $n + d \ge$ nmax), ``rpow``
      ``(n_r, BLOCK)``. Pass the grid as an argument of a jitted function: captured, its
      tables are compiled in as constants.
    - ``fock_tail``: ``(nmax,)`` exact probability of $|n\rangle$'s Husimi function outside the
      disc, $\Gamma(n+1, R^2)/n!$; the edge mass of a state is $\sum_n \rho_{nn}\,{\rm tail}_n$.

    Static fields: ``nmax`` (Hilbert dimension the grid serves), ``n_theta``, ``radius``, and the
    self-check results ``quad_error`` (max over $n$ of the radial-quadrature error of
    $\int |\langle n|\mu\rangle|^2 d^2\mu/\pi$ on the disc) and ``max_tail``.
    """

    r: jnp.ndarray
    area: jnp.ndarray
    amp: jnp.ndarray
    band: tuple[jnp.ndarray, ...]
    ladder: jnp.ndarray
    rpow: jnp.ndarray
    fock_tail: jnp.ndarray
    nmax: int = eqx.field(static=True)
    n_theta: int = eqx.field(static=True)
    radius: float = eqx.field(static=True)
    quad_error: float = eqx.field(static=True)
    max_tail: float = eqx.field(static=True)

    @property
    def n_r(self) -> int:
        return self.r.shape[0]

    @property
    def theta(self):
        """``(n_theta,)`` angles $2\\pi k/n_\\theta$."""
        return 2.0 * jnp.pi * jnp.arange(self.n_theta) / self.n_theta

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_r, self.n_theta)

    def points(self):
        """``(n_r, n_theta)`` complex grid points $\\mu_{ik} = r_i e^{i\\theta_k}$."""
        return self.r[:, None] * jnp.exp(1j * self.theta)[None, :]

    def integrate(self, f):
        r"""$\int d^2\mu\, f(\mu)$ for values ``f`` of shape ``(..., n_r, n_theta)`` on the grid."""
        # a weighted sum, not a dot: XLA fuses it with the elementwise producer of f
        return jnp.sum(f * self.area[:, None], axis=(-2, -1))


_as_int = static_int


def polar_grid(nmax: int, radius: float | None = None, n_r: int | None = None,
               n_theta: int | None = None, tol: float = GRID_TOL) -> PolarGrid:
    r"""Build a :class:`PolarGrid` for density matrices of Hilbert dimension ``nmax``.

    **Arguments:**

    - ``nmax``: Hilbert dimension (levels ``0..nmax-1``).
    - ``radius``: disc radius $R$ (default :func:`default_radius`).
    - ``n_r``: number of Gauss-Legendre radial nodes (default :func:`default_n_r`).
    - ``n_theta``: number of angles (default :func:`default_n_theta`); must be
      $\ge 2\,{\rm nmax}-1$ so that the FFT over $d = m - n$ does not alias.
    - ``tol``: tolerance of the self-checks below.

    Self-checks (done once here, in NumPy): the exact disc mass of every Fock level,
    $P(n+1, R^2)$, is compared with the radial quadrature, and the largest tail
    $\Gamma({\rm nmax}, R^2)/({\rm nmax}-1)!$ outside the disc is computed. A ``UserWarning``
    names ``radius`` or ``n_r`` with a suggested value when either exceeds ``tol``.

    **Raises:** ``ValueError`` for a non-integer or too-small ``nmax``/``n_r``/``n_theta`` or a
    non-positive ``radius``.
    """
    nmax = _as_int(nmax, "nmax", 1)
    if radius is None:
        radius = default_radius(nmax)
    radius = float(radius)
    if not (radius > 0 and math.isfinite(radius)):
        raise ValueError(f"radius must be a positive finite number, got {radius}")
    n_r = default_n_r(radius) if n_r is None else _as_int(n_r, "n_r", 2)
    if n_theta is None:
        n_theta = default_n_theta(nmax)
    n_theta = _as_int(n_theta, "n_theta", 1)
    if n_theta < 2 * nmax - 1:
        raise ValueError(
            f"n_theta={n_theta} is too small for nmax={nmax}: the Husimi function has angular "
            f"harmonics |m-n| <= nmax-1, which need n_theta >= 2*nmax-1 = {2 * nmax - 1} "
            f"(default {default_n_theta(nmax)})")

    x, w = np.polynomial.legendre.leggauss(n_r)
    r = 0.5 * radius * (x + 1.0)
    w = 0.5 * radius * w
    n = np.arange(nmax)
    log_amp = -0.5 * r[:, None] ** 2 + n[None, :] * np.log(r[:, None]) - 0.5 * log_factorial(n)
    amp = np.exp(log_amp)
    # Disc mass of |n><n|: int_0^R 2 r C_n(r)^2 dr = P(n+1, R^2).
    disc_quad = (2.0 * w * r) @ amp**2
    disc_mass, fock_tail = poisson_tails(nmax, radius**2)  # P(n+1, R^2), Q(n+1, R^2)
    quad_error = float(np.max(np.abs(disc_quad - disc_mass)))
    max_tail = float(fock_tail[-1])
    if max_tail > tol:
        warnings.warn(
            f"polar_grid: radius={radius:.4g} leaves {max_tail:.2e} of the probability of Fock "
            f"level {nmax - 1} outside the grid (tol {tol:.0e}); use radius >= "
            f"{default_radius(nmax):.4g} (the default) if the state populates the top levels",
            UserWarning, stacklevel=2)
    if quad_error > tol:
        warnings.warn(
            f"polar_grid: n_r={n_r} radial nodes integrate the Fock-state Husimi functions with "
            f"error {quad_error:.2e} > tol {tol:.0e}; increase n_r (default for this radius: "
            f"{default_n_r(radius)})", UserWarning, stacklevel=2)
    area = w * r * (2.0 * np.pi / n_theta)
    band, ladder, rpow = _factored_tables(amp, r)
    # device_put, not jnp.asarray: jax 0.10 stages jnp.asarray of a numpy array through a
    # small jitted program, compiled anew in every process (4 of them here, 60 ms)
    put = jax.device_put
    return PolarGrid(r=put(r), area=put(area), amp=put(amp), band=tuple(put(b) for b in band),
                     ladder=put(ladder), rpow=put(rpow),
                     fock_tail=put(np.asarray(fock_tail, np.float64)), nmax=nmax,
                     n_theta=n_theta, radius=radius, quad_error=quad_error, max_tail=max_tail)


def block_runs(nmax: int) -> list[tuple[int, int]]:
    """The runs of blocks ``[a, b)`` (block ``k`` holds the harmonics ``BLOCK k ..
    BLOCK (k+1) - 1``) into which :class:`PolarGrid` cuts its ``band`` tables."""
    n_blocks = -(-nmax // BLOCK)
    edges = np.linspace(0, n_blocks, min(RUNS, n_blocks) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _factored_tables(amp: np.ndarray, r: np.ndarray):
    r"""``band`` (one array per run of :func:`block_runs`), ``ladder`` and ``rpow`` of
    :class:`PolarGrid`: $C_{n+d}C_n$ = band * ladder * rpow, each factor computed directly (the
    ladder as a product of at most ``BLOCK`` square roots, not from log-factorials, whose
    rounding, ~1e-13 relative at nmax ~ 200, it would add)."""
    n_r, nmax = amp.shape
    n = np.arange(nmax)
    amp_pad = np.concatenate([amp, np.zeros((n_r, 1))], axis=1)  # column nmax: beyond the top
    band = []
    for a, b in block_runs(nmax):
        hi = nmax - BLOCK * a  # n + d < nmax for the run's smallest d
        d0 = BLOCK * np.arange(a, b)
        cols = np.minimum(n[None, :hi] + d0[:, None], nmax)  # (blocks, hi)
        band.append(amp[None, :, :hi] * amp_pad[:, cols].transpose(1, 0, 2))
    d = np.arange(nmax)
    e = d % BLOCK
    # ladder[n, d] = prod_{j = 1..e} (n + d_b + j)^(-1/2), the running product within a block
    steps = 1.0 / np.sqrt(n[:, None] + d[None, :] + (e[None, :] == 0))  # e = 0: factor 1
    steps[:, e == 0] = 1.0
    ladder = np.ones((nmax, nmax))
    for k in range(1, BLOCK):
        col = e == k
        ladder[:, col] = ladder[:, np.flatnonzero(col) - 1] * steps[:, col]
    ladder[n[:, None] + d[None, :] >= nmax] = 0.0
    rpow = r[:, None] ** np.arange(BLOCK)[None, :]
    return band, ladder, rpow


def refine(grid: PolarGrid, factor: float = 1.5) -> PolarGrid:
    """A finer grid on the same disc: ``n_r`` and ``n_theta`` multiplied by ``factor`` (for a
    resolution check: compare the terms on both grids)."""
    return polar_grid(grid.nmax, radius=grid.radius, n_r=int(math.ceil(factor * grid.n_r)),
                      n_theta=int(math.ceil(factor * grid.n_theta)))


def square_points(xvec, yvec):
    r"""Cartesian points $\mu = x + i y$ on the grid ``xvec`` x ``yvec``.

    **Returns:** complex array of shape ``(len(yvec), len(xvec))``, element ``[j, k]`` =
    ``xvec[k] + 1j*yvec[j]`` (the layout of ``qutip.qfunc``; note qutip's default scaling
    ``g = sqrt(2)`` means $\alpha = (x+iy)/\sqrt2$ and a density in $dx\,dy$: use ``g=2`` to compare
    with $Q(\mu) = \langle\mu|\rho|\mu\rangle/\pi$ at $\mu = x + iy$).
    """
    x = jnp.asarray(xvec, dtype=jnp.float64)
    y = jnp.asarray(yvec, dtype=jnp.float64)
    return x[None, :] + 1j * y[:, None]
