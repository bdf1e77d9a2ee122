"""jaxent: differentiable thermodynamics of open quantum systems in JAX.

Importing jaxent enables float64 in JAX: entropy production near criticality involves
cancellations that single precision cannot resolve. Besides that, the only global state it sets
is two XLA CPU flags, below (a workaround for a deadlock, and a faster compiler path); a flag
you set yourself in ``XLA_FLAGS`` is left as you set it.
"""

import os

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

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

# The public surface, re-exported explicitly (everything else lives in its module).
# Fock space -> Liouvillian -> steady state
from jaxent.fock.liouvillian import apply_liouvillian, liouvillian  # noqa: E402
from jaxent.fock.operators import create, destroy, number  # noqa: E402
from jaxent.fock.truncation import TruncationWarning, suggest_nmax  # noqa: E402
from jaxent.lindblad import (  # noqa: E402
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
# phase space -> Wehrl entropy production
from jaxent.phase_space.grid import PolarGrid, polar_grid  # noqa: E402
from jaxent.phase_space.husimi import husimi_points, husimi_polar  # noqa: E402
from jaxent.entropy.wehrl import PhotonLossTerms, photon_loss_terms, wehrl_entropy  # noqa: E402
from jaxent.entropy.gaussianity import non_gaussianity  # noqa: E402
# Gaussian engine
from jaxent.gaussian.covariance import drift_diffusion  # noqa: E402
from jaxent.gaussian.lyapunov import evolve_covariance, lyapunov_solve  # noqa: E402
from jaxent.gaussian.entropies import mutual_information, von_neumann_entropy  # noqa: E402
from jaxent.gaussian.production import wehrl_photon_loss_split  # noqa: E402
# models and sweeps
from jaxent.models.kerr import (  # noqa: E402
    Kerr,
    choose_nmax,
    kerr_exact_moments,
    kerr_exact_state,
    kerr_lindbladian,
    kerr_steady_state,
)
from jaxent.models.dicke import Dicke, dicke_point  # noqa: E402
from jaxent.models.chain import Chain, chain_point, chain_point_padded  # noqa: E402
from jaxent.models.oscillators import (  # noqa: E402
    CoupledOscillators,
    oscillator_point,
    oscillator_steady_state,
)
from jaxent.io import StorageError  # noqa: E402
from jaxent.interop import from_qutip, to_qutip  # noqa: E402
from jaxent.sweep import (  # noqa: E402
    Study,
    SweepInterrupted,
    SweepResult,
    run_sweep,
    shape_classes,
)
from jaxent.studies.kerr import kerr_point, kerr_sweep  # noqa: E402
from jaxent.studies.quench import quench_point, quench_sweep  # noqa: E402
from jaxent.studies.spectrum import spectrum_sweep  # noqa: E402
# critical points and fits
from jaxent.critical import (  # noqa: E402
    Extrapolation,
    Stationary,
    extrapolate,
    newton_extremum,
    newton_root,
    parabola_extremum,
)
from jaxent.studies.critical import (  # noqa: E402
    dicke_critical,
    gap_minimum,
    kerr_critical,
    pi_d_peak,
    susceptibility_peak,
)
from jaxent.studies.fit import (  # noqa: E402
    FitData,
    KerrFit,
    fit_curves,
    fit_data,
    fit_kerr,
    kerr_curves,
    read_fit_data,
    write_fit_csv,
)
