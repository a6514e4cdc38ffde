"""Every ufunc, with all its methods; gufuncs; and NumPy's elementwise functions."""

import functools
import re

import numpy as np

from .. import _parallel
from .._batched import register_ufunc_method, unbatched_target_error
from .._registry import NoBatchRule, register_batch_rule
from ._helpers import (
    bdim_at_front,
    batch_size,
    broadcast_batched,
    defelementwise,
    defpreserving,
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
    inputs = signature.split("->")[0]
    return tuple(
        0 if not group.strip() else len(group.split(","))
        for group in re.findall(r"\(([^)]*)\)", inputs)
    )


@register_ufunc_method("__call__")
def _call(ufunc, args, bdims, **kwargs):
    if kwargs.get("axes") is not None or kwargs.get("axis") is not None:
        raise NoBatchRule("axes=/axis= of a gufunc")
    values, bdim = broadcast_batched(args, bdims, core_ndims(ufunc.signature, ufunc.nin))
    batched = [b is not None for b in bdims]
    if ufunc.signature is None and _parallel.worth_splitting(values, values[batched.index(True)].shape[bdim]):
        return _split_ufunc(ufunc, values, batched, bdim, kwargs), bdim
    return ufunc(*values, **kwargs), bdim


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
    axes = normalize_axes(axis, x.ndim - 1)
    return ufunc.reduce(x, tuple(a + 1 for a in axes), where=where, **kwargs), 0


@register_ufunc_method("accumulate")
def _accumulate(ufunc, args, bdims, axis=0, **kwargs):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
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
    if ibdim is not None:
        indices = move_to_front(indices, ibdim)
    b = [bdim_at_front(b[0], bbdim[0], size)] if b else []
    for i in range(size):
        ufunc.at(a[i], indices[i] if ibdim is not None else indices, *(v[i] for v in b))
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


def _clip(args, bdims, *rest, **kwargs):
    args = [None if a is np._NoValue else a for a in args]
    for key in ("min", "max"):
        if kwargs.get(key, np._NoValue) is np._NoValue:
            kwargs.pop(key, None)
    values, bdim = broadcast_batched(args, bdims)
    return np.clip(*values, *rest, **kwargs), bdim


register_batch_rule(np.clip, _clip, nargs=3)

defelementwise(np.isclose, nargs=2)
for _f in [np.nan_to_num, np.real_if_close, np.sinc, np.i0, np.angle]:
    defelementwise(_f, nargs=1)

for _f in [np.real, np.imag, np.iscomplex, np.isreal, np.round, np.around, np.fix, np.copy]:
    defpreserving(_f)
