"""Where the values of one batched draw live: Note [positions of a batched draw]
in vmaprt/random/__init__.py."""

import math

import numpy as np

from .._batched import BatchedArray

_ZERO_BASE = np.zeros(1, dtype=np.uint64)
_ZERO_BASE.flags.writeable = False


class Layout:
    """Where the values of one draw live (Note [positions of a batched draw]).

    The physical result has axes ``[*extra, *different, *shape]``: one axis per
    'same' level along which a parameter is batched, one per 'different'
    level, then the per-example shape.  ``bases`` and ``run_len`` give the
    position of each element to the kernels: element ``e`` is at position
    ``bases[e // run_len] + e % run_len``.
    """

    __slots__ = ("levels", "shape", "physical_shape", "nlevels", "bases", "run_len")

    def __init__(self, levels, shape, batched=()):
        different = [lv for lv in levels if lv.randomness == "different"]
        extra = [lv for lv in levels if lv in batched and lv.randomness != "different"]
        self.levels = extra + different
        self.nlevels = len(self.levels)
        self.shape = shape
        self.physical_shape = tuple(lv.size for lv in self.levels) + shape
        n = math.prod(shape)
        if different:
            inner = different[-1]
            bases = np.array([inner.offset * n], dtype=np.uint64)
            stride = inner.total * n
            for lv in reversed(different[:-1]):
                starts = (lv.offset + np.arange(lv.size, dtype=np.uint64)) * np.uint64(stride)
                bases = (starts[:, None] + bases[None, :]).reshape(-1)
                stride *= lv.total
            self.run_len = inner.size * n
        else:
            bases = _ZERO_BASE
            self.run_len = n
        if extra:
            bases = np.tile(bases, math.prod(lv.size for lv in extra))
        self.bases = bases

    def lift(self, x, rank=None):
        """The physical values of a parameter ``x``, with one leading axis per level of
        the layout (size 1 where ``x`` is not batched), then its per-example shape,
        padded with size-1 axes to ``rank`` dims.  An unbatched ``x`` is returned as
        it is: it broadcasts from the right."""
        chain = []
        while type(x) is BatchedArray:
            chain.append((x.level, x.bdim))
            x = x.value
        if not chain:
            return x
        axes = list(range(x.ndim))
        lead = {}
        for level, bdim in reversed(chain):  # the outermost level's bdim is physical
            lead[level] = axes.pop(bdim)
        x = x.transpose([lead[lv] for lv in self.levels if lv in lead] + axes)
        own = x.shape[len(lead) :]
        pad = (1,) * (rank - len(own)) if rank is not None and rank > len(own) else ()
        return x.reshape(tuple(lv.size if lv in lead else 1 for lv in self.levels) + pad + own)

    def flat_param(self, x, dtype):
        """``x`` for a kernel: one value, or one per element of the physical result."""
        v = np.asarray(self.lift(x, len(self.shape)), dtype=dtype)
        if v.size == 1:
            return v.reshape(1)
        return np.ascontiguousarray(np.broadcast_to(v, self.physical_shape)).reshape(-1)

    def wrap(self, physical):
        """The physical result as nested BatchedArrays, outermost level innermost."""
        value = physical
        remaining = list(range(self.nlevels))
        for level in sorted(self.levels, key=lambda lv: lv.depth):
            axis = self.levels.index(level)
            value = BatchedArray(value, remaining.index(axis), level)
            remaining.remove(axis)
        return value
