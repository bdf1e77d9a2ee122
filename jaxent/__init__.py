"""jaxent: differentiable thermodynamics of open quantum systems in JAX.

Importing jaxent enables float64 in JAX (the only global state the library sets): entropy
production near criticality involves cancellations that single precision cannot resolve.
"""

import os

# XLA's CPU "concurrency-optimized" scheduler runs independent batched LAPACK custom calls side
# by side, and with jaxlib 0.10.2 such programs deadlock intermittently on small machines (no
# thread busy, the result never ready): reproduced every time for vmap(jacfwd) of a Lyapunov
# solve next to an eigensolver at batch >= 300 on 2 cores, e.g. the 2001-point Dicke sweep.
# With this scheduler off, 0 hangs in 8 runs of the same programs. It only changes the order
# of independent CPU ops; set the flag yourself in XLA_FLAGS to override. Takes effect only if
# jaxent is imported before JAX first runs a computation.
if "xla_cpu_enable_concurrency_optimized_scheduler" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_cpu_enable_concurrency_optimized_scheduler=false").strip()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

# Public re-exports are added below, module by module (explicit, no star imports).
