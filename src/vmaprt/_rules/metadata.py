"""Functions of dtypes, shapes and memory rather than values, and what cannot be batched
because it is not a computation on arrays (printing, saving).

The dtype functions give the same answer for every example: a dtype is a
property of the whole batch (NumPy 2 no longer inspects values, NEP 50).
"""

import numpy as np

from .._registry import COMPOSITE, register_batch_rule, refuse
from ._helpers import move_to_front, shape_of


def _dtype_rule(func):
    """``func(*arrays_and_dtypes)``: each batched array stands in by its dtype."""

    def rule(args, bdims, *rest, **kwargs):
        values = [a.dtype if b is not None else a for a, b in zip(args, bdims)]
        return func(*values, *rest, **kwargs), None

    return rule


register_batch_rule(np.result_type, _dtype_rule(np.result_type))
register_batch_rule(np.can_cast, _dtype_rule(np.can_cast), nargs=1)
# np.common_type reads only .dtype of its arguments.
register_batch_rule(np.common_type, np.common_type._implementation, nargs=COMPOSITE)


def _min_scalar_type(args, bdims):
    (x,), (bdim,) = args, bdims
    if len(shape_of(x)) > 1:  # not a scalar per example: NumPy returns the dtype as it is
        return x.dtype, None
    raise RuntimeError(
        "vmap: np.min_scalar_type of a 0-d array depends on its value, which differs "
        "between examples, so it cannot be batched. Use x.dtype, or np.result_type."
    )


register_batch_rule(np.min_scalar_type, _min_scalar_type, nargs=1)


def _memory_rule(func):
    """``func(a, b, ...)`` (shares_memory, may_share_memory): per example, on views.

    The loop is over views only, no data is touched, so it stays a loop.
    """

    def rule(args, bdims, *rest, **kwargs):
        (a, b), (ab, bb) = args, bdims
        size = shape_of(a)[ab] if ab is not None else shape_of(b)[bb]
        a = a if ab is None else move_to_front(a, ab)
        b = b if bb is None else move_to_front(b, bb)
        out = [
            func(a if ab is None else a[i], b if bb is None else b[i], *rest, **kwargs)
            for i in range(size)
        ]
        return (np.stack(out) if out else np.zeros(0, bool)), 0

    return rule


for _f in [np.shares_memory, np.may_share_memory]:
    register_batch_rule(_f, _memory_rule(_f), nargs=2)


def _einsum_path(args, bdims, **kwargs):
    """np.einsum_path reads only the shapes: one example's stand-ins (zero-stride) do."""
    values = [
        a if b is None else np.broadcast_to(np.zeros((), a.dtype), shape_of(a)[:b] + shape_of(a)[b + 1 :])
        for a, b in zip(args, bdims)
    ]
    return np.einsum_path(*values, **kwargs), None


register_batch_rule(np.einsum_path, _einsum_path)

_TEXT = (
    "it returns a string, not an array, and the string of each example differs, so "
    "the results cannot be stacked into a batch. Return the array from the vmapped "
    "function and format it outside vmap"
)
_FILE = (
    "it writes a file, a side effect that a batch cannot perform once per example. "
    "Return the array from the vmapped function and save the stacked result outside "
    "vmap"
)
for _f in [np.array2string, np.array_repr, np.array_str]:
    refuse(_f, _TEXT)
for _f in [np.save, np.savetxt, np.savez, np.savez_compressed]:
    refuse(_f, _FILE)
