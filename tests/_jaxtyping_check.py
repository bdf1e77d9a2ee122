"""Run-time check of jaxent's jaxtyping annotations (shapes and dtypes) in the tests.

``tests/conftest.py`` installs jaxtyping's import hook on the package with :func:`check_arrays`
as the type checker, so in every test each jaxent function and dataclass (equinox ``Module``)
checks its jaxtyping-annotated arguments, fields and return values (``Float[Array, " L"]``,
or a union with such a type) on every call, with each dimension name bound consistently
within the call (jaxtyping's shape memo). Other annotations are not enforced at run time
(pyright checks them statically; ``float`` parameters legitimately receive JAX tracers), so
no run-time type-checking package is needed.
"""

import functools
import inspect
import types
import typing

from jaxtyping import AbstractArray


def _is_array_type(ann) -> bool:
    return isinstance(ann, type) and issubclass(ann, AbstractArray)


def _spec(ann):
    """``(array types, other arms)`` of an annotation that involves a jaxtyping array type."""
    if _is_array_type(ann):
        return (ann,), ()
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        arms = typing.get_args(ann)
        arrays = tuple(a for a in arms if _is_array_type(a))
        if arrays:
            return arrays, tuple(a for a in arms if not _is_array_type(a))
    return None


def _other_arm_matches(value, arm) -> bool:
    if arm is type(None):
        return value is None
    if isinstance(arm, type):
        return isinstance(value, arm)
    return True  # a generic (list[int], ...): not checked here


def _describe(value) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return repr(value)


def _check(what, value, ann, spec):
    arrays, others = spec
    if any(isinstance(value, a) for a in arrays):
        return
    if any(_other_arm_matches(value, o) for o in others):
        return
    raise TypeError(f"{what}: expected {ann}, got {_describe(value)}")


def check_arrays(fn):
    """Decorator: ``TypeError`` when an argument or the return value does not match its
    jaxtyping annotation.

    Used by ``jaxtyping.jaxtyped(typechecker=...)``, which calls it on stand-in functions with
    the original signature (the one for the return value gets the output as an extra
    argument and returns it) and provides the shape memo around the calls.
    """
    sig = inspect.signature(fn)
    specs = {name: (p.annotation, s) for name, p in sig.parameters.items()
             if (s := _spec(p.annotation)) is not None}
    ret = sig.return_annotation
    ret_spec = _spec(ret)
    if not specs and ret_spec is None:
        return fn

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        for name, (ann, spec) in specs.items():
            if name in bound.arguments:  # else a default
                _check(name, bound.arguments[name], ann, spec)
        out = fn(*args, **kwargs)
        if ret_spec is not None:
            _check("return value", out, ret, ret_spec)
        return out

    return checked
