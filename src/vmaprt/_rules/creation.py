"""``*_like`` creation and copies into arrays.

``np.zeros(shape, like=x)`` and friends are handled where they dispatch, in
``vmaprt/_batched.py`` (``_dispatch_like``): NumPy calls them with ``x`` as
``self`` and not among the arguments.
"""

import numpy as np

from .._batched import unbatched_target_error
from .._registry import INPLACE, register_batch_rule, register_like_only
from ._helpers import broadcast_batched, front, move_to_front, ndim_of, normalize_axis, shape_of


def _like_rule(func):
    def rule(args, bdims, *rest, shape=None, **kwargs):
        (x,), (bdim,) = args, bdims
        if shape is None:  # same physical shape; the batch axis stays where it is
            return func(x, *rest, **kwargs), bdim
        x = move_to_front(x, bdim)
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return func(x, *rest, shape=shape_of(x)[:1] + shape, **kwargs), 0

    return rule


for _f in [np.zeros_like, np.ones_like, np.empty_like]:
    register_batch_rule(_f, _like_rule(_f), nargs=1)

_empty_like = _like_rule(np.empty_like)
_full_like_constant = _like_rule(np.full_like)


def _full_like(args, bdims, *rest, **kwargs):
    (x, fill), (bdim, fbdim) = args, bdims
    if fbdim is None:
        return _full_like_constant([x], [bdim], fill, *rest, **kwargs)
    # A batched fill value: a target like x, then each example's fill copied in.
    if bdim is None:
        x, bdim = np.broadcast_to(x, (fill.shape[fbdim],) + tuple(shape_of(x))), 0
    target, tbdim = _empty_like([x], [bdim], *rest, **kwargs)
    target = move_to_front(target, tbdim)
    (dst, src), _ = broadcast_batched([target, fill], [0, fbdim])
    np.copyto(dst, src, casting="unsafe")
    return target, 0


register_batch_rule(np.full_like, _full_like, nargs=2)


def _copyto(args, bdims):
    dst, src, casting, where = (args + [np._NoValue] * 2)[:4]
    dbdim, sbdim, _, wbdim = (bdims + [None] * 2)[:4]
    if dbdim is None:
        raise unbatched_target_error("the destination of np.copyto")
    casting = "same_kind" if casting is np._NoValue else casting
    where = True if where is np._NoValue else where
    (d, s, w), _ = broadcast_batched([move_to_front(dst, dbdim), src, where], [0, sbdim, wbdim])
    np.copyto(d, s, casting=casting, where=w)
    return None, None


register_batch_rule(np.copyto, _copyto, nargs=4)

# Functions that write into their first argument: the fallback checks it is batched.
for _f in [np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis]:
    INPLACE[_f] = 0


# Ranges with batched ends ----------------------------------------------------------------------
def _spaced(func, axis_at):
    """``func(start, stop, num, ..., axis=0)`` (linspace, logspace, geomspace): NumPy
    takes array ends, so batched ends go first and ``axis`` shifts past the batch.
    ``axis_at`` is where ``axis`` comes among the positional arguments after ``stop``."""

    def rule(args, bdims, *rest, axis=0, **kwargs):
        if len(rest) > axis_at:
            rest, axis = rest[:axis_at] + rest[axis_at + 1 :], rest[axis_at]
        (start, stop), bdim = broadcast_batched(*front(args, bdims))
        nd = max(ndim_of(start), ndim_of(stop)) - 1  # one example's broadcast ends
        return func(start, stop, *rest, axis=normalize_axis(axis, nd + 1) + 1, **kwargs), 0

    return rule


for _f, _at in [(np.linspace, 4), (np.logspace, 4), (np.geomspace, 3)]:
    register_batch_rule(_f, _spaced(_f, _at), nargs=2)

# np.fromfile takes like= as well; it dispatches like np.frombuffer (vmaprt/_batched.py).
register_like_only(np.fromfile)
