"""Shape operations: the batch axis goes first and per-example axes shift by one."""

import math

import numpy as np

from .._registry import register_batch_rule
from ._helpers import (
    bdim_at_front,
    batch_size,
    defcomposite,
    move_to_front,
    normalize_axes,
    normalize_axis,
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
    per_example = shape_of(x)[:bdim] + shape_of(x)[bdim + 1 :]
    shape = _resolve_shape(shape, math.prod(per_example))
    if order in ("F", "f"):  # the batch axis last keeps every example's F-order walk
        x = np.moveaxis(x, bdim, -1)
        return np.reshape(x, shape + (x.shape[-1],), order="F", copy=copy), len(shape)
    x = move_to_front(x, bdim)
    return np.reshape(x, (x.shape[0],) + shape, order=order, copy=copy), 0


register_batch_rule(np.reshape, _reshape, nargs=1)


def _ravel(args, bdims, order="C"):
    return _reshape(args, bdims, (-1,), order=order)


register_batch_rule(np.ravel, _ravel, nargs=1)


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
