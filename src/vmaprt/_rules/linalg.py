"""Linear algebra: ``np.linalg``, and cross, kron, trace and diagonal.

NumPy's linalg functions already take stacks of matrices ``[..., M, N]``, so
for most of them the rule only puts the batch axis first (``defbatched``).
The others spell out what their per-example form needs: a right-hand side
that is a vector per example, an ``ord``/``axis`` that counts per-example
axes, a least-squares residual whose shape depends on the rank.
"""

import math

import numpy as np
from numpy.linalg import _linalg as _np_linalg
from numpy.linalg import _umath_linalg

from .. import _core
from .._batched import BatchedArray
from .._registry import COMPOSITE, register_batch_rule
from ._helpers import (
    as_rows,
    bdim_at_front,
    broadcast_batched,
    flat_examples,
    front,
    materialize,
    move_to_front,
    moveaxis,
    ndim_of,
    normalize_axes,
    normalize_axis,
    shape_of,
)

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


_la = np.linalg

# Functions of one stack of matrices: the batch axis first is all they need.
for _f in [
    _la.inv, _la.det, _la.slogdet, _la.cholesky, _la.eigh, _la.eigvalsh, _la.eig,
    _la.eigvals, _la.svd, _la.svdvals, _la.qr, _la.pinv, _la.matrix_power, _la.cond,
]:  # fmt: skip
    defbatched(_f, (2,), nargs=1)


def _solve(args, bdims):
    """np.linalg.solve.  ``b`` is a vector when it has one dimension per example:
    it becomes a one-column matrix, so the batch axis is never read as its stack."""
    (a, b), (ab, bb) = args, bdims
    check_core(a, ab, 2)
    vector = ndim_of(b) - (bb is not None) == 1
    if ab is None and ndim_of(a) == 2 and ndim_of(b) <= 3:  # one matrix: every b joins one right-hand side
        b = move_to_front(b, bb)
        if vector:  # [B, M] -> [M, B]
            return _la.solve(a, np.transpose(b)), 1
        size, m, k = shape_of(b)
        x = _la.solve(a, np.reshape(moveaxis(b, 0, 1), (m, size * k)))
        return np.reshape(x, (shape_of(x)[0], size, k)), 1
    (a, b), (ab, bb) = front([a, b], [ab, bb])
    if vector:
        b = np.expand_dims(b, -1)
    values, _ = broadcast_batched([a, b], [ab, bb], (2, 2))
    x = _la.solve(*values)
    return (x[..., 0] if vector else x), 0


register_batch_rule(_la.solve, _solve, nargs=2)


def _lstsq(args, bdims, rcond=None):
    """np.linalg.lstsq: NumPy's stacked LAPACK kernel, which its wrapper keeps to 2-D.

    The residuals have a shape that depends on the rank (empty unless it is
    full); when the examples disagree, they could not be stacked, as in the loop.
    """
    (a, b), (ab, bb) = args, bdims
    for x, bdim, least in ((a, ab, 2), (b, bb, 1)):  # NumPy's lstsq takes no stacks
        if not least <= ndim_of(x) - (bdim is not None) <= 2:
            raise _la.LinAlgError(
                f"{ndim_of(x) - (bdim is not None)}-dimensional array given. Array must be two-dimensional"
            )
    vector = ndim_of(b) - (bb is not None) == 1
    (a, b), (ab, bb) = front([a, b], [ab, bb])
    if vector:
        b = np.expand_dims(b, -1)
    m, n = shape_of(a)[-2:]
    if shape_of(b)[-2] != m:
        raise _la.LinAlgError("Incompatible dimensions")
    t, result_t = _np_linalg._commonType(a, b)
    real_t = _np_linalg._realType(result_t)
    if rcond is None:
        rcond = np.finfo(t).eps * max(n, m)
    signature = "DDd->Ddid" if _np_linalg.isComplexType(t) else "ddd->ddid"
    if ab is None:  # one matrix: every example's b joins one right-hand side
        size, k = shape_of(b)[0], shape_of(b)[-1]
        b = np.reshape(moveaxis(b, 0, 1), (m, size * k))
        x, resids, rank, s = _la.lstsq(a, b, rcond)
        x = moveaxis(np.reshape(x, (n, size, k)), 1, 0)
        # (NumPy's residuals are empty unless the rank is full and m > n; with no
        # columns, as for a batch of 0, lstsq returns none but the rank still tells,
        # unless it differs along an outer level)
        full = m > n and type(rank) is not BatchedArray and rank == n
        resids = np.reshape(resids, (size, k)) if shape_of(resids)[0] else np.zeros((size, k if full else 0), real_t)
        return (x[..., 0] if vector else x, resids, rank, s), (0, 0, None, None)
    values, _ = broadcast_batched([a, b], [ab, bb], (2, 2))
    if shape_of(values[1])[-1] == 0:
        raise _la.LinAlgError("lstsq: a batch of right-hand sides with no columns is not supported")
    with np.errstate(
        call=_np_linalg._raise_linalgerror_lstsq, invalid="call", over="ignore", divide="ignore",
        under="ignore",
    ):  # fmt: skip
        x, resids, rank, s = _umath_linalg.lstsq(*values, rcond, signature=signature)
    if m == 0:
        x = np.zeros_like(x)
    if vector:
        x = x[..., 0]
    size = shape_of(rank)[0]
    full = materialize(rank)[0] == n
    if size == 0:  # no example to ask: the full rank of a generic matrix
        full = np.ones(1, bool)
    if m <= n or not full.any():
        resids = np.zeros((size, 0), real_t)
    elif not full.all():
        raise RuntimeError(
            "vmap: np.linalg.lstsq returns residuals only for examples whose matrix "
            "has full rank, and some examples here do and others do not, so the "
            "residuals cannot be stacked into a batch (the per-example loop fails "
            "the same way)"
        )
    x = x.astype(result_t, copy=True)
    return (x, resids.astype(real_t, copy=False), rank, s.astype(real_t, copy=False)), 0


register_batch_rule(_la.lstsq, _lstsq, nargs=2)


def _matrix_rank(args, bdims, hermitian=False, *, rtol=None):
    """np.linalg.matrix_rank; a per-example vector has rank 1 unless it is all zeros."""
    (A, tol), (ab, tb) = (list(args) + [None])[:2], (list(bdims) + [None])[:2]
    if ndim_of(A) - (ab is not None) < 2:
        A = bdim_at_front(A, ab, shape_of(tol)[tb] if ab is None else None)
        return np.any(A != 0, axis=tuple(range(1, ndim_of(A)))).astype(int), 0
    if tb is None:
        return _la.matrix_rank(move_to_front(A, ab), tol, hermitian, rtol=rtol), 0
    (A, tol), _ = broadcast_batched(*front([A, tol], [ab, tb]), (2, 0))
    return _la.matrix_rank(A, tol, hermitian, rtol=rtol), 0


register_batch_rule(_la.matrix_rank, _matrix_rank, nargs=2)


def _norm(args, bdims, ord=None, axis=None, keepdims=False):
    """np.linalg.norm with ``axis`` counted per example.  Without an axis, an
    example is a vector (1-D), a matrix (2-D), or raveled when ``ord`` is None."""
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = ndim_of(x) - 1
    if axis is None:
        if ord is None:  # NumPy's sqrt(x.dot(x)) of the raveled example: vecdot is that dot
            flat = flat_examples(x)
            if not np.issubdtype(flat.dtype, np.inexact):
                flat = flat.astype(float)
            if np.iscomplexobj(flat):
                re, im = np.real(flat), np.imag(flat)
                out = np.sqrt(np.vecdot(re, re) + np.vecdot(im, im))
            else:
                out = np.sqrt(np.vecdot(flat, flat))
            return (np.reshape(out, shape_of(out) + (1,) * nd) if keepdims else out), 0
        if nd not in (1, 2):
            raise ValueError("Improper number of dimensions to norm.")
        axis = tuple(range(nd))
    axes = tuple(a + 1 for a in normalize_axes(axis, nd))
    if ord in (None, 2) and axes == (nd,):
        out = _last_axis_norm(x, keepdims)
        if out is not None:
            return out, 0
    return _la.norm(x, ord, axes if len(axes) > 1 else axes[0], keepdims), 0


def _last_axis_norm(x, keepdims):
    """The 2-norm over the last axis of the batch-first real ``x``, as ``sqrt(r . r)``
    of its rows in the compiled dot (NumPy loops once per row: 9.5 ms on [20000,
    16, 4]); None where the dot kernel does not take the rows."""
    rows = as_rows(x) if type(x) is np.ndarray else None
    if rows is None or not _core.dot_wins(rows, 0, rows, 0):
        return None
    out = np.sqrt(_core.batched_dot(rows, 0, rows, 0)).reshape(x.shape[:-1])
    return out[..., None] if keepdims else out


register_batch_rule(_la.norm, _norm, nargs=1)


def _vector_norm(args, bdims, *, axis=None, keepdims=False, ord=2):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = ndim_of(x) - 1
    if axis is None:
        out = _la.vector_norm(flat_examples(x), axis=1, ord=ord)
        return (np.reshape(out, shape_of(out) + (1,) * nd) if keepdims else out), 0
    axes = tuple(a + 1 for a in normalize_axes(axis, nd))
    if ord == 2 and axes == (nd,):
        out = _last_axis_norm(x, keepdims)
        if out is not None:
            return out, 0
    axes = axes if isinstance(axis, tuple) else axes[0]
    return _la.vector_norm(x, axis=axes, keepdims=keepdims, ord=ord), 0


register_batch_rule(_la.vector_norm, _vector_norm, nargs=1)


def _matrix_norm(args, bdims, *, keepdims=False, ord="fro"):
    (x,), (bdim,) = args, bdims
    check_core(x, bdim, 2)
    return _la.matrix_norm(move_to_front(x, bdim), keepdims=keepdims, ord=ord), 0


register_batch_rule(_la.matrix_norm, _matrix_norm, nargs=1)


def _multi_dot(arrays, *, out=None):
    """np.linalg.multi_dot on BatchedArrays: NumPy's own chain ordering, whose
    products are ``np.dot`` calls that dispatch (its wrapper calls np.asanyarray)."""
    n = len(arrays)
    if n < 2:
        raise ValueError("Expecting at least two arrays.")
    if n == 2:
        return np.dot(arrays[0], arrays[1], out=out)
    arrays = list(arrays)
    nd_first, nd_last = np.ndim(arrays[0]), np.ndim(arrays[-1])
    if nd_first == 1:
        arrays[0] = np.atleast_2d(arrays[0])
    if nd_last == 1:
        arrays[-1] = np.transpose(np.atleast_2d(arrays[-1]))
    for a in arrays:
        if np.ndim(a) != 2:
            raise _la.LinAlgError(
                f"{np.ndim(a)}-dimensional array given. Array must be two-dimensional"
            )
    if n == 3:
        result = _np_linalg._multi_dot_three(*arrays, out=out)
    else:
        order = _np_linalg._multi_dot_matrix_chain_order(arrays)
        result = _np_linalg._multi_dot(arrays, order, 0, n - 1, out=out)
    if nd_first == 1 and nd_last == 1:
        return result[0, 0]
    if nd_first == 1 or nd_last == 1:
        return np.ravel(result)
    return result


register_batch_rule(_la.multi_dot, _multi_dot, nargs=COMPOSITE)


def _tensorinv(a, ind=2):
    """np.linalg.tensorinv on BatchedArrays: a reshape, inv, and a reshape back."""
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    shape = np.shape(a)
    inv = _la.inv(np.reshape(a, (math.prod(shape[ind:]), -1)))
    return np.reshape(inv, shape[ind:] + shape[:ind])


register_batch_rule(_la.tensorinv, _tensorinv, nargs=COMPOSITE)


def _tensorsolve(a, b, axes=None):
    """np.linalg.tensorsolve on BatchedArrays: a transpose, reshape, solve, reshape back."""
    an = np.ndim(a)
    if axes is not None:
        order = [k for k in range(an) if k not in [normalize_axis(x, an) for x in axes]]
        a = np.transpose(a, order + [normalize_axis(x, an) for x in axes])
    shape = np.shape(a)[-(an - np.ndim(b)) :]
    prod = math.prod(shape)
    if np.size(a) != prod**2:
        raise _la.LinAlgError(
            "Input arrays must satisfy the requirement prod(a.shape[b.ndim:]) == "
            "prod(a.shape[:b.ndim])"
        )
    return np.reshape(_la.solve(np.reshape(a, (prod, prod)), np.ravel(b)), shape)


register_batch_rule(_la.tensorsolve, _tensorsolve, nargs=COMPOSITE)


# np.linalg's array-API functions that call a main-namespace function which dispatches.
for _f in [_la.matmul, _la.tensordot, _la.matrix_transpose, _la.diagonal, _la.trace]:
    register_batch_rule(_f, _f._implementation, nargs=COMPOSITE)


def _linalg_vecdot(x1, x2, /, *, axis=-1):
    """np.linalg.vecdot: the axis of each operand last, then the np.vecdot gufunc."""
    return np.vecdot(np.moveaxis(x1, axis, -1), np.moveaxis(x2, axis, -1))


register_batch_rule(_la.vecdot, _linalg_vecdot, nargs=COMPOSITE)


def _linalg_outer(args, bdims):
    for x, b in zip(args, bdims):
        if ndim_of(x) - (b is not None) != 1:
            raise ValueError("Input arrays must be one-dimensional.")
    (a, b), (ab, bb) = front(args, bdims)
    a, b = np.expand_dims(a, -1), np.expand_dims(b, -2)  # [B?, n, 1] * [B?, 1, m]
    return np.multiply(a, b), 0


register_batch_rule(_la.outer, _linalg_outer, nargs=2)


def _cross(args, bdims, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """np.cross: each operand's vector axis goes last, then NumPy broadcasts the rest."""
    if axis is not None:
        axisa = axisb = axisc = axis
    values = []
    for x, b, ax in zip(args, bdims, (axisa, axisb)):
        nd = ndim_of(x) - (b is not None)
        if b is None:
            values.append(np.moveaxis(x, ax, -1))
        else:
            values.append(moveaxis(move_to_front(x, b), normalize_axis(ax, nd) + 1, ndim_of(x) - 1))
    (a, b), _ = broadcast_batched(values, [None if b is None else 0 for b in bdims])
    out = np.cross(a, b)
    if shape_of(a)[-1] == 2 and shape_of(b)[-1] == 2:
        return out, 0
    return moveaxis(out, ndim_of(out) - 1, normalize_axis(axisc, ndim_of(out) - 1) + 1), 0


register_batch_rule(np.cross, _cross, nargs=2)


def _linalg_cross(args, bdims, *, axis=-1):
    for x, b in zip(args, bdims):
        shape = shape_of(move_to_front(x, b))[1:] if b is not None else shape_of(x)
        if shape[axis] != 3:
            raise ValueError(
                "Both input arrays must be (arrays of) 3-dimensional vectors, but one is "
                f"{shape[axis]} dimensional instead."
            )
    return _cross(args, bdims, axis=axis)


register_batch_rule(_la.cross, _linalg_cross, nargs=2)


def _kron(args, bdims):
    """np.kron: ``a``'s axes interleaved with ``b``'s, multiplied, then merged pairwise."""
    (a, b), (ab, bb) = front(args, bdims)
    sa = shape_of(a)[ab is not None :]
    sb = shape_of(b)[bb is not None :]
    if not sa or not sb:
        values, bdim = broadcast_batched([a, b], [ab, bb])
        return np.multiply(*values), bdim
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + tuple(sa), (1,) * (nd - len(sb)) + tuple(sb)
    a = np.reshape(a, shape_of(a)[: ab is not None] + tuple(x for s in sa for x in (s, 1)))
    b = np.reshape(b, shape_of(b)[: bb is not None] + tuple(x for s in sb for x in (1, s)))
    out = np.multiply(a, b)
    return np.reshape(out, shape_of(out)[:1] + tuple(x * y for x, y in zip(sa, sb))), 0


register_batch_rule(np.kron, _kron, nargs=2)


def _diagonal(args, bdims, offset=0, axis1=0, axis2=1):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = ndim_of(x) - 1
    return np.diagonal(x, offset, normalize_axis(axis1, nd) + 1, normalize_axis(axis2, nd) + 1), 0


register_batch_rule(np.diagonal, _diagonal, nargs=1)


def _trace(args, bdims, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    (x,), (bdim,) = args, bdims
    x = move_to_front(x, bdim)
    nd = ndim_of(x) - 1
    a1, a2 = normalize_axis(axis1, nd) + 1, normalize_axis(axis2, nd) + 1
    return np.trace(x, offset, a1, a2, dtype), 0


register_batch_rule(np.trace, _trace, nargs=1)
