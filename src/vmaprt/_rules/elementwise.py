"""Every ufunc, with all its methods; gufuncs; and NumPy's elementwise functions."""

import functools
import re

import numpy as np

from .. import _core, _parallel
from .._batched import BatchedArray, unbatched_target_error
from .._registry import COMPOSITE, Mapped, NoBatchRule, register_batch_rule, register_ufunc_method
from ._helpers import (
    as_rows,
    bdim_at_front,
    front,
    batch_size,
    broadcast_batched,
    copy_examples,
    defelementwise,
    laid_out_per_example,
    defpreserving,
    flat_examples,
    move_to_front,
    with_mask,
    ndim_of,
    normalize_axes,
    normalize_axis,
    shape_of,
)


@functools.lru_cache(maxsize=None)
def core_ndims(signature, nin):
    """Number of core dimensions of each input of a gufunc signature such as ``(m,n),(n)->(m)``."""
    if signature is None:
        return (0,) * nin
    return _core_counts(signature.split("->")[0])


@functools.lru_cache(maxsize=None)
def out_core_ndims(signature):
    """Number of core dimensions of each output of a gufunc signature (``(m)`` for ``->(m)``)."""
    return _core_counts(signature.split("->")[1])


def _core_counts(side):
    return tuple(0 if not group.strip() else len(group.split(",")) for group in re.findall(r"\(([^)]*)\)", side))


def _axes_from_end(ufunc, args, bdims, axes=None, axis=None, keepdims=False):
    """A gufunc's ``axes=`` (or ``axis=``) with every index counted from the end of
    its operand, per example: the batch axis and the broadcasting axes that
    ``broadcast_batched`` puts in front then leave them pointing at the same axes."""
    cores, outs = core_ndims(ufunc.signature, ufunc.nin), out_core_ndims(ufunc.signature)
    ndims = [ndim_of(a) - (b is not None) for a, b in zip(args, bdims)]
    loop = max(n - c for n, c in zip(ndims, cores))
    ndims += [loop + (cores[0] if keepdims else c) for c in outs]
    if axes is None:  # NumPy's shortcut: (axis,) for each operand with a core dimension
        axes = [(axis,) if c == 1 else () for c in cores] + [(axis,) if keepdims else () for _ in outs]
    entries = []
    for entry, nd in zip(axes, ndims):
        entry = (entry,) if isinstance(entry, (int, np.integer)) else tuple(entry)
        for i in entry:
            if not -nd <= i < nd:
                raise np.exceptions.AxisError(i, nd, f"{ufunc.__name__} axes")
        entries.append(tuple(int(i) - nd if i >= 0 else int(i) for i in entry))
    return entries


@register_ufunc_method("__call__")
def ufunc_call(ufunc, args, bdims, **kwargs):
    """The rule of every ufunc's ``__call__`` (and of np.matmul given ``axes=``)."""
    out, bdim = _ufunc_call(ufunc, args, bdims, **kwargs)
    if ufunc.signature is None and type(out) in (np.ndarray, BatchedArray) and ndim_of(out) > 1:
        return laid_out_per_example(out, bdim)
    return out, bdim


def _ufunc_call(ufunc, args, bdims, **kwargs):
    if kwargs.get("axes") is not None or kwargs.get("axis") is not None:
        if ufunc.signature is None:
            raise NoBatchRule("axes=/axis= of a ufunc without core dimensions")
        kwargs["axes"] = _axes_from_end(
            ufunc, args, bdims, kwargs.pop("axes", None), kwargs.pop("axis", None), kwargs.get("keepdims", False)
        )
    values, bdim = broadcast_batched(args, bdims, core_ndims(ufunc.signature, ufunc.nin))
    if ufunc in _SIMD and not kwargs:  # compiled SIMD, where it takes the array
        out = _core.unary_flat(_SIMD[ufunc], values[0])
        if out is not None:
            return out, bdim
    if ufunc in _ROWSCALAR and not kwargs and bdim == 0 and bdims[0] is not None and bdims[1] is not None:
        out = _row_scalar(_ROWSCALAR[ufunc], *values)
        if out is not None:
            return out, 0
    batched = [b is not None for b in bdims]
    if ufunc.signature is None and _parallel.worth_splitting(
        values, values[batched.index(True)].shape[bdim], scale=3 if ufunc in _MEMORY_BOUND else 1
    ):
        return _split_ufunc(ufunc, values, batched, bdim, kwargs), bdim
    return ufunc(*values, **kwargs), bdim


# Ufuncs with a compiled SIMD loop for float64 (vmaprt/_simd.h, _core.unary_flat).
_SIMD = {np.exp: "exp", np.log: "log", np.tanh: "tanh", np.sin: "sin", np.cos: "cos"}

# Arithmetic between a batch and one number per example (x - x.mean(), e / e.sum()):
# the compiled kernel, 0.25-0.55x NumPy's one short loop per example on two threads.
_ROWSCALAR = {np.add: "add", np.subtract: "subtract", np.multiply: "multiply", np.divide: "divide"}


def _row_scalar(name, a, b):
    """``_core.batched_rowscalar`` for whichever of the batch-first ndarrays ``a``,
    ``b`` holds one number per example, or one per row of each example (``[B, m, 1]``
    against ``[B, m, n]``: rows of the merged leading axes, when they merge without a
    copy); None when neither does or the kernel declines."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        return None
    for x, v, v_first in ((a, b, False), (b, a, True)):
        if v.size == v.shape[0]:
            return _core.batched_rowscalar(name, x, v, v_first)
        if x.ndim == v.ndim > 2 and v.shape[-1] == 1 and v.shape[:-1] == x.shape[:-1]:
            rows, per_row = as_rows(x), as_rows(v)
            out = None if rows is None or per_row is None else _core.batched_rowscalar(name, rows, per_row, v_first)
            return None if out is None else out.reshape(x.shape)
    return None


# Ufuncs that do little per element: a second core sharing the memory bus pays
# off only on large batches (0.64-0.72x from 2M elements, 0.9-1.7x at 0.5M;
# docs/performance.rst), so they split from three times the usual work.
_MEMORY_BOUND = {
    np.add, np.subtract, np.multiply, np.negative, np.positive, np.absolute, np.fabs,
    np.maximum, np.minimum, np.fmax, np.fmin, np.square, np.conjugate, np.sign,
    np.copysign, np.equal, np.not_equal, np.less, np.less_equal, np.greater,
    np.greater_equal, np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert, np.left_shift,
    np.right_shift, np.isnan, np.isinf, np.isfinite, np.signbit, np.floor, np.ceil,
    np.trunc, np.rint,
}  # fmt: skip


def _split_ufunc(ufunc, values, batched, bdim, kwargs):
    """A large elementwise call, its batch spread over threads (see vmaprt/_parallel.py)."""
    one = (slice(None),) * bdim + (slice(0, 1),)
    probe = ufunc(*(v[one] if b else v for v, b in zip(values, batched)), **kwargs)
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    # The output takes the memory order of a full-size input, as NumPy's would:
    # writing C order while reading F order would stride through memory.
    like = next((v for v in values if np.shape(v) == shape), None)
    probes = probe if ufunc.nout > 1 else (probe,)
    outs = tuple(np.empty(shape, p.dtype) if like is None else np.empty_like(like, p.dtype) for p in probes)
    return _parallel.split_call(ufunc, values, batched, bdim, outs if ufunc.nout > 1 else outs[0], **kwargs)


@register_ufunc_method("reduce")
def _reduce(ufunc, args, bdims, axis=0, where=True, **kwargs):
    (x,), (bdim,) = args, bdims
    x, bdim, where = with_mask(x, bdim, where)
    x = move_to_front(x, bdim)
    if x.ndim == 1 and axis is not None:  # NumPy's legacy axis 0 or -1 of a 0-d example
        ufunc.reduce(np.zeros((), x.dtype), axis, **kwargs)
        axis = None
    axes = normalize_axes(axis, x.ndim - 1)
    return ufunc.reduce(x, tuple(a + 1 for a in axes), where=where, **kwargs), 0


@register_ufunc_method("accumulate")
def _accumulate(ufunc, args, bdims, axis=0, **kwargs):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    if x.ndim == 1:
        raise TypeError("cannot accumulate on a scalar")
    return ufunc.accumulate(x, normalize_axis(axis, x.ndim - 1) + 1, **kwargs), 0


@register_ufunc_method("reduceat")
def _reduceat(ufunc, args, bdims, axis=0, **kwargs):
    (x, indices), (bdim, ibdim) = args, bdims
    if ibdim is not None:
        raise NoBatchRule("batched segment boundaries")
    x = move_to_front(x, bdim)
    return ufunc.reduceat(x, indices, normalize_axis(axis, x.ndim - 1) + 1, **kwargs), 0


@register_ufunc_method("outer")
def _outer(ufunc, args, bdims, **kwargs):
    """``ufunc.outer(a, b)`` is ``ufunc(a[..., None, ...], b)``: ``a``'s axes, then ``b``'s."""
    (a, b), (ab, bb) = args, bdims
    if ab is not None:
        a, ab = move_to_front(a, ab), 0
    nb = ndim_of(b) - (bb is not None)
    a = np.reshape(a, tuple(shape_of(a)) + (1,) * nb)
    values, bdim = broadcast_batched([a, b], [ab, bb])
    return ufunc(*values, **kwargs), bdim


@register_ufunc_method("at")
def _at(ufunc, args, bdims, **kwargs):
    """In-place ``ufunc.at(a, indices[, b])`` into a batched ``a``, one example at a time
    (unbuffered repeated indices make it a scatter per example)."""
    a, indices, *b = args
    abdim, ibdim, *bbdim = bdims
    if abdim is None:
        raise unbatched_target_error(f"the array that np.{ufunc.__name__}.at writes into")
    a = move_to_front(a, abdim)
    size = a.shape[0]
    # indices: one array, or a tuple of index arrays and slices of which some are batched
    parts, pbdims = (indices, ibdim) if type(ibdim) is list else ([indices], [ibdim])
    parts = [v if d is None else move_to_front(v, d) for v, d in zip(parts, pbdims)]
    b = [bdim_at_front(b[0], bbdim[0], size)] if b else []
    for i in range(size):
        index = [v if d is None else v[i] for v, d in zip(parts, pbdims)]
        ufunc.at(a[i, ...], tuple(index) if type(ibdim) is list else index[0], *(v[i] for v in b))
    return None, None


# Elementwise NumPy functions ----------------------------------------------------------
def _where(args, bdims, *rest):
    if len(args) == 1:
        raise RuntimeError(
            "vmap: np.where(condition) with one argument returns the indices where the "
            "condition holds, whose number differs between examples, so it cannot be "
            "batched. Use the three-argument form np.where(condition, x, y)."
        )
    values, bdim = broadcast_batched(args, bdims)
    return np.where(*values), bdim


register_batch_rule(np.where, _where)


def _clip(args, bdims, *rest, min=np._NoValue, max=np._NoValue, **kwargs):
    """np.clip: the bounds, positional (a_min, a_max) or keyword (min=, max=), batched
    or not, are operands that broadcast with ``a`` per example (NumPy's checks first)."""
    no = np._NoValue
    args, bdims = list(args) + [no] * (3 - len(args)), list(bdims) + [None] * (3 - len(bdims))
    if args[1] is no and args[2] is no:
        for i, bound in enumerate([min, max], 1):
            args[i], bdims[i] = (bound.value, bound.bdim) if type(bound) is Mapped else (bound, None)
    elif args[1] is no or args[2] is no:
        raise TypeError(f"clip() missing 1 required positional argument: '{'a_min' if args[1] is no else 'a_max'}'")
    elif min is not no or max is not no:
        raise ValueError(
            "Passing `min` or `max` keyword argument when `a_min` and `a_max` are provided is forbidden."
        )
    values, bdim = broadcast_batched([None if a is no else a for a in args], bdims)
    return np.clip(*values, *rest, **kwargs), bdim


register_batch_rule(np.clip, _clip, nargs=3, kw_operands=("min", "max"))

defelementwise(np.isclose, nargs=2)
for _f in [np.nan_to_num, np.real_if_close, np.sinc, np.i0, np.angle]:
    defelementwise(_f, nargs=1)

for _f in [np.real, np.imag, np.iscomplex, np.isreal, np.round, np.around, np.fix]:
    defpreserving(_f)


def _copy(args, bdims, order="K", subok=False):
    """np.copy: each example laid out as NumPy's copy of it (Note [per-example layout])."""
    (x,), (bdim,) = args, bdims
    if type(x) is not np.ndarray:  # batched at an outer level too: the inner batch outermost
        if order in ("F", "f"):
            return np.copy(np.moveaxis(x, bdim, -1), order="F", subok=subok), ndim_of(x) - 1
        return np.copy(move_to_front(x, bdim), order="C", subok=subok), 0
    return copy_examples(x, bdim, order), 0


register_batch_rule(np.copy, _copy, nargs=1)


# More elementwise functions ----------------------------------------------------------------
def _select(args, bdims):
    """np.select: every condition, every choice and the default broadcast together."""
    condlist, choicelist, *default = args
    cbs, chbs, *dbs = bdims
    condlist, cbs = _as_list(condlist, cbs)
    choicelist, chbs = _as_list(choicelist, chbs)
    n, default = len(condlist), default[0] if default else 0
    values, bdim = broadcast_batched([*condlist, *choicelist, default], [*cbs, *chbs, *(dbs or [None])])
    return np.select(values[:n], values[n:-1], values[-1]), bdim


def _as_list(seq, bdim):
    """A sequence operand as a list and its bdims; a batched array is split along its
    first per-example axis."""
    if type(bdim) is list:
        return seq, bdim
    if bdim is None:
        return list(seq), [None] * len(seq)
    x = move_to_front(seq, bdim)
    return [x[:, i] for i in range(shape_of(x)[1])], [0] * shape_of(x)[1]


register_batch_rule(np.select, _select, nargs=3)


def _piecewise(args, bdims, funclist, *fargs, **kw):
    """np.piecewise.  Each function runs once, on the selected elements of every
    example at once (``x[cond]`` over the whole batch), so it sees exactly the
    values NumPy's would.  A value batched at several levels cannot be selected
    that way; there each function runs on all of ``x``, and ``np.where`` keeps
    the selected results."""
    (x, condlist), (xb, cb) = args, bdims
    size = batch_size(args, bdims)
    x = bdim_at_front(x, xb, size)
    nd = ndim_of(x) - 1
    if type(cb) is list:
        conds = [bdim_at_front(c, b, size) for c, b in zip(condlist, cb)]
    elif cb is None:
        if np.isscalar(condlist) or (not isinstance(condlist[0], (list, np.ndarray)) and nd != 0):
            condlist = [condlist]
        conds = list(np.asarray(condlist, dtype=bool))
    else:  # one array: a single condition, or conditions along its first axis (NumPy's test)
        c = move_to_front(condlist, cb)
        cnd = ndim_of(c) - 1
        single = cnd == 0 or (cnd == 1 and nd != 0)
        conds = [c] if single else [c[:, i] for i in range(shape_of(c)[1])]
    if len(conds) == len(funclist) - 1:
        conds.append(~np.any(np.stack([np.broadcast_to(c, shape_of(x)) for c in conds]), axis=0) if conds
                     else np.ones(shape_of(x), bool))  # fmt: skip
    elif len(conds) != len(funclist):
        raise ValueError(
            f"with {len(conds)} condition(s), either {len(conds)} or {len(conds) + 1} "
            f"functions are expected"
        )
    conds = [np.broadcast_to(c if type(c) is BatchedArray else np.asarray(c, bool), shape_of(x)) for c in conds]
    nested = any(type(v) is BatchedArray for v in [x, *conds])
    y = np.zeros_like(x)
    try:
        for cond, func in zip(conds, funclist):
            if not callable(func):
                np.copyto(y, func, casting="unsafe", where=cond)
            elif nested:
                with np.errstate(all="ignore"):
                    np.copyto(y, func(x, *fargs, **kw), casting="unsafe", where=cond)
            else:
                vals = x[cond]
                if vals.size > 0:
                    y[cond] = func(vals, *fargs, **kw)
    except RuntimeError as e:  # a function that uses values batched at this level
        raise NoBatchRule("a function that uses batched values") from e
    return y, 0


register_batch_rule(np.piecewise, _piecewise, nargs=2)


def _all_per_example(x):
    """``x.all()`` of each example of a batch-first ``x``."""
    return np.all(flat_examples(x), axis=1)


def _allclose(args, bdims, rtol=1.0e-5, atol=1.0e-8, equal_nan=False):
    values, _ = broadcast_batched(*front(args, bdims))
    return _all_per_example(np.isclose(*values, rtol=rtol, atol=atol, equal_nan=equal_nan)), 0


def _example_shapes(args, bdims):
    return [tuple(shape_of(a))[:b] + tuple(shape_of(a))[b + 1 :] if b is not None else tuple(np.shape(a))
            for a, b in zip(args, bdims)]  # fmt: skip


def _array_equal(args, bdims, equal_nan=False):
    sa, sb = _example_shapes(args, bdims)
    if sa != sb:
        return np.False_, None
    (a, b), _ = broadcast_batched(*front(args, bdims))
    equal = a == b
    if equal_nan and np.result_type(a, b).kind in "fc":
        equal = equal | (np.isnan(a) & np.isnan(b))
    return _all_per_example(np.broadcast_to(equal, np.broadcast_shapes(shape_of(a), shape_of(b)))), 0


def _array_equiv(args, bdims):
    try:
        np.broadcast_shapes(*_example_shapes(args, bdims))
    except ValueError:
        return np.False_, None
    (a, b), _ = broadcast_batched(*front(args, bdims))
    return _all_per_example(np.broadcast_to(a == b, np.broadcast_shapes(shape_of(a), shape_of(b)))), 0


register_batch_rule(np.allclose, _allclose, nargs=2)
register_batch_rule(np.array_equal, _array_equal, nargs=2)
register_batch_rule(np.array_equiv, _array_equiv, nargs=2)

# NumPy's own implementations are ufunc calls, which dispatch.
for _f in [np.isposinf, np.isneginf]:
    register_batch_rule(_f, _f._implementation, nargs=COMPOSITE)

# np.emath: the result is complex where a value is out of the real domain; over a
# batch that is where any example's is, as stacking the per-example results gives.
for _f in [np.emath.sqrt, np.emath.log, np.emath.log2, np.emath.log10, np.emath.arccos,
           np.emath.arcsin, np.emath.arctanh]:  # fmt: skip
    defelementwise(_f, nargs=1)
for _f in [np.emath.logn, np.emath.power]:
    defelementwise(_f, nargs=2)

# Dates: elementwise over arrays of datetime64.
defelementwise(np.is_busday, nargs=1)
defelementwise(np.busday_offset, nargs=2)
defelementwise(np.busday_count, nargs=2)
for _f in [np.datetime_as_string, np.astype]:
    defpreserving(_f)
