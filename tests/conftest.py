"""Shared fixtures. Importing jaxent enables float64 before any test builds an array."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

import jaxent  # noqa: E402,F401

assert jax.config.jax_enable_x64
