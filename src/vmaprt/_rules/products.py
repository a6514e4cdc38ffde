"""Products: dot, vdot, inner, outer, einsum, tensordot.

Most of them become one ``np.einsum`` call with a fresh subscript letter for the
batch axis, which reads any strides without a copy.  The cases that have a
faster expression (a BLAS matmul against an unbatched operand, the compiled
batched dot) take it.
"""

import math
import string

import numpy as np

from .. import _core
from .._registry import NoBatchRule, register_batch_rule
from .elementwise import ufunc_call
from ._helpers import anywhere, as_rows, bdim_at_front, broadcast_batched, move_to_front, ndim_of, normalize_axis, shape_of

_LETTERS = string.ascii_letters


def _batched_einsum(subscripts, operands, bdims, **kwargs):
    """``np.einsum(subscripts, *operands)`` per example, batched: returns ``(out, 0)``.

    ``subscripts`` is the per-example expression, always with an explicit ``->``.
    """
    inputs, output = subscripts.split("->")
    z = next(c for c in _LETTERS if c not in subscripts)
    terms = [z + s if b is not None else s for s, b in zip(inputs.split(","), bdims)]
    values = [move_to_front(x, b) if b is not None else x for x, b in zip(operands, bdims)]
    out = _rowwise_dot(terms, output, z, values)
    if out is not None:
        return out, 0
    if "optimize" not in kwargs and len(values) > 1 and sum(math.prod(shape_of(v)) for v in values) >= EINSUM_OPTIMIZE_MIN:
        kwargs = dict(kwargs, optimize=True)
    return np.einsum(",".join(terms) + "->" + z + output, *values, **kwargs), 0


EINSUM_OPTIMIZE_MIN = 65536
"""From this many operand elements a batched einsum of several operands runs with
``optimize=True``, which hands contractions to BLAS: 'ij,zj->zi' over [80000, 8]
took 5.6 ms plain and 0.9 ms optimized (``V @ W.T`` 0.75), 'zij,zjk->zik' over
[2000, 16, 16] 11.4 and 1.7 ms.  Finding the path costs about 30 us, which a
small batch does not win back (5 us plain on [8, 3])."""


def _rowwise_dot(terms, output, z, values):
    """``'...k,...k->...'`` over the same leading axes on both sides (what vmap(vmap(dot))
    becomes one level out) is a batch of short dots: the kernel, over the leading
    axes merged without a copy.  None when that does not apply."""
    if len(values) != 2 or terms[0] != terms[1] or terms[0] != z + output + terms[0][-1:]:
        return None
    a, b = values
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.shape != b.shape or a.ndim < 2:
        return None
    fa, fb = as_rows(a), as_rows(b)
    if fa is None or fb is None or not _core.dot_wins(fa, 0, fb, 0):
        return None
    return _core.batched_dot(fa, 0, fb, 0).reshape(a.shape[:-1])


def _per_example_if_not_finite(rule):
    """``rule``, except that complex operands holding inf or nan run per example.

    Note [non-finite complex products]
        A complex product with an infinite entry is nan or inf depending on how its
        sums are grouped (-inf+0j times 1+1j is -inf+nanj, and so on), and NumPy's
        own loop, BLAS and the compiled kernels group them differently: a batched
        call gave -inf+infj where the loop gives nan+nanj.  Only the loop's own
        per-example calls reproduce the loop there, so such calls run per example.
    """

    def checked(args, bdims, *rest, **kwargs):
        for a in args:
            if getattr(a, "dtype", None) is not None and a.dtype.kind == "c" and not _all_finite(a):
                raise NoBatchRule("complex operands with an inf or a nan (Note [non-finite complex products])")
        return rule(args, bdims, *rest, **kwargs)

    return checked


def _all_finite(a):
    return not anywhere(~np.isfinite(a))


def _dot_subscripts(na, nb):
    """Per-example einsum expression of ``np.dot`` for operands of rank ``na``, ``nb`` >= 1."""
    la, lb = _LETTERS[:na], list(_LETTERS[na : na + nb])
    lb[-2 if nb >= 2 else -1] = la[-1]
    free_b = [c for i, c in enumerate(lb) if i != (nb - 2 if nb >= 2 else nb - 1)]
    return f"{la},{''.join(lb)}->{la[:-1]}{''.join(free_b)}"


def _example_shape(x, bdim):
    s = tuple(shape_of(x))
    return s if bdim is None else s[:bdim] + s[bdim + 1 :]


def _check_aligned(a, ab, b, bb, ia, ib):
    """NumPy's error when the contracted axes ``ia`` of ``a`` and ``ib`` of ``b`` (per
    example) differ in length: einsum, which the batched products end in, would
    broadcast a length 1 instead."""
    sa, sb = _example_shape(a, ab), _example_shape(b, bb)
    if sa[ia] != sb[ib]:
        raise ValueError(
            f"shapes {sa} and {sb} not aligned: {sa[ia]} (dim {ia % len(sa)}) != {sb[ib]} (dim {ib % len(sb)})"
        )


def _scalar_or_vector_product(a, ab, b, bb, na, nb):
    """What np.dot and np.inner share: a 0-d operand multiplies, and two batched
    vectors make a batched dot.  None for the other cases."""
    if na == 0 or nb == 0:
        values, bdim = broadcast_batched([a, b], [ab, bb])
        return np.multiply(*values), bdim
    if na == 1 and nb == 1 and ab is not None and bb is not None:
        return _batched_vector_dot(a, ab, b, bb), 0
    return None


def _dot(args, bdims, out=None):  # a non-None out= is written by the dispatcher
    (a, b), (ab, bb) = args, bdims
    na, nb = ndim_of(a) - (ab is not None), ndim_of(b) - (bb is not None)
    if na and nb:
        _check_aligned(a, ab, b, bb, -1, -2 if nb >= 2 else -1)
    simple = _scalar_or_vector_product(a, ab, b, bb, na, nb)
    if simple is not None:
        return simple
    kernel = _core.matmul_path(a, ab, b, bb) if na == nb == 2 else None
    if kernel is not None:
        return kernel(a, ab, b, bb), 0
    if bb is None and nb <= 2:  # [..., k] @ [k(, m)] on the last axis: one GEMM
        return _right_product(a, ab, na, b)
    if ab is None and na == 2 and nb == 1:
        return _left_product(a, b, bb)
    return _batched_einsum(_dot_subscripts(na, nb), [a, b], [ab, bb])


def _right_product(a, ab, na, b):
    """``a @ b`` per example for an unbatched ``[k]`` or ``[k, m]`` on the right: the
    product acts on ``a``'s last per-example axis only, so the whole batch is one
    BLAS call.  Returns ``(out, out_bdim)``."""
    if na == 1 and ab == 1 and b.ndim == 1 and type(a) is np.ndarray:  # (na == 1: a is [k, B])
        return np.matmul(b, a), 0  # [k, B]: b @ a is the vector-matrix product NumPy users write
    if na == 1:  # [B, k] @ b, with the batch axis first in a view: BLAS reads either order
        return np.matmul(move_to_front(a, ab), b), 0
    if ab == ndim_of(a) - 1:
        a, ab = move_to_front(a, ab), 0
    return right_matmul(a, b), ab


def _batched_vector_dot(a, ab, b, bb):
    """``out[i] = sum_k a[i, k] * b[i, k]`` for any batch axes ``ab``, ``bb``:
    the kernel for short vectors, BLAS (np.vecdot) for long real ones."""
    if _core.dot_wins(a, ab, b, bb):
        return _core.batched_dot(a, ab, b, bb)
    a, b = move_to_front(a, ab), move_to_front(b, bb)
    if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype.kind != "c" and b.dtype.kind != "c":
        return np.vecdot(a, b)  # (vecdot would conjugate a complex a)
    return np.einsum("zk,zk->z", a, b)  # one level out, einsum finds the kernel again


register_batch_rule(np.dot, _per_example_if_not_finite(_dot), nargs=2)


def _matmul(args, bdims, **kwargs):
    """np.matmul.  Small matrices go to the unrolled kernel; a product with an
    unbatched matrix on the right keeps the batch axis in place.  Otherwise a
    per-example vector becomes a [1, k] row (left) or a [k, 1] column (right)
    first, so that the batch axis is never read as a matrix axis."""
    (a, b), (ab, bb) = args, bdims
    na, nb = ndim_of(a) - (ab is not None), ndim_of(b) - (bb is not None)
    if min(na, nb) == 0:  # (the batch axis must not count as a vector axis)
        raise ValueError(
            f"matmul: Input operand {0 if na == 0 else 1} does not have enough dimensions (has 0, "
            f"gufunc core with signature (n?,k),(k,m?)->(n?,m?) requires 1)"
        )
    if kwargs.get("axes") is not None or kwargs.get("axis") is not None:
        if min(na, nb) < 2:
            raise NoBatchRule("axes= of np.matmul with a vector operand")
        return ufunc_call(np.matmul, args, bdims, **kwargs)
    kernel = _core.matmul_path(a, ab, b, bb) if not kwargs and na == nb == 2 else None
    if kernel is not None:
        return kernel(a, ab, b, bb), 0
    if not kwargs and bb is None and nb <= 2 and na >= 1:  # an unbatched right operand: one GEMM/GEMV
        return _right_product(a, ab, na, b)
    if not kwargs and ab is None and na == 2 and nb == 1:
        return _left_product(a, b, bb)
    a_vec, b_vec = na == 1, nb == 1
    if a_vec:
        a = np.expand_dims(a, 0) if ab is None else np.expand_dims(move_to_front(a, ab), 1)
        ab = None if ab is None else 0
    if b_vec:
        b = np.expand_dims(b, 1) if bb is None else np.expand_dims(move_to_front(b, bb), 2)
        bb = None if bb is None else 0
    values, bdim = broadcast_batched([a, b], [ab, bb], (2, 2))
    out = np.matmul(*values, **kwargs)
    if a_vec and b_vec:
        out = out[..., 0, 0]
    elif a_vec:
        out = out[..., 0, :]
    elif b_vec:
        out = out[..., 0]
    return out, bdim


register_batch_rule(np.matmul, _per_example_if_not_finite(_matmul), nargs=2)


def _left_product(a, b, bb):
    """``a @ v`` per example for an unbatched ``[n, k]`` matrix ``a`` and a batch of
    vectors: ``V @ a.T``, one BLAS call (as a stack of [k, 1] columns it was one tiny
    product per example, 12-27x NumPy's ``V @ a.T`` on [80000, 8])."""
    return np.matmul(move_to_front(b, bb), np.swapaxes(a, 0, 1)), 0


def right_matmul(a, b):
    """``a @ b`` with ``b`` an unbatched ``[k, m]`` matrix or ``[k]`` vector.

    It acts on the last axis of ``a`` only, so wherever ``a``'s batch axis is
    (except last), it stays there.  When the other axes merge without a copy
    the whole batch is one GEMM.
    """
    flat = as_rows(a) if type(a) is np.ndarray and a.ndim > 2 else None
    if flat is not None:
        return np.matmul(flat, b).reshape(a.shape[:-1] + tuple(shape_of(b)[1:]))
    return np.matmul(a, b)



def _flat(x, bdim, size):
    """Each example raveled: ``[B, n]``."""
    x = bdim_at_front(x, bdim, size)
    return np.reshape(x, (size, math.prod(shape_of(x)[1:])))


def _vdot(args, bdims):
    (a, b), (ab, bb) = args, bdims
    size = (a.shape[ab] if ab is not None else b.shape[bb])
    fa, fb = _flat(a, ab, size), _flat(b, bb, size)
    if fa.dtype.kind == "c":
        return np.vecdot(fa, fb), 0  # vecdot conjugates its first argument, as vdot does
    return _batched_vector_dot(fa, 0, fb, 0), 0


register_batch_rule(np.vdot, _per_example_if_not_finite(_vdot), nargs=2)


def _inner(args, bdims):
    (a, b), (ab, bb) = args, bdims
    na, nb = ndim_of(a) - (ab is not None), ndim_of(b) - (bb is not None)
    if na and nb:
        _check_aligned(a, ab, b, bb, -1, -1)
    simple = _scalar_or_vector_product(a, ab, b, bb, na, nb)
    if simple is not None:
        return simple
    if bb is None and nb <= 2:  # [B, ..., k] against [k] or [m, k]: one matmul (BLAS)
        return np.matmul(move_to_front(a, ab), np.swapaxes(b, -1, -2) if nb == 2 else b), 0
    la, lb = _LETTERS[:na], _LETTERS[na : na + nb - 1] + _LETTERS[na - 1]
    return _batched_einsum(f"{la},{lb}->{la[:-1]}{lb[:-1]}", [a, b], [ab, bb])


register_batch_rule(np.inner, _per_example_if_not_finite(_inner), nargs=2)


def _outer(args, bdims):
    (a, b), (ab, bb) = args, bdims
    size = a.shape[ab] if ab is not None else b.shape[bb]
    fa = _flat(a, ab, size) if ab is not None else np.ravel(a)  # [B?, n]
    fb = _flat(b, bb, size) if bb is not None else np.ravel(b)  # [B?, m]
    front = [None if ab is None else 0, None if bb is None else 0]
    values, bdim = broadcast_batched([np.expand_dims(fa, -1), fb], front)
    return np.multiply(*values), bdim


register_batch_rule(np.outer, _outer, nargs=2)


def _interleaved(args, bdims):
    """``einsum(a, [0, 1], b, [1, 2][, [0, 2]])`` in the string form: ``(subscripts, operands, bdims)``."""

    def labels(sublist):
        return "".join("..." if k is Ellipsis else _LETTERS[k] for k in sublist)

    n = len(args) // 2
    subscripts = ",".join(labels(s) for s in args[1 : 2 * n : 2])
    if len(args) % 2:
        subscripts += "->" + labels(args[-1])
    return subscripts, list(args[0 : 2 * n : 2]), list(bdims[0 : 2 * n : 2])


def _einsum(args, bdims, **kwargs):
    if not args:
        raise ValueError("No input operands")
    if isinstance(args[0], str):
        subscripts, operands, op_bdims = args[0].replace(" ", ""), args[1:], bdims[1:]
    else:
        subscripts, operands, op_bdims = _interleaved(args, bdims)
    if "->" not in subscripts:  # implicit output: labels seen once, in order; '...' first
        labels = subscripts.replace(".", "").replace(",", "")
        once = sorted(c for c in set(labels) if labels.count(c) == 1)
        subscripts += "->" + ("..." if "..." in subscripts else "") + "".join(once)
    return _batched_einsum(subscripts, operands, op_bdims, **kwargs)


register_batch_rule(np.einsum, _per_example_if_not_finite(_einsum))


def _tensordot(args, bdims, axes=2):
    (a, b), (ab, bb) = args, bdims
    na, nb = ndim_of(a) - (ab is not None), ndim_of(b) - (bb is not None)
    if isinstance(axes, (int, np.integer)):
        a_axes, b_axes = list(range(na - axes, na)), list(range(axes))
    else:
        a_axes, b_axes = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    a_axes = [normalize_axis(x, na) for x in a_axes]
    b_axes = [normalize_axis(x, nb) for x in b_axes]
    sa, sb = _example_shape(a, ab), _example_shape(b, bb)
    if len(a_axes) != len(b_axes) or any(sa[x] != sb[y] for x, y in zip(a_axes, b_axes)):
        raise ValueError("shape-mismatch for sum")
    if ab is None or bb is None:  # one batched operand: a single BLAS tensordot
        if ab is not None:
            return np.tensordot(move_to_front(a, ab), b, ([x + 1 for x in a_axes], b_axes)), 0
        out = np.tensordot(a, move_to_front(b, bb), (a_axes, [x + 1 for x in b_axes]))
        return out, na - len(a_axes)
    la, lb = list(_LETTERS[:na]), list(_LETTERS[na : na + nb])
    for x, y in zip(a_axes, b_axes):
        lb[y] = la[x]
    free = [c for i, c in enumerate(la) if i not in a_axes] + [
        c for i, c in enumerate(lb) if i not in b_axes
    ]
    return _batched_einsum(f"{''.join(la)},{''.join(lb)}->{''.join(free)}", [a, b], [ab, bb])


register_batch_rule(np.tensordot, _per_example_if_not_finite(_tensordot), nargs=2)
