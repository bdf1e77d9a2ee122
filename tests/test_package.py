"""The package's import-time settings (``jaxent/__init__.py``): float64, the XLA flags, and what
it does not import."""

import json
import math
import os
import subprocess
import sys

import pytest

PROBE = ("import os, jax, jaxent; "
         "print(os.environ.get('XLA_FLAGS', '')); print(jax.config.jax_enable_x64)")


def _env_without_xla_flags() -> dict[str, str]:
    """This environment less XLA_FLAGS (the tests' own flags, conftest.py)."""
    return {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}


def _import_jaxent(xla_flags: str | None) -> tuple[str, str]:
    env = _env_without_xla_flags()
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split("\n")
    return out[0], out[1]


def _jaxlib_line():
    from importlib.metadata import version

    return tuple(int(x) for x in version("jaxlib").split(".")[:2])


def test_import_sets_float64_and_the_cpu_flags():
    flags, x64 = _import_jaxent(None)
    assert x64 == "True"
    assert "--xla_cpu_enable_concurrency_optimized_scheduler=false" in flags.split()
    if _jaxlib_line() == (0, 10):
        assert "--xla_cpu_use_fusion_emitters=false" in flags.split()
    else:  # an unknown flag would abort XLA: only set where it is known to exist
        assert "fusion_emitters" not in flags


@pytest.mark.parametrize("mine", ["--xla_cpu_use_fusion_emitters=true",
                                  "--xla_cpu_enable_concurrency_optimized_scheduler=true"])
def test_a_flag_the_user_set_is_kept(mine):
    flags, _ = _import_jaxent(f"--xla_force_host_platform_device_count=1 {mine}")
    parts = flags.split()
    assert mine in parts and "--xla_force_host_platform_device_count=1" in parts
    name = mine.split("=")[0]
    assert sum(p.startswith(name + "=") for p in parts) == 1  # not overridden, not repeated


def test_flags_are_accepted_by_xla(python_c):
    # a computation runs with the flags jaxent set (XLA aborts the process on an unknown flag)
    code = "import jax.numpy as jnp, jaxent; print(float(jnp.sum(jnp.arange(4.0) ** 2)))"
    assert python_c(code, env=_env_without_xla_flags()).strip() == "14.0"


def test_the_kerr_command_imports_neither_scipy_nor_lineax(python_c):
    """Every jaxent process would pay scipy.special's import (0.14 s on the CI machine): the
    package and the Kerr command's modules use jaxent._special instead (scipy remains a
    dependency of the benchmarks and tests). lineax (0.15 s) is imported by the one solver
    that uses it, when it solves."""
    code = ("import sys, jaxent, jaxent.commands.kerr, jaxent.studies.kerr, jaxent.plotting.kerr; "
            "from jaxent.models.kerr import Kerr, choose_nmax; "
            "from jaxent.phase_space.grid import polar_grid; "
            "choose_nmax(Kerr(eps=0.94, N=20.0)); polar_grid(40); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'lineax')))")
    assert python_c(code).strip() == "[]"


def test_the_krylov_solver_imports_lineax_when_it_solves(python_c):
    code = ("import sys, jax.numpy as jnp, jaxent; "
            "from jaxent.models.kerr import Kerr, kerr_lindbladian; "
            "L = kerr_lindbladian(Kerr(eps=0.5, N=1.0), 8); "
            "print('lineax' in sys.modules); "
            "ss = jaxent.steady_state(L, solver=jaxent.KrylovSolver()); "
            "print('lineax' in sys.modules, float(jnp.trace(ss.rho).real))")
    before, after = python_c(code).strip().split("\n")
    assert before == "False"
    assert after.split()[0] == "True" and abs(float(after.split()[1]) - 1.0) < 1e-12


def test_the_tests_optimisation_level_changes_numbers_only_by_rounding(python_c):
    """conftest.py compiles the tests' programs with LLVM's optimisation off; the commands and
    benchmarks use XLA's default. A Kerr point (every output and diagnostic) and a gradient
    through it agree between the two to rounding (measured: bit-identical but for one
    rounding-level residual, 3.5e-15 against 3.9e-15)."""
    code = ("import json, os, jax, jaxent; "
            "from jaxent.studies.kerr import kerr_point, kerr_grid, Kerr; "
            "g = kerr_grid(48); "
            "f = lambda e: kerr_point(Kerr(eps=e, N=5.0), 48, g); "
            "out = {k: float(v) for k, v in jax.jit(f)(0.9).items()}; "
            "out['grad'] = float(jax.jit(jax.grad(lambda e: f(e)['Pi_d']))(0.9)); "
            "print(os.environ.get('XLA_FLAGS', '')); print(json.dumps(out))")
    runs = [python_c(code, env=env).strip().split("\n")
            for env in (_env_without_xla_flags(), dict(os.environ))]
    assert "optimization_level" not in runs[0][0]
    assert "--xla_backend_optimization_level=0" in runs[1][0].split()
    a, b = (json.loads(r[1]) for r in runs)
    assert a.keys() == b.keys()
    for k in a:
        if k in ("ness_identity_residual", "grid_norm_error", "error_estimate", "gap_estimate",
                 "tail_population", "exact_moment_error"):  # rounding-level numbers
            assert abs(a[k] - b[k]) < 1e-13 or (math.isnan(a[k]) and math.isnan(b[k])), k
        else:
            assert a[k] == pytest.approx(b[k], rel=1e-13, abs=1e-15), k


def test_import_does_not_import_jax_and_jax_imported_after_is_float64(python_c):
    """``import jaxent`` costs no JAX import (a command, or the figure worker, imports only the
    modules it needs); JAX imported afterwards reads float64 from JAX_ENABLE_X64."""
    code = ("import sys, jaxent; print('jax' in sys.modules); "
            "import jax; print(jax.config.jax_enable_x64); "
            "import jax.numpy as jnp; print(jnp.zeros(1).dtype)")
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    assert python_c(code, env=env).split() == ["False", "True", "float64"]


def test_the_public_names_resolve_and_match_the_typing_imports():
    """The ``TYPE_CHECKING`` imports of ``jaxent/__init__.py`` (what editors and type checkers
    see) list exactly ``jaxent.__all__``, and each name resolves at run time (imported on first
    use) to the object of the module those imports name."""
    import ast
    import importlib

    import jaxent

    tree = ast.parse(open(jaxent.__file__).read())
    (block,) = [node for node in tree.body if isinstance(node, ast.If)
                and ast.unparse(node.test) == "TYPE_CHECKING"]
    typed = {alias.name: node.module for node in block.body
             if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert jaxent.__all__ == sorted(typed)
    for name, module in typed.items():
        assert getattr(jaxent, name) is getattr(importlib.import_module(module), name), name
    assert set(jaxent.__all__) <= set(dir(jaxent))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        jaxent.no_such_name  # noqa: B018


def test_modules_are_attributes_and_star_import_works(python_c):
    """``jaxent.sweep.enable_compilation_cache()`` (as the docs write it) after a plain
    ``import jaxent``, and ``from jaxent import *`` gives every public name."""
    code = ("import jaxent; print(callable(jaxent.sweep.enable_compilation_cache), "
            "jaxent.lindblad.__name__); "
            "ns = {}; exec('from jaxent import *', ns); "
            "print(sorted(set(jaxent.__all__) - set(ns)))")
    assert python_c(code).split("\n")[:2] == ["True jaxent.lindblad", "[]"]
