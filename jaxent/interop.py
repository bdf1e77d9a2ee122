r"""QuTiP interoperability: ``qutip.Qobj`` in, ``qutip.Qobj`` out.

Every jaxent function that takes an operator or a state (a Hamiltonian, jump operators, a
density matrix) also accepts a ``qutip.Qobj``: it calls :func:`as_operator`, which converts a
Qobj to a dense complex128 JAX array and returns anything else unchanged. :func:`to_qutip` goes
the other way (density matrices, operators, kets, a :class:`~jaxent.lindblad.SteadyState`, a
Lindbladian as a superoperator) and :func:`from_qutip` converts any Qobj explicitly.

QuTiP stays optional: importing jaxent never imports it (a Qobj is recognised by the module of
its class), and only :func:`to_qutip` needs it installed.

Conventions (the same in both libraries, so nothing is reordered):

- Fock basis: index ``k`` is $|k\rangle$; ``nmax`` is QuTiP's ``N`` (``qutip.destroy(nmax)``
  equals :func:`jaxent.fock.operators.destroy` ``(nmax)``).
- Superoperators: column stacking, $\mathrm{vec}(\rho)_{m + n\,{\rm nmax}} = \rho_{mn}$, so
  ``to_qutip(L).full()`` is ``L.as_matrix()`` and equals ``qutip.liouvillian(H, c_ops).full()``
  (:mod:`jaxent.fock.liouvillian`).
- Tensor products: a Qobj with dims ``[[2, 3], [2, 3]]`` converts to its full ``(6, 6)`` matrix
  in QuTiP's (``numpy.kron``) ordering, which is what :class:`~jaxent.lindblad.DenseLindbladian`
  and :func:`~jaxent.fock.liouvillian.liouvillian` take for several modes. The single-mode
  functions (Husimi transforms, :func:`~jaxent.entropy.wehrl.photon_loss_terms`,
  :func:`~jaxent.entropy.gaussianity.non_gaussianity`) expect one mode and refuse such a Qobj
  (``ValueError``); pass a reduced state (``rho.ptrace(0)``) instead. The array returned by
  jaxent carries no dims: give them back with ``to_qutip(x, dims=...)``.
- Kets are not turned into projectors: where an operator or a density matrix is needed, a ket
  (or bra) Qobj raises ``ValueError`` naming the argument and the fix, ``qutip.ket2dm(psi)``.
  A superoperator Qobj is refused too: jaxent builds its Lindbladians from ``H`` and the jump
  operators (``DenseLindbladian.from_operators(H, c_ops)``, which accepts Qobjs).

Conversion happens outside any transformation: a Qobj is a Python object, not a JAX type, so
pass arrays (``from_qutip(obj)``) to functions you ``jit``/``vmap``/``grad`` yourself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxent._validation import is_concrete

#: QuTiP ``Qobj.type`` values that are operators (a ``(1, 1)`` operator is a "scalar").
_OPERATOR_TYPES = ("oper", "scalar")


def is_qobj(x) -> bool:
    """True for a QuTiP object (its class lives in the ``qutip`` package); never imports QuTiP."""
    return type(x).__module__.split(".")[0] == "qutip"


def _import_qutip():
    try:
        import qutip
    except ImportError:
        raise ImportError("to_qutip needs QuTiP, an optional dependency of jaxent: "
                          "pip install qutip") from None
    return qutip


def _check_qobj(x, name: str) -> None:
    if not hasattr(x, "full"):
        raise TypeError(f"{name}: QuTiP {type(x).__name__} is not supported, pass a qutip.Qobj "
                        "(a time-dependent QobjEvo has no single matrix: evaluate it, H(t))")


def as_operator(x, name: str, *, single_mode: bool = False):
    """``x`` unchanged unless it is a ``qutip.Qobj`` operator, which becomes its dense
    complex128 matrix (``jnp`` array). The entry points call this on every operator and state
    argument.

    **Arguments:** ``x``: anything (arrays pass through untouched, also tracers); ``name``: the
    argument's name, used in the error messages; ``single_mode``: refuse a Qobj whose dims
    have more than one subsystem (the caller treats its matrix as one mode).

    **Raises:** ``ValueError`` naming ``name`` for a Qobj that is not a square operator (a ket
    or bra: use ``qutip.ket2dm(psi)``; a superoperator; a vectorised operator) or, with
    ``single_mode``, of a tensor-product space; ``TypeError`` for other QuTiP objects
    (``QobjEvo``).
    """
    if not is_qobj(x):
        return x
    _check_qobj(x, name)
    kind = getattr(x, "type", None)
    shape = tuple(x.shape)
    if kind in ("ket", "bra"):
        raise ValueError(f"{name}: got a QuTiP {kind} of shape {shape} where an operator (a "
                         "square matrix) is needed; pass its density matrix, qutip.ket2dm(psi)")
    if kind not in _OPERATOR_TYPES or len(shape) != 2 or shape[0] != shape[1]:
        hint = ""
        if kind == "super":
            hint = ("; jaxent builds Lindbladians from H and the jump operators: "
                    "DenseLindbladian.from_operators(H, c_ops) accepts Qobjs")
        elif kind == "operator-ket":
            hint = "; convert it with qutip.vector_to_operator"
        raise ValueError(f"{name}: got a QuTiP Qobj of type {kind!r} and shape {shape} where an "
                         f"operator (a square matrix) is needed{hint}")
    if single_mode:
        factors = [d for d in x.dims[0] if d != 1]
        if len(factors) > 1:
            raise ValueError(
                f"{name}: got a QuTiP Qobj of a tensor-product space (dims {x.dims}) where one "
                f"mode is needed; pass a reduced state (e.g. {name}.ptrace(0)), or "
                f"qutip.Qobj({name}.full()) to treat it as a single mode of dimension {shape[0]}")
    return jnp.asarray(x.full(), dtype=jnp.complex128)


def as_lindbladian(L, name: str = "L"):
    """``L`` unchanged unless it is a QuTiP object, which is refused with a ``TypeError`` that
    says how to build a jaxent Lindbladian from the same Qobjs (a superoperator matrix has no
    ``H`` and jump operators, which the solvers and the entropy layer need)."""
    if is_qobj(L):
        raise TypeError(f"{name}: got a QuTiP {type(L).__name__} (type "
                        f"{getattr(L, 'type', None)!r}); jaxent needs a Lindbladian operator: "
                        "DenseLindbladian.from_operators(H, c_ops) or "
                        "BandedLindbladian.from_dense(H, c_ops), both accept Qobjs")
    return L


def from_qutip(obj) -> jax.Array:
    """A ``qutip.Qobj`` as a dense complex128 JAX array, in QuTiP's conventions (which are
    jaxent's: module docstring).

    Kets (and vectorised operators, ``"operator-ket"``) become vectors ``(n,)``; bras rows
    ``(1, n)``; operators and superoperators matrices ``(n, n)`` and ``(n^2, n^2)`` (column
    stacking). Tensor-product dims are dropped (the full matrix in ``numpy.kron`` order).

    **Raises:** ``TypeError`` if ``obj`` is not a Qobj.
    """
    if not is_qobj(obj):
        raise TypeError(f"from_qutip: expected a qutip.Qobj, got {type(obj).__name__}")
    _check_qobj(obj, "from_qutip")
    arr = np.asarray(obj.full())
    if getattr(obj, "type", None) in ("ket", "operator-ket"):
        arr = arr[:, 0]
    return jnp.asarray(arr, dtype=jnp.complex128)


def to_qutip(x, dims=None):
    """A jaxent array or result as a ``qutip.Qobj`` (needs QuTiP: ``ImportError`` otherwise).

    **Arguments:**

    - ``x``: a ``(n, n)`` operator or density matrix (``dims`` default ``[[n], [n]]``); a
      ``(n,)`` or ``(n, 1)`` ket (``[[n], [1]]``); a ``(1, n)`` bra; a ``(T, n, n)`` stack
      (e.g. ``Trajectory.ys``), returned as a list of ``T`` Qobjs; a
      :class:`~jaxent.lindblad.SteadyState` (its ``rho``; a ``vmap``-ed one gives a list); a
      Lindbladian (:class:`~jaxent.lindblad.operators.AbstractLindbladian`), returned as
      QuTiP's ``type="super"`` with dims ``[[[n], [n]], [[n], [n]]]`` (column stacking, equal
      to ``qutip.liouvillian(H, c_ops)``). A Qobj is returned unchanged when ``dims`` is None.
    - ``dims``: QuTiP dims to attach, e.g. ``[[2, 3], [2, 3]]`` for two modes, or
      ``[[[n], [n]], [[n], [n]]]`` to read a dense ``(n^2, n^2)`` array as a superoperator.

    **Raises:** ``ValueError`` for other shapes (a stack of kets: convert each row) or dims
    that do not fit; ``TypeError`` for a traced value (call it outside ``jit``).
    """
    qutip = _import_qutip()
    # imported here: these modules import jaxent.interop
    from jaxent.lindblad.operators import AbstractLindbladian
    from jaxent.lindblad.steady_state import SteadyState

    if is_qobj(x):
        return x if dims is None else qutip.Qobj(x.full(), dims=dims)
    if isinstance(x, SteadyState):
        x = x.rho
    elif isinstance(x, AbstractLindbladian):
        n = x.dim
        return _qobj(qutip, x.as_matrix(), [[[n], [n]], [[n], [n]]] if dims is None else dims)
    if not is_concrete(x):
        raise TypeError("to_qutip: got a traced value; convert outside jit/vmap/grad")
    arr = np.asarray(x)
    if arr.ndim == 1:
        return _qobj(qutip, arr[:, None], [[arr.shape[0]], [1]] if dims is None else dims)
    if arr.ndim == 2:
        rows, cols = arr.shape
        if dims is None:
            if rows != cols and 1 not in (rows, cols):
                raise ValueError(f"to_qutip: a 2-D array must be a square operator (n, n), a "
                                 f"(n, 1) ket or a (1, n) bra, got shape {arr.shape} (for a "
                                 "stack of kets, convert each row)")
            dims = [[rows], [cols]]
        return _qobj(qutip, arr, dims)
    if arr.ndim == 3 and arr.shape[1] == arr.shape[2]:
        return [_qobj(qutip, a, [[a.shape[0]], [a.shape[0]]] if dims is None else dims)
                for a in arr]
    raise ValueError(f"to_qutip: expected a ket (n,), an operator (n, n) or a stack (T, n, n), "
                     f"got shape {arr.shape}")


def _qobj(qutip, arr, dims):
    arr = np.asarray(arr, dtype=np.complex128)
    try:
        return qutip.Qobj(arr, dims=dims)
    except Exception as err:  # QuTiP raises several kinds for dims that do not fit
        raise ValueError(f"to_qutip: dims {dims} do not fit an array of shape {arr.shape} "
                         f"({err})") from None
