"""Lindbladian operators, steady-state solvers and implicit differentiation (the engine)."""

from jaxent.lindblad.evolution import Trajectory, check_trajectory, evolve
from jaxent.lindblad.operators import (
    AbstractLindbladian,
    BandedLindbladian,
    DenseLindbladian,
    StencilLindbladian,
)
from jaxent.lindblad.solvers import (
    AbstractSolver,
    BandedElimination,
    DenseSolver,
    KrylovSolver,
    NestedDissection,
    Pin,
)
from jaxent.lindblad.spectrum import Spectrum, liouvillian_spectrum
from jaxent.lindblad.steady_state import (
    ConditioningWarning,
    ExactMoment,
    SteadyState,
    check_steady_state,
    default_solver,
    steady_state,
)
