"""Ordering and search: sort, partition, lexsort, searchsorted, digitize, isin.

Sorting along a per-example axis is NumPy's own sort on the batch with the
axis shifted past the batch axis.  Searching in a sorted array that differs
between examples has no NumPy function, so ``bsearch`` runs the binary search
itself, vectorized: every example's every query moves one halving step per
NumPy call, ``log2(n)`` calls in all.
"""

import math

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
def _less(a, b, nan):
    """``a < b`` in NumPy's sort order, where NaN comes after every number (``nan``
    says whether there may be any)."""
    kind = np.result_type(a, b).kind
    if kind == "f" and nan:
        return (a < b) | (np.isnan(b) & ~np.isnan(a))
    if kind == "c":
        ar, br = np.real(a), np.real(b)
        return (ar < br) | ((ar == br) & (np.imag(a) < np.imag(b)))
    return a < b


def row_gather(a):
    """``take(i)``: ``a[r, i[r, k]]`` for a ``[B, n]`` batch of rows and ``[B, m]`` indices.
    A plain array is gathered by flat index, cheaper than take_along_axis."""
    if type(a) is not np.ndarray:
        return lambda i: np.take_along_axis(a, i, axis=1)
    size, n = a.shape
    flat = np.ravel(a)
    offset = (np.arange(size) * n).reshape(size, 1)
    return lambda i: flat[i + offset] if type(i) is np.ndarray else np.take_along_axis(a, i, axis=1)


def bsearch(a, v, side="left"):
    """``np.searchsorted(a[i], v[i], side)`` for every row ``i``: ``a`` is ``[B, n]``
    with each row sorted, ``v`` is ``[B, m]``; returns ``[B, m]`` indices.

    Note [vectorized binary search]
        The answer for a query is the number of elements of its row before it
        (``< v`` for side='left', ``<= v`` for 'right'), and that predicate holds
        for a prefix of the row.  So the count is found a bit at a time, from the
        highest power of two below ``n`` down: each step tries adding the bit
        and keeps it where the element there still comes before the query.
        That is ``n.bit_length()`` steps of a few NumPy calls over the whole
        ``[B, m]``, with the comparisons of NumPy's own search (NaN last), so
        the result is exactly searchsorted's.
    """
    size, n = shape_of(a)
    count = np.zeros(shape_of(v), np.intp)
    if n == 0:
        return count
    nan = np.result_type(a, v).kind == "f" and (anywhere(np.isnan(a)) or anywhere(np.isnan(v)))
    if n <= 64 and math.prod(shape_of(v)) * n <= 1 << 24:  # short rows: count, no search
        a, v = np.expand_dims(a, 1), np.expand_dims(v, 2)  # [B, 1, n], [B, m, 1]
        before = _less(a, v, nan) if side == "left" else ~_less(v, a, nan)
        return np.sum(before, axis=2, dtype=np.intp)
    gather = row_gather(a)
    step = 1 << (n.bit_length() - 1)
    while step:
        trial = np.minimum(count + step, n)
        pivot = gather(trial - 1)
        before = _less(pivot, v, nan) if side == "left" else ~_less(v, pivot, nan)
        count = np.where(before & (count + step <= n), trial, count)
        step >>= 1
    return count


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
    if not anywhere(~increasing):
        return np.reshape(bsearch(bins, x, side), shape), 0
    down = shape_of(bins)[1] - bsearch(np.flip(bins, 1), x, side)
    if not anywhere(increasing):
        return np.reshape(down, shape), 0
    up = bsearch(bins, x, side)
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
