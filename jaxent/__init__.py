"""jaxent: differentiable thermodynamics of open quantum systems in JAX.

Importing jaxent enables float64 in JAX (the only global state the library sets): entropy
production near criticality involves cancellations that single precision cannot resolve.
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

# Public re-exports are added below, module by module (explicit, no star imports).
