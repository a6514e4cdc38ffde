"""The arguments of the Generator's methods: NumPy's checks and conversions,
for plain and batched values alike."""

import math
import operator

import numpy as np

from .. import _batched
from .._batched import BatchedArray, assign, level_of


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _levels_of(params):
    """The set of levels at which any of ``params`` is batched (escaped arrays refused)."""
    params = list(params)
    level_of(params)  # raises for a BatchedArray whose vmap has returned
    found = set()
    for x in params:
        while type(x) is BatchedArray:
            found.add(x.level)
            x = x.value
    return found


def _values(x):
    """The physical values of ``x`` (all examples), for argument checks."""
    while type(x) is BatchedArray:
        x = x.value
    return np.asarray(x)


def _check(x, bad, message):
    found = bad(_values(x))  # comparisons with NaN do not warn
    if found.any() if found.ndim else found:
        raise ValueError(message)


def _cast_param(x, dtype):
    if type(x) is BatchedArray:
        level_of([x])
        return x if x.dtype == dtype else x.astype(dtype)
    return np.asarray(x, dtype=dtype)


def _float_param(x):
    return _cast_param(x, np.float64)


def _shape_of(x):
    return x.shape if type(x) is BatchedArray or type(x) is np.ndarray else np.shape(x)


def _shape(size):
    if size is None:
        return ()
    if _is_int(size):
        size = (size,)
    try:
        shape = tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"size must be None, an int or a tuple of ints, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimensions are not allowed in size {shape}")
    return shape


def _size_of(size):
    return math.prod(_shape(size))


def _param_shape(size, *params):
    """The per-example shape of a draw: ``size``, or the parameters' broadcast shape."""
    shapes = [tuple(_shape_of(p)) for p in params]
    if not any(shapes):  # scalar parameters: the common case, without broadcast_shapes
        return _shape(size)
    if size is None:
        try:
            return np.broadcast_shapes(*shapes)
        except ValueError:
            raise ValueError(
                "shape mismatch: objects cannot be broadcast to a single shape: "
                + ", ".join(str(s) for s in shapes)
            ) from None
    shape = _shape(size)
    for i, s in enumerate(shapes):
        try:
            ok = np.broadcast_shapes(s, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"shape mismatch: objects cannot be broadcast to a single shape.  Mismatch "
                f"is between arg {i} with shape {s} and size {shape}."
            )
    return shape


def _float_dtype(dtype, name):
    dt = np.dtype(dtype)
    if dt not in (np.float64, np.float32):
        raise TypeError(f"Unsupported dtype {dt!r} for {name}")
    return dt


def _check_out(out, size, dtype):
    """The size a draw into ``out`` has (NumPy's rules: dtype and shape must match)."""
    if out is None:
        return size
    if not isinstance(out, (np.ndarray, BatchedArray)):
        raise TypeError(f"out must be an ndarray or a BatchedArray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"Supplied output array has the wrong type. Expected {dtype}, got {out.dtype}")
    if size is not None and _shape(size) != tuple(out.shape):
        raise ValueError("size must match out.shape when used together")
    return tuple(out.shape)


def _finish(result, size, out, kind):
    if out is not None:
        assign(out, result, "same_kind", "the random values")
        return out
    return _scalar(result, size, kind)


def _scalar(result, size, kind=float):
    """NumPy returns a Python scalar for ``size=None`` with scalar parameters."""
    if size is None and type(result) is not BatchedArray and np.ndim(result) == 0:
        return kind(result)
    return result


def _take(a, idx, axis):
    """``np.take(a, idx, axis)`` that also dispatches when only ``idx`` is batched
    (NumPy's np.take dispatches on ``a`` alone)."""
    return _batched.getitem(a, (slice(None),) * axis + (idx,))


def _check_axis(x, axis):
    axis = operator.index(axis)
    if not -x.ndim <= axis < x.ndim:
        raise np.exceptions.AxisError(axis, x.ndim)
    return axis % x.ndim


def _dtype_bounds(dtype):
    if dtype.kind == "b":
        return 0, 1, np.int64
    info = np.iinfo(dtype)
    return int(info.min), int(info.max), (np.int64 if dtype.kind == "i" else np.uint64)


def _scalar_bounds(low, high, dtype, endpoint):
    """``_integer_bounds`` for Python ints, in exact integer arithmetic."""
    dmin, dmax, _ = _dtype_bounds(dtype)
    shift = 0 if endpoint else 1
    if low < dmin:
        raise ValueError(f"low is out of bounds for {dtype}")
    if high > dmax + shift:
        raise ValueError(f"high is out of bounds for {dtype}")
    if low > high - shift:
        raise ValueError("low > high" if endpoint else "low >= high")
    return np.array([low % 2**64], np.uint64), np.array([high - shift - low], np.uint64)


def _integer_bounds(low, high, dtype, endpoint):
    """``(low, inclusive span)`` as uint64 kernel parameters, checked as NumPy does."""
    dmin, dmax, work = _dtype_bounds(dtype)
    low, high = _exact_ints(low), _exact_ints(high)
    lo_min, lo_max = _min_max(low)
    hi_min, hi_max = _min_max(high)
    if lo_min is None or hi_min is None:  # an empty batch: nothing to draw
        return np.zeros(1, np.uint64), np.zeros(1, np.uint64)
    if lo_min < dmin:
        raise ValueError(f"low is out of bounds for {dtype}")
    if hi_max > dmax + (0 if endpoint else 1):
        raise ValueError(f"high is out of bounds for {dtype}")
    shift = 0 if endpoint else 1
    if lo_max > dmax or hi_min - shift < dmin:
        raise ValueError("low > high" if endpoint else "low >= high")
    # Now low and high - shift lie in [dmin, dmax]: exact in ``work``.
    if isinstance(high, int):
        hi = np.array(high - shift, dtype=work)
    else:
        hi = (high.astype(np.uint64) - np.uint64(shift)).astype(work)
    lo = np.asarray(low, dtype=work) if isinstance(low, int) else low.astype(work)
    if np.any(lo > hi):
        raise ValueError("low > high" if endpoint else "low >= high")
    lo, hi = np.broadcast_arrays(lo, hi)
    span = hi.astype(np.uint64) - lo.astype(np.uint64)
    return lo.astype(np.uint64), span


def _exact_ints(x):
    """A bound as a Python int (a scalar) or an int64/uint64 array, exactly."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return int(x)
    a = np.asarray(x)
    if a.dtype.kind == "u":
        return a.astype(np.uint64)
    if a.dtype.kind in "ib":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        return a.astype(np.int64)
    if a.ndim == 0:
        return int(a)
    return np.array([int(v) for v in a.reshape(-1)], dtype=object).reshape(a.shape).astype(np.uint64)


def _min_max(x):
    if isinstance(x, int):
        return x, x
    if x.size == 0:
        return None, None
    return int(x.min()), int(x.max())
