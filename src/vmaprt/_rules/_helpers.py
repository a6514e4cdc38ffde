"""Helpers that several rule families share: where the batch axis goes, broadcasting
batched operands, and the registrations of the elementwise and composite families.
A helper of one family lives with that family (``defreducer`` in reductions.py,
``defbatched`` in linalg.py).

Values here are physical: an ``np.ndarray`` or a ``BatchedArray`` of an outer
level (which behaves like an ndarray of its per-example shape).  A bdim of None
marks a value that is the same for every example.
"""

import math

import numpy as np

from .._registry import COMPOSITE, Mapped, register_batch_rule

__all__ = [
    "move_to_front",
    "moveaxis",
    "bdim_at_front",
    "batch_size",
    "ndim_of",
    "shape_of",
    "as_rows",
    "normalize_axis",
    "normalize_axes",
    "broadcast_batched",
    "defelementwise",
    "defpreserving",
    "defcomposite",
    "with_mask",
    "front",
    "flat_examples",
    "along_axis",
    "materialize",
    "anywhere",
    "on_one_example",
    "example_order",
    "example_contiguous",
    "copy_examples",
    "laid_out_per_example",
]

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
