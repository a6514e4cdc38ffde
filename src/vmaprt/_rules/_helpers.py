"""Shared helpers for batch rules: where the batch axis goes, and the family registrations.

Values here are physical: an ``np.ndarray`` or a ``BatchedArray`` of an outer
level (which behaves like an ndarray of its per-example shape).  A bdim of None
marks a value that is the same for every example.
"""

import math

import numpy as np

from .. import _core, _parallel
from .._registry import COMPOSITE, Mapped, register_batch_rule

__all__ = [
    "not_mapped",
    "move_to_front",
    "moveaxis",
    "bdim_at_front",
    "batch_size",
    "ndim_of",
    "normalize_axis",
    "normalize_axes",
    "broadcast_batched",
    "defelementwise",
    "defpreserving",
    "defreducer",
    "defcomposite",
    "with_mask",
    "front",
    "flat_examples",
    "along_axis",
    "buffer",
    "materialize",
    "anywhere",
    "per_example_values",
    "check_core",
    "defbatched",
    "on_one_example",
    "example_order",
    "example_contiguous",
    "copy_examples",
    "laid_out_per_example",
]

not_mapped = None


def ndim_of(x):
    """Number of dimensions of a physical value, Python scalars included."""
    nd = getattr(x, "ndim", None)
    return np.ndim(x) if nd is None else nd


def shape_of(x):
    s = getattr(x, "shape", None)
    return np.shape(x) if s is None else s


def moveaxis(x, src, dst):
    """``np.moveaxis`` for one axis, as a view, skipping the no-op."""
    if src == dst:
        return x
    perm = list(range(x.ndim))
    perm.insert(dst, perm.pop(src))
    return x.transpose(perm)


def move_to_front(x, bdim):
    return moveaxis(x, bdim, 0)


def as_rows(x, split=-1):
    """The ndarray ``x`` as a ``[R, n]`` view: its axes before ``split`` merged into
    the rows, the rest into each row (``split=-1``: rows of the last axis); None
    when that would need a copy.  This is how the compiled row kernels see a
    batch of examples with more than one axis."""
    split %= x.ndim
    try:
        return x.reshape((math.prod(x.shape[:split]), math.prod(x.shape[split:])), copy=False)
    except ValueError:  # the axes do not merge in place
        return None


def bdim_at_front(x, bdim, size):
    """The batch axis of ``x`` first; an unbatched ``x`` is broadcast (a zero-stride view)."""
    if bdim is None:
        return np.broadcast_to(x, (size,) + tuple(shape_of(x)))
    return move_to_front(x, bdim)


def batch_size(args, bdims):
    """Size of the batch, read off the first batched operand."""
    for a, b in zip(args, bdims):
        if type(b) is list:
            n = batch_size(a, b)
            if n is not None:
                return n
        elif b is not None:
            return a.shape[b]
    return None


def normalize_axis(axis, ndim, name="axis"):
    """A per-example axis in ``[-ndim, ndim)`` as a non-negative int."""
    axis = int(axis) if isinstance(axis, np.integer) else axis
    if type(axis) is not int:
        raise TypeError(f"{name} must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(axis, ndim)
    return axis % ndim


def normalize_axes(axis, ndim):
    """An int, a tuple of ints or None (every axis) as a tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError("repeated axis")
        return axes
    return (normalize_axis(axis, ndim),)


def _pad_after_batch(x, n):
    """Insert ``n`` size-1 axes after the leading batch axis (a view)."""
    if n == 0:
        return x
    return x.reshape(x.shape[:1] + (1,) * n + tuple(x.shape[1:]))


def broadcast_batched(args, bdims, core_ndims=None):
    """Line operands up for NumPy broadcasting: returns ``(values, out_bdim)``.

    Batched operands get their batch axis first and size-1 axes after it, so
    their per-example (loop) dimensions meet the unbatched operands', which
    broadcast from the right as they are.  ``core_ndims`` gives the trailing
    core dimensions of each operand of a gufunc; they are left alone.  When
    every batched operand already has the same bdim and the unbatched ones
    cannot reach it, nothing moves and that bdim is the result's.
    """
    if core_ndims is None:
        core_ndims = (0,) * len(args)
    loop = [ndim_of(a) - (b is not None) - c for a, b, c in zip(args, bdims, core_ndims)]
    top = max(loop)
    batched_bdims = {b for b in bdims if b is not None}
    if len(batched_bdims) == 1 and not any(core_ndims):
        (b,) = batched_bdims
        if all(
            n == top if bd is not None else n <= top - b for n, bd in zip(loop, bdims)
        ):
            return list(args), b
    out = []
    for a, b, n in zip(args, bdims, loop):
        if b is None:
            out.append(a)
        else:
            out.append(_pad_after_batch(move_to_front(a, b), top - n))
    return out, 0


def with_mask(x, bdim, where):
    """Line up ``x`` with a ``where=`` mask of a reduction: ``(x, bdim, where)``.

    A batched mask (``Mapped``) and ``x`` both go batch-first and broadcast
    against each other; an unbatched mask broadcasts from the right as it is.
    """
    shape = tuple(shape_of(x))
    shape = shape[:bdim] + shape[bdim + 1 :] if bdim is not None else shape
    mask = where.value if type(where) is Mapped else where
    mshape = tuple(shape_of(mask))
    mshape = mshape[: where.bdim] + mshape[where.bdim + 1 :] if type(where) is Mapped else mshape
    # Per example, the mask broadcasts to the array; never the other way (nor onto the batch axis).
    if len(mshape) > len(shape):
        raise ValueError("input operand has more dimensions than allowed by the axis remapping")
    if any(m != 1 and m != n for m, n in zip(mshape[::-1], shape[::-1])):
        raise ValueError(
            f"operands could not be broadcast together with remapped shapes "
            f"[original->remapped]: {shape} {mshape}"
        )
    if type(where) is not Mapped:
        return x, bdim, where
    size = batch_size([x, where.value], [bdim, where.bdim])
    (x, mask), _ = broadcast_batched(
        [bdim_at_front(x, bdim, size), bdim_at_front(where.value, where.bdim, size)], [0, 0]
    )
    return x, 0, np.broadcast_to(mask, np.broadcast_shapes(shape_of(x), shape_of(mask)))


# Family registrations ------------------------------------------------------------
def defelementwise(func, nargs=None):
    """``func`` broadcasts its operands elementwise (np.where, np.clip, ...)."""

    def rule(args, bdims, *rest, **kwargs):
        values, bdim = broadcast_batched(args, bdims)
        return func(*values, *rest, **kwargs), bdim

    register_batch_rule(func, rule, nargs=nargs)


def defpreserving(func):
    """``func(x, ...)`` works on each element's value and keeps every axis where it is
    (np.real, np.copy, ``*_like``): the batch axis stays put."""

    def rule(args, bdims, *rest, **kwargs):
        (x,), (bdim,) = args, bdims
        return func(x, *rest, **kwargs), bdim

    register_batch_rule(func, rule, nargs=1)


def defreducer(func, flat_when_none=False, masked=False, has_out=True, kernel=None):
    """``func(a, axis=None, ...)`` reduces or scans per-example axes.

    The batch axis goes first and ``axis`` shifts past it.  ``axis=None``
    means every per-example axis, or, with ``flat_when_none`` (argmax,
    cumsum), the flattened example.  ``masked`` reducers take a ``where=`` mask,
    which may be batched.  ``kernel`` names the compiled reduction
    (``_core.batched_reduce``) to use where it wins; large batches of reducers
    that take ``out=`` are otherwise spread over threads (vmaprt/_parallel.py).
    """

    def rule(args, bdims, axis=None, *rest, **kwargs):
        (x,), (bdim,) = args, bdims
        if kernel and not rest:
            out = _kernel_reduce(kernel, x, bdim, axis, kwargs)
            if out is not None:
                return out, 0
        if "where" in kwargs:
            x, bdim, kwargs["where"] = with_mask(x, bdim, kwargs["where"])
        mean = kwargs.get("mean")
        if type(mean) is Mapped:  # std and var given a batched mean=: batch-first, as x
            size = shape_of(mean.value)[mean.bdim]
            x, bdim = bdim_at_front(x, bdim, size), 0
            mean = kwargs["mean"] = bdim_at_front(mean.value, mean.bdim, size)
        x = move_to_front(x, bdim)
        if x.shape[0] == 0 and x.size == 0 and math.prod(x.shape[1:]):
            # Some NumPy reductions (median, quantiles) cannot reshape an empty batch:
            # reduce one example of zeros for the result's shape and dtype, keep none of it.
            one = np.zeros_like(x, shape=(1,) + tuple(x.shape[1:]))
            kwargs.pop("where", None)  # a mask changes neither the shape nor the dtype
            kwargs.pop("mean", None)  # (nor does a given mean)
            out, out_bdim = rule([one], [0], axis, *rest, **kwargs)
            return out[:0], out_bdim
        nd = x.ndim - 1
        if nd == 0 and axis is not None:
            # NumPy's legacy acceptance of axis 0 or -1 for a 0-d example (np.sum, np.max,
            # np.cumsum; np.mean refuses): its own check, then the whole example.
            func(np.zeros((), x.dtype), axis, *rest, **{k: v for k, v in kwargs.items() if k not in ("where", "mean")})
            axis = None
        if axis is None and flat_when_none:
            keepdims = kwargs.pop("keepdims", False)
            flat = x.reshape(x.shape[0], math.prod(x.shape[1:]))
            out = func(flat, 1, *rest, **kwargs)
            if keepdims:
                out = out.reshape((out.shape[0],) + (1,) * nd)
            return out, 0
        axes = normalize_axes(axis, nd)
        shifted = tuple(a + 1 for a in axes)
        if not isinstance(axis, (tuple, list)) and axis is not None:
            shifted = shifted[0]
        if has_out and not rest and mean is None and _parallel.worth_splitting([x], x.shape[0], scale=3):
            return _split_reduce(func, x, shifted, kwargs), 0
        return func(x, shifted, *rest, **kwargs), 0

    takes_mean = func in (np.std, np.var, np.nanstd, np.nanvar)
    operands = (("where",) if masked else ()) + (("mean",) if takes_mean else ())
    register_batch_rule(func, rule, nargs=1, kw_operands=operands)


def _kernel_reduce(kernel, x, bdim, axis, kwargs):
    """``_core.batched_reduce`` over the whole example or its last axis, where
    ``_core.reduce_wins`` says it pays; None otherwise.  An example of several
    axes is reduced as rows: its leading axes (and the batch) merge into one,
    which must be possible without a copy.  NumPy reduces short last axes one
    inner loop per row: on [20000, 16, 4], ``x.mean(axis=-1)`` took 10 ms."""
    ddof, keepdims = kwargs.get("ddof", 0), kwargs.get("keepdims", False)
    if not set(kwargs) <= {"ddof", "keepdims"} or type(keepdims) is not bool:
        return None
    if type(x) is not np.ndarray or not isinstance(ddof, (int, float, np.integer, np.floating)):
        return None
    nd = x.ndim - 1
    if nd < 1 or axis is not None and (
        type(axis) is bool or not isinstance(axis, (int, np.integer)) or axis not in (-1, nd - 1)
    ):
        return None
    if nd == 1:  # (the kernel reads x as it is: the view below costs 2.3 us of a 10 us call)
        if not _core.reduce_wins(kernel, x, bdim):
            return None
        out = _core.batched_reduce(kernel, x, bdim, ddof)
    else:
        x = move_to_front(x, bdim)
        lead = x.shape[:-1] if axis is not None else x.shape[:1]  # the axes the result keeps
        rows = as_rows(x, len(lead))
        if rows is None or not _core.reduce_wins(kernel, rows, 0):
            return None
        out = _core.batched_reduce(kernel, rows, 0, ddof).reshape(lead)
    if keepdims:
        out = out.reshape(out.shape + (1,) * (nd + 1 - out.ndim))
    return out


def _split_reduce(func, x, axis, kwargs):
    """A large reduction with the batch (axis 0 of ``x``) spread over threads."""
    where = kwargs.pop("where", None)
    masked = isinstance(where, np.ndarray) and where.ndim == x.ndim and where.shape[0] == x.shape[0]
    if where is not None and not masked:
        kwargs["where"] = where  # an unbatched mask goes to every piece as it is

    def call(*xs, out):
        extra = {"where": xs[1]} if masked else {}
        func(xs[0], axis, out=out, **kwargs, **extra)

    probe = func(x[:1], axis, **kwargs, **({"where": where[:1]} if masked else {}))
    out = np.empty((x.shape[0],) + probe.shape[1:], dtype=probe.dtype)
    values, batched = ([x, where], [True, True]) if masked else ([x], [True])
    return _parallel.split_call(call, values, batched, 0, out)


def defcomposite(func):
    """``func``'s own NumPy implementation is made of calls that dispatch by themselves
    (``np.hstack`` is ``atleast_1d`` then ``concatenate``): run it on the BatchedArrays."""
    register_batch_rule(func, func._implementation, nargs=COMPOSITE)


# Helpers of the coverage families (linalg, sorting, statistics, ...) ----------------------
def front(args, bdims):
    """Batched operands batch-first: ``(values, bdims)`` with every bdim 0 or None."""
    values = [a if b is None else move_to_front(a, b) for a, b in zip(args, bdims)]
    return values, [None if b is None else 0 for b in bdims]


def flat_examples(x):
    """A batch-first ``x`` with each example raveled: ``[B, n]``."""
    s = shape_of(x)
    return np.reshape(x, (s[0], math.prod(s[1:])))


def along_axis(x, bdim, axis):
    """``x`` batch-first and the physical axis for a per-example ``axis``;
    None ravels each example (``np.sort(x, axis=None)``)."""
    x = move_to_front(x, bdim)
    if axis is None:
        return flat_examples(x), 1
    return x, normalize_axis(axis, ndim_of(x) - 1) + 1


def deepest(values):
    """The BatchedArray of the innermost (outer) level among ``values``, or None."""
    from .._batched import BatchedArray

    best = None
    for v in values:
        if type(v) is BatchedArray and (best is None or v.level.depth > best.level.depth):
            best = v
    return best


def buffer(shape, dtype, *values):
    """``np.empty(shape, dtype)`` that can be written with ``values``, which may be
    batched at outer levels (then the buffer is too, via ``like=``)."""
    like = deepest(values)
    if like is None:
        return np.empty(shape, dtype=dtype)
    return np.empty(shape, dtype=dtype, like=like)


def materialize(x):
    """A physical value as a plain ndarray, for checks of the data itself.

    A value batched at outer levels (a ``BatchedArray``) has every outer batch
    axis moved first.  Returns ``(array, n)``, ``n`` the number of those axes;
    the axes after them are ``x``'s own.
    """
    from .._batched import BatchedArray

    if type(x) is not BatchedArray:
        return np.asarray(x), 0
    v, n = materialize(x.value)
    return moveaxis(v, n + x.bdim, n), n + 1


def anywhere(cond):
    """Whether ``cond`` holds for any element of any example, at any level (a Python bool)."""
    return bool(np.any(materialize(cond)[0]))


def per_example_values(x, bdim):
    """``x``'s reduction-ready form: a plain ndarray ``[N, ...]`` whose first axis runs
    over every example of every level (the current batch axis included)."""
    v, n = materialize(move_to_front(x, bdim))
    return np.reshape(v, (math.prod(v.shape[: n + 1]),) + v.shape[n + 1 :])


def check_core(x, bdim, core):
    """np.linalg's error for a per-example operand with fewer than ``core`` dimensions
    (the batch axis must never be read as a matrix axis)."""
    nd = ndim_of(x) - (bdim is not None)
    if nd < core:
        words = {1: "one", 2: "two"}.get(core, str(core))
        raise np.linalg.LinAlgError(
            f"{nd}-dimensional array given. Array must be at least {words}-dimensional"
        )


def defbatched(func, core_ndims=(2,), nargs=None):
    """``func`` takes stacks natively (``np.linalg.inv`` on ``[..., M, M]``): the batched
    operands go first, with size-1 stack axes so their stacks line up with the
    unbatched ones', and NumPy broadcasts the rest.  ``core_ndims`` gives each
    operand's trailing core dimensions."""

    def rule(args, bdims, *rest, **kwargs):
        for x, b, c in zip(args, bdims, core_ndims):
            check_core(x, b, c)
        values, _ = broadcast_batched(*front(args, bdims), core_ndims)
        return func(*values, *rest, **kwargs), 0

    register_batch_rule(func, rule, nargs=len(core_ndims) if nargs is None else nargs)


def on_one_example(rule, args, bdims, *rest, **kwargs):
    """The result of ``rule`` for an empty batch, from a batch of one example of ones.

    Some NumPy functions cannot run on an empty batch (a reshape of 0 elements
    to ``-1``, a mean of no elements); one example gives the result's shape and
    dtype, and none of it is kept.
    """
    one = [
        a if b is None else np.ones_like(move_to_front(a, b), shape=(1,) + tuple(shape_of(a))[:b] + tuple(shape_of(a))[b + 1 :])
        for a, b in zip(args, bdims)
    ]
    out, out_bdim = rule(one, [None if b is None else 0 for b in bdims], *rest, **kwargs)
    return _empty_along(out, out_bdim), out_bdim


def _empty_along(out, bdim):
    if bdim is None:
        return out
    if isinstance(out, (tuple, list)):
        bdims = (bdim,) * len(out) if type(bdim) is int else bdim
        return type(out)(_empty_along(o, b) for o, b in zip(out, bdims))
    return out[(slice(None),) * bdim + (slice(0, 0),)]


# Note [per-example layout]
#     Whether ravel/reshape return a view, and so whether a write through them
#     reaches the array, depends on one example's memory layout.  An example's
#     layout is the physical array's strides without the batch axis, so it matches
#     the loop's ``x[i]`` for inputs; copies made under vmap (``.copy()``,
#     ``astype``) put the batch axis outermost, so that each example is contiguous
#     in the order NumPy's copy of it would be, and so do new results (of
#     ufuncs, and of every rule, in apply_rule) whose batch axis would otherwise
#     lie between an example's axes in memory (mapping over a middle or the last
#     axis): NumPy's result for one example is contiguous.  That one costs a
#     copy.  Not covered: the order of a contiguous example where NumPy picks
#     a non-C one for a function's result (np.concatenate of F-ordered examples
#     is F-ordered in NumPy, C-ordered here).
def example_order(x, order):
    """The per-example axis order (a permutation, outermost first) that ``order``
    ('C', 'F', 'A', 'K') means for one example of the batch-first ``x``."""
    nd = ndim_of(x) - 1
    order = order.upper() if isinstance(order, str) else "C" if order is None else order
    c = tuple(range(nd))
    if order == "C" or nd < 2:
        return c
    if order == "F":
        return c[::-1]
    if order == "A":
        return c[::-1] if example_contiguous(x, c[::-1]) and not example_contiguous(x, c) else c
    if order == "K":
        if example_contiguous(x, c):
            return c
        if example_contiguous(x, c[::-1]):
            return c[::-1]
        strides = _example_strides(x)
        return tuple(sorted(c, key=lambda i: -abs(strides[i])))
    raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")


def _example_strides(x):
    """One example's strides of the batch-first ``x``, batched at any number of levels."""
    v, n = materialize(x)  # (views of the one ndarray underneath: every batch axis first)
    return v.strides[n + 1 :] if n else v.strides[1:]


def example_contiguous(x, perm):
    """Whether each example of the batch-first ``x``, its axes taken in the order
    ``perm``, is one contiguous block (size-1 axes do not count, as in NumPy's flags)."""
    shape, strides = tuple(shape_of(x))[1:], _example_strides(x)
    if 0 in shape:
        return True
    step = x.dtype.itemsize
    for i in reversed(perm):
        if shape[i] == 1:
            continue
        if strides[i] != step:
            return False
        step *= shape[i]
    return True


def copy_examples(x, bdim, order="K", dtype=None):
    """A copy of the ndarray ``x`` with the batch axis outermost and each example laid out
    as NumPy's copy of one example with ``order`` would be (Note [per-example layout]);
    batch-first."""
    x = move_to_front(x, bdim)
    perm = example_order(x, order)
    if perm == tuple(range(x.ndim - 1)):
        return np.array(x, dtype=dtype, order="C", copy=True)
    inverse = np.argsort((0,) + tuple(p + 1 for p in perm))
    y = np.array(x.transpose((0,) + tuple(p + 1 for p in perm)), dtype=dtype, order="C", copy=True)
    return y.transpose(inverse)


def laid_out_per_example(out, bdim):
    """A new result ``out`` with each example contiguous, in the memory order of its
    axes, as NumPy's result for one example is: ``(out, bdim)`` unchanged when it is,
    a copy with the batch axis outermost otherwise (Note [per-example layout])."""
    if bdim == 0 and type(out) is np.ndarray and out.flags.c_contiguous:
        return out, bdim
    x = move_to_front(out, bdim)
    if example_contiguous(x, example_order(x, "K")):
        return out, bdim
    if type(out) is np.ndarray:
        return copy_examples(out, bdim, "K"), 0
    return np.copy(x, order="C"), 0  # (batched at outer levels too: their copy puts this batch outermost)
