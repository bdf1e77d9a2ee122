"""Polar quadrature grid: defaults, exactness on Gaussians, self-checks and bad input."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from jaxent.phase_space.grid import (
    default_n_r,
    default_n_theta,
    default_radius,
    polar_grid,
    refine,
    square_points,
)


@pytest.mark.parametrize("nmax", [5, 40, 160])
def test_default_grid_self_checks(nmax):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = polar_grid(nmax)
    assert g.radius == default_radius(nmax)
    assert g.n_r == default_n_r(g.radius) and g.n_theta == default_n_theta(nmax)
    assert g.n_theta >= 2 * nmax - 1
    # Disc mass of every Fock level reproduced by the radial rule, vs scipy's gammainc.
    assert g.quad_error < 1e-12
    # Top Fock level leaves < 1e-16 outside the disc.
    assert g.max_tail < 1e-16


def test_integrates_displaced_gaussians():
    # int exp(-|mu - b|^2 / s) d^2 mu = pi s, for Gaussians well inside the disc.
    g = polar_grid(30)
    mu = g.points()
    for b, s in [(0.0, 1.0), (2.5 - 1.0j, 1.0), (4.0j, 0.5), (-1.0, 3.0)]:
        val = float(g.integrate(jnp.exp(-jnp.abs(mu - b) ** 2 / s)))
        assert abs(val - np.pi * s) < 1e-12 * np.pi * s
    # r^2 moment: int |mu|^2 e^{-|mu|^2} = pi
    assert abs(float(g.integrate(jnp.abs(mu) ** 2 * jnp.exp(-jnp.abs(mu) ** 2))) - np.pi) < 1e-12


def test_bad_sizes_raise_or_warn():
    with pytest.raises(ValueError, match="n_theta"):
        polar_grid(20, n_theta=30)
    with pytest.raises(ValueError, match="nmax"):
        polar_grid(0)
    with pytest.raises(ValueError, match="radius"):
        polar_grid(10, radius=-1.0)
    with pytest.warns(UserWarning, match="radius"):
        polar_grid(40, radius=5.0)
    with pytest.warns(UserWarning, match="n_r"):
        polar_grid(40, n_r=10)


def test_refine_and_square_points():
    g = polar_grid(10)
    f = refine(g, 1.5)
    assert f.radius == g.radius and f.n_r == int(np.ceil(1.5 * g.n_r))
    assert f.n_theta == int(np.ceil(1.5 * g.n_theta))
    p = square_points([0.0, 1.0, 2.0], [-1.0, 3.0])
    assert p.shape == (2, 3) and complex(p[1, 2]) == 2.0 + 3.0j
