"""np.fft, and the string functions of np.char and np.strings: families that only need
their axes shifted past the batch axis, or that are elementwise.

These modules are not part of the coverage figure of the docs (which counts
``numpy``, ``numpy.linalg``, ``numpy.lib.scimath`` and ``numpy.lib.stride_tricks``),
but a scientific script calls np.fft often, and the rest are one line each.
"""

import numpy as np
import numpy.polynomial.polynomial as _poly

from .._registry import register_batch_rule
from ._helpers import broadcast_batched, defelementwise, move_to_front, ndim_of, normalize_axis, on_one_example
from .products import _batched_einsum


def _fft(func):
    """``func(a, n=None, axis=-1, norm=None)``: one per-example axis."""

    def rule(args, bdims, n=None, axis=-1, norm=None, out=None):
        (a,), (bdim,) = args, bdims
        a = move_to_front(a, bdim)
        return func(a, n, normalize_axis(axis, ndim_of(a) - 1) + 1, norm), 0

    return rule


def _fftn(func, default_axes):
    """``func(a, s=None, axes=..., norm=None)``: several per-example axes; without
    ``axes``, the last ``len(s)`` of them, or all."""

    def rule(args, bdims, s=None, axes=default_axes, norm=None, out=None):
        (a,), (bdim,) = args, bdims
        a = move_to_front(a, bdim)
        nd = ndim_of(a) - 1
        if axes is None:
            axes = range(nd) if s is None else range(nd - len(s), nd)
        return func(a, s, [normalize_axis(x, nd) + 1 for x in axes], norm), 0

    return rule


def _shift(func):
    """fftshift, ifftshift: every per-example axis unless ``axes`` says which."""

    def rule(args, bdims, axes=None):
        (x,), (bdim,) = args, bdims
        x = move_to_front(x, bdim)
        nd = ndim_of(x) - 1
        if axes is None:
            axes = tuple(range(1, nd + 1))
        elif np.iterable(axes):
            axes = tuple(normalize_axis(a, nd) + 1 for a in axes)
        else:
            axes = normalize_axis(axes, nd) + 1
        return func(x, axes), 0

    return rule


for _f in [np.fft.fft, np.fft.ifft, np.fft.rfft, np.fft.irfft, np.fft.hfft, np.fft.ihfft]:
    register_batch_rule(_f, _fft(_f), nargs=1)
for _f in [np.fft.fft2, np.fft.ifft2, np.fft.rfft2, np.fft.irfft2]:
    register_batch_rule(_f, _fftn(_f, (-2, -1)), nargs=1)
for _f in [np.fft.fftn, np.fft.ifftn, np.fft.rfftn, np.fft.irfftn]:
    register_batch_rule(_f, _fftn(_f, None), nargs=1)
for _f in [np.fft.fftshift, np.fft.ifftshift]:
    register_batch_rule(_f, _shift(_f), nargs=1)

# Strings: elementwise over every array argument.
for _f in [np.char.equal, np.char.not_equal, np.char.greater, np.char.greater_equal,
           np.char.less, np.char.less_equal]:  # fmt: skip
    defelementwise(_f, nargs=2)


def _strings(func):
    """An np.strings function, elementwise; NumPy's own cannot size an empty array."""

    def rule(args, bdims, *rest, **kwargs):
        size = next(np.shape(a)[b] for a, b in zip(args, bdims) if b is not None)
        if size == 0:
            return on_one_example(rule, args, bdims, *rest, **kwargs)
        values, bdim = broadcast_batched(args, bdims)
        return func(*values, *rest, **kwargs), bdim

    register_batch_rule(func, rule)


for _name in ["capitalize", "center", "decode", "encode", "expandtabs", "ljust", "lower", "mod",
              "multiply", "partition", "replace", "rjust", "rpartition", "swapcase", "title",
              "translate", "upper", "zfill"]:  # fmt: skip
    _strings(getattr(np.strings, _name))


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
        return _batched_einsum(subscripts, [_vander(x, ci), _vander(y, cj), c], [xb, yb, cb])

    return rule


def _vander(x, n):
    """``polyvander(x, n - 1)``, NumPy's running products, with calls that dispatch."""
    x = x + 0.0
    powers = [x * 0 + 1]
    for _ in range(1, n):
        powers.append(powers[-1] * x)
    return np.stack(powers, axis=-1)


register_batch_rule(_poly.polyval2d, _polyval_grid(False), nargs=3)
register_batch_rule(_poly.polygrid2d, _polyval_grid(True), nargs=3)
