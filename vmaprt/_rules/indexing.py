"""``x[key]`` and ``x[key] = v`` per example.

The batch axis goes first and the key gets a leading ``slice(None)``.  Basic
indexing then needs nothing more.  With advanced (array) indices NumPy's
placement rule applies: the indexed dimensions stay in place when the
advanced indices are adjacent, and move to the front otherwise.  A batched
index array gathers per example: ``arange(B)`` joins the advanced indices,
and one transpose restores the per-example order where NumPy moved it.
"""

import operator

import numpy as np

from .. import _batched
from .._registry import COMPOSITE, INPLACE, NoBatchRule, register_batch_rule
from ._helpers import bdim_at_front, move_to_front, ndim_of, shape_of

INPLACE[operator.setitem] = 0


def _refuse_mask():
    return RuntimeError(
        "vmap: indexing with a batched boolean mask selects a different number of "
        "elements in each example, so the result has no fixed shape. Use "
        "np.where(mask, x, fill) to keep the shape, or reduce with a where= mask, "
        "e.g. np.sum(x, where=mask)."
    )


def _entries(key, ndim):
    """Normalize a per-example key: a list of ``(kind, value, bdim)``.

    kind is 'slice', 'none', 'int' or 'array'; Ellipsis is expanded and an
    unbatched boolean mask becomes its integer index arrays.
    """
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
                value = np.asarray(value)
            if value.dtype == np.bool_:
                if bdim is not None:
                    raise _refuse_mask()
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


def _plan(entries, size):
    """The physical key, and where the batch axis of the result lands.

    Returns ``(pkey, nres, layout)``: ``nres`` is the per-example result rank,
    and ``layout`` is None when the physical result is ``[B, *result]``, an int
    ``n`` when it is ``[*adv, B, *rest]`` (batch at axis n), or a permutation
    taking ``[B, *result]`` to the physical order.
    """
    has_array = any(kind == "array" for kind, _, _ in entries)
    nres = sum(kind in ("slice", "none") for kind, _, _ in entries)
    if not has_array:
        return (slice(None),) + tuple(v for _, v, _ in entries), nres, None
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
    nres += nb
    if not any(b is not None for _, _, b in entries):
        pkey = (slice(None),) + tuple(v for _, v, _ in entries)
        return pkey, nres, None if adjacent else nb
    values = []
    for kind, v, b in entries:
        if b is not None:
            v = move_to_front(v, b)
            v = np.reshape(v, v.shape[:1] + (1,) * (nb + 1 - v.ndim) + tuple(v.shape[1:]))
        values.append(v)
    pkey = (np.arange(size).reshape((size,) + (1,) * nb),) + tuple(values)
    pre = sum(kind in ("slice", "none") for kind, _, _ in entries[: adv[0]])
    if not adjacent or pre == 0:
        return pkey, nres, None
    # Physical [B, *adv, *pre, *post]; per example [*pre, *adv, *post].
    perm = (0, *range(1 + pre, 1 + pre + nb), *range(1, 1 + pre), *range(1 + pre + nb, 1 + nres))
    return pkey, nres, perm


def _getitem(x, xbdim, key, size):
    x = bdim_at_front(x, xbdim, size)
    pkey, nres, layout = _plan(_entries(key, ndim_of(x) - 1), size)
    out = _batched.getitem(x, pkey)
    if layout is None or type(layout) is int:
        return out, layout or 0
    return np.transpose(out, np.argsort(layout)), 0


def _setitem(x, xbdim, key, v, vbdim, size):
    x = move_to_front(x, xbdim)
    pkey, nres, layout = _plan(_entries(key, ndim_of(x) - 1), size)
    if layout is None and vbdim is None:  # v broadcasts from the right as it is
        _batched.setitem(x, pkey, v)
        return
    v = bdim_at_front(v, vbdim, 1) if vbdim is None else move_to_front(v, vbdim)
    lead = nres - (ndim_of(v) - 1)
    if lead < 0:
        raise ValueError(
            f"could not broadcast input array from shape {tuple(shape_of(v))[1:]} into "
            f"an index result of rank {nres}"
        )
    v = np.reshape(v, tuple(shape_of(v))[:1] + (1,) * lead + tuple(shape_of(v))[1:])
    if type(layout) is int:
        v = np.moveaxis(v, 0, layout)
    elif layout is not None:
        v = np.transpose(v, layout)
    _batched.setitem(x, pkey, v)


_batched._INDEXING["getitem"] = _getitem
_batched._INDEXING["setitem"] = _setitem


def _take(a, indices, axis=None, out=None, mode="raise"):
    """np.take as indexing.  NumPy dispatches np.take on ``a`` (and ``out``) only,
    so this runs when ``a`` is batched at some level; a plain ndarray ``a`` with
    batched indices never reaches it (write ``np.asarray(a, like=i)`` for that).
    The indexing dispatches on the indices too, at whatever level they are."""
    if axis is None:
        a, axis = np.ravel(a), 0
    n = np.shape(a)[axis]
    if mode == "wrap":
        indices = np.mod(indices, n)
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    axis = axis % np.ndim(a) if np.ndim(a) else axis
    result = _batched.getitem(a, (slice(None),) * axis + (indices,))
    if out is not None:
        out[...] = result
        return out
    return result


register_batch_rule(np.take, _take, nargs=COMPOSITE)
