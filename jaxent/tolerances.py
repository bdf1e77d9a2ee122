"""The one table of tolerances behind jaxent's checks, warnings and flags.

Each constant says what it bounds; modules import them from here so that a check and the
message that explains it can never disagree.
"""

import numpy as np

#: Unit roundoff of float64.
EPS64 = float(np.finfo(np.float64).eps)

#: Population allowed in the top Fock levels (:func:`jaxent.fock.truncation.tail_population`).
TAIL_TOL = 1e-10
#: A steady state is ``resolvable`` when its predicted slow-mode error is below this.
RESOLVE_TOL = 1e-8
#: ``pin="auto"``: fix the slow-mode weight from an exact moment when the predicted error of
#: the plain linear solve exceeds this.
PIN_TOL = 1e-11
#: Husimi-grid normalisation error allowed (probability cut off by the grid).
GRID_NORM_TOL = 1e-9
#: ``|Pi_U + Pi_J - Phi| / Phi`` allowed in a NESS row [GFL20, Eq. (10)].
IDENTITY_TOL = 1e-6
#: ``|tr rho - 1|`` and the relative anti-Hermitian part allowed for a density matrix handed
#: to the entropy layer.
STATE_TOL = 1e-8
#: Most negative eigenvalue allowed for a density matrix, relative to its largest.
POSITIVITY_TOL = 1e-8
#: Relative disagreement between a NESS ``<n>`` and the exact Kerr moment that flags a row.
EXACT_MOMENT_TOL = 1e-8
#: Last summed term of an exact-moment series, relative to the sum, above which the series is
#: not converged (the pin and the end-to-end check are then unusable).
SERIES_TOL = 1e-13
