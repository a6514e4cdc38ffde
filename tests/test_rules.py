"""Every registered batch rule against the per-example loop.

Each case is a per-example function, the per-example shapes of its inputs and
the dtypes to try.  For every case the same test draws batch sizes, in_dims
(some inputs unbatched), out_dims and physical layouts (C, F, transposed,
stepped, reversed, zero-stride broadcast), and compares ``vmap(f)`` with
``np.stack([f(x[i]) for i in range(n)])``; size-0 batches and nested vmap
with captured outer values are checked too.  ``test_every_rule_has_a_case``
keeps the table complete: a new rule needs a case here.
"""

import warnings
import zlib

import numpy as np
import pytest
import scipy.special

import vmaprt
from vmaprt import _registry
from vmaprt._batched import _UFUNC_METHOD_RULES

from conftest import LAYOUTS, assert_matches, layout, loop, random_array

F, C, I, B = np.float64, np.complex128, np.int64, np.bool_
F32 = np.float32


class Case:
    def __init__(self, funcs, fn, shapes, dtypes=(F,), unbatched=None, id=None, capture=True):
        self.funcs = funcs if isinstance(funcs, tuple) else (funcs,)
        self.fn = fn
        self.shapes = shapes
        self.dtypes = dtypes
        # Which inputs may be left unbatched (default: any, but not all at once).
        self.unbatched = unbatched if unbatched is not None else [True] * len(shapes)
        self.id = id or getattr(self.funcs[0], "__name__", str(self.funcs[0]))
        # False for in-place cases: an inner vmap writing into a value batched only
        # by the outer one is refused by design (tests/test_batched.py checks that).
        self.capture = capture

    def __repr__(self):
        return self.id


def c(*a, **k):
    return Case(*a, **k)


mask34 = np.array([[True, False, True, True]] * 3)

CASES = [
    # ufuncs, __call__: broadcasting between batched and unbatched operands of different ranks
    c(np.add, np.add, [(3, 4), (4,)], (F, F32, C, I)),
    c(np.add, np.add, [(4,), (3, 4)], (F, I), id="add_rank_up"),
    c(np.add, lambda x: x + 1.5, [(2, 3)], (F, F32, I), id="add_scalar"),
    c(np.multiply, lambda x, y: x * y, [(2, 3), ()], (F, C)),
    c(np.subtract, lambda x, y: y - x, [(3,), (2, 3)]),
    c(np.true_divide, lambda x, y: x / (np.abs(y) + 1), [(3,), (3,)], (F, F32, I)),
    c(np.floor_divide, lambda x, y: x // (np.abs(y) + 1), [(4,), (4,)], (I, F)),
    c(np.power, lambda x: np.abs(x) ** 1.5, [(3, 2)], (F, F32)),
    c(np.sin, np.sin, [(2, 3)], (F, F32, C)),
    c(np.exp, lambda x: np.sin(x) * np.exp(-x**2) + 0.5 * x, [(5,)], (F, F32)),
    c(np.arctan2, np.arctan2, [(3,), (3,)]),
    c(np.maximum, np.maximum, [(2, 3), (3,)], (F, I)),
    c(np.logical_and, np.logical_and, [(4,), (4,)], (B,)),
    c(np.greater, lambda x, y: x > y, [(4,), ()], (F, I)),
    c(np.isnan, np.isnan, [(3,)]),
    c(np.conjugate, np.conj, [(3,)], (C,)),
    c(np.negative, lambda x: -x, [(2, 2)], (F, I)),
    c(np.divmod, np.divmod, [(3,), (3,)], (F,)),
    c(np.modf, np.modf, [(4,)]),
    c(scipy.special.expit, scipy.special.expit, [(3,)], (F, F32)),
    c(scipy.special.gammaln, lambda x: scipy.special.gammaln(np.abs(x) + 0.5), [(3,)]),
    c(scipy.special.xlogy, lambda x, y: scipy.special.xlogy(x, np.abs(y)), [(3,), (3,)]),
    # gufuncs
    c(np.matmul, np.matmul, [(3, 4), (4, 2)], (F, F32, C, I)),
    c(np.matmul, np.matmul, [(4,), (4, 2)], (F,), id="matmul_vec_mat"),
    c(np.matmul, np.matmul, [(3, 4), (4,)], (F,), id="matmul_mat_vec"),
    c(np.matmul, np.matmul, [(4,), (4,)], (F, C), id="matmul_vec_vec"),
    c(np.matmul, np.matmul, [(2, 3, 4), (4, 2)], (F,), id="matmul_stack"),
    c(np.matmul, lambda x, w: np.maximum(x @ w, 0), [(6,), (6, 3)], (F, F32), id="relu_xW"),
    c(np.vecdot, np.vecdot, [(3, 4), (4,)], (F, C)),
    c(np.matvec, np.matvec, [(3, 4), (4,)]),
    c(np.vecmat, np.vecmat, [(3,), (3, 2)]),
    # ufunc methods
    c(np.add.reduce, lambda x: np.add.reduce(x), [(3, 4)], (F, I), id="reduce_axis0"),
    c(np.add.reduce, lambda x: np.add.reduce(x, axis=None), [(3, 4)], id="reduce_none"),
    c(np.add.reduce, lambda x: np.add.reduce(x, axis=(0, 1), keepdims=True), [(3, 4)], id="reduce_keep"),
    c(np.add.reduce, lambda x: np.add.reduce(x, axis=-1, where=mask34), [(3, 4)], id="reduce_where"),
    c(np.add.reduce, lambda x, m: np.add.reduce(x, axis=1, where=m > 0), [(3, 4), (4,)], id="reduce_bwhere"),
    c(np.maximum.reduce, lambda x: np.maximum.reduce(x, axis=1, initial=-1.0), [(3, 4)], id="max_reduce"),
    c(np.multiply.accumulate, lambda x: np.multiply.accumulate(x, axis=-1), [(2, 3)], id="accumulate"),
    c(np.add.reduceat, lambda x: np.add.reduceat(x, [0, 2, 3], axis=1), [(2, 5)], id="reduceat"),
    c(np.multiply.outer, np.multiply.outer, [(3,), (2, 2)], (F, I), id="ufunc_outer"),
    c(np.add.at, lambda x, i: _at(x, i), [(5,), (3,)], (F,), unbatched=[False, True], id="ufunc_at", capture=False),
    # reductions
    c((np.sum, np.mean, np.prod), lambda x: (np.sum(x), x.mean(axis=0), np.prod(x, axis=-1, keepdims=True)), [(3, 4)], (F, F32, C)),
    c((np.sum, np.max, np.mean), lambda x, m: (np.sum(x, where=m > 0), x.max(axis=0, where=m > 0, initial=-9), np.mean(x, axis=1, where=x > m)), [(3, 4), (4,)], id="masked_reductions"),
    c((np.min, np.max, np.amin, np.amax, np.ptp), lambda x: (x.min(1), np.max(x, axis=(0, 1)), np.amin(x, 0), np.amax(x), np.ptp(x, 1)), [(3, 4)], (F, I)),
    c((np.any, np.all, np.count_nonzero), lambda x: (np.any(x > 0, axis=0), (x > -1).all(), np.count_nonzero(x > 0, axis=1)), [(3, 4)], (F, I)),
    c((np.std, np.var), lambda x: (x.std(), np.var(x, axis=1, ddof=1)), [(3, 4)], (F, F32, C)),
    # per-example vectors: the compiled reductions
    c((np.sum, np.mean, np.prod, np.max, np.min, np.var, np.std), lambda x: (x.sum(), np.mean(x, 0), x.prod(-1), x.max(), np.min(x), x.var(), np.std(x, ddof=1)), [(6,)], (F, F32), id="vector_reductions"),
    c((np.median,), lambda x: (np.median(x), np.median(x, axis=1)), [(3, 5)]),
    c((np.argmin, np.argmax), lambda x: (x.argmin(), np.argmax(x, axis=1), np.argmax(x, keepdims=True)), [(3, 4)], (F, I)),
    c((np.cumsum, np.cumprod), lambda x: (x.cumsum(), np.cumprod(x, axis=0)), [(3, 4)], (F, I)),
    c((np.nansum, np.nanmean, np.nanprod, np.nanmin, np.nanmax, np.nanstd, np.nanvar, np.nanmedian),
      lambda x: tuple(f(np.where(x > 1, np.nan, x), axis=1) for f in (np.nansum, np.nanmean, np.nanprod, np.nanmin, np.nanmax, np.nanstd, np.nanvar, np.nanmedian)),
      [(3, 4)], id="nan_reductions"),
    c((np.nanargmin, np.nanargmax, np.nancumsum, np.nancumprod),
      lambda x: (np.nanargmin(x, axis=0), np.nanargmax(x), np.nancumsum(x), np.nancumprod(x, axis=1)), [(3, 4)], id="nan_scans"),
    # products
    c(np.dot, np.dot, [(5,), (5,)], (F, F32, C, I), id="dot_vv"),
    c(np.dot, np.dot, [(3, 5), (5,)], (F, I), id="dot_mv"),
    c(np.dot, np.dot, [(5,), (5, 2)], (F,), id="dot_vm"),
    c(np.dot, np.dot, [(2, 3, 5), (4, 5, 2)], (F,), id="dot_nd"),
    c(np.dot, np.dot, [(), (3,)], (F,), id="dot_scalar"),
    c(np.vdot, np.vdot, [(2, 3), (6,)], (F, F32, C)),
    c(np.inner, np.inner, [(5,), (5,)], (F, F32, C), id="inner_vv"),
    c(np.inner, np.inner, [(2, 5), (3, 5)], (F, I), id="inner_nd"),
    c(np.outer, np.outer, [(3,), (2, 2)], (F, C)),
    c(np.einsum, lambda x, y: np.einsum("ij,jk->ik", x, y), [(2, 3), (3, 4)], (F, C), id="einsum_mm"),
    c(np.einsum, lambda x: np.einsum("ii->i", x), [(3, 3)], id="einsum_diag"),
    c(np.einsum, lambda x, y: np.einsum("...i,...i", x, y), [(2, 3), (3,)], id="einsum_implicit_ellipsis"),
    c(np.einsum, lambda x, y: np.einsum("ij,j", x, y), [(2, 3), (3,)], id="einsum_implicit"),
    c(np.einsum, lambda x: np.einsum("ij->", x), [(2, 3)], id="einsum_sum"),
    c(np.tensordot, np.tensordot, [(2, 3, 4), (3, 4, 2)], (F,), id="tensordot_2"),
    c(np.tensordot, lambda x, y: np.tensordot(x, y, axes=([0, 2], [2, 0])), [(4, 3, 2), (2, 5, 4)], id="tensordot_pairs"),
    c(np.tensordot, lambda x, y: np.tensordot(x, y, axes=0), [(2,), (3,)], id="tensordot_0"),
    # shape ops
    c(np.reshape, lambda x: x.reshape(6, -1), [(3, 4)], (F, I)),
    c(np.reshape, lambda x: np.reshape(x, (2, 6), order="F"), [(3, 4)], id="reshape_F"),
    c(np.ravel, lambda x: (np.ravel(x), x.flatten(), np.ravel(x, order="F")), [(3, 4)]),
    c(np.transpose, lambda x: (x.T, np.transpose(x, (1, 2, 0)), x.transpose(2, 0, 1)), [(2, 3, 4)]),
    c((np.swapaxes, np.matrix_transpose), lambda x: (np.swapaxes(x, 0, -1), x.mT), [(2, 3, 4)]),
    c(np.moveaxis, lambda x: (np.moveaxis(x, 0, -1), np.moveaxis(x, [0, 1], [2, 0])), [(2, 3, 4)]),
    c(np.expand_dims, lambda x: (np.expand_dims(x, 0), np.expand_dims(x, (-1, 1))), [(2, 3)]),
    c(np.squeeze, lambda x: (np.squeeze(x), np.squeeze(x, axis=2)), [(1, 3, 1)]),
    c(np.concatenate, lambda x, y: (np.concatenate([x, y[:1]]), np.concatenate([y, x], axis=1), np.concatenate((x, y), axis=None)), [(2, 3), (2, 3)]),
    c(np.stack, lambda x, y: (np.stack([x, y]), np.stack([y, x], axis=-1)), [(2, 3), (2, 3)]),
    c(np.broadcast_to, lambda x: np.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    c(np.flip, lambda x: (np.flip(x), np.flip(x, 1)), [(2, 3)]),
    c((np.atleast_1d, np.atleast_2d, np.atleast_3d), lambda x: (np.atleast_1d(x), np.atleast_2d(x), np.atleast_3d(x)), [(3,)]),
    c((np.atleast_2d,), lambda x, y: np.atleast_2d(x, y), [(), (2, 3)], id="atleast_many"),
    c((np.hstack, np.vstack, np.dstack), lambda x, y: (np.hstack([x, y]), np.vstack((x, y)), np.dstack([x, y])), [(2, 3), (2, 3)]),
    c((np.shape, np.ndim, np.size), lambda x: x + np.ndim(x) + np.size(x) + np.shape(x)[0], [(2, 3)], id="metadata"),
    c((np.iscomplexobj, np.isrealobj), lambda x: x * np.iscomplexobj(x) + np.isrealobj(x), [(2,)], (F, C), id="dtype_predicates"),
    # elementwise functions
    c(np.where, lambda c, x, y: np.where(c > 0, x, y), [(3,), (2, 3), ()]),
    c(np.clip, lambda x, lo: (np.clip(x, lo, 1.0), x.clip(-0.5), np.clip(x, a_min=lo, a_max=None), np.clip(x, max=0.5)), [(2, 3), (3,)], (F, F32)),
    c(np.isclose, lambda x, y: np.isclose(x, y, atol=0.5), [(3,), (3,)]),
    c((np.nan_to_num, np.sinc, np.i0, np.fix), lambda x: (np.nan_to_num(np.log(x)), np.sinc(x), np.i0(x), np.fix(x)), [(4,)]),
    c((np.angle, np.real, np.imag, np.iscomplex, np.isreal), lambda z: (np.angle(z), np.real(z), z.imag, np.iscomplex(z), np.isreal(z)), [(3,)], (C,)),
    # The dtype depends on the data (real if every imaginary part is tiny), so a batch of 0 is not compared.
    c(np.real_if_close, lambda z: np.real_if_close(z + 0 * np.real(z) * 1j), [(3,)], (C,), id="real_if_close"),
    c(np.real_if_close, lambda z: np.real_if_close(np.real(z) + 0j), [(3,)], (C,), id="real_if_close_real"),
    c((np.round, np.around, np.copy), lambda x: (np.round(x, 1), np.around(x), x.round(2), np.copy(x), x.copy()), [(3,)], (F, F32)),
    # creation
    c((np.zeros_like, np.ones_like), lambda x: (np.zeros_like(x), np.ones_like(x, dtype=np.int32), np.zeros_like(x, shape=(2,))), [(2, 3)], (F, I)),
    c(np.empty_like, lambda x: np.empty_like(x, shape=(4,)).shape + np.empty_like(x).shape, [(2, 3)], id="empty_like_shape"),
    # NumPy dispatches full_like on its first argument only, so that one must be batched.
    c(np.full_like, lambda x, v: (np.full_like(x, 7), np.full_like(x, v), np.full_like(x, v, shape=(2, 2))), [(2, 3), ()], (F, I), unbatched=[False, True]),
    c(np.copyto, lambda x, y: _copyto(x, y), [(2, 3), (3,)], unbatched=[True, True]),
    # indexing functions (x[key] itself is tested in tests/test_indexing.py)
    c(np.take, lambda x, i: (np.take(x, (np.abs(i) * 2).astype(int) % 4, axis=1), x.take([0, -1])), [(3, 4), (2,)], unbatched=[False, True]),
]


def _at(x, idx):
    x = x.copy()
    np.add.at(x, (np.abs(idx) * 3).astype(np.int64) % 5, 1.0)
    return x


def _copyto(x, y):
    out = np.zeros_like(x + y)  # batched whenever x or y is
    np.copyto(out, y)
    np.copyto(out, x, where=x > 0)
    return out


def _draw(case, rng, dtype, size, layout_kind):
    """Inputs of ``case`` for a batch of ``size``: (args, in_dims)."""
    n = len(case.shapes)
    while True:
        mapped = [not ok or rng.random() < 0.7 for ok in case.unbatched]
        if any(mapped):
            break
    args, in_dims = [], []
    for shape, m in zip(case.shapes, mapped):
        if m:
            d = int(rng.integers(0, len(shape) + 1))
            x = layout(random_array(rng, (size,) + shape, dtype), d, layout_kind)
            args.append(x)
            in_dims.append(d if rng.random() < 0.5 else d - x.ndim)  # negative half the time
        else:
            args.append(random_array(rng, shape, dtype))
            in_dims.append(None)
    return args, tuple(in_dims)


def _out_dims(rng, out):
    """A random valid out_dim for every output leaf of a sample result."""
    if isinstance(out, tuple):
        return tuple(_out_dims(rng, o) for o in out)
    nd = np.ndim(out) + 1
    return int(rng.integers(-nd, nd))


def _run(case, args, in_dims, out_dims, **kwargs):
    return vmaprt.vmap(case.fn, in_dims=in_dims, out_dims=out_dims, **kwargs)(*args)


def _expect(case, args, in_dims, out_dims):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log of negatives in the oracle too
        return loop(case.fn, args, in_dims, out_dims)


def _example_out(case, args, in_dims):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return case.fn(*(a if d is None else np.take(a, 0, axis=d) for a, d in zip(args, in_dims)))


def _compare(case, dtype, got, want):
    if case.funcs[0] is np.empty_like:
        assert np.array_equal(got, want)
    else:
        assert_matches(got, want, dtype)


@pytest.mark.parametrize("case", CASES, ids=repr)
@pytest.mark.parametrize("layout_kind", LAYOUTS)
def test_rule_matches_loop(case, layout_kind):
    rng = np.random.default_rng(zlib.crc32(f"{case.id}-{layout_kind}".encode()))
    for dtype in case.dtypes:
        size = int(rng.integers(1, 5))
        args, in_dims = _draw(case, rng, dtype, size, layout_kind)
        out_dims = _out_dims(rng, _example_out(case, args, in_dims))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            got = _run(case, args, in_dims, out_dims)
        _compare(case, dtype, got, _expect(case, args, in_dims, out_dims))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_chunked_matches_loop(case):
    rng = np.random.default_rng(1)
    dtype = case.dtypes[0]
    args, in_dims = _draw(case, rng, dtype, 5, "stepped")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = _run(case, args, in_dims, 0, chunk_size=2)
    _compare(case, dtype, got, _expect(case, args, in_dims, 0))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_size_zero(case):
    """A batch of 0 gives the loop's result for 0 examples: the shape of a larger
    batch's result with 0 along the batch axis, and its dtype."""
    if case.id.startswith("real_if_close"):
        pytest.skip("the result dtype depends on the values, and a batch of 0 has none")
    rng = np.random.default_rng(2)
    dtype = case.dtypes[0]
    args, in_dims = _draw(case, rng, dtype, 2, "C")
    empty = [a if d is None else np.take(a, [], axis=d) for a, d in zip(args, in_dims)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        full = _run(case, args, in_dims, 0)
        got = _run(case, empty, in_dims, 0)
    fulls = full if isinstance(full, tuple) else (full,)
    gots = got if isinstance(got, tuple) else (got,)
    for g, f in zip(gots, fulls):
        assert g.shape == (0,) + f.shape[1:] and g.dtype == f.dtype


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_nested_with_captured_outer_values(case):
    """vmap(vmap(f)) over two batch axes, and an inner vmap that closes over a
    value batched by the outer one, against the double loop."""
    rng = np.random.default_rng(3)
    dtype = case.dtypes[0]
    outer = [random_array(rng, (2, 3) + s, dtype) for s in case.shapes]
    # The outer batch axis at 0 or 1 of each input; the inner one lands at 0 either way.
    in_dims_outer = tuple(int(rng.integers(0, 2)) for _ in outer)
    phys = [x if a == 0 else np.swapaxes(x, 0, 1) for x, a in zip(outer, in_dims_outer)]
    in_dims_inner = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = vmaprt.vmap(vmaprt.vmap(case.fn, in_dims=in_dims_inner), in_dims=in_dims_outer)(*phys)
        want = loop(lambda *xs: loop(case.fn, xs, (0,) * len(xs)), outer, (0,) * len(outer))
    _compare(case, dtype, got, want)

    if len(case.shapes) < 2 or not case.capture:
        return
    # The first input is captured from the outer level, the rest are mapped inside.
    first, rest = outer[0][:, 0], outer[1:]

    def per_outer(x0, *ys):
        return vmaprt.vmap(lambda *yy: case.fn(x0, *yy))(*ys)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = vmaprt.vmap(per_outer)(first, *rest)
        want = loop(lambda x0, *ys: loop(lambda *yy: case.fn(x0, *yy), ys, (0,) * len(ys)), [first, *rest], (0,) * len(outer))
    _compare(case, dtype, got, want)


def test_every_rule_has_a_case():
    covered = {f for case in CASES for f in case.funcs}
    numpy_funcs = [f for f in _registry.RULES if getattr(f, "__module__", "").startswith("numpy")]
    missing = [_registry._name(f) for f in numpy_funcs if f not in covered and not isinstance(f, np.ufunc)]
    assert not missing, f"rules without a case in tests/test_rules.py: {missing}"


def test_every_ufunc_method_has_a_case():
    ids = {case.id for case in CASES}
    for method, case_id in [("reduce", "reduce_axis0"), ("accumulate", "accumulate"),
                            ("reduceat", "reduceat"), ("outer", "ufunc_outer"), ("at", "ufunc_at"),
                            ("__call__", "add")]:  # fmt: skip
        assert method in _UFUNC_METHOD_RULES and case_id in ids


def test_every_ufunc_has_a_rule():
    ufuncs = [getattr(np, n) for n in dir(np) if isinstance(getattr(np, n), np.ufunc)]
    ufuncs += [getattr(scipy.special, n) for n in dir(scipy.special) if isinstance(getattr(scipy.special, n), np.ufunc)]
    assert len(ufuncs) > 150
    assert all(vmaprt.has_batch_rule(u) for u in ufuncs)


@pytest.mark.parametrize(
    "name",
    ["expit", "logit", "erf", "gammaln", "ndtr", "i0", "jv", "xlogy"],
)
def test_scipy_special_sample(name):
    f = getattr(scipy.special, name)
    rng = np.random.default_rng(4)
    args = [np.abs(rng.standard_normal((4, 3))) * 0.4 + 0.1 for _ in range(f.nin)]
    in_dims = (1,) + (None,) * (f.nin - 1)
    args[0] = args[0].T.copy()
    args[1:] = [a[0] for a in args[1:]]
    got = vmaprt.vmap(f, in_dims=in_dims)(*args)
    assert_matches(got, loop(f, args, in_dims))
