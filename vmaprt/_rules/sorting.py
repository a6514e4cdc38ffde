"""Ordering and search: sort, partition, lexsort, searchsorted, digitize, isin.

Sorting along a per-example axis is NumPy's own sort on the batch with the
axis shifted past the batch axis.  Searching in a sorted array that differs
between examples has no NumPy function, so ``bsearch`` runs the binary search
itself, vectorized: every example's every query moves one halving step per
NumPy call, ``log2(n)`` calls in all.
"""

import numpy as np

from .._registry import Mapped, register_batch_rule
from ._helpers import (
    along_axis,
    anywhere,
    batch_size,
    bdim_at_front,
    flat_examples,
    move_to_front,
    ndim_of,
    normalize_axis,
    shape_of,
)


def _sort_rule(func):
    """``func(a, axis=-1, ...)`` (sort, argsort): ``axis=None`` sorts each raveled example."""

    def rule(args, bdims, axis=-1, *rest, **kwargs):
        (x,), (bdim,) = args, bdims
        x, axis = along_axis(x, bdim, axis)
        return func(x, axis, *rest, **kwargs), 0

    return rule


def _partition_rule(func):
    """``func(a, kth, axis=-1, ...)`` (partition, argpartition)."""

    def rule(args, bdims, kth, axis=-1, *rest, **kwargs):
        (x,), (bdim,) = args, bdims
        x, axis = along_axis(x, bdim, axis)
        return func(x, kth, axis, *rest, **kwargs), 0

    return rule


for _f in [np.sort, np.argsort]:
    register_batch_rule(_f, _sort_rule(_f), nargs=1)
for _f in [np.partition, np.argpartition]:
    register_batch_rule(_f, _partition_rule(_f), nargs=1)


def _sort_complex(args, bdims):
    (x,), (bdim,) = args, bdims
    x, _ = along_axis(x, bdim, -1)
    return np.sort_complex(x), 0


register_batch_rule(np.sort_complex, _sort_complex, nargs=1)


def _lexsort(args, bdims, axis=-1):
    """np.lexsort of a sequence of keys, or of an array whose first axis runs over them."""
    (keys,), (kbdims,) = args, bdims
    if type(kbdims) is list:
        size = batch_size(keys, kbdims)
        keys = [bdim_at_front(k, b, size) for k, b in zip(keys, kbdims)]
    else:
        x = move_to_front(keys, kbdims)
        keys = [x[:, i] for i in range(shape_of(x)[1])]
    return np.lexsort(tuple(keys), axis=normalize_axis(axis, ndim_of(keys[0]) - 1) + 1), 0


register_batch_rule(np.lexsort, _lexsort, nargs=1)


# Binary search in a batch of sorted rows --------------------------------------------
def _less(a, b):
    """``a < b`` in NumPy's sort order, where NaN comes after every number."""
    kind = np.result_type(a, b).kind
    if kind == "f":
        return (a < b) | (np.isnan(b) & ~np.isnan(a))
    if kind == "c":
        ar, br = np.real(a), np.real(b)
        return (ar < br) | ((ar == br) & (np.imag(a) < np.imag(b)))
    return a < b


def bsearch(a, v, side="left"):
    """``np.searchsorted(a[i], v[i], side)`` for every row ``i``: ``a`` is ``[B, n]``
    with each row sorted, ``v`` is ``[B, m]``; returns ``[B, m]`` indices.

    Note [vectorized binary search]
        ``lo``/``hi`` bracket each query's answer; one step halves every bracket
        that is still open, so ``n.bit_length()`` steps close them all.  A step is
        a few NumPy calls over the whole ``[B, m]``, with the comparisons of
        NumPy's own search (NaN last), so the result is exactly searchsorted's.
    """
    n = shape_of(a)[1]
    lo = np.zeros(shape_of(v), np.intp)
    hi = np.full(shape_of(v), n, np.intp)
    for _ in range(n.bit_length()):
        mid = (lo + hi) >> 1
        pivot = np.take_along_axis(a, np.minimum(mid, n - 1), axis=1)
        go_right = _less(pivot, v) if side == "left" else ~_less(v, pivot)
        open_ = lo < hi
        lo, hi = (
            np.where(open_ & go_right, mid + 1, lo),
            np.where(open_ & ~go_right, mid, hi),
        )
    return lo


def _searchsorted(args, bdims, side="left", sorter=None):
    (a, v), (ab, vb) = args, bdims
    if type(sorter) is Mapped:  # a batched sorter: each example's array in its own order
        size = batch_size([a, v, sorter.value], [ab, vb, sorter.bdim])
        a = np.take_along_axis(bdim_at_front(a, ab, size), move_to_front(sorter.value, sorter.bdim), axis=1)
        ab, sorter = 0, None
    if ab is None:  # one sorted array: NumPy searches every example's values at once
        return np.searchsorted(a, v, side=side, sorter=sorter), vb
    a = move_to_front(a, ab)
    if ndim_of(a) != 2:
        raise ValueError("object too deep for desired array")
    if sorter is not None:
        a = np.take(a, sorter, axis=1)
    v = bdim_at_front(v, vb, shape_of(a)[0])
    shape = shape_of(v)
    return np.reshape(bsearch(a, flat_examples(v), side), shape), 0


register_batch_rule(np.searchsorted, _searchsorted, nargs=2, kw_operands=("sorter",))


def _digitize(args, bdims, right=False):
    """np.digitize; batched bins may increase in one example and decrease in another."""
    (x, bins), (xb, bb) = args, bdims
    if bb is None:
        return np.digitize(x, bins, right), xb
    bins = move_to_front(bins, bb)
    if np.result_type(x).kind == "c":
        raise TypeError("x may not be complex")
    steps = np.diff(bins, axis=1)
    increasing = np.all(steps >= 0, axis=1)
    if anywhere(~increasing & ~np.all(steps <= 0, axis=1)):
        raise ValueError("bins must be monotonically increasing or decreasing")
    x = bdim_at_front(x, xb, shape_of(bins)[0])
    shape = shape_of(x)
    x = flat_examples(x)
    side = "left" if right else "right"
    up = bsearch(bins, x, side)
    down = shape_of(bins)[1] - bsearch(np.flip(bins, 1), x, side)
    return np.reshape(np.where(np.expand_dims(increasing, 1), up, down), shape), 0


register_batch_rule(np.digitize, _digitize, nargs=2)


def _isin(args, bdims, assume_unique=False, invert=False, *, kind=None):
    """np.isin; batched test elements are sorted per example and searched."""
    (e, t), (eb, tb) = args, bdims
    if tb is None:
        return np.isin(e, t, assume_unique, invert, kind=kind), eb
    t = np.sort(flat_examples(move_to_front(t, tb)), axis=1)
    e = bdim_at_front(e, eb, shape_of(t)[0])
    shape = shape_of(e)
    e = flat_examples(e)
    n = shape_of(t)[1]
    if n == 0:
        found = np.zeros(shape_of(e), bool)
    else:
        found = np.take_along_axis(t, np.minimum(bsearch(t, e), n - 1), axis=1) == e
    return np.reshape(found != bool(invert), shape), 0


register_batch_rule(np.isin, _isin, nargs=2)
