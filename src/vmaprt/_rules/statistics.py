"""Statistics: quantiles, weighted averages, covariance, histograms and bincount.

Quantiles and averages are NumPy's own on the batch, with the per-example
axes shifted.  Histograms are counted by one ``np.bincount`` over the whole
batch: each example's bin numbers are offset by its position times the
number of bins (Note [offset bincount]), and bins taken from each example's
own range are computed per example, as NumPy computes them for one.
"""

import builtins
import math
import operator
import warnings

import numpy as np

from .. import _batched
from .._registry import COMPOSITE, Mapped, NoBatchRule, register_batch_rule
from ._helpers import (
    anywhere,
    bdim_at_front,
    batch_size,
    flat_examples,
    materialize,
    move_to_front,
    ndim_of,
    normalize_axes,
    on_one_example,
    shape_of,
)
from .sorting import bsearch


def _quantile_rule(func):
    """``func(a, q, axis=None, ...)`` (quantile, percentile and their nan- forms).
    The result's leading axes are those of ``q``, so the batch axis lands after them."""

    def rule(args, bdims, axis=None, *rest, weights=None, **kwargs):
        (a, q), (ab, qb) = args, bdims
        if qb is not None:
            raise NoBatchRule("a batched q")
        if ab is None:  # only the weights are batched
            a = bdim_at_front(a, None, shape_of(weights.value)[weights.bdim])
        else:
            a = move_to_front(a, ab)
        nd = ndim_of(a) - 1
        qnd = np.ndim(q)
        if shape_of(a)[0] == 0 and math.prod(shape_of(a)[1:]):
            # NumPy cannot reshape an empty batch: one example of zeros gives the shape.
            one = np.zeros_like(a, shape=(1,) + tuple(shape_of(a)[1:]))
            out, _ = rule([one, q], [0, None], axis, *rest, **kwargs)
            return out[(slice(None),) * qnd + (slice(0, 0),)], qnd
        axes = tuple(x + 1 for x in normalize_axes(axis, nd))
        if weights is not None:
            kwargs["weights"] = _weights_like(a, axes, weights)
        return func(a, q, axes, *rest, **kwargs), qnd

    register_batch_rule(func, rule, nargs=2, kw_operands=("weights",))


def _weights_like(a, axes, weights, wbdim=None):
    """Weights (a ``Mapped`` value, or batched along ``wbdim``) of one example's shape,
    or 1-D along the one reduced axis, broadcast to the batch-first ``a``'s shape."""
    if type(weights) is Mapped:
        weights, wbdim = weights
    if wbdim is not None:
        w = move_to_front(weights, wbdim)
        nd_w, lead = ndim_of(w) - 1, shape_of(w)[:1]
    else:
        w, nd_w, lead = weights, np.ndim(weights), ()
    if nd_w == ndim_of(a) - 1:
        return np.broadcast_to(w, shape_of(a))
    if nd_w == 1 and len(axes) == 1:
        shape = [1] * (ndim_of(a) - len(lead))
        shape[axes[0] - len(lead)] = np.shape(w)[-1]
        return np.broadcast_to(np.reshape(w, tuple(lead) + tuple(shape)), shape_of(a))
    if axes == tuple(range(1, ndim_of(a))) and nd_w != ndim_of(a) - 1:
        raise TypeError("Axis must be specified when shapes of a and weights differ.")
    raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")


for _f in [np.quantile, np.percentile, np.nanquantile, np.nanpercentile]:
    _quantile_rule(_f)


def _average(args, bdims, returned=False, *, keepdims=np._NoValue):
    """np.average; batched weights are lined up with ``a`` as NumPy does for one example."""
    a, axis, weights = (list(args) + [None, None])[:3]
    ab, axb, wb = (list(bdims) + [None, None])[:3]
    if axb is not None:
        raise TypeError("axis must be an integer or a tuple of integers, not an array")
    size = batch_size(args, bdims)
    if size == 0:
        return on_one_example(_average, args, bdims, returned, keepdims=keepdims)
    a = bdim_at_front(a, ab, size)
    nd = ndim_of(a) - 1
    axes = tuple(x + 1 for x in normalize_axes(axis, nd))
    if weights is not None:
        weights = _weights_like(a, axes, weights, wb)
    kw = {} if keepdims is np._NoValue else {"keepdims": keepdims}
    return np.average(a, axes, weights, returned, **kw), 0


register_batch_rule(np.average, _average, nargs=3)


def _cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    """np.cov, written with calls that dispatch (NumPy's converts with np.array).

    The steps are NumPy's: rows are variables, weights combine, the mean is
    removed and ``X @ X.T.conj() / fact``.  Only the check of the degrees of
    freedom looks at every example.
    """
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    if np.ndim(m) > 2:
        raise ValueError("m has more than 2 dimensions")
    if y is not None and np.ndim(y) > 2:
        raise ValueError("y has more than 2 dimensions")
    if dtype is None:
        dtype = np.result_type(m, np.float64) if y is None else np.result_type(m, y, np.float64)
    X = np.atleast_2d(m).astype(dtype)
    if not rowvar and np.shape(X)[0] != 1:
        X = np.transpose(X)
    if np.shape(X)[0] == 0:
        return np.zeros_like(X, shape=(0, 0))
    if y is not None:
        y = np.atleast_2d(y).astype(dtype)
        if not rowvar and np.shape(y)[0] != 1:
            y = np.transpose(y)
        X = np.concatenate((X, y), axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = np.shape(X)[1]
    w = None
    for name, weight in (("fweights", fweights), ("aweights", aweights)):
        if weight is None:
            continue
        weight = weight if np.ndim(weight) != 0 or hasattr(weight, "dtype") else np.asarray(weight)
        if name == "fweights" and not np.issubdtype(np.result_type(weight), np.integer):
            raise TypeError("fweights must be integer")
        if np.ndim(weight) > 1:
            raise RuntimeError(f"cannot handle multidimensional {name}")
        if np.shape(weight)[0] != n:
            raise RuntimeError(f"incompatible numbers of samples and {name}")
        if anywhere(weight < 0):
            raise ValueError(f"{name} cannot be negative")
        w = weight if w is None else w * weight
    avg, w_sum = np.average(X, axis=1, weights=w, returned=True)
    w_sum = w_sum[0]
    if w is None:
        fact = n - ddof
    elif ddof == 0:
        fact = w_sum
    elif aweights is None:
        fact = w_sum - ddof
    else:
        fact = w_sum - ddof * np.sum(w * aweights) / w_sum
    if anywhere(np.less_equal(fact, 0)):
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        fact = np.where(np.less_equal(fact, 0), 0.0, fact) if w is not None else 0.0
    X = X - avg[:, None]
    X_T = np.transpose(X if w is None else X * w)
    c = np.dot(X, np.conj(X_T)) * np.true_divide(1, fact)
    return np.squeeze(c)


register_batch_rule(np.cov, _cov, nargs=COMPOSITE)


def _corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """np.corrcoef on top of the batched covariance; the clipping is not in place."""
    c = np.cov(x, y, rowvar, dtype=dtype)
    if np.ndim(c) != 2:  # one variable: NumPy divides the scalar covariance by itself
        return c / c
    stddev = np.sqrt(np.real(np.diagonal(c)))
    c = c / stddev[:, None] / stddev[None, :]
    if np.iscomplexobj(c):
        return np.clip(np.real(c), -1, 1) + 1j * np.clip(np.imag(c), -1, 1)
    return np.clip(c, -1, 1)


register_batch_rule(np.corrcoef, _corrcoef, nargs=COMPOSITE)


# Counting ------------------------------------------------------------------------------------
def _lengths_error(name, fix):
    return RuntimeError(
        f"vmap: {name} gives results of different lengths for different examples, so "
        f"they cannot be stacked into a batch (the per-example loop fails the same "
        f"way). {fix}"
    )


def _bincount(args, bdims, minlength=0):
    """np.bincount of each example, by one bincount of the whole batch.

    Note [offset bincount]
        Example ``i``'s values are shifted by ``i * L``, ``L`` the common result
        length, so one ``np.bincount`` of everything counts every example into
        its own block of ``L`` bins; a reshape to ``[B, L]`` separates them.
    """
    x, weights = (list(args) + [None])[:2]
    xb, wb = (list(bdims) + [None])[:2]
    size = batch_size(args, bdims)
    x = bdim_at_front(x, xb, size)
    if ndim_of(x) != 2:
        raise ValueError("object too deep for desired array")
    if minlength is None:
        raise TypeError("use 0 instead of None for minlength")
    if minlength < 0:
        raise ValueError("'minlength' must not be negative")
    length = minlength
    # (a shared x sets the bins even for a batch of 0: look at it as a batch of one)
    sample = x if size or xb is not None else bdim_at_front(args[0], None, 1)
    if shape_of(sample)[1]:
        values = materialize(sample)[0]
        if (values < 0).any():
            raise ValueError("'list' argument must have no negative elements")
        lengths = np.maximum(values.max(axis=-1) + 1, minlength) if values.size else np.array([minlength])
        length = int(lengths.max()) if lengths.size else minlength
        if lengths.size and lengths.min() != length:
            raise _lengths_error("np.bincount", "Pass minlength= at least the largest value + 1.")
    flat = np.ravel(x + np.arange(size).reshape(size, 1) * length)
    if weights is not None:
        weights = np.ravel(bdim_at_front(weights, wb, size))
    out = np.bincount(flat, weights, minlength=size * length)
    if weights is not None and shape_of(x)[1]:  # NumPy's weighted counts are float64, except of nothing
        out = out.astype(np.float64, copy=False)
    return np.reshape(out, (size, length)), 0


register_batch_rule(np.bincount, _bincount, nargs=2)


def _counted(index, keep, nbins, size, weights):
    """Counts of bin ``index[i, j]`` in ``[B, nbins]``, over the ``keep`` elements
    (Note [offset bincount]); the others go to one extra bin that is dropped."""
    offset = np.arange(size).reshape(size, 1) * nbins
    flat = np.ravel(np.where(keep, index + offset, size * nbins))
    if weights is None:
        out = np.bincount(flat, minlength=size * nbins + 1).astype(np.intp)
    elif np.iscomplexobj(weights):
        w = np.ravel(weights)
        out = np.bincount(flat, np.real(w), minlength=size * nbins + 1) + 1j * np.bincount(
            flat, np.imag(w), minlength=size * nbins + 1
        )
        out = out.astype(weights.dtype)
    else:
        out = np.bincount(flat, np.ravel(weights), minlength=size * nbins + 1).astype(weights.dtype)
    return np.reshape(out[:-1], (size, nbins))


def _outer_edges(a, range):
    """``(first, last)`` of the bins: the given range, or each example's min and max
    (``[B]`` arrays), widened by 0.5 when they meet, as NumPy does for one."""
    if range is not None:
        first, last = range
        if first > last:
            raise ValueError("max must be larger than min in range parameter.")
        if not (np.isfinite(first) and np.isfinite(last)):
            raise ValueError(f"supplied range of [{first}, {last}] is not finite")
        if first == last:
            first, last = first - 0.5, last + 0.5
        return first, last, None
    if shape_of(a)[1] == 0:
        return 0, 1, None
    first, last = np.min(a, axis=1), np.max(a, axis=1)
    if anywhere(~(np.isfinite(first) & np.isfinite(last))):
        raise ValueError("autodetected range of the data is not finite")
    same = first == last
    return np.where(same, first - 0.5, first), np.where(same, last + 0.5, last), 0


def _bin_edges(a, bins, bb, range):
    """NumPy's ``_get_bin_edges`` for each example of ``a`` (``[B, n]``).

    Returns ``(edges, edges_bdim, uniform)``; ``uniform`` is None for explicit
    edges, else ``(first, last, n)``: the outer edges (``[B, 1]`` when they
    come from each example's data) and the number of equal bins.
    """
    if isinstance(bins, str):
        raise NoBatchRule(f"bins={bins!r}, whose number of bins depends on the data")
    if bb is not None:
        edges = move_to_front(bins, bb)
        if ndim_of(edges) != 2:
            raise ValueError("`bins` must be 1d, when an array")
        if anywhere(edges[:, :-1] > edges[:, 1:]):
            raise ValueError("`bins` must increase monotonically, when an array")
        return edges, 0, None
    if np.ndim(bins) == 1:
        edges = np.asarray(bins)
        if (edges[:-1] > edges[1:]).any():
            raise ValueError("`bins` must increase monotonically, when an array")
        return edges, None, None
    if np.ndim(bins) != 0:
        raise ValueError("`bins` must be 1d, when an array")
    n = operator.index(bins)
    if n < 1:
        raise ValueError("`bins` must be positive, when an integer")
    first, last, ebdim = _outer_edges(a, range)
    bin_type = np.result_type(first, last, a)
    if np.issubdtype(bin_type, np.integer):
        bin_type = np.result_type(bin_type, float)
    if ebdim is None:
        edges = np.linspace(first, last, n + 1, endpoint=True, dtype=bin_type)
    else:
        edges = np.linspace(first, last, n + 1, endpoint=True, dtype=bin_type, axis=1)
        first, last = first[:, None], last[:, None]
    if anywhere(edges[..., :-1] >= edges[..., 1:]):
        raise ValueError(f"Too many bins for data range. Cannot create {n} finite-sized bins.")
    return edges, ebdim, (first, last, n)


def _gather(edges, ebdim, index):
    """``edges[index]`` of each example, for indices that may step one past either end."""
    index = np.clip(index, 0, shape_of(edges)[-1] - 1)
    if ebdim is None:
        return _batched.getitem(edges, (index,))  # np.take would not dispatch on index
    return np.take_along_axis(edges, index, axis=1)


def _last_edge(edges, ebdim):
    """The right edge, ready to compare with ``[B, n]`` data."""
    return edges[-1] if ebdim is None else edges[:, -1:]


def _histogram(args, bdims, range=None, density=None, weights=None):
    """np.histogram: NumPy's index arithmetic for equal bins (with its corrections
    at the edges), or a search of the explicit edges; then one offset bincount."""
    a, bins = (list(args) + [10])[:2]
    ab, bb = (list(bdims) + [None])[:2]
    if type(weights) is Mapped:
        size = batch_size([a, bins, weights.value], [ab, bb, weights.bdim])
        a = flat_examples(bdim_at_front(a, ab, size))
        weights = flat_examples(move_to_front(weights.value, weights.bdim))
    else:
        size = batch_size([a, bins], [ab, bb])
        a = flat_examples(bdim_at_front(a, ab, size))
        if weights is not None:
            weights = np.broadcast_to(np.ravel(weights), shape_of(a))
    edges, ebdim, uniform = _bin_edges(a, bins, bb, range)
    if uniform is not None:
        first, last, nbins = uniform
        keep = (a >= first) & (a <= last)
        x = np.where(keep, a, first).astype(edges.dtype, copy=False)
        index = (np.subtract(x, first) / np.subtract(last, first) * nbins).astype(np.intp)
        index = np.where(index == nbins, index - 1, index)
        index = np.where(x < _gather(edges, ebdim, index), index - 1, index)
        up = (x >= _gather(edges, ebdim, index + 1)) & (index != nbins - 1)
        index = np.where(up, index + 1, index)
    else:
        nbins = shape_of(edges)[-1] - 1
        if ebdim is None:
            index = np.searchsorted(edges, a, side="right") - 1
        else:
            index = bsearch(edges, a, "right") - 1
        index = np.where(a == _last_edge(edges, ebdim), nbins - 1, index)
        keep = (index >= 0) & (index < nbins)
    counts = _counted(index, keep, nbins, size, weights)
    if density:
        widths = np.diff(edges, axis=-1)
        counts = counts / widths / np.sum(counts, axis=1, keepdims=True)
    return (counts, edges), (0, ebdim)


register_batch_rule(np.histogram, _histogram, nargs=2, kw_operands=("weights",))


def _histogram_bin_edges(args, bdims, range=None, weights=None):
    a, bins = (list(args) + [10])[:2]
    ab, bb = (list(bdims) + [None])[:2]
    size = batch_size(args, bdims)
    a = flat_examples(bdim_at_front(a, ab, size))
    edges, ebdim, _ = _bin_edges(a, bins, bb, range)
    return edges, ebdim


register_batch_rule(np.histogram_bin_edges, _histogram_bin_edges, nargs=2)


def _histogramdd(args, bdims, bins=10, range=None, density=None, weights=None):
    """np.histogramdd: per dimension NumPy's edges and searchsorted, then one offset
    bincount of the raveled multi-index."""
    (sample,), (sb,) = args, bdims
    mapped = [weights.value] if type(weights) is Mapped else []
    mapped_bdims = [weights.bdim] if type(weights) is Mapped else []
    size = batch_size([sample, *mapped], [sb, *mapped_bdims])
    if type(sb) is list:  # a sequence of D coordinate arrays
        coords = [flat_examples(bdim_at_front(s, b, size)) for s, b in zip(sample, sb)]
    else:
        x = bdim_at_front(sample, sb, size)
        if ndim_of(x) == 2:
            x = x[:, :, None]
        coords = [x[:, :, i] for i in builtins.range(shape_of(x)[2])]
    d = len(coords)
    if type(weights) is Mapped:
        weights = flat_examples(move_to_front(weights.value, weights.bdim))
    elif weights is not None:
        weights = np.broadcast_to(np.ravel(weights), shape_of(coords[0]))
    try:
        if len(bins) != d:
            raise ValueError("The dimension of bins must be equal to the dimension of the sample x.")
    except TypeError:
        bins = d * [bins]
    ranges = (None,) * d if range is None else range
    if len(ranges) != d:
        raise ValueError("range argument must have one entry per dimension")
    edges, ebdims, index, nbin = [], [], [], []
    for c, b, r in zip(coords, bins, ranges):
        if np.ndim(b) == 0:
            if b < 1:
                raise ValueError(f"`bins[{len(edges)}]` must be positive, when an integer")
            first, last, ebdim = _outer_edges(c, r)
            if ebdim is None:
                e = np.linspace(first, last, operator.index(b) + 1)
            else:
                e = np.linspace(first, last, operator.index(b) + 1, axis=1)
        else:
            e, ebdim, _ = _bin_edges(c, b, None, None)
        i = np.searchsorted(e, c, side="right") if ebdim is None else bsearch(e, c, "right")
        i = np.where(c == _last_edge(e, ebdim), i - 1, i)
        edges.append(e)
        ebdims.append(ebdim)
        index.append(i)
        nbin.append(shape_of(e)[-1] + 1)  # an outlier bin at each end
    flat = np.ravel_multi_index(tuple(index), nbin)
    keep = np.ones(shape_of(flat), bool)
    hist = _counted(flat, keep, math.prod(nbin), size, weights)
    hist = np.reshape(hist, (size, *nbin))[(slice(None),) + (slice(1, -1),) * d].astype(float, casting="safe")
    if density:
        s = np.sum(hist, axis=tuple(builtins.range(1, d + 1)), keepdims=True)
        for i, (e, ebdim) in enumerate(zip(edges, ebdims)):
            shape = [1] * (d + 1)
            shape[i + 1] = nbin[i] - 2
            widths = np.diff(e, axis=-1)
            if ebdim is not None:
                shape[0] = size
            hist = hist / np.reshape(widths, shape)
        hist = hist / s
    return (hist, edges), (0, ebdims)


register_batch_rule(np.histogramdd, _histogramdd, nargs=1, kw_operands=("weights",))


# np.histogram2d is np.histogramdd([x, y], bins, range, density, weights): its own
# implementation dispatches (a batched weights, passed there by position, reaches
# the rule by keyword: Rule.parameters_as_keywords).
register_batch_rule(np.histogram2d, np.histogram2d._implementation, nargs=COMPOSITE)
