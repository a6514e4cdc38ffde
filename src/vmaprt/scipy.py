"""Batch-aware SciPy: wrappers of SciPy functions that do not dispatch on NumPy's protocols.

Every ``scipy.special`` ufunc (``expit``, ``erf``, ``gammaln``, ``xlogy``, ``jv``,
...) works under vmap as it is, like any NumPy ufunc.  SciPy's other functions
convert their arguments with ``np.asarray``, which a ``BatchedArray`` refuses.
The functions here take SciPy's arguments and return what SciPy returns;
outside vmap they call SciPy directly, and under vmap a batch rule runs them
on the whole batch (each is a :func:`vmaprt.per_example` wrapper with a rule
registered by :func:`vmaprt.register_batch_rule`).  A form of call that a rule
does not batch runs once per example, with a ``vmaprt.PerformanceWarning``.

>>> import numpy as np, vmaprt
>>> from vmaprt import scipy as vsp
>>> x = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
>>> vmaprt.vmap(vsp.logsumexp)(x)                      # [N, D] -> [N]
array([2.40760596, 2.09861229])
>>> vmaprt.vmap(vsp.softmax)(x).round(4)               # [N, D] -> [N, D]
array([[0.09  , 0.2447, 0.6652],
       [0.3333, 0.3333, 0.3333]])

Any other SciPy function runs under vmap through ``vmaprt.per_example(f)``,
once per example.
"""

import warnings

import numpy as np
import scipy.linalg
import scipy.special

from . import _core
from ._batched import per_example
from ._registry import Mapped, register_batch_rule
from ._rules._helpers import (
    anywhere,
    as_rows,
    batch_size,
    bdim_at_front,
    broadcast_batched,
    materialize,
    move_to_front,
    ndim_of,
    normalize_axes,
    shape_of,
)

__all__ = [
    "logsumexp",
    "softmax",
    "log_softmax",
    "solve",
    "solve_triangular",
    "cho_factor",
    "cho_solve",
    "lu_factor",
    "lu_solve",
    "expm",
]


def _wrap(func, name):
    """``per_example(func)`` with a docstring that points at SciPy's."""
    wrapper = per_example(func)
    wrapper.__doc__ = (
        f"Batch-aware :func:`{name}`: the same arguments and results; under vmap it "
        f"runs on the whole batch."
    )
    wrapper.__module__ = __name__
    wrapper.__wrapped__ = func
    return wrapper


logsumexp = _wrap(scipy.special.logsumexp, "scipy.special.logsumexp")
softmax = _wrap(scipy.special.softmax, "scipy.special.softmax")
log_softmax = _wrap(scipy.special.log_softmax, "scipy.special.log_softmax")
solve = _wrap(scipy.linalg.solve, "scipy.linalg.solve")
solve_triangular = _wrap(scipy.linalg.solve_triangular, "scipy.linalg.solve_triangular")
cho_factor = _wrap(scipy.linalg.cho_factor, "scipy.linalg.cho_factor")
cho_solve = _wrap(scipy.linalg.cho_solve, "scipy.linalg.cho_solve")
lu_factor = _wrap(scipy.linalg.lu_factor, "scipy.linalg.lu_factor")
lu_solve = _wrap(scipy.linalg.lu_solve, "scipy.linalg.lu_solve")
expm = _wrap(scipy.linalg.expm, "scipy.linalg.expm")


# scipy.special: reductions over per-example axes -----------------------------------------------
def _axes(x, axis):
    """``axis`` of one example as axes of the batch-first ``x``."""
    return tuple(a + 1 for a in normalize_axes(axis, ndim_of(x) - 1))


def _last_axis_rows(x, bdim, axis):
    """``(rows, lead)`` for the compiled row kernels, or None when they do not take
    ``x``: a float ndarray batch reduced over the last axis of its examples (or
    over a vector example whole).  ``rows`` is a batch-first ``[R, n]`` view, the
    batch and the examples' leading axes merged when that needs no copy, and
    ``lead`` is the shape those ``R`` rows come back to."""
    if type(x) is not np.ndarray or bdim is None or x.dtype not in (np.float32, np.float64):
        return None
    nd = x.ndim - 1
    if nd < 1 or axis not in (-1, nd - 1, (-1,), (nd - 1,)) + ((None,) if nd == 1 else ()):
        return None
    x = move_to_front(x, bdim)
    rows = as_rows(x)
    return None if rows is None else (rows, x.shape[:-1])


def _logsumexp(args, bdims, axis=None, b=None, keepdims=False, return_sign=False):
    (a,), (abdim,) = args, bdims
    rows = _last_axis_rows(a, abdim, axis) if b is None and not keepdims and not return_sign else None
    if rows is not None:
        return _core.batched_logsumexp(rows[0], 0).reshape(rows[1]), 0  # one fused pass per row
    b_batched = type(b) is Mapped
    if b_batched:
        size = batch_size([a, b.value], [abdim, b.bdim])
        a = bdim_at_front(a, abdim, size)
        b = move_to_front(b.value, b.bdim)  # one example's b broadcasts against one a
        b = np.reshape(b, shape_of(b)[:1] + (1,) * (ndim_of(a) - ndim_of(b)) + tuple(shape_of(b)[1:]))
    else:
        a = move_to_front(a, abdim)
    if shape_of(a)[0] == 0:  # SciPy cannot reduce an empty batch: one example gives the shapes
        out, _ = _logsumexp([_one(a)], [0], axis, _one(b) if b_batched else b, keepdims, return_sign)
        return (tuple(o[:0] for o in out) if return_sign else out[:0]), 0
    return logsumexp(a, axis=_axes(a, axis), b=b, keepdims=keepdims, return_sign=return_sign), 0


def _one(x):
    """One example of ones in the place of an empty batch-first ``x``."""
    return np.ones_like(x, shape=(1,) + tuple(shape_of(x)[1:]))


register_batch_rule(logsumexp, _logsumexp, nargs=1, kw_operands=("b",))


def _softmax_rule(wrapper):
    def rule(args, bdims, axis=None):
        (x,), (bdim,) = args, bdims
        rows = _last_axis_rows(x, bdim, axis) if wrapper is softmax else None
        if rows is not None:
            return _core.batched_softmax(rows[0], 0).reshape(rows[1] + rows[0].shape[1:]), 0  # one fused pass per row
        x = move_to_front(x, bdim)
        return wrapper(x, axis=_axes(x, axis)), 0

    return rule


register_batch_rule(softmax, _softmax_rule(softmax), nargs=1)
register_batch_rule(log_softmax, _softmax_rule(log_softmax), nargs=1)


# scipy.linalg ------------------------------------------------------------------------------------
def _check_finite(*values):
    if any(anywhere(~np.isfinite(v)) for v in values if v is not None):
        raise ValueError("array must not contain infs or NaNs")


def _lapack_dtype(*values):
    """The type LAPACK computes in: float32/float64/complex64/complex128, as SciPy picks it."""
    return np.result_type(*(v.dtype if hasattr(v, "dtype") else np.asarray(v).dtype for v in values), np.float32)


def _as_columns(b, bbdim, size):
    """``b`` batch-first, with a per-example vector made a one-column matrix:
    returns ``(b, was_vector)``."""
    b = bdim_at_front(b, bbdim, size)
    if ndim_of(b) == 2:
        return np.expand_dims(b, -1), True
    return b, False


def _solve(args, bdims, **kwargs):
    """scipy.linalg.solve takes stacks itself (SciPy >= 1.15); a vector ``b`` of one
    example becomes a one-column matrix, so that the batch is not read as its rows."""
    (a, b), (ab, bb) = args, bdims
    size = batch_size(args, bdims)
    a = bdim_at_front(a, ab, size)
    b, vector = _as_columns(b, bb, size)
    x = solve(a, b, **kwargs)
    return (x[..., 0] if vector else x), 0


if tuple(int(p) for p in scipy.__version__.split(".")[:2]) >= (1, 15):
    register_batch_rule(solve, _solve, nargs=2)


def _triangular_solve(t, b, lower, trans=0, unit_diagonal=False, substitute=False):
    """Solve ``op(T) x = b`` for batch-first triangular ``t`` (only its ``lower`` or upper
    triangle read) and matrices ``b``: ``np.linalg.solve`` over the whole batch, which
    raises LinAlgError on a zero diagonal as SciPy's solve_triangular does; or, with
    ``substitute``, by substitution, whose infs and NaNs are those of LAPACK's getrs
    (SciPy's lu_solve of a singular factor)."""
    n = shape_of(t)[-1]
    t = np.tril(t) if lower else np.triu(t)
    if unit_diagonal:
        t = np.where(np.eye(n, dtype=bool), np.ones((), t.dtype), t)
    if trans in (1, "T"):
        t = np.swapaxes(t, -1, -2)
    elif trans in (2, "C"):
        t = np.conj(np.swapaxes(t, -1, -2))
    elif trans not in (0, "N"):
        raise ValueError("trans must be 0, 1, 2, 'N', 'T' or 'C'")
    values, _ = broadcast_batched([t, b], [0, 0], (2, 2))
    if substitute:
        return _substitution(*values, lower=lower == (trans in (0, "N")))
    return np.linalg.solve(*values)


def _substitution(t, b, lower):
    """x with ``t @ x == b`` for triangular ``t``, one row of x at a time over the whole
    batch (forward for ``lower``, else backward), dividing by zero where LAPACK does."""
    n = shape_of(t)[-1]
    x = np.zeros_like(b * t[..., :1, :1])
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(n) if lower else range(n - 1, -1, -1):
            done = slice(0, i) if lower else slice(i + 1, n)
            rest = np.einsum("...j,...jk->...k", t[..., i, done], x[..., done, :])
            x[..., i, :] = (b[..., i, :] - rest) / t[..., i, i, None]
    return x


def _solve_triangular(args, bdims, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                      check_finite=True):  # fmt: skip
    (a, b), (ab, bb) = args, bdims
    size = batch_size(args, bdims)
    a = bdim_at_front(a, ab, size)
    if check_finite:
        _check_finite(a, b)
    b, vector = _as_columns(b, bb, size)
    dtype = _lapack_dtype(a, b)
    x = _triangular_solve(a.astype(dtype), b.astype(dtype), lower, trans, unit_diagonal).astype(dtype)
    return (x[..., 0] if vector else x), 0


register_batch_rule(solve_triangular, _solve_triangular, nargs=2)


def _cho_factor(args, bdims, lower=False, overwrite_a=False, check_finite=True):
    """scipy.linalg.cho_factor: NumPy's batched Cholesky factor in the triangle that
    SciPy fills; the other triangle keeps ``a``'s entries, as LAPACK leaves them."""
    (a,), (abdim,) = args, bdims
    a = move_to_front(a, abdim)
    if check_finite:
        _check_finite(a)
    a = a.astype(_lapack_dtype(a))
    n = shape_of(a)[-1]
    factor = np.linalg.cholesky(a, upper=not lower)
    mask = np.tri(n, dtype=bool) if lower else np.tri(n, dtype=bool).T
    return (np.where(mask, factor, a), lower), (0, None)


register_batch_rule(cho_factor, _cho_factor, nargs=1)


def _cho_solve(args, bdims, overwrite_b=False, check_finite=True):
    """scipy.linalg.cho_solve: two triangular solves, ``L y = b`` then ``L^H x = y``."""
    (c_and_lower, b), (cb, bb) = args, bdims
    (c, lower), (cbdim, _) = (c_and_lower, cb) if type(cb) is list else (c_and_lower, [None, None])
    size = batch_size([c, b], [cbdim, bb])
    c = bdim_at_front(c, cbdim, size)
    if check_finite:
        _check_finite(c, b)
    b, vector = _as_columns(b, bb, size)
    dtype = _lapack_dtype(c, b)
    c, b = c.astype(dtype), b.astype(dtype)
    if lower:
        y = _triangular_solve(c, b, True)
        x = _triangular_solve(c, y, True, trans="C")
    else:
        y = _triangular_solve(c, b, False, trans="C")
        x = _triangular_solve(c, y, False)
    return (x[..., 0] if vector else x), 0


register_batch_rule(cho_solve, _cho_solve, nargs=2)


def _lu_factor(args, bdims, overwrite_a=False, check_finite=True):
    """scipy.linalg.lu_factor: LU with partial pivoting, one column at a time for the
    whole batch.  The pivot is LAPACK's: the first largest ``|re| + |im|``; the
    column below it is scaled by its reciprocal, as LAPACK does, so that near-ties
    in the next column round as there."""
    (a,), (abdim,) = args, bdims
    a = move_to_front(a, abdim)
    if check_finite:
        _check_finite(a)
    lu = np.array(a, dtype=_lapack_dtype(a), copy=True) if type(a) is np.ndarray else a.astype(_lapack_dtype(a))
    size, m, n = shape_of(lu)
    k_max = min(m, n)
    piv = np.zeros_like(lu, dtype=np.int32, shape=(size, k_max))
    rows = np.arange(size)
    for k in range(k_max):
        column = lu[:, k:, k]
        p = k + np.argmax(np.abs(np.real(column)) + np.abs(np.imag(column)), axis=1)
        piv[:, k] = p
        row_k, row_p = lu[rows, k], lu[rows, p]
        lu[rows, p] = row_k
        lu[rows, k] = row_p
        pivot = lu[:, k, k : k + 1]
        safe = np.where(pivot == 0, np.ones((), lu.dtype), pivot)
        lu[:, k + 1 :, k] = np.where(pivot == 0, lu[:, k + 1 :, k], lu[:, k + 1 :, k] * (1 / safe))
        lu[:, k + 1 :, k + 1 :] -= lu[:, k + 1 :, k : k + 1] * lu[:, k : k + 1, k + 1 :]
    if anywhere(np.diagonal(lu, axis1=1, axis2=2) == 0):
        warnings.warn(
            "Diagonal number is exactly zero. Singular matrix.", scipy.linalg.LinAlgWarning, stacklevel=2
        )
    return (lu, piv), 0


register_batch_rule(lu_factor, _lu_factor, nargs=1)


def _lu_solve(args, bdims, trans=0, overwrite_b=False, check_finite=True):
    """scipy.linalg.lu_solve: the row interchanges of ``piv``, then two triangular solves
    (transposed for ``trans``, with the interchanges undone last)."""
    (lu_and_piv, b), (lb, bb) = args, bdims
    (lu, piv), (lubdim, pivbdim) = lu_and_piv, (lb if type(lb) is list else [None, None])
    size = batch_size([lu, piv, b], [lubdim, pivbdim, bb])
    lu, piv = bdim_at_front(lu, lubdim, size), bdim_at_front(piv, pivbdim, size)
    if check_finite:
        _check_finite(lu, b)
    b, vector = _as_columns(b, bb, size)
    dtype = _lapack_dtype(lu, b)
    lu, b = lu.astype(dtype), b.astype(dtype)
    n = shape_of(lu)[-1]
    perm = np.arange(n) + np.zeros_like(piv[:, :1])  # [B, n], batched wherever piv is
    rows = np.arange(size)
    for k in range(shape_of(piv)[1]):  # perm[i] is the row of b that row i of L U meets
        p = piv[:, k]
        at_k, at_p = perm[rows, k], perm[rows, p]
        perm[rows, p] = at_k
        perm[rows, k] = at_p
    sub = anywhere(np.diagonal(lu, axis1=1, axis2=2) == 0)  # a singular factor: LAPACK's infs
    if trans in (0, "N"):
        pb = np.take_along_axis(b, perm[:, :, None], axis=1)
        y = _triangular_solve(lu, pb, True, unit_diagonal=True, substitute=sub)
        x = _triangular_solve(lu, y, False, substitute=sub)
    else:
        t = 1 if trans in (1, "T") else 2
        z = _triangular_solve(lu, b, False, trans=t, substitute=sub)
        w = _triangular_solve(lu, z, True, trans=t, unit_diagonal=True, substitute=sub)
        x = np.take_along_axis(w, np.argsort(perm, axis=1)[:, :, None], axis=1)
    return (x[..., 0] if vector else x), 0


register_batch_rule(lu_solve, _lu_solve, nargs=2)


# Note [batched expm]
#     SciPy's expm picks a Pade degree per matrix and runs one matrix at a time
#     (about 0.5 ms each).  Here every example gets degree 13 with its own
#     scaling 2**-s, Higham's (2005) scaling and squaring, so that the whole
#     batch is a few matrix products and one batched solve; the squarings stop
#     per example.  The result agrees with SciPy's to rounding.
_B13 = (
    64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
    129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
    40840800.0, 960960.0, 16380.0, 182.0, 1.0,
)  # fmt: skip
_THETA13 = 5.371920351148152


def _expm(args, bdims):
    (a,), (abdim,) = args, bdims
    a = move_to_front(a, abdim)
    if ndim_of(a) < 3 or shape_of(a)[-1] != shape_of(a)[-2]:
        raise ValueError("expected a square matrix (or a stack of them) per example")
    out_dtype = _lapack_dtype(a)
    a = a.astype(np.result_type(out_dtype, np.float64))
    n = shape_of(a)[-1]
    if n == 0:
        return a.astype(out_dtype), 0
    if n == 1:
        return np.exp(a).astype(out_dtype), 0
    norm = np.max(np.sum(np.abs(a), axis=-2), axis=-1)  # the 1-norm of each matrix
    s = np.maximum(0, np.ceil(np.log2(np.maximum(norm, 1e-300) / _THETA13))).astype(int)
    a = a / np.expand_dims(np.ldexp(1.0, s), (-1, -2))
    b = _B13
    ident = np.eye(n, dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident
    r = np.linalg.solve(v - u, v + u)
    steps = materialize(s)[0]
    for i in range(int(steps.max()) if steps.size else 0):
        r = np.where(np.expand_dims(s > i, (-1, -2)), r @ r, r)
    return r.astype(out_dtype), 0


register_batch_rule(expm, _expm, nargs=1)
