"""``x[key]`` and ``x[key] = v`` per example.

The batch axis goes first and the key gets a leading ``slice(None)``.  Basic
indexing then needs nothing more.  With advanced (array) indices NumPy's
placement rule applies: the indexed dimensions stay in place when the
advanced indices are adjacent, and move to the front otherwise.  A batched
index array gathers per example: ``arange(B)`` joins the advanced indices,
and one transpose restores the per-example order where NumPy moved it.

The indexing functions follow: take, take_along_axis, choose, compress,
ravel_multi_index, ix_, and the in-place put, put_along_axis, putmask, place
and fill_diagonal, whose target must be batched.
"""

import math
import operator

import numpy as np

from .. import _batched
from .._registry import COMPOSITE, INPLACE, NoBatchRule, register_batch_rule, register_indexing
from ._helpers import bdim_at_front, move_to_front, ndim_of, shape_of
from ._helpers import along_axis, anywhere, batch_size, broadcast_batched, defpreserving
from ._helpers import flat_examples, normalize_axis

INPLACE[operator.setitem] = 0


def _refuse_mask():
    return RuntimeError(
        "vmap: indexing with a batched boolean mask selects a different number of "
        "elements in each example, so the result has no fixed shape. Use "
        "np.where(mask, x, fill) to keep the shape, or reduce with a where= mask, "
        "e.g. np.sum(x, where=mask)."
    )


def _entries(key, shape):
    """Normalize a per-example key for an example of ``shape``: a list of
    ``(kind, value, bdim)``.

    kind is 'slice', 'none', 'int' or 'array'; Ellipsis is expanded and an
    unbatched boolean mask becomes its integer index arrays.
    """
    ndim = len(shape)
    out, consumed, ellipsis = [], 0, None
    for value, bdim in key:
        if value is None:
            out.append(("none", None, None))
        elif value is Ellipsis:
            if ellipsis is not None:
                raise IndexError("an index can only have a single ellipsis ('...')")
            ellipsis = len(out)
        elif isinstance(value, slice):
            out.append(("slice", value, None))
            consumed += 1
        elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            out.append(("int", value, None))
            consumed += 1
        elif isinstance(value, (bool, np.bool_)):
            raise NoBatchRule("a boolean scalar index")  # rare enough for the loop
        else:
            if bdim is None and type(value) is not _batched.BatchedArray:
                # (an empty list indexes as intp, as NumPy reads it, not as float64)
                value = np.asarray(value, dtype=np.intp if type(value) in (list, tuple) and not np.size(value) else None)
            if value.dtype == np.bool_:
                if bdim is not None:
                    raise _refuse_mask()
                if ellipsis is None and np.size(value):  # (NumPy's check, per example; an empty mask passes)
                    for axis, (m, n) in enumerate(zip(shape_of(value), shape[consumed:]), consumed):
                        if m != n:
                            raise IndexError(
                                f"boolean index did not match indexed array along axis {axis}; size "
                                f"of axis is {n} but size of corresponding boolean axis is {m}"
                            )
                parts = value.nonzero()  # an outer-level mask refuses here, rightly
                out.extend(("array", p, None) for p in parts)
                consumed += len(parts)
                continue
            if not np.issubdtype(value.dtype, np.integer):
                raise IndexError(
                    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) "
                    f"and integer or boolean arrays are valid indices; got dtype {value.dtype}"
                )
            out.append(("array", value, bdim))
            consumed += 1
    if consumed > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional per example, "
            f"but {consumed} were indexed"
        )
    fill = [("slice", slice(None), None)] * (ndim - consumed)
    if ellipsis is None:
        return out + fill
    return out[:ellipsis] + fill + out[ellipsis:]


def _plan(entries, shape, size):
    """The physical key, the per-example result shape, and where the batch axis of
    the result lands.

    Returns ``(pkey, rshape, layout)``: ``rshape`` is the shape of one example's
    ``x[key]`` (``shape`` is one example's shape; None skips it, and ``rshape`` is
    None), and ``layout`` is None when
    the physical result is ``[B, *result]``, an int ``n`` when it is
    ``[*adv, B, *rest]`` (batch at axis n), or a permutation taking
    ``[B, *result]`` to the physical order.
    """
    has_array = any(kind == "array" for kind, _, _ in entries)
    if not has_array:
        rshape = None if shape is None else _result_shape(entries, shape)
        return (slice(None),) + tuple(v for _, v, _ in entries), rshape, None
    adv = [i for i, (kind, _, _) in enumerate(entries) if kind in ("int", "array")]
    adjacent = adv == list(range(adv[0], adv[0] + len(adv)))
    shapes = []
    for kind, v, b in entries:
        if kind == "array":
            s = tuple(shape_of(v))
            shapes.append(s if b is None else s[:b] + s[b + 1 :])
        elif kind == "int":
            shapes.append(())
    try:
        bshape = np.broadcast_shapes(*shapes)
    except ValueError:
        raise IndexError(
            "shape mismatch: indexing arrays could not be broadcast together with "
            "shapes " + " ".join(str(s) for s in shapes)
        ) from None
    nb = len(bshape)
    rshape = None if shape is None else _result_shape(entries, shape, bshape, adjacent)
    nres = sum(kind in ("slice", "none") for kind, _, _ in entries) + nb
    if not any(b is not None for _, _, b in entries):
        pkey = (slice(None),) + tuple(v for _, v, _ in entries)
        return pkey, rshape, None if adjacent else nb
    values = []
    for kind, v, b in entries:
        if b is not None:
            v = move_to_front(v, b)
            v = np.reshape(v, v.shape[:1] + (1,) * (nb + 1 - v.ndim) + tuple(v.shape[1:]))
        values.append(v)
    pkey = (np.arange(size).reshape((size,) + (1,) * nb),) + tuple(values)
    pre = sum(kind in ("slice", "none") for kind, _, _ in entries[: adv[0]])
    if not adjacent or pre == 0:
        return pkey, rshape, None
    # Physical [B, *adv, *pre, *post]; per example [*pre, *adv, *post].
    perm = (0, *range(1 + pre, 1 + pre + nb), *range(1, 1 + pre), *range(1 + pre + nb, 1 + nres))
    return pkey, rshape, perm


def _result_shape(entries, shape, bshape=None, adjacent=True):
    """One example's ``x[key]`` shape: a slice keeps its length, None adds a 1, and the
    advanced indices' broadcast shape ``bshape`` goes where the first of them is when
    they are adjacent, in front otherwise (NumPy's placement rule)."""
    out, axis, placed = [], 0, bshape is None or not adjacent
    for kind, v, _ in entries:
        if kind == "none":
            out.append(1)
            continue
        if kind == "slice":
            out.append(len(range(*v.indices(shape[axis]))))
        elif not placed:
            out.extend(bshape)
            placed = True
        axis += 1
    return tuple(out) if adjacent or bshape is None else tuple(bshape) + tuple(out)


def _getitem(x, xbdim, key, size):
    x = bdim_at_front(x, xbdim, size)
    entries = _entries(key, tuple(shape_of(x)[1:]))
    pkey, _, layout = _plan(entries, None, size)
    out = _batched.getitem(x, pkey)
    if _is_element(entries, key):
        return _batched.as_scalar(np.copy(out)), 0  # NumPy's y[i] of one element is a scalar copy
    if ndim_of(x) == 1 and not _batched._storage(x).flags.writeable:
        return np.copy(out), 0  # a NumPy scalar indexed (s[...], s[None]) is a new array
    if layout is None or type(layout) is int:
        return out, layout or 0
    return np.transpose(out, np.argsort(layout)), 0


def _example_shape(v, vbdim):
    s = tuple(shape_of(v))
    return s if vbdim is None else s[:vbdim] + s[vbdim + 1 :]


def _check_bounds(entries, shape):
    """NumPy's IndexError for an integer of the key outside its axis."""
    axis = 0
    for kind, i, _ in entries:
        if kind == "none":
            continue
        if kind == "int" and not -shape[axis] <= i < shape[axis]:
            raise IndexError(f"index {i} is out of bounds for axis {axis} with size {shape[axis]}")
        axis += 1


def _is_element(entries, key):
    """Whether the key picks one element with integers only (no Ellipsis): NumPy reads
    it as a scalar, and writes it from a scalar or a 0-d array only."""
    return all(k == "int" for k, _, _ in entries) and all(v is not Ellipsis for v, _ in key)


def _setitem(x, xbdim, key, v, vbdim, size):
    x = move_to_front(x, xbdim)
    if _masked_fill(x, key, v, vbdim):
        return
    entries = _entries(key, tuple(shape_of(x)[1:]))  # (NumPy checks the index first)
    if vbdim is None:
        v = _as_target_scalar(v, x.dtype)
    _check_bounds(entries, tuple(shape_of(x)[1:]))  # (NumPy's bounds check comes first)
    if _is_element(entries, key) and ndim_of(v) > (vbdim is not None):
        # One element from an array: NumPy's own error (or its bool/object acceptance),
        # raised on one element of the target's dtype and a value of one example's shape.
        one = v if vbdim is None and type(v) in (list, tuple, np.ndarray) else np.zeros(
            _example_shape(v, vbdim), getattr(v, "dtype", None))
        np.zeros(1, x.dtype)[0] = one
    if vbdim is None and ndim_of(v) == 0:  # one number: it broadcasts into any result
        _batched.setitem(x, _plan(entries, None, size)[0], v)
        return
    pkey, rshape, layout = _plan(entries, tuple(shape_of(x)[1:]), size)
    v = aligned_value(v, vbdim, rshape)
    if type(layout) is int:
        v = np.moveaxis(v, 0, layout)
    elif layout is not None:
        v = np.transpose(v, layout)
    _batched.setitem(x, pkey, v)


def _as_target_scalar(v, dtype):
    """A Python number written into an array of ``dtype``, converted as NumPy converts
    it per example: ``1 + 0.5j`` into floats is a TypeError, ``inf`` or ``nan`` into
    ints an OverflowError or ValueError, ``300`` into int8 an OverflowError (an
    array of the number would be cast silently instead)."""
    if type(v) not in (int, float, complex, bool):
        return v
    target = np.empty((), dtype)
    target[()] = v
    return target


def aligned_value(v, vbdim, rshape):
    """The value of ``x[key] = v`` lined up with the batch-first index result
    ``[B, *rshape]``: ``[1 or B, *shape]`` with ``len(rshape)`` axes after the first.

    Note [per-example broadcasting of a written value]
        NumPy broadcasts ``v`` into one example's index result: leading 1s of ``v``
        are dropped, and what is left must broadcast into ``rshape``.  The batch
        axis must never take part, so an unbatched ``v`` of shape ``(4, 1)`` into
        ``(4,)`` is NumPy's ValueError, not a row per example, and a batched ``v``
        of per-example shape ``(1, 4)`` fits ``(4,)``.  setitem and put_along_axis
        rely on this.
    """
    shape = tuple(shape_of(v))
    if vbdim is not None:
        shape = shape[:vbdim] + shape[vbdim + 1 :]
    core = shape
    while len(core) > len(rshape) and core[0] == 1:
        core = core[1:]
    if len(core) > len(rshape) or any(a != 1 and a != b for a, b in zip(core[::-1], rshape[::-1])):
        raise ValueError(f"could not broadcast input array from shape {shape} into shape {rshape}")
    lead = (1,) * (len(rshape) - len(core))
    if vbdim is None:
        return np.reshape(v, (1,) + lead + core)
    v = move_to_front(v, vbdim)
    return np.reshape(v, tuple(shape_of(v))[:1] + lead + core)


def _masked_fill(x, key, v, vbdim):
    """``x[mask] = v`` with one batched boolean mask and a ``v`` that is the same for
    every selected element (a number, or one row of the axes after the mask's):
    ``np.copyto(x, v, where=mask)``, the shape unchanged, whatever each example
    selects.  False when the key is not of that form."""
    if len(key) != 1 or key[0][1] is None:
        return False
    mask, mbdim = key[0]
    if getattr(mask, "dtype", None) != np.bool_:
        return False
    mask = move_to_front(mask, mbdim)
    nd, mnd = ndim_of(x) - 1, ndim_of(mask) - 1
    vnd = ndim_of(v) - (vbdim is not None)
    if mnd > nd or tuple(shape_of(mask)[1:]) != tuple(shape_of(x)[1 : 1 + mnd]) or vnd > nd - mnd:
        return False  # (the loop raises NumPy's error, or v holds one value per selected element)
    if vbdim is None:
        v = _as_target_scalar(v, x.dtype)
    else:  # one value per example: after the batch axis, past the mask's axes
        v = move_to_front(v, vbdim)
        v = np.reshape(v, shape_of(v)[:1] + (1,) * (nd - vnd) + tuple(shape_of(v)[1:]))
    np.copyto(x, v, casting="unsafe", where=np.reshape(mask, shape_of(mask) + (1,) * (nd - mnd)))
    return True


register_indexing("getitem", _getitem)
register_indexing("setitem", _setitem)


def _take(a, indices, axis=None, out=None, mode="raise"):
    """np.take as indexing.  NumPy dispatches np.take on ``a`` (and ``out``) only,
    so this runs when ``a`` is batched at some level; a plain ndarray ``a`` with
    batched indices never reaches it (write ``np.asarray(a, like=i)`` for that).
    The indexing dispatches on the indices too, at whatever level they are."""
    if axis is None or np.ndim(a) == 0:  # (NumPy reads a 0-d a as one of shape (1,))
        a, axis = np.ravel(a), 0 if axis is None else axis
    axis = normalize_axis(axis, np.ndim(a))
    n = np.shape(a)[axis]
    if mode == "wrap":
        indices = np.mod(indices, n)
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    result = _batched.getitem(a, (slice(None),) * axis + (indices,))
    if out is not None:
        out[...] = result
        return out
    return result


register_batch_rule(np.take, _take, nargs=COMPOSITE)


# Indexing functions -------------------------------------------------------------------------


def _target(x, bdim, name):
    """The batch-first physical target of an in-place function, which must be batched."""
    if bdim is None:
        raise _batched.unbatched_target_error(f"the array that {name} writes into")
    return move_to_front(x, bdim)


def _take_along_axis(args, bdims, axis=-1):
    size = batch_size(args, bdims)
    (arr, idx), (ab, ib) = args, bdims
    arr, axis = along_axis(bdim_at_front(arr, ab, size), 0, axis)
    return np.take_along_axis(arr, bdim_at_front(idx, ib, size), axis=axis), 0


register_batch_rule(np.take_along_axis, _take_along_axis, nargs=2)


def _put_along_axis(args, bdims, axis):
    (arr, idx, values), (ab, ib, vb) = args, bdims
    arr = _target(arr, ab, "np.put_along_axis")
    size, shape = shape_of(arr)[0], tuple(shape_of(arr)[1:])
    idx = bdim_at_front(idx, ib, size)
    ishape = tuple(shape_of(idx)[1:])
    if vb is None:
        values = _as_target_scalar(values, arr.dtype)
    if axis is None:  # flat indices of each example
        if len(ishape) != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        key = (np.arange(size).reshape(size, 1),) + np.unravel_index(idx, shape)
        _batched.setitem(arr, key, aligned_value(values, vb, ishape))
        return None, None
    if len(ishape) != len(shape):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    axis = normalize_axis(axis, len(shape))
    # Note [per-example broadcasting of a written value]: into arr[fancy index of idx]
    rshape = np.broadcast_shapes(ishape, shape[:axis] + (1,) + shape[axis + 1 :])
    np.put_along_axis(arr, idx, aligned_value(values, vb, rshape), axis + 1)
    return None, None


register_batch_rule(np.put_along_axis, _put_along_axis, nargs=3)


def _choose(args, bdims, out=None, mode="raise"):
    """np.choose: the index array and every choice broadcast together, batch included."""
    (a, choices), (ab, cb) = args, bdims
    if type(cb) is list:
        cbs = cb
    elif cb is None:
        choices = list(choices)
        cbs = [None] * len(choices)
    else:  # one array whose first per-example axis runs over the choices
        x = move_to_front(choices, cb)
        choices = [x[:, i] for i in range(shape_of(x)[1])]
        cbs = [0] * len(choices)
    values, bdim = broadcast_batched([a, *choices], [ab, *cbs])
    return np.choose(values[0], values[1:], mode=mode), bdim


register_batch_rule(np.choose, _choose, nargs=2)


def _compress(args, bdims, axis=None, out=None):
    (cond, a), (cb, ab) = args, bdims
    if cb is not None:
        raise _refuse_mask()
    a, axis = along_axis(a, ab, axis)
    return np.compress(cond, a, axis=axis), 0


register_batch_rule(np.compress, _compress, nargs=2)


def _cycled(values, vbdim, size, n):
    """``values`` raveled and repeated to length ``n`` per example (``a.flat[i] = v``
    semantics): ``[n]`` if unbatched, else ``[B, n]``."""
    if vbdim is None:
        flat = np.ravel(values)
        return np.take(flat, np.arange(n) % shape_of(flat)[0])
    flat = flat_examples(move_to_front(values, vbdim))
    return np.take(flat, np.arange(n) % shape_of(flat)[1], axis=1)


def _put(args, bdims, mode="raise"):
    """np.put: flat indices of each example, as a multi-index into the batch-first target."""
    (a, ind, v), (ab, ib, vb) = args, bdims
    a = _target(a, ab, "np.put")
    size, shape = shape_of(a)[0], tuple(shape_of(a)[1:])
    n = math.prod(shape)
    ind = np.reshape(ind, (-1,)) if ib is None else flat_examples(move_to_front(ind, ib))
    if mode == "wrap":
        ind = np.mod(ind, n)
    elif mode == "clip":
        ind = np.clip(ind, 0, n - 1)
    elif anywhere((ind < -n) | (ind >= n)):
        raise IndexError(f"index out of range for array of size {n}")
    k = shape_of(ind)[-1]
    if k == 0:
        return None, None
    key = (np.arange(size).reshape(size, 1),) + np.unravel_index(np.mod(ind, n), shape)
    _batched.setitem(a, key, _cycled(v, vb, size, k))
    return None, None


register_batch_rule(np.put, _put, nargs=3)


def _putmask(args, bdims):
    (a, mask, values), (ab, mb, vb) = args, bdims
    a = _target(a, ab, "np.putmask")
    size, shape = shape_of(a)[0], tuple(shape_of(a)[1:])
    values = _cycled(values, vb, size, math.prod(shape))
    values = np.reshape(values, shape if vb is None else (size,) + shape)
    mask = mask if mb is None else move_to_front(mask, mb)
    np.copyto(a, values, casting="unsafe", where=mask)
    return None, None


register_batch_rule(np.putmask, _putmask, nargs=3)


def _place(args, bdims):
    """np.place: the k-th True of each example takes ``vals[k % len(vals)]``."""
    (a, mask, vals), (ab, mb, vb) = args, bdims
    a = _target(a, ab, "np.place")
    size, shape = shape_of(a)[0], tuple(shape_of(a)[1:])
    mask = flat_examples(bdim_at_front(mask, mb, size))
    vals = np.ravel(vals) if vb is None else flat_examples(move_to_front(vals, vb))
    k = shape_of(vals)[-1]
    if k == 0:
        if anywhere(mask):
            raise ValueError("Cannot insert from an empty array!")
        return None, None
    rank = np.mod(np.cumsum(mask, axis=1) - 1, k)
    src = _batched.getitem(vals, (rank,)) if vb is None else np.take_along_axis(vals, rank, axis=1)
    np.copyto(a, np.reshape(src, (size,) + shape), casting="unsafe", where=np.reshape(mask, (size,) + shape))
    return None, None


register_batch_rule(np.place, _place, nargs=3)


def _fill_diagonal(args, bdims, wrap=False):
    (a, val), (ab, vb) = args, bdims
    a = _target(a, ab, "np.fill_diagonal")
    size, shape = shape_of(a)[0], tuple(shape_of(a)[1:])
    diagonal = np.zeros(shape, bool)
    np.fill_diagonal(diagonal, True, wrap)  # NumPy's own checks, and its walk of the diagonal
    where = diagonal.nonzero()
    k = where[0].shape[0] if where else 0
    if k:
        _batched.setitem(a, (slice(None),) + where, _cycled(val, vb, size, k))
    return None, None


register_batch_rule(np.fill_diagonal, _fill_diagonal, nargs=2)


def _ravel_multi_index(args, bdims, *rest, **kwargs):
    (index,), (ibdim,) = args, bdims
    if type(ibdim) is not list:  # one array whose first per-example axis runs over dims
        x = move_to_front(index, ibdim)
        index, ibdim = [x[:, i] for i in range(shape_of(x)[1])], [0] * shape_of(x)[1]
    values, bdim = broadcast_batched(index, ibdim)
    return np.ravel_multi_index(tuple(values), *rest, **kwargs), bdim


register_batch_rule(np.ravel_multi_index, _ravel_multi_index, nargs=1)
defpreserving(np.unravel_index)


def _from_shape(func):
    """``func(arr, ...)`` reads only ``arr.shape``: the same result for every example."""

    def rule(args, bdims, *rest, **kwargs):
        (x,), (bdim,) = args, bdims
        shape = tuple(shape_of(x))
        return func(np.broadcast_to(np.zeros((), bool), shape[:bdim] + shape[bdim + 1 :]), *rest, **kwargs), None

    return rule


for _f in [np.diag_indices_from, np.tril_indices_from, np.triu_indices_from]:
    register_batch_rule(_f, _from_shape(_f), nargs=1)


def _ix(args, bdims):
    """np.ix_: the k-th index array along the k-th of ``len(args)`` axes."""
    nd, out = len(args), []
    for k, (x, bdim) in enumerate(zip(args, bdims)):
        if bdim is None:
            x = x if type(x) is _batched.BatchedArray else np.asarray(x)
            if np.ndim(x) != 1:
                raise ValueError("Cross index must be 1 dimensional")
            x = np.nonzero(x)[0] if x.dtype == bool else x.astype(np.intp) if np.size(x) == 0 else x
            out.append(np.reshape(x, (1,) * k + (-1,) + (1,) * (nd - k - 1)))
            continue
        x = move_to_front(x, bdim)
        if ndim_of(x) != 2:
            raise ValueError("Cross index must be 1 dimensional")
        if x.dtype == bool:
            raise _refuse_mask()
        out.append(np.reshape(x, shape_of(x)[:1] + (1,) * k + shape_of(x)[1:] + (1,) * (nd - k - 1)))
    return tuple(out), tuple(None if b is None else 0 for b in bdims)


register_batch_rule(np.ix_, _ix)
