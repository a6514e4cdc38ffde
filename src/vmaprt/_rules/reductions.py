"""Reductions and scans over per-example axes: the batch axis goes first, ``axis`` shifts past it."""

import math

import numpy as np

from .. import _core, _parallel
from .._registry import Mapped, NoBatchRule, register_batch_rule
from ._helpers import (
    as_rows,
    batch_size,
    bdim_at_front,
    flat_examples,
    move_to_front,
    ndim_of,
    normalize_axes,
    normalize_axis,
    shape_of,
    with_mask,
)


def defreducer(func, flat_when_none=False, masked=False, has_out=True, kernel=None):
    """``func(a, axis=None, ...)`` reduces or scans per-example axes.

    The batch axis goes first and ``axis`` shifts past it.  ``axis=None``
    means every per-example axis, or, with ``flat_when_none`` (argmax,
    cumsum), the flattened example.  ``masked`` reducers take a ``where=`` mask,
    which may be batched.  ``kernel`` names the compiled reduction
    (``_core.batched_reduce``) to use where it wins; large batches of reducers
    that take ``out=`` are otherwise spread over threads (vmaprt/_parallel.py).
    """

    def rule(args, bdims, axis=None, *rest, **kwargs):
        (x,), (bdim,) = args, bdims
        if kernel and not rest:
            out = _kernel_reduce(kernel, x, bdim, axis, kwargs)
            if out is not None:
                return out, 0
        if "where" in kwargs:
            x, bdim, kwargs["where"] = with_mask(x, bdim, kwargs["where"])
        mean = kwargs.get("mean")
        if type(mean) is Mapped:  # std and var given a batched mean=: batch-first, as x
            size = shape_of(mean.value)[mean.bdim]
            x, bdim = bdim_at_front(x, bdim, size), 0
            mean = kwargs["mean"] = bdim_at_front(mean.value, mean.bdim, size)
        x = move_to_front(x, bdim)
        if x.shape[0] == 0 and x.size == 0 and math.prod(x.shape[1:]):
            # Some NumPy reductions (median, quantiles) cannot reshape an empty batch:
            # reduce one example of zeros for the result's shape and dtype, keep none of it.
            one = np.zeros_like(x, shape=(1,) + tuple(x.shape[1:]))
            kwargs.pop("where", None)  # a mask changes neither the shape nor the dtype
            kwargs.pop("mean", None)  # (nor does a given mean)
            out, out_bdim = rule([one], [0], axis, *rest, **kwargs)
            return out[:0], out_bdim
        nd = x.ndim - 1
        if nd == 0 and axis is not None:
            # NumPy's legacy acceptance of axis 0 or -1 for a 0-d example (np.sum, np.max,
            # np.cumsum; np.mean refuses): its own check, then the whole example.
            func(np.zeros((), x.dtype), axis, *rest, **{k: v for k, v in kwargs.items() if k not in ("where", "mean")})
            axis = None
        if axis is None and flat_when_none:
            keepdims = kwargs.pop("keepdims", False)
            flat = x.reshape(x.shape[0], math.prod(x.shape[1:]))
            out = func(flat, 1, *rest, **kwargs)
            if keepdims:
                out = out.reshape((out.shape[0],) + (1,) * nd)
            return out, 0
        axes = normalize_axes(axis, nd)
        shifted = tuple(a + 1 for a in axes)
        if not isinstance(axis, (tuple, list)) and axis is not None:
            shifted = shifted[0]
        if has_out and not rest and mean is None and _parallel.worth_splitting([x], x.shape[0], scale=3):
            return _split_reduce(func, x, shifted, kwargs), 0
        return func(x, shifted, *rest, **kwargs), 0

    takes_mean = func in (np.std, np.var, np.nanstd, np.nanvar)
    operands = (("where",) if masked else ()) + (("mean",) if takes_mean else ())
    register_batch_rule(func, rule, nargs=1, kw_operands=operands)


def _kernel_reduce(kernel, x, bdim, axis, kwargs):
    """``_core.batched_reduce`` over the whole example or its last axis, where
    ``_core.reduce_wins`` says it pays; None otherwise.  An example of several
    axes is reduced as rows: its leading axes (and the batch) merge into one,
    which must be possible without a copy.  NumPy reduces short last axes one
    inner loop per row: on [20000, 16, 4], ``x.mean(axis=-1)`` took 10 ms."""
    ddof, keepdims = kwargs.get("ddof", 0), kwargs.get("keepdims", False)
    if not set(kwargs) <= {"ddof", "keepdims"} or type(keepdims) is not bool:
        return None
    if type(x) is not np.ndarray or not isinstance(ddof, (int, float, np.integer, np.floating)):
        return None
    nd = x.ndim - 1
    if nd < 1 or axis is not None and (
        type(axis) is bool or not isinstance(axis, (int, np.integer)) or axis not in (-1, nd - 1)
    ):
        return None
    if nd == 1:  # (the kernel reads x as it is: the view below costs 2.3 us of a 10 us call)
        if not _core.reduce_wins(kernel, x, bdim):
            return None
        out = _core.batched_reduce(kernel, x, bdim, ddof)
    else:
        x = move_to_front(x, bdim)
        lead = x.shape[:-1] if axis is not None else x.shape[:1]  # the axes the result keeps
        rows = as_rows(x, len(lead))
        if rows is None or not _core.reduce_wins(kernel, rows, 0):
            return None
        out = _core.batched_reduce(kernel, rows, 0, ddof).reshape(lead)
    if keepdims:
        out = out.reshape(out.shape + (1,) * (nd + 1 - out.ndim))
    return out


def _split_reduce(func, x, axis, kwargs):
    """A large reduction with the batch (axis 0 of ``x``) spread over threads."""
    where = kwargs.pop("where", None)
    masked = isinstance(where, np.ndarray) and where.ndim == x.ndim and where.shape[0] == x.shape[0]
    if where is not None and not masked:
        kwargs["where"] = where  # an unbatched mask goes to every piece as it is

    def call(*xs, out):
        extra = {"where": xs[1]} if masked else {}
        func(xs[0], axis, out=out, **kwargs, **extra)

    probe = func(x[:1], axis, **kwargs, **({"where": where[:1]} if masked else {}))
    out = np.empty((x.shape[0],) + probe.shape[1:], dtype=probe.dtype)
    values, batched = ([x, where], [True, True]) if masked else ([x], [True])
    return _parallel.split_call(call, values, batched, 0, out)



# These take a where= mask, which may be batched; some have a compiled kernel.
KERNELS = {np.sum: "sum", np.mean: "mean", np.prod: "prod", np.min: "min", np.amin: "min",
           np.max: "max", np.amax: "max", np.var: "var", np.std: "std"}  # fmt: skip
for _f in [
    np.sum, np.mean, np.prod, np.min, np.max, np.amin, np.amax, np.any, np.all,
    np.std, np.var, np.nansum, np.nanmean, np.nanprod, np.nanmin, np.nanmax,
    np.nanstd, np.nanvar,
]:  # fmt: skip
    defreducer(_f, masked=True, kernel=KERNELS.get(_f))

for _f in [np.median, np.nanmedian, np.ptp]:
    defreducer(_f)

defreducer(np.count_nonzero, has_out=False)

for _f in [np.argmin, np.argmax, np.nanargmin, np.nanargmax, np.cumsum, np.cumprod,
           np.nancumsum, np.nancumprod]:  # fmt: skip
    defreducer(_f, flat_when_none=True)


# Differences and integrals along a per-example axis ----------------------------------------
def _diff(args, bdims, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    """np.diff; ``prepend``/``append`` (which may be batched) join ``a`` first, as NumPy does."""
    (a,), (abdim,) = args, bdims
    if n == 0:  # NumPy returns ``a`` itself, before it looks at prepend/append
        return a, abdim
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    mapped = [v for v in (prepend, append) if type(v) is Mapped]
    size = batch_size([a, *(m.value for m in mapped)], [abdim, *(m.bdim for m in mapped)])
    a = bdim_at_front(a, abdim, size)
    nd = ndim_of(a) - 1
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis(axis, nd) + 1
    parts = []
    for value in (prepend, append):
        if value is np._NoValue:
            parts.append(None)
            continue
        if type(value) is Mapped:
            v = move_to_front(value.value, value.bdim)
        else:
            v = bdim_at_front(value, None, size)
        if ndim_of(v) == 1:  # a scalar per example fills one slice along the axis
            shape = list(shape_of(a))
            shape[axis] = 1
            v = np.broadcast_to(np.reshape(v, (size,) + (1,) * nd), shape)
        parts.append(v)
    if parts[0] is not None or parts[1] is not None:
        a = np.concatenate([p for p in (parts[0], a, parts[1]) if p is not None], axis)
    return np.diff(a, n, axis), 0


register_batch_rule(np.diff, _diff, nargs=1, kw_operands=("prepend", "append"))


def _ediff1d(args, bdims):
    ary, to_end, to_begin = (list(args) + [None, None])[:3]
    ab, eb, bb = (list(bdims) + [None, None])[:3]
    size = batch_size(args, bdims)
    ary = flat_examples(bdim_at_front(ary, ab, size))
    parts = [np.diff(ary, axis=1)]
    for value, vb, name, where in ((to_begin, bb, "to_begin", 0), (to_end, eb, "to_end", 2)):
        if value is None:
            continue
        dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
        if not np.can_cast(dtype, ary.dtype, casting="same_kind"):
            raise TypeError(
                f"dtype of `{name}` must be compatible with input `ary` under the `same_kind` rule."
            )
        value = flat_examples(bdim_at_front(value, vb, size)).astype(ary.dtype)
        parts.insert(where if where == 0 else len(parts), value)
    return np.concatenate(parts, axis=1).astype(ary.dtype, copy=False), 0


register_batch_rule(np.ediff1d, _ediff1d, nargs=3)


def _gradient(args, bdims, axis=None, edge_order=1):
    """np.gradient.  Spacings that are the same for every example go to NumPy's own;
    a batched one (coordinates per example along an axis) uses the same second-order
    differences for uneven steps, with each example's steps."""
    f, spacing = args[0], list(args[1:])
    bf, bspacing = bdims[0], list(bdims[1:])
    size = batch_size(args, bdims)
    f = bdim_at_front(f, bf, size)
    nd = ndim_of(f) - 1
    axes = normalize_axes(axis, nd)
    if not any(b is not None for b in bspacing):
        out = np.gradient(f, *spacing, axis=tuple(a + 1 for a in axes), edge_order=edge_order)
        return out, (0 if type(out) is not tuple else (0,) * len(out))
    if len(spacing) == 1:
        spacing, bspacing = spacing * len(axes), bspacing * len(axes)
    if len(spacing) != len(axes):
        raise TypeError("invalid number of arguments")
    outs = []
    for a, h, hb in zip(axes, spacing, bspacing):
        if hb is None:
            outs.append(np.gradient(f, h, axis=a + 1, edge_order=edge_order))
        else:
            outs.append(_uneven_gradient(f, a + 1, bdim_at_front(h, hb, size), edge_order))
    return (outs[0], 0) if len(outs) == 1 else (tuple(outs), (0,) * len(outs))


def _uneven_gradient(f, axis, x, edge_order):
    """The derivative of batch-first ``f`` along ``axis`` at the batch-first coordinates
    ``x`` ([B, n]): central differences weighted by the neighbouring steps inside,
    one-sided differences of order ``edge_order`` at the ends (NumPy's formulas)."""
    if ndim_of(x) != 2:
        raise NoBatchRule("batched spacing that is not one coordinate array per axis")
    n = shape_of(f)[axis]
    if n < edge_order + 1:
        raise ValueError("Shape of array too small to calculate a numerical gradient, "
                         "at least (edge_order + 1) elements are required.")
    if shape_of(x)[1] != n:
        raise ValueError("when 1d, distances must match the length of the corresponding dimension")
    h = np.diff(x, axis=1)
    if h.dtype.kind in "iub":
        h = h.astype(np.float64)
    out = np.empty_like(f, dtype=f.dtype if f.dtype.kind in "fc" else np.float64)
    if f.dtype.kind not in "fc":
        f = f.astype(np.float64)
    lead = (slice(None),) * axis

    def at(k):
        return f[lead + (k,)]

    def coef(c, k):  # a [B] or [B, m] coefficient, its m along the axis of f[lead + (k,)]
        nd, (b, *m) = ndim_of(at(k)), shape_of(c)
        if not m:
            return np.reshape(c, (b,) + (1,) * (nd - 1))
        return np.reshape(c, (b,) + (1,) * (axis - 1) + tuple(m) + (1,) * (nd - axis - 1))

    mid, h1, h2 = slice(1, -1), h[:, :-1], h[:, 1:]
    out[lead + (mid,)] = (coef(-h2 / (h1 * (h1 + h2)), mid) * at(slice(None, -2))
                          + coef((h2 - h1) / (h1 * h2), mid) * at(mid)
                          + coef(h1 / (h2 * (h1 + h2)), mid) * at(slice(2, None)))
    if edge_order == 1:
        out[lead + (0,)] = (at(1) - at(0)) / coef(h[:, 0], 0)
        out[lead + (-1,)] = (at(-1) - at(-2)) / coef(h[:, -1], -1)
        return out
    d1, d2 = h[:, 0], h[:, 1]
    out[lead + (0,)] = (coef(-(2.0 * d1 + d2) / (d1 * (d1 + d2)), 0) * at(0)
                        + coef((d1 + d2) / (d1 * d2), 0) * at(1)
                        + coef(-d1 / (d2 * (d1 + d2)), 0) * at(2))
    d1, d2 = h[:, -2], h[:, -1]
    out[lead + (-1,)] = (coef(d2 / (d1 * (d1 + d2)), -1) * at(-3)
                         + coef(-(d2 + d1) / (d1 * d2), -1) * at(-2)
                         + coef((2.0 * d2 + d1) / (d2 * (d1 + d2)), -1) * at(-1))
    return out


register_batch_rule(np.gradient, _gradient)


def _trapezoid(args, bdims, dx=1.0, axis=-1):
    """np.trapezoid; batched sample points are laid along the axis, as NumPy lays 1-D ones."""
    y, x = (list(args) + [None])[:2]
    yb, xb = (list(bdims) + [None])[:2]
    size = batch_size(args, bdims)
    y = bdim_at_front(y, yb, size)
    nd = ndim_of(y) - 1
    user_axis, axis = axis, normalize_axis(axis, nd) + 1
    if xb is None and x is not None and 1 < ndim_of(x):
        # NumPy takes diff(x, axis) along x's own axes and broadcasts it against the
        # sums of neighbouring y: the same here, with the batch axis in front of y
        if ndim_of(x) > nd:
            raise NoBatchRule("sample points with more axes than the values")
        d = np.diff(x, axis=user_axis)
        pre = (slice(None),) * axis
        return np.add.reduce(d * (y[pre + (slice(1, None),)] + y[pre + (slice(None, -1),)]) / 2.0, axis), 0
    if xb is not None:
        x = move_to_front(x, xb)
        if ndim_of(x) == 2:
            shape = [size] + [1] * nd
            shape[axis] = shape_of(x)[1]
        else:
            shape = shape_of(x)[:1] + (1,) * (nd - ndim_of(x) + 1) + tuple(shape_of(x)[1:])
        x = np.reshape(x, tuple(shape))
    return np.trapezoid(y, x, dx, axis), 0


register_batch_rule(np.trapezoid, _trapezoid, nargs=2)


def _unwrap(args, bdims, discont=None, axis=-1, **kwargs):
    (p,), (bdim,) = args, bdims
    p = move_to_front(p, bdim)
    return np.unwrap(p, discont, normalize_axis(axis, ndim_of(p) - 1) + 1, **kwargs), 0


register_batch_rule(np.unwrap, _unwrap, nargs=1)


def _cumulative(func):
    """cumulative_sum, cumulative_prod: ``axis`` may be omitted only for a 1-D example."""

    def rule(args, bdims, *, axis=None, **kwargs):
        (x,), (bdim,) = args, bdims
        x = move_to_front(x, bdim)
        nd = ndim_of(x) - 1
        if nd == 0:  # NumPy reads a 0-d example as one of shape (1,)
            x, nd = np.reshape(x, tuple(shape_of(x)) + (1,)), 1
        if axis is None:
            if nd > 1:
                raise ValueError(
                    "For arrays which have more than one dimension ``axis`` argument is required."
                )
            axis = 0
        return func(x, axis=normalize_axis(axis, nd) + 1, **kwargs), 0

    return rule


for _f in [np.cumulative_sum, np.cumulative_prod]:
    register_batch_rule(_f, _cumulative(_f), nargs=1)
