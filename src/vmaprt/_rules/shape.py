"""Shape operations: the batch axis goes first and per-example axes shift by one."""

import math

import numpy as np

from .. import _batched
from .._registry import COMPOSITE, Mapped, NoBatchRule, register_batch_rule
from ._helpers import (
    along_axis,
    bdim_at_front,
    batch_size,
    defcomposite,
    example_contiguous,
    example_order,
    flat_examples,
    move_to_front,
    moveaxis,
    ndim_of,
    normalize_axes,
    normalize_axis,
    on_one_example,
    shape_of,
)


def _resolve_shape(shape, size):
    """A per-example target shape with its -1 worked out, as NumPy would for one example."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) == 1:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    return shape


def _reshape(args, bdims, shape=None, order="C", *, newshape=None, copy=None):
    (x,), (bdim,) = args, bdims
    shape = newshape if shape is None else shape
    if _scalars(x) and shape != ():  # a NumPy scalar reshaped is a new array
        x = np.copy(x)
    per_example = shape_of(x)[:bdim] + shape_of(x)[bdim + 1 :]
    shape = _resolve_shape(shape, math.prod(per_example))
    if order in ("F", "f"):  # the batch axis last keeps every example's F-order walk
        x = np.moveaxis(x, bdim, -1)
        return np.reshape(x, shape + (x.shape[-1],), order="F", copy=copy), len(shape)
    x = move_to_front(x, bdim)
    return np.reshape(x, (x.shape[0],) + shape, order=order, copy=copy), 0


register_batch_rule(np.reshape, _reshape, nargs=1)


def _ravel(args, bdims, order="C"):
    """np.ravel: a view exactly when NumPy's ravel of one example is one, that is when
    the example is contiguous in the order asked (Note [per-example layout]); 'K'
    takes the example's elements in memory order."""
    (x,), (bdim,) = args, bdims
    if _scalars(x):  # a NumPy scalar raveled is a new array
        return np.reshape(np.copy(x), (-1, 1)), 0
    x = move_to_front(x, bdim)
    perm = example_order(x, order)
    x = np.transpose(x, (0,) + tuple(p + 1 for p in perm))
    flat = (shape_of(x)[0], math.prod(shape_of(x)[1:]))
    return np.reshape(x, flat, copy=None if example_contiguous(x, range(ndim_of(x) - 1)) else True), 0


register_batch_rule(np.ravel, _ravel, nargs=1)


def _scalars(x):
    """Whether the physical ``x`` holds one NumPy scalar per example (Note [scalars per
    example] in vmaprt/_batched.py)."""
    v = _batched._storage(x)
    return ndim_of(x) == 1 and type(v) is np.ndarray and not v.flags.writeable


def _transpose(args, bdims, axes=None):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = x.ndim - 1
    axes = range(nd - 1, -1, -1) if axes is None else [normalize_axis(a, nd) for a in axes]
    if len(axes) != nd:
        raise ValueError("axes don't match array")
    return np.transpose(x, (0, *(a + 1 for a in axes))), 0


register_batch_rule(np.transpose, _transpose, nargs=1)


def _swapaxes(args, bdims, axis1, axis2):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = x.ndim - 1
    return np.swapaxes(x, normalize_axis(axis1, nd) + 1, normalize_axis(axis2, nd) + 1), 0


register_batch_rule(np.swapaxes, _swapaxes, nargs=1)
register_batch_rule(np.matrix_transpose, lambda args, bdims: _swapaxes(args, bdims, -1, -2), nargs=1)


def _moveaxis(args, bdims, source, destination):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = x.ndim - 1
    source = [a + 1 for a in normalize_axes(source, nd)]
    destination = [a + 1 for a in normalize_axes(destination, nd)]
    return np.moveaxis(x, source, destination), 0


register_batch_rule(np.moveaxis, _moveaxis, nargs=1)


def _expand_dims(args, bdims, axis):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    n_new = len(axis) if isinstance(axis, (tuple, list)) else 1
    axes = normalize_axes(axis, x.ndim - 1 + n_new)
    return np.expand_dims(x, tuple(a + 1 for a in axes)), 0


register_batch_rule(np.expand_dims, _expand_dims, nargs=1)


def _squeeze(args, bdims, axis=None):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    shape = shape_of(x)[1:]
    if axis is None:
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        axes = normalize_axes(axis, len(shape))
        if any(shape[a] != 1 for a in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return np.squeeze(x, tuple(a + 1 for a in axes)), 0


register_batch_rule(np.squeeze, _squeeze, nargs=1)


def _front_all(arrays, bdims):
    """Every array of a sequence batch-first; unbatched ones broadcast (no copy)."""
    size = batch_size(arrays, bdims)
    return [bdim_at_front(a, b, size) for a, b in zip(arrays, bdims)], size


def _concatenate(args, bdims, axis=0, **kwargs):
    (arrays,), (abdims,) = args, bdims
    arrays, size = _front_all(arrays, abdims)
    if axis is None:
        arrays = [np.reshape(a, (size, math.prod(shape_of(a)[1:]))) for a in arrays]
        return np.concatenate(arrays, 1, **kwargs), 0
    return np.concatenate(arrays, normalize_axis(axis, len(shape_of(arrays[0])) - 1) + 1, **kwargs), 0


register_batch_rule(np.concatenate, _concatenate, nargs=1)


def _stack(args, bdims, axis=0, **kwargs):
    (arrays,), (abdims,) = args, bdims
    arrays, _ = _front_all(arrays, abdims)
    return np.stack(arrays, normalize_axis(axis, len(shape_of(arrays[0]))) + 1, **kwargs), 0


register_batch_rule(np.stack, _stack, nargs=1)


def _broadcast_to(args, bdims, shape, subok=False):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    nd = len(shape_of(x)) - 1
    if nd > len(shape):
        raise ValueError(
            f"input operand has more dimensions than allowed by the axis remapping"
        )
    x = np.reshape(x, shape_of(x)[:1] + (1,) * (len(shape) - nd) + tuple(shape_of(x)[1:]))
    return np.broadcast_to(x, shape_of(x)[:1] + shape, subok=subok), 0


register_batch_rule(np.broadcast_to, _broadcast_to, nargs=1)


def _flip(args, bdims, axis=None):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    return np.flip(x, tuple(a + 1 for a in normalize_axes(axis, x.ndim - 1))), 0


register_batch_rule(np.flip, _flip, nargs=1)


def _atleast(nd):
    def rule(args, bdims):
        out = []
        for x, b in zip(args, bdims):
            if b is None:
                out.append((np.atleast_1d, np.atleast_2d, np.atleast_3d)[nd - 1](x))
                continue
            x = move_to_front(x, b)
            shape = tuple(shape_of(x)[1:])
            if len(shape) < nd:
                if nd == 3 and len(shape) == 2:
                    shape = shape + (1,)
                elif nd == 3 and len(shape) == 1:
                    shape = (1,) + shape + (1,)
                else:
                    shape = (1,) * (nd - len(shape)) + shape
            out.append(np.reshape(x, shape_of(x)[:1] + shape))
        bd = tuple(None if b is None else 0 for b in bdims)
        return (out[0], bd[0]) if len(out) == 1 else (tuple(out), bd)

    return rule


register_batch_rule(np.atleast_1d, _atleast(1))
register_batch_rule(np.atleast_2d, _atleast(2))
register_batch_rule(np.atleast_3d, _atleast(3))

# Functions whose NumPy implementation is made of calls that dispatch by themselves.
for _f in [np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj, np.hstack, np.vstack,
           np.dstack]:  # fmt: skip
    defcomposite(_f)


# More shape operations ------------------------------------------------------------------------
def _split(func):
    """``func(ary, indices_or_sections, axis=0)`` (split, array_split): a list of pieces."""

    def rule(args, bdims, indices_or_sections, axis=0):
        (x,), (bdim,) = args, bdims
        x = move_to_front(x, bdim)
        return list(func(x, indices_or_sections, normalize_axis(axis, ndim_of(x) - 1) + 1)), 0

    return rule


for _f in [np.split, np.array_split]:
    register_batch_rule(_f, _split(_f), nargs=1)


def _split_along(min_ndim, axis_of, what):
    """hsplit, vsplit, dsplit: np.split along an axis fixed by the example's rank."""

    def rule(args, bdims, indices_or_sections):
        (x,), (bdim,) = args, bdims
        x = move_to_front(x, bdim)
        nd = ndim_of(x) - 1
        if nd < min_ndim:
            raise ValueError(f"{what} only works on arrays of {min_ndim} or more dimensions")
        return list(np.split(x, indices_or_sections, axis_of(nd) + 1)), 0

    return rule


register_batch_rule(np.hsplit, _split_along(1, lambda nd: 1 if nd > 1 else 0, "hsplit"), nargs=1)
register_batch_rule(np.vsplit, _split_along(2, lambda nd: 0, "vsplit"), nargs=1)
register_batch_rule(np.dsplit, _split_along(3, lambda nd: 2, "dsplit"), nargs=1)


def _unstack(args, bdims, *, axis=0):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    axis = normalize_axis(axis, ndim_of(x) - 1) + 1
    return tuple(x[(slice(None),) * axis + (i,)] for i in range(shape_of(x)[axis])), 0


register_batch_rule(np.unstack, _unstack, nargs=1)


def _tile(args, bdims, reps):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    reps = tuple(reps) if np.iterable(reps) else (reps,)
    shape = tuple(shape_of(x)[1:])
    reps = (1,) * (len(shape) - len(reps)) + reps
    x = np.reshape(x, shape_of(x)[:1] + (1,) * (len(reps) - len(shape)) + shape)
    return np.tile(x, (1,) + reps), 0


register_batch_rule(np.tile, _tile, nargs=1)


def _repeat(args, bdims, repeats, axis=None):
    (x,), (bdim,) = args, bdims
    x, axis = along_axis(x, bdim, axis)
    return np.repeat(x, repeats, axis), 0


register_batch_rule(np.repeat, _repeat, nargs=1)


def _roll(args, bdims, axis=None):
    """np.roll; a batched shift (one per example) gathers with shifted indices."""
    (x, shift), (bdim, sbdim) = args, bdims
    size = batch_size(args, bdims)
    x = bdim_at_front(x, bdim, size)
    shape = shape_of(x)
    if sbdim is None:
        if axis is None:
            return np.reshape(np.roll(flat_examples(x), shift, 1), shape), 0
        axes = [normalize_axis(a, len(shape) - 1) + 1 for a in (axis if np.iterable(axis) else (axis,))]
        return np.roll(x, shift, tuple(axes) if np.iterable(axis) else axes[0]), 0
    shift = move_to_front(shift, sbdim)
    if ndim_of(shift) != 1 or np.iterable(axis):
        raise NoBatchRule("a batched shift of several axes")
    flat, ax = along_axis(x, 0, axis)
    n = shape_of(flat)[ax]
    if n == 0:
        return np.copy(x), 0
    index = np.mod(np.arange(n) - np.reshape(shift, (size, 1)), n)  # [B, n]
    index = np.reshape(index, (size,) + (1,) * (ax - 1) + (n,) + (1,) * (ndim_of(flat) - ax - 1))
    return np.reshape(np.take_along_axis(flat, index, axis=ax), shape), 0


register_batch_rule(np.roll, _roll, nargs=2)


def _rollaxis(args, bdims, axis, start=0):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    n = ndim_of(x) - 1
    axis = normalize_axis(axis, n)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(
            f"'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in"
        )
    if axis < start:
        start -= 1
    order = [a for a in range(n) if a != axis]
    order.insert(start, axis)
    return np.transpose(x, (0, *(a + 1 for a in order))), 0


register_batch_rule(np.rollaxis, _rollaxis, nargs=1)


def _rot90(args, bdims, k=1, axes=(0, 1)):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    a0, a1 = (normalize_axis(a, ndim_of(x) - 1) for a in axes)
    if a0 == a1:
        raise ValueError("Axes must be different.")
    return np.rot90(x, k, (a0 + 1, a1 + 1)), 0


register_batch_rule(np.rot90, _rot90, nargs=1)


def _flip_fixed(axis, min_ndim):
    """fliplr (axis 1, at least 2-D), flipud (axis 0, at least 1-D)."""

    def rule(args, bdims):
        (x,), (bdim,) = args, bdims
        x = move_to_front(x, bdim)
        if ndim_of(x) - 1 < min_ndim:
            raise ValueError(f"Input must be >= {min_ndim}-d.")
        return np.flip(x, axis + 1), 0

    return rule


register_batch_rule(np.fliplr, _flip_fixed(1, 2), nargs=1)
register_batch_rule(np.flipud, _flip_fixed(0, 1), nargs=1)


def _pad(args, bdims, pad_width, mode="constant", **kwargs):
    """np.pad with a (0, 0) pad for the batch axis; per-axis options get a row for it too."""
    (x,), (bdim,) = args, bdims
    if callable(mode):
        raise NoBatchRule("a function as mode")
    fill = kwargs.get("constant_values")
    if type(fill) is Mapped:
        x, bdim = bdim_at_front(x, bdim, shape_of(fill.value)[fill.bdim]), 0
    x = move_to_front(x, bdim)
    nd = ndim_of(x) - 1
    if isinstance(pad_width, dict):
        pad_width = {normalize_axis(a, nd) + 1: w for a, w in pad_width.items()}
    else:
        pad_width = ((0, 0),) + tuple(map(tuple, np.broadcast_to(np.asarray(pad_width), (nd, 2))))
    if type(fill) is Mapped:  # one number per example: pad with 0, then fill the border
        if mode != "constant" or ndim_of(fill.value) != 1:
            raise NoBatchRule("a batched constant_values= other than one number per example")
        del kwargs["constant_values"]
        border = np.pad(np.zeros((1,) + tuple(shape_of(x)[1:]), bool), pad_width, constant_values=True)
        out = np.pad(x, pad_width, mode, **kwargs)
        fill = move_to_front(fill.value, fill.bdim).astype(out.dtype)
        return np.where(border, np.reshape(fill, (-1,) + (1,) * nd), out), 0
    for key, value in kwargs.items():
        if key in ("stat_length", "constant_values", "end_values") and np.ndim(value) == 2:
            rows = np.broadcast_to(np.asarray(value), (nd, 2))
            kwargs[key] = np.concatenate([rows[:1], rows])  # the batch axis is not padded
    return np.pad(x, pad_width, mode, **kwargs), 0


register_batch_rule(np.pad, _pad, nargs=1, kw_operands=("constant_values",))


def _triangle(func):
    """tril, triu act on the last two axes; a vector per example is a row repeated."""

    def rule(args, bdims, k=0):
        (x,), (bdim,) = args, bdims
        x = move_to_front(x, bdim)
        if ndim_of(x) == 1:
            func(np.zeros(()), k)  # NumPy's error for a 0-d example
        if ndim_of(x) == 2:
            n = shape_of(x)[1]
            x = np.broadcast_to(np.expand_dims(x, 1), (shape_of(x)[0], n, n))
        return func(x, k), 0

    return rule


for _f in [np.tril, np.triu]:
    register_batch_rule(_f, _triangle(_f), nargs=1)


def _diag(args, bdims, k=0):
    """np.diag: a matrix's diagonal, or a vector placed on one."""
    (v,), (bdim,) = args, bdims
    v = move_to_front(v, bdim)
    if ndim_of(v) == 3:
        return np.diagonal(v, k, 1, 2), 0
    if ndim_of(v) != 2:
        raise ValueError("Input must be 1- or 2-d.")
    size, m = shape_of(v)
    n = m + abs(k)
    out = np.zeros_like(v, shape=(size, n, n))
    i = np.arange(m)
    out[:, i + max(-k, 0), i + max(k, 0)] = v
    return out, 0


register_batch_rule(np.diag, _diag, nargs=1)


def _diagflat(args, bdims, k=0):
    (v,), (bdim,) = args, bdims
    return _diag([flat_examples(move_to_front(v, bdim))], [0], k)


register_batch_rule(np.diagflat, _diagflat, nargs=1)


def _broadcast_arrays(args, bdims, subok=False):
    """np.broadcast_arrays: every array to the examples' common shape (views)."""
    shapes = [tuple(shape_of(a))[:b] + tuple(shape_of(a))[b + 1 :] if b is not None else tuple(shape_of(a))
              for a, b in zip(args, bdims)]  # fmt: skip
    shape = np.broadcast_shapes(*shapes)
    out = [
        np.broadcast_to(a, shape, subok=subok) if b is None else _broadcast_to([a], [b], shape, subok)[0]
        for a, b in zip(args, bdims)
    ]
    return tuple(out), tuple(None if b is None else 0 for b in bdims)


register_batch_rule(np.broadcast_arrays, _broadcast_arrays)


def _resize(args, bdims, new_shape):
    """np.resize: each example raveled and repeated to the new size."""
    (x,), (bdim,) = args, bdims
    x = flat_examples(move_to_front(x, bdim))
    new_shape = (new_shape,) if isinstance(new_shape, (int, np.integer)) else tuple(new_shape)
    if any(s < 0 for s in new_shape):
        raise ValueError("all elements of `new_shape` must be non-negative")
    size, n, total = shape_of(x)[0], shape_of(x)[1], math.prod(new_shape)
    if n == 0 or total == 0:
        return np.zeros_like(x, shape=(size,) + new_shape), 0
    return np.reshape(np.take(x, np.arange(total) % n, axis=1), (size,) + new_shape), 0


register_batch_rule(np.resize, _resize, nargs=1)


def _append(args, bdims, axis=None):
    size = batch_size(args, bdims)
    arr, values = (bdim_at_front(a, b, size) for a, b in zip(args, bdims))
    if axis is None:
        return np.concatenate([flat_examples(arr), flat_examples(values)], axis=1), 0
    return np.concatenate([arr, values], normalize_axis(axis, ndim_of(arr) - 1) + 1), 0


register_batch_rule(np.append, _append, nargs=2)


def _delete(args, bdims, axis=None):
    (arr, obj), (bdim, obdim) = args, bdims
    if obdim is not None:
        raise NoBatchRule("batched indices to delete")
    arr, axis = along_axis(arr, bdim, axis)
    return np.delete(arr, obj, axis), 0


register_batch_rule(np.delete, _delete, nargs=2)


def _insert(args, bdims, axis=None):
    """np.insert, following NumPy's steps with the batch axis first: one index
    inserts a block of values, several indices one slice each (a gather)."""
    (arr, obj, values), (ab, ob, vb) = args, bdims
    if ob is not None:
        raise NoBatchRule("batched indices to insert at")
    size = batch_size(args, bdims)
    arr = bdim_at_front(arr, ab, size)
    if axis is None:
        arr, axis = flat_examples(arr), 0
    nd = ndim_of(arr) - 1
    axis = normalize_axis(axis, nd)
    n = shape_of(arr)[axis + 1]
    if isinstance(obj, slice):
        indices = np.arange(*obj.indices(n), dtype=np.intp)
    else:
        indices = np.array(obj)
        if indices.dtype == bool:
            if indices.ndim != 1:
                raise ValueError("boolean array argument obj to insert must be one dimensional")
            indices = np.flatnonzero(indices)
        elif indices.ndim > 1:
            raise ValueError(
                "index array argument obj to insert must be one dimensional or scalar"
            )
    slot = list(shape_of(arr)[1:])
    if indices.size == 1:
        index = int(indices.item())
        if not -n <= index <= n:
            raise IndexError(f"index {obj} is out of bounds for axis {axis} with size {n}")
        index = index + n if index < 0 else index
        values = _per_example_ndmin(values, vb, nd).astype(arr.dtype)
        if indices.ndim == 0:  # NumPy's a[:, 0:1, :] = v broadcasting (see np.insert)
            values = moveaxis(values, int(vb is not None), axis + int(vb is not None))
        slot[axis] = shape_of(values)[axis + int(vb is not None)]
        values = np.broadcast_to(values, (size, *slot))
        cut = (slice(None),) * (axis + 1)
        pieces = [arr[cut + (slice(None, index),)], values, arr[cut + (slice(index, None),)]]
        return np.concatenate(pieces, axis + 1), 0
    if indices.size == 0 and not isinstance(obj, np.ndarray):
        indices = indices.astype(np.intp)
    if ((indices < -n) | (indices > n)).any():
        raise IndexError(f"index out of bounds for axis {axis} with size {n}")
    indices = np.where(indices < 0, indices + n, indices)
    k = indices.shape[0]
    indices[np.argsort(indices, kind="mergesort")] += np.arange(k)
    slot[axis] = k
    values = _per_example_ndmin(values, vb, nd).astype(arr.dtype)
    values = np.broadcast_to(values, (size, *slot))
    order = np.empty(n + k, np.intp)
    old = np.ones(n + k, bool)
    old[indices] = False
    order[old] = np.arange(n)
    order[indices] = n + np.arange(k)
    return np.take(np.concatenate([arr, values], axis + 1), order, axis=axis + 1), 0


def _per_example_ndmin(values, vbdim, nd):
    """``np.array(values, ndmin=nd)`` per example: ``[B, 1.., *v]`` if batched."""
    if vbdim is None:
        return np.reshape(values, (1,) * (nd - np.ndim(values)) + np.shape(values))
    values = move_to_front(values, vbdim)
    shape = tuple(shape_of(values))
    return np.reshape(values, shape[:1] + (1,) * (nd - len(shape) + 1) + shape[1:])


register_batch_rule(np.insert, _insert, nargs=3)


def _meshgrid(args, bdims, copy=True, sparse=False, indexing="xy"):
    """np.meshgrid: input k raveled along axis k (the first two swapped for 'xy')."""
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    nd = len(args)
    out = []
    for k, (x, bdim) in enumerate(zip(args, bdims)):
        where = (1 - k if k < 2 else k) if indexing == "xy" and nd > 1 else k
        if bdim is not None:
            x = flat_examples(move_to_front(x, bdim))
        n = np.size(x) if bdim is None else shape_of(x)[1]
        shape = (1,) * where + (n,) + (1,) * (nd - where - 1)
        out.append(np.reshape(x, shape if bdim is None else shape_of(x)[:1] + shape))
    out_bdims = tuple(None if b is None else 0 for b in bdims)
    if not sparse:
        out, out_bdims = _broadcast_arrays(out, list(out_bdims))
    if copy:
        out = [np.copy(o) for o in out]
    return tuple(out), out_bdims


register_batch_rule(np.meshgrid, _meshgrid)


def _sliding_window_view(args, bdims, window_shape, axis=None, *, subok=False, writeable=False):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = ndim_of(x) - 1
    window_shape = tuple(window_shape) if np.iterable(window_shape) else (window_shape,)
    if axis is None:
        if len(window_shape) != nd:
            raise ValueError(
                f"Since axis is `None`, must provide window_shape for all dimensions of "
                f"`x`; got {len(window_shape)} window_shape elements and `x.ndim` is {nd}."
            )
        axis = tuple(range(nd))
    axes = [normalize_axis(a, nd) + 1 for a in (axis if np.iterable(axis) else (axis,))]
    view = np.lib.stride_tricks.sliding_window_view(x, window_shape, axes, subok=subok, writeable=writeable)
    return view, 0


register_batch_rule(np.lib.stride_tricks.sliding_window_view, _sliding_window_view, nargs=1)


def _bits(func):
    """packbits, unpackbits: along a per-example axis, or each raveled example."""

    def rule(args, bdims, axis=None, *rest, **kwargs):
        (x,), (bdim,) = args, bdims
        x, axis = along_axis(x, bdim, axis)
        return func(x, axis, *rest, **kwargs), 0

    return rule


for _f in [np.packbits, np.unpackbits]:
    register_batch_rule(_f, _bits(_f), nargs=1)


def _apply_along_axis(args, bdims, *rest, **kwargs):
    """np.apply_along_axis over the whole batch: NumPy's own loop over the 1-D slices,
    which are the same slices, every example's."""
    (func1d, axis, arr), (fb, axb, ab) = args, bdims
    if fb is not None or axb is not None or ab is None:
        raise NoBatchRule("a batched function or axis")
    if shape_of(arr)[ab] == 0:  # NumPy cannot iterate over an empty batch
        return on_one_example(_apply_along_axis, args, bdims, *rest, **kwargs)
    arr = move_to_front(arr, ab)
    try:
        return np.apply_along_axis(func1d, normalize_axis(axis, ndim_of(arr) - 1) + 1, arr, *rest, **kwargs), 0
    except RuntimeError as e:  # func1d uses values batched at this level: one example at a time
        raise NoBatchRule("a function that uses batched values") from e


register_batch_rule(np.apply_along_axis, _apply_along_axis, nargs=3)


def _apply_over_axes(args, bdims):
    """np.apply_over_axes: ``func(a, axis)`` called with the axes shifted past the batch."""
    (func, a, axes), (fb, ab, axb) = args, bdims
    if fb is not None or axb is not None or ab is None:
        raise NoBatchRule("a batched function or axes")
    a = move_to_front(a, ab)
    axes = [normalize_axis(x, ndim_of(a) - 1) + 1 for x in (axes if np.iterable(axes) else (axes,))]
    try:
        return np.apply_over_axes(func, a, axes), 0
    except RuntimeError as e:
        raise NoBatchRule("a function that uses batched values") from e


register_batch_rule(np.apply_over_axes, _apply_over_axes, nargs=3)


def _block(arrays):
    """np.block on BatchedArrays: depth-first concatenation along the last axes
    (NumPy's implementation converts its leaves with np.array)."""

    def depth(a):
        if type(a) is tuple:
            raise TypeError("arrays is a tuple. Only lists can be used to arrange blocks")
        if type(a) is not list:
            return 0, np.ndim(a)
        if not a:
            raise ValueError("List at arrays cannot be empty")
        found = [depth(x) for x in a]
        if len({d for d, _ in found}) != 1:
            raise ValueError("List depths are mismatched.")
        return found[0][0] + 1, max(n for _, n in found)

    list_ndim, arr_ndim = depth(arrays)
    nd = max(list_ndim, arr_ndim)

    def build(a, level):
        if type(a) is not list:
            return np.reshape(a, (1,) * (nd - np.ndim(a)) + np.shape(a))
        return np.concatenate([build(x, level + 1) for x in a], axis=level - list_ndim)

    out = build(arrays, 0)
    return np.copy(out) if list_ndim == 0 else out


register_batch_rule(np.block, _block, nargs=COMPOSITE)


def _column_stack(tup):
    """np.column_stack on BatchedArrays: vectors become columns, then one concatenate."""
    return np.concatenate(
        [np.transpose(np.atleast_2d(v)) if np.ndim(v) < 2 else v for v in tup], axis=1
    )


register_batch_rule(np.column_stack, _column_stack, nargs=COMPOSITE)
