"""BatchedArray, the per-example view a vmapped function sees, and its dispatch.

A ``BatchedArray`` holds a physical array ``value`` (an ``np.ndarray``, or a
``BatchedArray`` of an outer level), the axis ``bdim`` of ``value`` that is the
batch, and the :class:`~vmaprt._levels.Level` that made it.  Everything it
shows is per example; every NumPy call on it goes through ``__array_ufunc__``
or ``__array_function__`` to a batch rule in the registry, or to the
per-example fallback.

Note [dispatch at the innermost level]
    A call runs at the innermost level among its arguments.  Arguments batched
    at that level are unwrapped to their physical values; everything else,
    including values batched at outer levels, is a constant there.  The rule's
    own NumPy calls on outer-level values dispatch again, one level out, so
    nesting needs no special case.
"""

from __future__ import annotations

import builtins
import dis
import functools
import math
import operator
import sys
import warnings
from typing import Any, Callable, TypeVar

import numpy as np
import optree
from numpy.lib.mixins import NDArrayOperatorsMixin

from . import _registry
from ._registry import (
    INDEXING, INPLACE, LIKE_ONLY, REFUSED, RULES, UFUNC_METHODS, Mapped, NoBatchRule, PerformanceWarning, _name,
)

__all__ = ["BatchedArray", "per_example"]


class BatchedArray(NDArrayOperatorsMixin):
    """An array that stands for one example while holding the whole batch.

    Inside ``vmap(f)``, ``f`` receives BatchedArrays.  ``shape``, ``ndim``,
    ``size``, ``len()`` and iteration are those of one example; operators,
    ufuncs, NumPy functions and methods run on the whole batch through batch
    rules.  Nothing here is needed to use vmap: it is what ``type(x)`` shows
    inside the function.

    >>> import numpy as np, vmaprt
    >>> def f(x):
    ...     print(type(x).__name__, x.shape)
    ...     return x.sum()
    >>> vmaprt.vmap(f)(np.ones((5, 3)))   # [5, 3] -> [5]
    BatchedArray (3,)
    array([3., 3., 3., 3., 3.])
    """

    __slots__ = ("value", "bdim", "level")

    def __init__(self, value, bdim, level):
        self.value = value
        self.bdim = bdim
        self.level = level

    # Per-example metadata -------------------------------------------------
    @property
    def shape(self):
        s, b = self.value.shape, self.bdim
        return s[:b] + s[b + 1 :]

    @property
    def ndim(self):
        return self.value.ndim - 1

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def itemsize(self):
        return self.value.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.itemsize

    @property
    def T(self):
        return np.transpose(self)

    @property
    def mT(self):
        if self.ndim < 2:
            raise ValueError(
                f"vmap: matrix transpose .mT needs at least 2 dimensions per example, "
                f"but this array has shape {self.shape}"
            )
        return np.swapaxes(self, -1, -2)

    @property
    def real(self):
        return np.real(self)

    @property
    def imag(self):
        return np.imag(self)

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError("len() of unsized object (a 0-d array per example)")
        return shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        state = "" if self.level.alive else ", escaped"
        return (
            f"BatchedArray(shape={self.shape}, dtype={self.dtype}, bdim={self.bdim}, "
            f"level={self.level.depth}{state}, value={self.value!r})"
        )

    __hash__ = None

    # What a batch cannot do ----------------------------------------------
    def __bool__(self):
        raise _data_dependent("bool(x), or an `if`/`while` on an array")

    def __float__(self):
        raise _conversion_error(_data_dependent("float(x)"))

    def __int__(self):
        raise _conversion_error(_data_dependent("int(x)"))

    def __complex__(self):
        raise _conversion_error(_data_dependent("complex(x)"))

    def __index__(self):
        raise _data_dependent("operator.index(x), or using x as a Python index")

    def item(self, *args):
        raise _data_dependent("x.item()")

    def tolist(self):
        raise _data_dependent("x.tolist()")

    def __array__(self, dtype=None, copy=None):
        raise _conversion_error(RuntimeError(
            "vmap: a BatchedArray was converted to a NumPy array (np.asarray or "
            "__array__). That happens when code that does not dispatch on NumPy's "
            "protocols receives it, when a plain ndarray is indexed by a batched "
            "index (table[i]: write np.asarray(table, like=i)[i] instead), or when a "
            "batched value is written into an unbatched array (create the target "
            "with np.zeros_like(x) or np.zeros(shape, like=x)). For other code, "
            "register a batch rule with vmaprt.register_batch_rule(func), or run it "
            "once per example with vmaprt.per_example(func)."
        ))

    # The two NumPy protocols ----------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _dispatch_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in LIKE_ONLY:
            return _dispatch_like(func, args, kwargs, self)
        return _dispatch_function(func, args, kwargs)

    # Indexing ---------------------------------------------------------------
    def __getitem__(self, key):
        return _dispatch_getitem(self, key)

    def __setitem__(self, key, value):
        _dispatch_setitem(self, key, value)

    # Methods that are not a plain call of a NumPy function ------------------
    def reshape(self, *shape, order="C", copy=None):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return np.reshape(self, shape, order=order, copy=copy)

    def transpose(self, *axes):
        if not axes or (len(axes) == 1 and axes[0] is None):
            axes = None
        elif len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return np.transpose(self, axes)

    def flatten(self, order="C"):
        return np.copy(np.ravel(self, order=order))

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        _check_alive(self.level)
        x = self.value
        if type(x) is np.ndarray and copy:
            if not np.can_cast(x.dtype, dtype, casting):
                raise TypeError(
                    f"Cannot cast array data from {x.dtype!r} to {np.dtype(dtype)!r} "
                    f"according to the rule {casting!r}"
                )
            # Note [per-example layout] in vmaprt/_rules/_helpers.py
            from ._rules._helpers import copy_examples

            out = BatchedArray(copy_examples(x, self.bdim, order, dtype), 0, self.level)
        else:  # (batched at several levels, or copy=False: NumPy decides whether it copies)
            value = x.astype(dtype, order=order, casting=casting, subok=subok, copy=copy)
            if value is x:
                return self
            out = BatchedArray(value, self.bdim, self.level)
        if is_scalar(self):  # (a scalar's astype is one)
            as_scalar(out.value)
        return out

    def copy(self, order="C"):  # (ndarray.copy's default order, not np.copy's)
        out = np.copy(self, order=order)
        if is_scalar(self) and type(out) is BatchedArray:  # (a scalar's copy is one)
            as_scalar(out.value)
        return out

    def __copy__(self):
        return np.copy(self)

    def __deepcopy__(self, memo):
        return np.copy(self)

    def conj(self):
        # ndarray.conj() returns a real array itself (np.conj would turn bool into int8)
        if self.dtype.kind in "cO":
            return np.conjugate(self)
        _check_alive(self.level)
        return self

    conjugate = conj

    def clip(self, min=None, max=None, out=None, **kwargs):
        return np.clip(self, min, max, out=out, **kwargs)

    # ndarray's ** by an exact Python 2 is np.square (bool ** 2 is int8, not int64),
    # by -1 np.reciprocal and by 0.5 np.sqrt for inexact arrays (NumPy's fast_scalar_power).
    def __pow__(self, other):
        op = None if is_scalar(self) else _fast_power(self.dtype, other)  # (not for scalars)
        return np.power(self, other) if op is None else op(self)

    def __ipow__(self, other):
        if is_scalar(self):  # Note [scalars per example]
            return NotImplemented
        op = _fast_power(self.dtype, other)
        return np.power(self, other, out=(self,)) if op is None else op(self, out=(self,))

    def __matmul__(self, other):
        _refuse_scalar_matmul(self, other)
        return np.matmul(self, other)

    def __rmatmul__(self, other):
        _refuse_scalar_matmul(other, self)
        return np.matmul(other, self)

    def view(self, dtype=None, type=None):
        """Per-example ``ndarray.view(dtype)``: a view of the same memory; a new itemsize
        rescales each example's last axis, which must be contiguous, as in NumPy."""
        _check_alive(self.level)
        if type is not None or isinstance(dtype, builtins.type) and issubclass(dtype, np.ndarray):
            raise RuntimeError(
                "vmap: x.view(type) would change the array class inside vmap, which "
                "cannot be batched; use x.view(dtype) or np.asarray outside the vmapped function"
            )
        x = self.value if self.bdim == 0 else np.moveaxis(self.value, self.bdim, 0)
        if dtype is not None and x.ndim == 1 and np.dtype(dtype).itemsize != x.dtype.itemsize:
            raise ValueError(
                "Changing the dtype of a 0d array is only supported if the itemsize is unchanged"
            )
        return BatchedArray(x.view() if dtype is None else x.view(dtype), 0, self.level)

    def fill(self, value):
        if not is_scalar(self):
            self[...] = value
        elif type(value) is not BatchedArray:  # a NumPy scalar's fill converts, then does nothing
            np.zeros((), self.dtype).fill(value)

    def sort(self, axis=-1, kind=None, order=None):
        self[...] = np.sort(self, axis=axis, kind=kind, order=order)

    def partition(self, kth, axis=-1, kind="introselect", order=None):
        self[...] = np.partition(self, kth, axis=axis, kind=kind, order=order)

    def compress(self, condition, axis=None, out=None):
        return np.compress(condition, self, axis=axis, out=out)


def _fast_power(dtype, exponent):
    if type(exponent) is int:
        op = np.square if exponent == 2 else np.reciprocal if exponent == -1 else None
    elif type(exponent) is float and exponent == 0.5:
        op = np.sqrt
    else:
        return None
    if op is np.square:
        return op if dtype.kind != "O" else None
    return op if dtype.kind in "fc" else None


# Note [scalars per example]
#     The loop's example of a 1-d input, x[i], is a NumPy scalar, and so are the 0-d
#     results of integer indexing, ufuncs and reductions: immutable values, not
#     views.  ``w = y[0]; w += 1`` rebinds w and leaves y alone, and ``w[...] = 7``
#     or ``out=w`` is a TypeError.  Under vmap such a value is a BatchedArray whose
#     physical array is (B,) and read-only: in-place operators on it return a new
#     value, and writes into it raise NumPy's TypeError.  0-d *arrays* (np.copy,
#     np.zeros_like, np.array, views such as reshape(())) stay writable.
def _storage(x):
    """The ndarray under a physical value batched at any number of levels."""
    while type(x) is BatchedArray:
        x = x.value
    return x


def is_scalar(x):
    """Whether the BatchedArray ``x`` stands for a NumPy scalar per example."""
    v = _storage(x.value)
    return x.value.ndim == 1 and type(v) is np.ndarray and not v.flags.writeable


def as_scalar(out):
    """Mark a fresh physical result of one element per example (never a view of an
    input) as one NumPy scalar per example."""
    v = _storage(out)
    if type(v) is np.ndarray and out.ndim == 1:
        v.flags.writeable = False
    return out


def read_only(x):
    """A read-only view of a physical value (of an input whose examples are scalars)."""
    if type(x) is BatchedArray:
        return BatchedArray(read_only(x.value), x.bdim, x.level)
    view = x.view()
    view.flags.writeable = False
    return view


# Functions whose 0-d result is a 0-d array, not a scalar, for a scalar argument too.
_ARRAY_RESULTS = {
    np.copy, np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.array, np.asarray,
    np.asanyarray, np.require, np.asarray_chkfinite, np.where, np.block, np.roll, np.isin,
    np.real_if_close, np.i0, np.cov, np.polyint, np.fft.fftn, np.fft.ifftn, np.linalg.tensorsolve,
}  # fmt: skip


def _root(a):
    a = _storage(a)
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _fresh(out, values):
    """Whether ``out`` is new memory rather than a view of an operand (a view of a
    scalar is read-only already, a view of an array is an array)."""
    if type(out) is np.ndarray and out.base is None:  # (the common case: it owns its data)
        return not any(v is out for v in values)  # (np.real of a real array is the array)
    root = _root(out)
    return type(root) is np.ndarray and not any(
        type(v) in (np.ndarray, BatchedArray) and _root(v) is root for v in values
    )


def _refuse_scalar_matmul(a, b):
    """NumPy scalars have no ``@``: the loop's TypeError, where both operands are."""
    if all(type(x) is BatchedArray and is_scalar(x) or isinstance(x, (np.generic, int, float, complex)) for x in (a, b)):
        raise TypeError(f"unsupported operand type(s) for @: {_scalar_name(a)!r} and {_scalar_name(b)!r}")


def _scalar_name(x):
    return f"numpy.{x.dtype.type.__name__}" if hasattr(x, "dtype") else type(x).__name__


def _inplace_method(ufunc, name):
    def method(self, other):
        if is_scalar(self):  # a NumPy scalar: ``x += y`` rebinds x
            return NotImplemented
        return ufunc(self, other, out=(self,))

    method.__name__ = method.__qualname__ = f"__i{name}__"
    return method


for _name_, _ufunc in [
    ("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("matmul", np.matmul),
    ("truediv", np.true_divide), ("floordiv", np.floor_divide), ("mod", np.remainder),
    ("lshift", np.left_shift), ("rshift", np.right_shift), ("and", np.bitwise_and),
    ("xor", np.bitwise_xor), ("or", np.bitwise_or),
]:  # fmt: skip
    setattr(BatchedArray, f"__i{_name_}__", _inplace_method(_ufunc, _name_))
del _name_, _ufunc


def _forward(func, name):
    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Per-example ``ndarray.{name}``: calls ``{_name(func)}``."
    return method


# ndarray methods that are a NumPy function applied to the array.
for _method, _func in [
    ("sum", np.sum), ("mean", np.mean), ("std", np.std), ("var", np.var),
    ("min", np.min), ("max", np.max), ("prod", np.prod), ("any", np.any),
    ("all", np.all), ("argmin", np.argmin), ("argmax", np.argmax),
    ("cumsum", np.cumsum), ("cumprod", np.cumprod), ("dot", np.dot),
    ("swapaxes", np.swapaxes), ("squeeze", np.squeeze), ("ravel", np.ravel),
    ("round", np.round), ("repeat", np.repeat), ("take", np.take),
    ("argsort", np.argsort), ("trace", np.trace), ("diagonal", np.diagonal),
    ("nonzero", np.nonzero), ("searchsorted", np.searchsorted),
    ("choose", np.choose), ("argpartition", np.argpartition), ("put", np.put),
]:  # fmt: skip
    setattr(BatchedArray, _method, _forward(_func, _method))
del _method, _func


# Errors ---------------------------------------------------------------------
def _data_dependent(what):
    return RuntimeError(
        f"vmap: {what} needs the value of a single example, but inside vmap the "
        f"function runs on the whole batch at once, so data-dependent control flow "
        f"cannot be batched. Express the choice with np.where(cond, a, b), or wrap "
        f"the code that needs it in vmaprt.per_example(...). (NumPy also converts "
        f"a value this way when it is written into one element of an unbatched "
        f"array, z[i] = x: create z with np.zeros_like(x) or like=x instead.)"
    )


# Note [which write converted a batch]
#     `out[i] = x` with a plain ndarray `out` makes NumPy's ndarray.__setitem__,
#     which is C code with no frame of its own, call x.__array__ (or float(x)
#     for one element).  So the frame that called the conversion is the user's,
#     stopped at the STORE_SUBSCR that writes; any other caller (np.asarray in
#     library code, float(x) in an expression) is at another instruction.
_STORE_SUBSCR = dis.opmap["STORE_SUBSCR"]


def _conversion_error(error):
    """``error``, or the plain-array write error when the conversion comes from `out[i] = x`.

    Called by the BatchedArray method that NumPy or Python called to convert it.
    """
    frame = sys._getframe(2)  # 0: here, 1: the converting method, 2: its caller
    code = frame.f_code.co_code
    if not (0 <= frame.f_lasti < len(code) and code[frame.f_lasti] == _STORE_SUBSCR):
        return error
    return RuntimeError(
        f"vmap: `target[...] = value` at {frame.f_code.co_filename}:{frame.f_lineno} cannot write a "
        f"batched value into a plain NumPy array: one created outside the vmapped function, or "
        f"inside it without like=. That array holds one value per element, not one per example. "
        f"Create the target inside the function from a batched input, with np.zeros_like(x) or "
        f"np.zeros(shape, like=x), or write the function out of place (build the result with "
        f"np.stack or np.concatenate and return it)."
    )


def _escaped_error():
    return RuntimeError(
        "vmap: a BatchedArray was used after the vmap call that created it returned "
        "(it escaped through a closure, a global or a container vmap does not "
        "return). Return it from the vmapped function instead, so vmap turns it "
        "into an ndarray."
    )


def _levels_in(obj):
    """The levels a BatchedArray is batched at, innermost first."""
    levels = []
    while type(obj) is BatchedArray:
        levels.append(obj.level)
        obj = obj.value
    return levels


def _check_levels_of_target(target, sources):
    """Refuse writing values that vary along a vmap level the target does not: under
    nested vmap, an array made from values of the inner level only cannot hold one
    that also depends on the outer level (or the other way round)."""
    have = _levels_in(target)
    missing = {lv for s in sources for lv in _levels_in(s) if lv not in have}
    if missing:
        raise RuntimeError(
            f"vmap: cannot write a batched value into an array that varies along vmap "
            f"level {_depths(have)} only: the value (or its index) also varies along level "
            f"{_depths(missing)} (level 1 is the outermost vmap), and all the examples of that "
            f"level would write into the same memory. Create the array from values of "
            f"every level involved, e.g. np.zeros_like(x * p) where x and p come from "
            f"different levels, or np.zeros(shape, like=value)."
        )


def _depths(levels):
    return ", ".join(str(d) for d in sorted(lv.depth for lv in levels))


def unbatched_target_error(what="an unbatched array"):
    return RuntimeError(
        f"vmap: cannot write a batched value into {what}: every example would "
        f"write into the same memory. Create the target per example with "
        f"np.zeros_like(x), np.zeros(shape, like=x) or x.copy(), or build the "
        f"result without in-place writes."
    )


def _check_alive(level):
    if not level.alive:
        raise _escaped_error()


# Levels and unwrapping --------------------------------------------------------
def level_of(objs, best=None):
    """The innermost live level among the BatchedArrays in ``objs`` (lists looked into)."""
    for o in objs:
        t = type(o)
        if t is BatchedArray:
            lv = o.level
            if not lv.alive:
                raise _escaped_error()
            if best is None or lv.depth > best.depth:
                best = lv
        elif t is list or t is tuple:
            best = level_of(o, best)
    return best


def _batched_in(obj, level):
    """Whether ``obj`` holds a value batched at ``level`` (lists, tuples, dicts looked into)."""
    t = type(obj)
    if t is BatchedArray:
        return obj.level is level
    if t is list or t is tuple:
        return any(_batched_in(o, level) for o in obj)
    if t is dict:
        return any(_batched_in(o, level) for o in obj.values())
    return False


def unwrap(obj, level):
    """``(physical value, bdim)`` of ``obj`` at ``level``; a list of arrays gives two lists."""
    t = type(obj)
    if t is BatchedArray:
        if obj.level is level:
            return obj.value, obj.bdim
        return obj, None
    if (t is list or t is tuple) and any(_batched_in(o, level) for o in obj):
        pairs = [unwrap(o, level) for o in obj]
        return [v for v, _ in pairs], [b for _, b in pairs]
    return obj, None


def wrap(out, bdim, level):
    """Wrap a rule's physical result as BatchedArrays at ``level``."""
    if bdim is None:
        return out
    if isinstance(out, (tuple, list)):
        bdims = (bdim,) * len(out) if type(bdim) is int else bdim
        parts = [wrap(o, b, level) for o, b in zip(out, bdims)]
        if hasattr(out, "_fields"):  # a namedtuple such as np.linalg's results
            return type(out)(*parts)
        return type(out)(parts)
    return BatchedArray(out, bdim, level)


def _select(x, i):
    """Example ``i`` of a BatchedArray at its own level."""
    return x.value[(slice(None),) * x.bdim + (i,)]


# Writing results into out= and in-place targets --------------------------------
def assign(target, value, casting="same_kind", name="the output"):
    """``target[...] = value`` with NumPy's casting rule, refusing batched -> unbatched."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not np.can_cast(dtype, target.dtype, casting=casting):
        raise TypeError(
            f"vmap: cannot cast {name} from {dtype} to {target.dtype} with casting "
            f"rule {casting!r}"
        )
    if type(target) is BatchedArray:
        target[...] = value
    elif type(value) is BatchedArray:
        raise unbatched_target_error(f"an unbatched array of shape {target.shape}")
    else:
        np.copyto(target, value, casting="unsafe")


def _write_out(out, result, casting, name):
    if isinstance(out, tuple):
        results = result if isinstance(result, tuple) else (result,)
        for target, res in zip(out, results):
            if target is not None:
                assign(target, res, casting, f"the output of {name}")
        return out[0] if len(out) == 1 else out
    assign(out, result, casting, f"the output of {name}")
    return out


# Functions ------------------------------------------------------------------------
def _dispatch_function(func, args, kwargs):
    if func in _SCALAR_TARGETS and args and type(args[0]) is BatchedArray and is_scalar(args[0]):
        message = _SCALAR_TARGETS[func]
        if message is None:
            return None
        raise TypeError(message.format(f"numpy.{args[0].dtype.type.__name__}"))
    level = level_of(kwargs.values(), level_of(args)) if kwargs else level_of(args)
    entry = RULES.get(func)
    if entry is None:
        reason = REFUSED.get(func)
        if reason is not None:
            raise RuntimeError(f"vmap: {_name(func)} cannot be batched: {reason}")
        return fallback(func, args, kwargs, level)
    if kwargs.get("out") is not None:
        kwargs = dict(kwargs)
        out = kwargs.pop("out")
        casting = "unsafe" if func in _UNSAFE_OUT else "same_kind"
        return _write_out(out, func(*args, **kwargs), casting, _name(func))
    return apply_rule(entry, args, kwargs, level)


# What NumPy's in-place functions do with a scalar target (Note [scalars per example]):
# an error, or nothing (np.put).
_SCALAR_TARGETS = {
    np.copyto: "copyto() argument 1 must be a numpy.ndarray, not {}",
    np.putmask: "putmask: first argument must be an array",
    np.place: "place() argument 1 must be numpy.ndarray, not {}",
    np.put: None,
}


# NumPy functions whose out= takes any dtype, as their reductions cast into it
# (np.mean(ints, out=int_target), np.sum(bools, out=bool_target)); the others cast
# by 'same_kind', as the ufuncs they end in do (np.std, np.percentile, np.ptp, ...).
_UNSAFE_OUT = {
    np.sum, np.prod, np.max, np.min, np.amax, np.amin, np.cumsum, np.cumprod, np.mean,
    np.var, np.median, np.any, np.all, np.trace, np.nansum, np.nanprod, np.nancumsum,
    np.nancumprod, np.nanmax, np.nanmin, np.nanmedian, np.nanpercentile, np.nanquantile,
}


def apply_rule(entry, args, kwargs, level):
    """Unwrap the operands at ``level``, run the rule, wrap its result."""
    if entry.nargs == _registry.COMPOSITE:
        return entry.rule(*args, **kwargs)
    n = entry.nargs
    if entry.kw_operands and n is not None and len(args) > n and any(_batched_in(a, level) for a in args[n:]):
        args, kwargs = entry.parameters_as_keywords(args, kwargs)
    params = kwargs
    if kwargs:
        args, kwargs = entry.operands_from_keywords(args, kwargs)
        batched_kw = [k for k, v in kwargs.items() if _batched_in(v, level)]
        if batched_kw:
            unhandled = [k for k in batched_kw if k not in entry.kw_operands]
            if unhandled:
                return fallback(entry.func, args, kwargs, level, why=f"a batched {unhandled[0]}=")
            params = dict(kwargs)
            for k in batched_kw:
                params[k] = Mapped(*unwrap(kwargs[k], level))
        else:
            params = kwargs
    if n is None or n >= len(args):
        operands, rest = args, ()
    else:
        operands, rest = args[:n], args[n:]
        if any(_batched_in(a, level) for a in rest):
            return fallback(entry.func, args, kwargs, level, why="a batched positional parameter")
    values, bdims = [], []
    for a in operands:
        if type(a) is BatchedArray and a.level is level:
            values.append(a.value)
            bdims.append(a.bdim)
        else:
            v, b = unwrap(a, level)
            values.append(v)
            bdims.append(b)
    try:
        out, out_bdim = entry.rule(values, bdims, *rest, **params)
    except NoBatchRule as e:
        return fallback(entry.func, args, kwargs, level, why=str(e) or "this form of call")
    if type(out_bdim) is int and type(out) in (np.ndarray, BatchedArray):
        if out.ndim == 1:
            if entry.func not in _ARRAY_RESULTS and _fresh(out, values):
                as_scalar(out)  # Note [scalars per example]
        elif not (out_bdim == 0 and type(out) is np.ndarray and out.flags.c_contiguous) and _fresh(out, values):
            # Note [per-example layout] in vmaprt/_rules/_helpers.py: a new result is
            # contiguous per example, as NumPy's result for one example is.
            from ._rules._helpers import laid_out_per_example

            out, out_bdim = laid_out_per_example(out, out_bdim)
    if type(out_bdim) is int and type(out) is np.ndarray:
        return BatchedArray(out, out_bdim, level)
    return wrap(out, out_bdim, level)


_AS_ARRAY = {np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray, np.require}


def _dispatch_like(func, args, kwargs, like):
    """``func(..., like=x)``: the same array for every example, batched like ``x``."""
    level = level_of(kwargs.values(), level_of(args, like.level))
    _check_alive(like.level)
    if func in (np.array, *_AS_ARRAY) and args and type(args[0]) is BatchedArray:
        x = args[0]
        if func is np.array and kwargs.get("copy", True) is not False:
            return np.copy(x) if "dtype" not in kwargs else x.astype(kwargs["dtype"])
        return x if kwargs.get("dtype") is None else x.astype(kwargs["dtype"], copy=False)
    if func in (np.array, np.asarray) and args and isinstance(args[0], (list, tuple)):
        if level_of(args[0]) is not None:  # np.array([x, y], like=x): stack per example
            out = _stack_nested(args[0])
            return out if kwargs.get("dtype") is None else out.astype(kwargs["dtype"])
    if func is np.full:
        fill = args[1] if len(args) > 1 else kwargs.get("fill_value")
        if type(fill) is BatchedArray:
            deeper = fill if fill.level.depth > like.level.depth else like
            dtype = kwargs.get("dtype") or fill.dtype
            target = np.empty(args[0], dtype=dtype, like=deeper)
            target[...] = fill
            return target
    if level is not None and level is not like.level:
        return fallback(func, args, kwargs, level)
    res = func(*args, **kwargs)
    if func in _AS_ARRAY:  # no copy: a read-only zero-stride view, e.g. for table[i]
        return BatchedArray(np.broadcast_to(res, (like.level.size,) + res.shape), 0, like.level)
    # An outer-level ``like.value`` makes the target batched at every level of ``like``.
    value = np.empty((like.level.size,) + res.shape, dtype=res.dtype, like=_like_value(like))
    value[...] = res
    return BatchedArray(value, 0, like.level)


def _stack_nested(obj):
    return np.stack([_stack_nested(o) if isinstance(o, (list, tuple)) else o for o in obj])


def _like_value(like):
    v = like.value
    return v if type(v) is BatchedArray else None


# Ufuncs -------------------------------------------------------------------------------
def _dispatch_ufunc(ufunc, method, inputs, kwargs):
    level = level_of(kwargs.values(), level_of(inputs))
    out = kwargs.get("out")
    if out is not None:
        kwargs = dict(kwargs)
        del kwargs["out"]
        casting = kwargs.get("casting", "same_kind")
        if any(isinstance(t, np.generic) or type(t) is BatchedArray and is_scalar(t)
               for t in (out if isinstance(out, tuple) else (out,))):
            raise TypeError("return arrays must be of ArrayType")  # (a NumPy scalar per example)
        # (where= of __call__ and outer masks the output; of reduce, the input)
        where = kwargs.pop("where", True) if method in ("__call__", "outer") else True
        try:
            result = getattr(ufunc, method)(*inputs, **kwargs)
        except Exception:
            if method == "__call__":  # NumPy checks the cast into out= before it computes
                _check_out_casting(ufunc, inputs, out, casting)
            raise
        if method == "__call__":
            try:
                _check_out_shape(result, out)
            except ValueError:  # (NumPy's casting check comes first)
                _check_out_casting(ufunc, inputs, out, casting)
                raise
        if where is not True:
            results = result if isinstance(result, tuple) else (result,)
            result = tuple(np.where(where, r, o) for r, o in zip(results, out))
        return _write_out(out, result, casting, f"np.{ufunc.__name__}")
    if method in ("__call__", "outer"):
        kwargs.pop("where", None)  # without out=, the masked-out values are unspecified
    if method == "__call__":
        entry = RULES.get(ufunc)
        if entry is not None:
            return apply_rule(entry, inputs, kwargs, level)
    if method == "at" and type(inputs[0]) is BatchedArray and is_scalar(inputs[0]):
        raise TypeError("first operand must be array")
    rule = UFUNC_METHODS[method]
    name = f"np.{ufunc.__name__}.{method}"
    batched_kw = [k for k, v in kwargs.items() if _batched_in(v, level)]
    if any(k != "where" for k in batched_kw):
        why = f"a batched {next(k for k in batched_kw if k != 'where')}="
        return fallback(getattr(ufunc, method), inputs, kwargs, level, name, why)
    values, bdims = [], []
    for a in inputs:
        v, b = unwrap(a, level)
        values.append(v)
        bdims.append(b)
    params = dict(kwargs)
    if batched_kw:  # a batched where= (of reduce) reaches the rule as Mapped(value, bdim)
        params["where"] = Mapped(*unwrap(kwargs["where"], level))
    try:
        out, out_bdim = rule(ufunc, values, bdims, **params)
    except NoBatchRule as e:
        return fallback(getattr(ufunc, method), inputs, kwargs, level, name, str(e) or "this form of call")
    if out_bdim == 0 and type(out) in (np.ndarray, BatchedArray) and out.ndim == 1:
        as_scalar(out)  # Note [scalars per example] (a ufunc's result is new memory)
    return wrap(out, out_bdim, level)


def _check_out_shape(result, out):
    """NumPy's error for an out= that the result does not broadcast to, per example (the
    written value may not drop leading 1s, as a setitem value may)."""
    for res, target in zip(result if isinstance(result, tuple) else (result,), out if isinstance(out, tuple) else (out,)):
        if target is None:
            continue
        shape, want = tuple(np.shape(res)), tuple(np.shape(target))
        if len(shape) > len(want) or any(a != 1 and a != b for a, b in zip(shape[::-1], want[::-1])):
            raise ValueError(
                f"non-broadcastable output operand with shape {want} doesn't match the "
                f"broadcast shape {np.broadcast_shapes(shape, want) if len(shape) <= len(want) else shape}"
            )


def _check_out_casting(ufunc, inputs, out, casting):
    dtypes = [type(a) if type(a) in (int, float, complex) else getattr(a, "dtype", None) for a in inputs]
    try:
        results = ufunc.resolve_dtypes(tuple(dtypes) + (None,) * ufunc.nout)[ufunc.nin :]
    except Exception:
        return
    for res, target in zip(results, out if isinstance(out, tuple) else (out,)):
        if target is not None and not np.can_cast(res, target.dtype, casting=casting):
            raise TypeError(
                f"Cannot cast ufunc '{ufunc.__name__}' output from {res!r} to "
                f"{target.dtype!r} with casting rule {casting!r}"
            )


# Indexing --------------------------------------------------------------------------------
def _key_tuple(key):
    return key if type(key) is tuple else (key,)


def _dispatch_getitem(x, key):
    key = _key_tuple(key)
    level = level_of(key, level_of((x,)))
    xv, xb = unwrap(x, level)
    keys = [unwrap(k, level) for k in key]
    try:
        out, out_bdim = INDEXING["getitem"](xv, xb, keys, level.size)
    except NoBatchRule:
        return fallback(operator.getitem, (x, key), {}, level, "x[key]", "this index")
    return wrap(out, out_bdim, level)


def _dispatch_setitem(x, key, value):
    if is_scalar(x):  # Note [scalars per example]
        raise TypeError(f"'numpy.{x.dtype.type.__name__}' object does not support item assignment")
    key = _key_tuple(key)
    level = level_of(key, level_of((x, value)))
    _check_levels_of_target(x, [value, *key])
    if x.level is not level:
        raise unbatched_target_error(
            "an array that is the same for every example at this vmap level "
            "(it was created outside this vmap)"
        )
    vv, vb = unwrap(value, level)
    keys = [unwrap(k, level) for k in key]
    try:
        INDEXING["setitem"](x.value, x.bdim, keys, vv, vb, level.size)
    except NoBatchRule:
        fallback(operator.setitem, (x, key, value), {}, level, "x[key] = value", "this index")


def getitem(x, key):
    """``x[key]`` on a physical value whose key may hold outer-level BatchedArrays."""
    if type(x) is not BatchedArray and level_of(key) is not None:
        return _dispatch_getitem(x, key)
    return x[key]


def setitem(x, key, value):
    """``x[key] = value`` on a physical value; refuses batched writes into a plain ndarray."""
    if type(x) is not BatchedArray and (
        type(value) is BatchedArray or level_of(key) is not None
    ):
        raise unbatched_target_error(f"an unbatched array of shape {x.shape}")
    x[key] = value


# The per-example fallback -----------------------------------------------------------------
def fallback(func, args, kwargs, level, name=None, why=None):
    """Run ``func`` once per example and stack the results, with a PerformanceWarning.

    ``why`` names the form of call that the function's rule does not batch; None
    means the function has no rule at all.
    """
    name = name or _name(func)
    if why is None:
        message = (
            f"vmap: {name} has no batch rule, so it runs once per example in a Python "
            f"loop. Register one with vmaprt.register_batch_rule({name}) to batch it."
        )
    else:
        message = (
            f"vmap: the batch rule of {name} does not cover {why}, so this call runs "
            f"once per example in a Python loop. Pass that argument unbatched if it "
            f"is the same for every example, or register a fuller rule with "
            f"vmaprt.register_batch_rule({name})."
        )
    # One source line for every call, so the default filter shows each message once.
    warnings.warn(message, PerformanceWarning, stacklevel=1)
    return per_example_loop(func, args, kwargs, level, name)


def per_example_loop(func, args, kwargs, level, name):
    """``stack([func(example i) for i in range(size)])`` at ``level``."""
    if level.size == 0:
        raise RuntimeError(
            f"vmap: {name} has no batch rule, so it would run once per example, but "
            f"the batch has size 0: there is no example to run it on, so the shape "
            f"of its result is unknown. Register a batch rule with "
            f"vmaprt.register_batch_rule, or skip the call for an empty batch."
        )
    if kwargs.get("out") is not None:
        kwargs = dict(kwargs)
        out = kwargs.pop("out")
        result = per_example_loop(func, args, kwargs, level, name)
        return _write_out(out, result, "same_kind", name)
    target = INPLACE.get(func)
    if target is not None and target < len(args) and not _batched_in(args[target], level):
        raise unbatched_target_error(f"the array that {name} writes into")
    leaves, spec = optree.tree_flatten((args, kwargs), none_is_leaf=True)
    slots = [
        j for j, leaf in enumerate(leaves) if type(leaf) is BatchedArray and leaf.level is level
    ]
    results = []
    for i in range(level.size):
        example = list(leaves)
        for j in slots:
            example[j] = _select(leaves[j], i)
        a, k = optree.tree_unflatten(spec, example)
        results.append(func(*a, **k))
    return _stack(results, level, name)


def _stack(results, level, name):
    leaves0, spec = optree.tree_flatten(results[0], none_is_leaf=True)
    columns = [optree.tree_leaves(r, none_is_leaf=True) for r in results]
    stacked = []
    for j, leaf in enumerate(leaves0):
        column = [c[j] for c in columns]
        if leaf is None or isinstance(leaf, str):
            if any(c != leaf for c in column):
                raise RuntimeError(
                    f"vmap: {name} returned a non-array value that differs between "
                    f"examples ({leaf!r} and others), which cannot be stacked"
                )
            stacked.append(leaf)
            continue
        try:
            value = np.stack(column)
            if all(isinstance(c, np.generic) for c in column):
                as_scalar(value)  # Note [scalars per example]
            stacked.append(BatchedArray(value, 0, level))
        except ValueError as e:
            raise RuntimeError(
                f"vmap: {name} returned results of different shapes for different "
                f"examples, so they cannot be stacked into a batch ({e})"
            ) from None
    return optree.tree_unflatten(spec, stacked)


# per_example ---------------------------------------------------------------------------------
_F = TypeVar("_F", bound=Callable[..., Any])


def per_example(fn: _F) -> _F:
    """Make ``fn`` safe to call under vmap by running it once per example.

    Outside vmap the wrapper calls ``fn`` directly.  Under vmap, if a batch
    rule was registered for the wrapper with :func:`vmaprt.register_batch_rule`,
    it runs batched; otherwise it loops over the examples and stacks the
    results (no warning: the loop is what was asked for).  Use it for code
    that does not dispatch on NumPy's protocols, such as most of SciPy.

    >>> import numpy as np, scipy.integrate, vmaprt
    >>> area = vmaprt.per_example(lambda y: scipy.integrate.trapezoid(y, dx=0.5))
    >>> vmaprt.vmap(area)(np.ones((3, 5)))   # [3, 5] -> [3]
    array([2., 2., 2.])
    """
    if not callable(fn):
        raise TypeError(
            f"vmap: per_example expects a callable, but got {type(fn).__name__} {fn!r}"
        )
    name = getattr(fn, "__name__", None) or repr(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        leaves = optree.tree_leaves((args, kwargs), none_is_leaf=True)
        level = level_of(leaves)
        if level is None:
            return fn(*args, **kwargs)
        entry = RULES.get(wrapper)
        if entry is not None:
            return apply_rule(entry, args, kwargs, level)
        return per_example_loop(wrapper, args, kwargs, level, name)

    return wrapper
