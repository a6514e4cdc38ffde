"""Polynomials, convolution and interpolation: functions of 1-D coefficient or sample arrays.

An example's coefficients are a row of a ``[B, n]`` batch; the loops here run
over the coefficients (Horner's rule, one root at a time), never over the
examples.  Where NumPy trims leading zeros, the result's length depends on the
values: the rule batches it when every example trims alike.
"""

import warnings

import numpy as np
import numpy.polynomial.polynomial as _npoly

from .._registry import COMPOSITE, NoBatchRule, register_batch_rule
from ._helpers import (
    anywhere,
    batch_size,
    bdim_at_front,
    broadcast_batched,
    flat_examples,
    materialize,
    move_to_front,
    ndim_of,
    shape_of,
)
from .products import _batched_einsum
from .sorting import bsearch, row_gather


def _coefficient_rows(args, bdims):
    """Each operand as rows of coefficients: ``[B, n]`` if batched, ``[n]`` if not
    (a scalar is a one-coefficient polynomial)."""
    out = []
    for a, b in zip(args, bdims):
        a = (a if hasattr(a, "dtype") else np.asarray(a)) if b is None else move_to_front(a, b)
        if ndim_of(a) == (b is not None):
            a = np.expand_dims(a, -1)
        out.append(a)
    return out, [None if b is None else 0 for b in bdims]


def _polyval(args, bdims):
    """Horner's rule, one coefficient at a time for the whole batch; ``y`` starts as
    ``zeros_like(x)``, so the result type is NumPy's."""
    (p, x), (pb, xb) = args, bdims
    if pb is None:
        return np.polyval(p, x), xb
    size = batch_size(args, bdims)
    p = move_to_front(p, pb)
    x = bdim_at_front(x, xb, size)
    column = (size,) + (1,) * (ndim_of(x) - 1)
    y = np.zeros_like(x)
    for k in range(shape_of(p)[1]):
        y = y * x + np.reshape(p[:, k], column)
    return y, 0


register_batch_rule(np.polyval, _polyval, nargs=2)


def _polyder(args, bdims, m=1):
    (p,), (pb,) = args, bdims
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    p = move_to_front(p, pb)
    for _ in range(m):
        n = shape_of(p)[1] - 1
        p = p[:, :-1] * np.arange(n, 0, -1)
    return p, 0


register_batch_rule(np.polyder, _polyder, nargs=1)


def _polyint(args, bdims, m=1, k=None):
    (p,), (pb,) = args, bdims
    m = int(m)
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    k = np.atleast_1d(np.zeros(m, float) if k is None else k)
    if len(k) == 1 and m > 1:
        k = k[0] * np.ones(m, float)
    if len(k) < m:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    p = move_to_front(p, pb)
    size = shape_of(p)[0]
    for i in range(m):
        constant = np.broadcast_to(np.asarray(k[i : i + 1]), (size, 1))
        p = np.concatenate((p / np.arange(shape_of(p)[1], 0, -1), constant), axis=1)
    return p, 0


register_batch_rule(np.polyint, _polyint, nargs=1)


def _polyarith(op):
    """polyadd, polysub: the shorter polynomial padded with leading zeros."""

    def rule(args, bdims):
        (a, b), bds = _coefficient_rows(args, bdims)
        n = max(shape_of(a)[-1], shape_of(b)[-1])
        a, b = (
            x if shape_of(x)[-1] == n
            else np.concatenate([np.zeros_like(x, shape=tuple(shape_of(x)[:-1]) + (n - shape_of(x)[-1],)), x], axis=-1)
            for x in (a, b)
        )  # fmt: skip
        values, bdim = broadcast_batched([a, b], bds)
        return op(*values), bdim

    return rule


register_batch_rule(np.polyadd, _polyarith(np.add), nargs=2)
register_batch_rule(np.polysub, _polyarith(np.subtract), nargs=2)


def _leading_zero(x, bdim):
    """Whether any example's first coefficient is 0 (NumPy's poly1d would trim it)."""
    x = x if bdim is None else move_to_front(x, bdim)
    return ndim_of(x) > (bdim is not None) and anywhere(x[..., 0] == 0)


def _polymul(args, bdims):
    """np.polymul is the full convolution of the two coefficient rows."""
    if any(_leading_zero(a, b) for a, b in zip(args, bdims)):
        raise NoBatchRule("leading zero coefficients, which NumPy trims per example")
    return _convolve(args, bdims, "full")


register_batch_rule(np.polymul, _polymul, nargs=2)


def _polydiv(args, bdims):
    """NumPy's long division, a step per quotient coefficient; the remainder's
    leading near-zeros are dropped when every example has as many."""
    (u, v), (ub, vb) = _coefficient_rows(args, bdims)
    size = batch_size([u, v], [ub, vb])
    u, v = bdim_at_front(u + 0.0, ub, size), v + 0.0
    dtype = np.result_type(u, v)
    m, n = shape_of(u)[-1] - 1, shape_of(v)[-1] - 1
    v0 = v[..., :1]
    scale = 1.0 / v0
    q = np.zeros_like(u, dtype=dtype, shape=(size, max(m - n + 1, 1)))
    r = u.astype(dtype)
    for k in range(m - n + 1):
        d = scale * r[:, k : k + 1]
        q[:, k : k + 1] = d
        r[:, k : k + n + 1] -= d * v
    close = np.abs(r[:, :-1]) <= 1e-8  # np.allclose(r[0], 0, rtol=1e-14), per example
    drop = materialize(np.sum(np.cumprod(close, axis=1), axis=1))[0]
    if not drop.size:  # no example: the quotient's steps zero m - n + 1 coefficients
        drop = np.array([min(max(m - n + 1, 0), shape_of(r)[-1] - 1)])
    if drop.min() != drop.max():
        raise RuntimeError(
            "vmap: np.polydiv gives remainders of different lengths for different "
            "examples, so they cannot be stacked into a batch (the per-example loop "
            "fails the same way)"
        )
    return (q, r[:, int(drop.max()) :]), 0


register_batch_rule(np.polydiv, _polydiv, nargs=2)


def _poly(args, bdims):
    """np.poly: coefficients from roots, one root multiplied in at a time, or from
    the eigenvalues of a square matrix."""
    (z,), (zb,) = args, bdims
    z = move_to_front(z, zb)
    if ndim_of(z) == 1:
        z = np.expand_dims(z, 1)
    shape = tuple(shape_of(z)[1:])
    if len(shape) == 2 and shape[0] == shape[1] and shape[0] != 0:
        z = np.linalg.eigvals(z)
    elif len(shape) == 1:
        if z.dtype != object:
            z = z.astype(np.mintypecode(z.dtype.char))
    else:
        raise ValueError("input must be 1d or non-empty square 2d array.")
    size, k = shape_of(z)
    if k == 0:
        return np.ones(size), 0
    a = np.ones_like(z, shape=(size, 1))
    zero = np.zeros_like(z, shape=(size, 1))
    for i in range(k):
        a = np.concatenate([a, zero], axis=1) - z[:, i : i + 1] * np.concatenate([zero, a], axis=1)
    if np.iscomplexobj(a):  # an example whose roots pair up into conjugates is real
        roots = z.astype(complex)
        paired = np.all(np.sort(roots, axis=1) == np.sort(np.conj(roots), axis=1), axis=1)
        values = materialize(paired)[0]
        if values.size and values.all():
            return np.copy(np.real(a)), 0
        a = np.where(paired[:, None], np.real(a) + 0j, a)
    return a, 0


register_batch_rule(np.poly, _poly, nargs=1)


def _roots(args, bdims):
    """np.roots: the eigenvalues of the batch of companion matrices, when every example
    has the same leading and trailing zeros (otherwise their sizes differ)."""
    (p,), (pb,) = args, bdims
    p = move_to_front(p, pb)
    if ndim_of(p) == 1:
        p = np.expand_dims(p, 1)
    if ndim_of(p) != 2:
        raise ValueError("Input must be a rank-1 array.")
    size, n = shape_of(p)
    nonzero = materialize(p != 0)[0].reshape(-1, n)
    if size == 0 or n == 0:
        lead, trail = 0, 0
    else:
        firsts = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), n)
        lasts = np.where(nonzero.any(axis=1), n - 1 - nonzero[:, ::-1].argmax(axis=1), -1)
        if firsts.min() != firsts.max() or lasts.min() != lasts.max():
            raise NoBatchRule("examples with different numbers of leading or trailing zeros")
        lead, trail = int(firsts[0]), n - 1 - int(lasts[0])
    if lead == n:  # all zeros: no roots
        return np.zeros((size, 0)), 0
    p = p[:, lead : n - trail]
    if not issubclass(p.dtype.type, (np.floating, np.complexfloating)):
        p = p.astype(float)
    m = shape_of(p)[1]
    if m > 1:
        first = np.expand_dims(-p[:, 1:] / p[:, :1], 1)  # [B, 1, m-1]
        below = np.broadcast_to(np.eye(m - 2, m - 1, dtype=p.dtype), (size, m - 2, m - 1))
        roots = np.linalg.eigvals(np.concatenate([first, below], axis=1))
    else:
        roots = np.zeros_like(p, shape=(size, 0), dtype=float)
    return np.concatenate([roots, np.zeros_like(roots, shape=(size, trail))], axis=1), 0


register_batch_rule(np.roots, _roots, nargs=1)


def _vander(args, bdims, N=None, increasing=False):
    """np.vander: the running products ``x, x*x, ...`` that NumPy accumulates, per example."""
    (x,), (xb,) = args, bdims
    x = move_to_front(x, xb)
    if ndim_of(x) != 2:
        raise ValueError("x must be a one-dimensional array or sequence.")
    size, n = shape_of(x)
    N = n if N is None else N
    x = x.astype(np.promote_types(x.dtype, int))
    v = np.ones_like(x, shape=(size, n, min(N, 1)))
    if N > 1:
        powers = np.multiply.accumulate(np.broadcast_to(x[:, :, None], (size, n, N - 1)), axis=2)
        v = np.concatenate([v, powers], axis=2)
    return (v if increasing else np.flip(v, 2)), 0


register_batch_rule(np.vander, _vander, nargs=1)


def _polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """np.polyfit on BatchedArrays: NumPy's steps (Vandermonde matrix, column
    scaling, lstsq), written with calls that dispatch and without in-place
    updates, so that any of ``x``, ``y`` and ``w`` may be batched."""
    order = int(deg) + 1
    x = x + 0.0
    y = y + 0.0
    if deg < 0:
        raise ValueError("expected deg >= 0")
    if np.ndim(x) != 1:
        raise TypeError("expected 1D vector for x")
    if np.size(x) == 0:
        raise TypeError("expected non-empty vector for x")
    if np.ndim(y) < 1 or np.ndim(y) > 2:
        raise TypeError("expected 1D or 2D array for y")
    if np.shape(x)[0] != np.shape(y)[0]:
        raise TypeError("expected x and y to have same length")
    if rcond is None:
        rcond = len(x) * np.finfo(x.dtype).eps
    lhs = np.vander(x, order)
    rhs = y
    if w is not None:
        w = w + 0.0
        if np.ndim(w) != 1:
            raise TypeError("expected a 1-d array for weights")
        if np.shape(w)[0] != np.shape(y)[0]:
            raise TypeError("expected w and y to have the same length")
        lhs = lhs * w[:, np.newaxis]
        rhs = rhs * (w[:, np.newaxis] if np.ndim(rhs) == 2 else w)
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    lhs = lhs / scale
    c, resids, rank, s = np.linalg.lstsq(lhs, rhs, rcond)
    c = np.transpose(np.transpose(c) / scale)
    if anywhere(np.not_equal(rank, order)) and not full:
        warnings.warn("Polyfit may be poorly conditioned", np.exceptions.RankWarning, stacklevel=2)
    if full:
        return c, resids, rank, s, rcond
    if cov:
        vbase = np.linalg.inv(np.dot(np.transpose(lhs), lhs)) / np.outer(scale, scale)
        if cov == "unscaled":
            fac = 1
        else:
            if len(x) <= order:
                raise ValueError("the number of data points must exceed order to scale the covariance matrix")
            fac = resids / (len(x) - order)
        if np.ndim(y) == 1:
            return c, vbase * fac
        return c, vbase[:, :, np.newaxis] * fac
    return c


register_batch_rule(np.polyfit, _polyfit, nargs=COMPOSITE)


# Convolution and correlation ---------------------------------------------------------------
_MODES = {"valid": 0, "same": 1, "full": 2, 0: 0, 1: 1, 2: 2}


def _correlate(operands, bdims, mode):
    """NumPy's ``_pyarray_correlate`` for rows of ``x`` and ``y`` (``len(x) >= len(y)``):
    ``out[i] = sum_j x[i - left + j] * y[j]`` with zeros outside ``x``, by one
    product of the zero-padded sliding windows of ``x`` with ``y``."""
    x, y = operands
    try:
        mode = _MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})") from None
    n2 = shape_of(y)[-1]
    dtype = np.result_type(x, y)
    left, right = [(0, 0), (n2 // 2, n2 - n2 // 2 - 1), (n2 - 1, n2 - 1)][mode]
    pad = [(0, 0)] * (ndim_of(x) - 1) + [(left, right)]
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x.astype(dtype), pad), n2, axis=-1)
    out = np.matmul(windows, np.expand_dims(y.astype(dtype), -1))[..., 0]
    return out, (0 if any(b is not None for b in bdims) else None)


def _convolve(args, bdims, mode="full"):
    (a, v), bds = _coefficient_rows(args, bdims)
    if shape_of(v)[-1] > shape_of(a)[-1]:
        (a, v), bds = (v, a), bds[::-1]
    if shape_of(a)[-1] == 0:
        raise ValueError("a cannot be empty")
    if shape_of(v)[-1] == 0:
        raise ValueError("v cannot be empty")
    return _correlate((a, np.flip(v, -1)), bds, mode)


def _correlate_rule(args, bdims, mode="valid"):
    """np.correlate: ``v`` conjugated; when it is the longer, the operands swap and
    the result is reversed, as in NumPy's correlate2."""
    (a, v), bds = _coefficient_rows(args, bdims)
    if shape_of(a)[-1] == 0 or shape_of(v)[-1] == 0:
        raise ValueError("Array arguments cannot be empty")
    if np.iscomplexobj(v):
        v = np.conj(v)
    if shape_of(v)[-1] > shape_of(a)[-1]:
        out, bdim = _correlate((v, a), bds[::-1], mode)
        return np.flip(out, -1), bdim
    return _correlate((a, v), bds, mode)


register_batch_rule(np.convolve, _convolve, nargs=2)
register_batch_rule(np.correlate, _correlate_rule, nargs=2)


# Interpolation ------------------------------------------------------------------------------
def _interp(args, bdims, left=None, right=None, period=None):
    """np.interp.  With batched sample points each example searches its own ``xp``
    (``bsearch``), then NumPy's formula ``slope * (x - xp[j]) + fp[j]`` and its
    special cases (ends, exact hits, NaN) apply elementwise."""
    (x, xp, fp), (xb, xpb, fpb) = args, bdims
    if xpb is None and fpb is None:
        return np.interp(x, xp, fp, left, right, period), xb
    if period is not None:
        raise NoBatchRule("period= with batched sample points")
    size = batch_size(args, bdims)
    xp = bdim_at_front(xp, xpb, size).astype(np.float64)
    fp = bdim_at_front(fp, fpb, size)
    fp = fp.astype(np.result_type(fp, np.float64))
    if ndim_of(xp) != 2 or ndim_of(fp) != 2:
        raise ValueError("object too deep for desired array")
    n = shape_of(xp)[1]
    if shape_of(fp)[1] != n:
        raise ValueError("fp and xp are not of the same length.")
    if n == 0:
        raise ValueError("array of sample points is empty")
    x = bdim_at_front(x, xb, size)
    shape = shape_of(x)
    x = flat_examples(x).astype(np.float64)
    if xpb is None:  # (the shared xp, from a batch of one: this batch may have none)
        j = np.searchsorted(bdim_at_front(args[1], None, 1)[0].astype(np.float64), x, side="right") - 1
    else:
        j = bsearch(xp, x, "right") - 1

    at_xp, at_fp = row_gather(xp), row_gather(fp)
    j0, j1 = np.clip(j, 0, n - 1), np.clip(j + 1, 0, n - 1)
    x0, x1, y0, y1 = at_xp(j0), at_xp(j1), at_fp(j0), at_fp(j1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (y1 - y0) / (x1 - x0)
        out = slope * (x - x0) + y0
        out = np.where(np.isnan(out), slope * (x - x1) + y1, out)
        out = np.where(np.isnan(out) & (y0 == y1), y0, out)
    out = np.where((j == n - 1) | (x0 == x), y0, out)
    out = np.where(j < 0, fp[:, :1] if left is None else left, out)
    out = np.where(x > xp[:, -1:], fp[:, -1:] if right is None else right, out)
    out = np.where(np.isnan(x), x, out)
    return np.reshape(out.astype(fp.dtype, copy=False), shape), 0


register_batch_rule(np.interp, _interp, nargs=3)


# numpy.polynomial's two-dimensional evaluation ------------------------------------------------
def _polyval_grid(grid):
    """numpy.polynomial's polyval2d (``grid=False``: elementwise in ``x`` and ``y``) and
    polygrid2d (on the grid of ``x`` by ``y``): ``sum c[i, j] x**i y**j`` as one einsum
    of the Vandermonde matrices of ``x`` and ``y`` with ``c``, any of them batched."""

    def rule(args, bdims):
        (x, y, c), (xb, yb, cb) = args, bdims
        if not grid:
            (x, y), bdim = broadcast_batched([x, y], [xb, yb])
            xb = yb = bdim
            x, y = np.broadcast_arrays(x, y)
        nx, ny = ndim_of(x) - (xb is not None), ndim_of(y) - (yb is not None)
        nc = ndim_of(c) - (cb is not None)
        ci = c.shape[0] if cb is None else np.shape(move_to_front(c, cb))[1]
        cj = c.shape[1] if cb is None else np.shape(move_to_front(c, cb))[2]
        letters = iter("abcdefghklmnopqrstuvw")
        sx = "".join(next(letters) for _ in range(nx))
        sy = sx if not grid else "".join(next(letters) for _ in range(ny))
        extra = "".join(next(letters) for _ in range(nc - 2))
        subscripts = f"{sx}i,{sy}j,ij{extra}->{extra}{sx}{'' if not grid else sy}"
        return _batched_einsum(subscripts, [_power_columns(x, ci), _power_columns(y, cj), c], [xb, yb, cb])

    return rule


def _power_columns(x, n):
    """``polyvander(x, n - 1)``, NumPy's running products, with calls that dispatch."""
    x = x + 0.0
    powers = [x * 0 + 1]
    for _ in range(1, n):
        powers.append(powers[-1] * x)
    return np.stack(powers, axis=-1)


register_batch_rule(_npoly.polyval2d, _polyval_grid(False), nargs=3)
register_batch_rule(_npoly.polygrid2d, _polyval_grid(True), nargs=3)
