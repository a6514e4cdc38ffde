"""np.fft: transforms along per-example axes, which only need shifting past the batch axis.

np.fft is not part of the coverage figure of the docs (which counts ``numpy``,
``numpy.linalg``, ``numpy.lib.scimath`` and ``numpy.lib.stride_tricks``), but a
scientific script calls it often.
"""

import numpy as np

from .._registry import register_batch_rule
from ._helpers import move_to_front, ndim_of, normalize_axis


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
