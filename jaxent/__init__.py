"""jaxent: differentiable thermodynamics of open quantum systems in JAX.

Importing jaxent enables float64 in JAX: entropy production near criticality involves
cancellations that single precision cannot resolve. If JAX is not imported yet, this is done
through JAX's own ``JAX_ENABLE_X64`` environment variable, read when JAX is imported (so
``import jaxent`` does not import JAX itself, and processes started from this one inherit
float64); otherwise through ``jax.config``. Besides that, the only global state it sets is two
XLA CPU flags, below (a workaround for a deadlock, and a faster compiler path); a flag you set
yourself in ``XLA_FLAGS`` is left as you set it.

The public names below are imported from their modules on first use, so a command, or a
process that only draws figures, imports only what it needs.
"""

import importlib
import importlib.util
import os
import sys
from typing import TYPE_CHECKING

# XLA's CPU "concurrency-optimized" scheduler runs independent batched LAPACK custom calls side
# by side, and with jaxlib 0.10.2 such programs deadlock intermittently on small machines (no
# thread busy, the result never ready): reproduced every time for vmap(jacfwd) of a Lyapunov
# solve next to an eigensolver at batch >= 300 on 2 cores, e.g. the 2001-point Dicke sweep.
# With this scheduler off, 0 hangs in 8 runs of the same programs. It only changes the order
# of independent CPU ops; set the flag yourself in XLA_FLAGS to override. Takes effect only if
# jaxent is imported before JAX first runs a computation. (XLA rejects unknown flags: the flag
# exists in the jaxlib versions pyproject.toml allows, tested with 0.10.2 and 0.11.2.)
#
# XLA's CPU "fusion emitters" (MLIR-based codegen of fusions, the default in jaxlib 0.10)
# compile jaxent's programs 1.3-1.7x slower than the classic elemental emitter and run them no
# faster: measured on the 2-core CI machine, jaxlib 0.10.2, the Kerr sweep's point program
# (nmax 176, 8 points) compiles in 1.4-1.7 s instead of 2.0-2.2 s, the N = 20 quench program in
# 5.0 s instead of 8.6 s and runs in 3.4 s instead of 4.1 s, with identical results. Only set
# for the jaxlib line where the flag is known to exist (XLA aborts on an unknown flag).


def _add_xla_flag(name: str, value: str) -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    if name not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --{name}={value}".strip()


def _jaxlib_line() -> tuple[int, ...]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return tuple(int(x) for x in version("jaxlib").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return ()


_add_xla_flag("xla_cpu_enable_concurrency_optimized_scheduler", "false")
if _jaxlib_line() == (0, 10):
    _add_xla_flag("xla_cpu_use_fusion_emitters", "false")

if "jax" in sys.modules:
    sys.modules["jax"].config.update("jax_enable_x64", True)
else:
    os.environ["JAX_ENABLE_X64"] = "1"

__version__ = "0.1.0"

# The public surface: name -> the module that defines it, imported on first use (PEP 562),
# so that `import jaxent` and the modules a command needs do not import the rest.
_EXPORTS: dict[str, str] = {
    "apply_liouvillian": "jaxent.fock.liouvillian",
    "liouvillian": "jaxent.fock.liouvillian",
    "create": "jaxent.fock.operators",
    "destroy": "jaxent.fock.operators",
    "number": "jaxent.fock.operators",
    "TruncationWarning": "jaxent.fock.truncation",
    "suggest_nmax": "jaxent.fock.truncation",
    "BandedElimination": "jaxent.lindblad",
    "BandedLindbladian": "jaxent.lindblad",
    "ConditioningWarning": "jaxent.lindblad",
    "DenseLindbladian": "jaxent.lindblad",
    "DenseSolver": "jaxent.lindblad",
    "ExactMoment": "jaxent.lindblad",
    "KrylovSolver": "jaxent.lindblad",
    "NestedDissection": "jaxent.lindblad",
    "Spectrum": "jaxent.lindblad",
    "SteadyState": "jaxent.lindblad",
    "Trajectory": "jaxent.lindblad",
    "check_steady_state": "jaxent.lindblad",
    "evolve": "jaxent.lindblad",
    "liouvillian_spectrum": "jaxent.lindblad",
    "steady_state": "jaxent.lindblad",
    "PolarGrid": "jaxent.phase_space.grid",
    "polar_grid": "jaxent.phase_space.grid",
    "husimi_points": "jaxent.phase_space.husimi",
    "husimi_polar": "jaxent.phase_space.husimi",
    "PhotonLossTerms": "jaxent.entropy.wehrl",
    "photon_loss_terms": "jaxent.entropy.wehrl",
    "wehrl_entropy": "jaxent.entropy.wehrl",
    "non_gaussianity": "jaxent.entropy.gaussianity",
    "drift_diffusion": "jaxent.gaussian.covariance",
    "evolve_covariance": "jaxent.gaussian.lyapunov",
    "lyapunov_solve": "jaxent.gaussian.lyapunov",
    "mutual_information": "jaxent.gaussian.entropies",
    "von_neumann_entropy": "jaxent.gaussian.entropies",
    "wehrl_photon_loss_split": "jaxent.gaussian.production",
    "Kerr": "jaxent.models.kerr",
    "choose_nmax": "jaxent.models.kerr",
    "kerr_exact_moments": "jaxent.models.kerr",
    "kerr_exact_state": "jaxent.models.kerr",
    "kerr_lindbladian": "jaxent.models.kerr",
    "kerr_steady_state": "jaxent.models.kerr",
    "Dicke": "jaxent.models.dicke",
    "dicke_point": "jaxent.models.dicke",
    "Chain": "jaxent.models.chain",
    "chain_point": "jaxent.models.chain",
    "chain_point_padded": "jaxent.models.chain",
    "CoupledOscillators": "jaxent.models.oscillators",
    "oscillator_point": "jaxent.models.oscillators",
    "oscillator_steady_state": "jaxent.models.oscillators",
    "StorageError": "jaxent.io",
    "from_qutip": "jaxent.interop",
    "to_qutip": "jaxent.interop",
    "Study": "jaxent.sweep",
    "SweepInterrupted": "jaxent.sweep",
    "SweepResult": "jaxent.sweep",
    "run_sweep": "jaxent.sweep",
    "shape_classes": "jaxent.sweep",
    "kerr_point": "jaxent.studies.kerr",
    "kerr_sweep": "jaxent.studies.kerr",
    "quench_point": "jaxent.studies.quench",
    "quench_sweep": "jaxent.studies.quench",
    "spectrum_sweep": "jaxent.studies.spectrum",
    "Extrapolation": "jaxent.critical",
    "Stationary": "jaxent.critical",
    "extrapolate": "jaxent.critical",
    "newton_extremum": "jaxent.critical",
    "newton_root": "jaxent.critical",
    "parabola_extremum": "jaxent.critical",
    "dicke_critical": "jaxent.studies.critical",
    "gap_minimum": "jaxent.studies.critical",
    "kerr_critical": "jaxent.studies.critical",
    "pi_d_peak": "jaxent.studies.critical",
    "susceptibility_peak": "jaxent.studies.critical",
    "FitData": "jaxent.studies.fit",
    "KerrFit": "jaxent.studies.fit",
    "fit_curves": "jaxent.studies.fit",
    "fit_data": "jaxent.studies.fit",
    "fit_kerr": "jaxent.studies.fit",
    "kerr_curves": "jaxent.studies.fit",
    "read_fit_data": "jaxent.studies.fit",
    "write_fit_csv": "jaxent.studies.fit",
}

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from jaxent.fock.liouvillian import apply_liouvillian, liouvillian
    from jaxent.fock.operators import create, destroy, number
    from jaxent.fock.truncation import TruncationWarning, suggest_nmax
    from jaxent.lindblad import (
        BandedElimination,
        BandedLindbladian,
        ConditioningWarning,
        DenseLindbladian,
        DenseSolver,
        ExactMoment,
        KrylovSolver,
        NestedDissection,
        Spectrum,
        SteadyState,
        Trajectory,
        check_steady_state,
        evolve,
        liouvillian_spectrum,
        steady_state,
    )
    from jaxent.phase_space.grid import PolarGrid, polar_grid
    from jaxent.phase_space.husimi import husimi_points, husimi_polar
    from jaxent.entropy.wehrl import PhotonLossTerms, photon_loss_terms, wehrl_entropy
    from jaxent.entropy.gaussianity import non_gaussianity
    from jaxent.gaussian.covariance import drift_diffusion
    from jaxent.gaussian.lyapunov import evolve_covariance, lyapunov_solve
    from jaxent.gaussian.entropies import mutual_information, von_neumann_entropy
    from jaxent.gaussian.production import wehrl_photon_loss_split
    from jaxent.models.kerr import (
        Kerr,
        choose_nmax,
        kerr_exact_moments,
        kerr_exact_state,
        kerr_lindbladian,
        kerr_steady_state,
    )
    from jaxent.models.dicke import Dicke, dicke_point
    from jaxent.models.chain import Chain, chain_point, chain_point_padded
    from jaxent.models.oscillators import (
        CoupledOscillators,
        oscillator_point,
        oscillator_steady_state,
    )
    from jaxent.io import StorageError
    from jaxent.interop import from_qutip, to_qutip
    from jaxent.sweep import (
        Study,
        SweepInterrupted,
        SweepResult,
        run_sweep,
        shape_classes,
    )
    from jaxent.studies.kerr import kerr_point, kerr_sweep
    from jaxent.studies.quench import quench_point, quench_sweep
    from jaxent.studies.spectrum import spectrum_sweep
    from jaxent.critical import (
        Extrapolation,
        Stationary,
        extrapolate,
        newton_extremum,
        newton_root,
        parabola_extremum,
    )
    from jaxent.studies.critical import (
        dicke_critical,
        gap_minimum,
        kerr_critical,
        pi_d_peak,
        susceptibility_peak,
    )
    from jaxent.studies.fit import (
        FitData,
        KerrFit,
        fit_curves,
        fit_data,
        fit_kerr,
        kerr_curves,
        read_fit_data,
        write_fit_csv,
    )

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # once
        return value
    # a module of the package (``jaxent.sweep``), imported on first use as well
    if not name.startswith("_") and importlib.util.find_spec(f"jaxent.{name}") is not None:
        return importlib.import_module(f"jaxent.{name}")
    raise AttributeError(f"module 'jaxent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
