"""The compiled kernels against NumPy, over dtypes, layouts and strides (hypothesis)."""

import contextlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vmaprt
from vmaprt import _core

from conftest import LAYOUTS, layout, tol

DEFAULT_THREADS = vmaprt.get_num_threads()


@contextlib.contextmanager
def kernel_threads(n):
    """The kernels spread over ``n`` threads inside the block, the default after it."""
    vmaprt.set_num_threads(n)
    try:
        yield
    finally:
        vmaprt.set_num_threads(DEFAULT_THREADS)


def test_core_is_compiled():
    assert _core.__file__.endswith((".so", ".pyd"))
    assert isinstance(_core.DEBUG_BUILD, bool)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=200, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    nbatch=st.sampled_from([0, 1, 2, 7, 40_000]),
    n=st.sampled_from([0, 1, 3, 4, 5, 16, 23, 70]),
    kinds=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
    bdims=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    seed=st.integers(0, 2**16),
)
def test_batched_dot_matches_numpy(threads, dtype, nbatch, n, kinds, bdims, seed):
    rng = np.random.default_rng(seed)
    a0 = rng.standard_normal((nbatch, n)).astype(dtype)
    b0 = rng.standard_normal((nbatch, n)).astype(dtype)
    a, b = layout(a0, bdims[0], kinds[0]), layout(b0, bdims[1], kinds[1])
    with kernel_threads(threads):
        got = _core.batched_dot(a, bdims[0], b, bdims[1])
    want = np.einsum("zk,zk->z", np.moveaxis(a, bdims[0], 0).astype(np.float64),
                     np.moveaxis(b, bdims[1], 0).astype(np.float64))
    assert got.dtype == dtype and got.shape == (nbatch,)
    np.testing.assert_allclose(got, want.astype(dtype), **tol(dtype))


def test_batched_dot_unaligned_and_zero_strides():
    raw = np.zeros(8 * 6 * 5 + 1, dtype=np.uint8)[1:].view(np.float64).reshape(6, 5)  # unaligned
    raw[...] = np.arange(30.0).reshape(6, 5)
    b = np.broadcast_to(np.arange(5.0), (6, 5))  # batch stride 0
    np.testing.assert_allclose(_core.batched_dot(raw, 0, b, 0), raw @ np.arange(5.0))
    reversed_ = raw[::-1, ::-1]
    np.testing.assert_allclose(_core.batched_dot(reversed_, 0, reversed_, 0), (reversed_**2).sum(1))


def test_batched_dot_odd_byte_strides_are_copied():
    buf = np.zeros(6 * 43, dtype=np.uint8)
    a = np.ndarray((6, 5), dtype=np.float64, buffer=buf, strides=(43, 8))  # 43 bytes: not a whole element
    a[...] = np.arange(30.0).reshape(6, 5)
    np.testing.assert_allclose(_core.batched_dot(a, 0, a, 0), (np.arange(30.0).reshape(6, 5) ** 2).sum(1))


def test_batched_dot_rejects_what_it_does_not_handle():
    with pytest.raises(TypeError, match="batched_dot expects two float32/float64 2-D arrays"):
        _core.batched_dot(np.ones((2, 3), np.int64), 0, np.ones((2, 3), np.int64), 0)
    with pytest.raises(TypeError, match="batched_dot expects"):
        _core.batched_dot(np.ones((2, 3)), 0, np.ones((2, 4)), 0)
    assert not _core.dot_wins(np.ones((2, 3)), 0, np.ones((2, 3), np.float32), 0)
    assert not _core.dot_wins(np.ones((2, 3)), None, np.ones((2, 3)), 0)
    assert _core.dot_wins(np.ones((2, 3)), 1, np.ones((3, 2)), 0)


def test_thread_count_default_and_setting():
    assert vmaprt.get_num_threads() >= 1
    old = vmaprt.get_num_threads()
    try:
        vmaprt.set_num_threads(np.int64(3))
        assert vmaprt.get_num_threads() == 3
    finally:
        vmaprt.set_num_threads(old)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=200, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
    nbatch=st.sampled_from([0, 1, 5, 20_000]),
    nkm=st.sampled_from([(2, 2, 2), (3, 3, 3), (4, 4, 4), (3, 3, 1), (1, 3, 1), (2, 4, 3), (4, 1, 4)]),
    kinds=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
    bdims=st.tuples(st.sampled_from([0, 1, 2, None]), st.sampled_from([0, 1, 2, None])),
    seed=st.integers(0, 2**16),
)
def test_batched_matmul_matches_numpy(threads, dtype, nbatch, nkm, kinds, bdims, seed):
    if bdims == (None, None):
        bdims = (0, None)
    n, k, m = nkm
    rng = np.random.default_rng(seed)

    def operand(shape, bdim, kind):
        x = rng.standard_normal((nbatch,) + shape) + (1j * rng.standard_normal((nbatch,) + shape) if dtype in (np.complex64, np.complex128) else 0)
        x = x.astype(dtype)
        if bdim is None:
            one = x[0] if nbatch else np.zeros(shape, dtype)
            return one, np.broadcast_to(one, (nbatch,) + shape)
        phys = layout(x, bdim, kind)
        return phys, np.moveaxis(phys, bdim, 0)  # what the examples are, zero strides included

    a, a_full = operand((n, k), bdims[0], kinds[0])
    b, b_full = operand((k, m), bdims[1], kinds[1])
    assert _core.matmul_wins(a, bdims[0], b, bdims[1])
    with kernel_threads(threads):
        got = _core.batched_matmul(a, bdims[0], b, bdims[1])
    wide = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
    want = np.matmul(a_full.astype(wide), b_full.astype(wide))
    assert got.dtype == dtype and got.shape == (nbatch, n, m) and got.flags.c_contiguous
    np.testing.assert_allclose(got, want.astype(dtype), **tol(dtype))


def test_batched_matmul_declines_what_numpy_does_better():
    assert not _core.matmul_wins(np.ones((5, 5, 5)), 0, np.ones((5, 5, 5)), 0)  # above MATMUL_MAX
    assert _core.matmul_path(np.ones((5, 5, 5)), 0, np.ones((5, 5, 5)), 0) is _core.batched_gemm
    assert _core.matmul_path(np.ones((5, 64, 64)), 0, np.ones((5, 64, 64)), 0) is None
    assert not _core.matmul_wins(np.ones((5, 3, 3), int), 0, np.ones((5, 3, 3), int), 0)
    assert not _core.matmul_wins(np.ones((5, 3, 3)), 0, np.ones((5, 3, 3), np.float32), 0)
    assert not _core.matmul_wins(np.ones((5, 3, 2)), 0, np.ones((5, 3, 3)), 0)
    with pytest.raises(TypeError, match="batched_matmul expects small float or complex matrices"):
        _core.batched_matmul(np.ones((3, 3)), None, np.ones((3, 3)), None)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(_core.REDUCTIONS)),
    dtype=st.sampled_from([np.float32, np.float64]),
    nbatch=st.sampled_from([0, 1, 3, 7, 50_000]),
    n=st.sampled_from([0, 1, 2, 5, 8, 9, 33]),
    kind=st.sampled_from(LAYOUTS),
    bdim=st.integers(0, 1),
    nans=st.booleans(),
    ddof=st.sampled_from([0, 1, 2, 9]),  # (9 >= n: NumPy divides by max(n - ddof, 0))
    seed=st.integers(0, 2**16),
)
def test_batched_reduce_matches_numpy(threads, name, dtype, nbatch, n, kind, bdim, nans, ddof, seed):
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((nbatch, n)).astype(dtype)
    if nans and x0.size:
        x0.flat[rng.integers(0, x0.size, 3)] = np.nan
    x = layout(x0, bdim, kind)
    logical = np.moveaxis(x, bdim, 0)
    kwargs = {"ddof": ddof} if name in ("var", "std") else {}
    if n == 0 and name in ("max", "min", "argmax", "argmin") and nbatch:
        with pytest.raises(ValueError, match="zero-size array"):
            _core.batched_reduce(name, x, bdim)
        return
    with kernel_threads(threads):
        got = _core.batched_reduce(name, x, bdim, **kwargs)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = getattr(np, name)(logical.astype(np.float64), axis=1, **kwargs) if nbatch else np.empty(0)
    assert got.shape == (nbatch,)
    assert got.dtype == (np.intp if name.startswith("arg") else dtype)
    np.testing.assert_allclose(got, want.astype(got.dtype), **tol(dtype), equal_nan=True)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=100, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    nbatch=st.sampled_from([2, 7, 513, 5000]),
    n=st.sampled_from([0, 1, 3, 4, 5, 9, 200]),
    step=st.sampled_from([1, 3]),
    mean=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_batched_colsum_equals_numpy_bit_for_bit(threads, dtype, nbatch, n, step, mean, seed):
    # [n, B] with the batch axis contiguous: NumPy's sum over axis 0 adds rows in order to 0, as the kernel does
    x = np.random.default_rng(seed).standard_normal((n * step, nbatch)).astype(dtype)[::step]
    if x.size:
        x[0, 0] = -0.0 if n == 1 else x[0, 0]
    with kernel_threads(threads):
        got = _core.batched_colsum(x, 1, mean)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = x.mean(axis=0) if mean else x.sum(axis=0)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    real = ~np.isnan(want)  # (the sign of a NaN means nothing)
    assert np.signbit(got[real]).tolist() == np.signbit(want[real]).tolist()


def test_batched_colsum_wants_the_batch_axis_contiguous():
    with pytest.raises(ValueError, match="unit stride"):
        _core.batched_colsum(np.zeros((4, 6)), 0)
    with pytest.raises(TypeError, match="float32/float64"):
        _core.batched_colsum(np.zeros((4, 6), dtype=int), 1)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=150, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64]),
    nbatch=st.sampled_from([0, 1, 4, 3000]),
    n=st.sampled_from([0, 1, 3, 17]),
    kind=st.sampled_from(LAYOUTS),
    bdim=st.integers(0, 1),
    special=st.sampled_from([None, np.inf, -np.inf, np.nan]),
    seed=st.integers(0, 2**16),
)
def test_logsumexp_and_softmax_match_scipy(threads, dtype, nbatch, n, kind, bdim, special, seed):
    import scipy.special

    rng = np.random.default_rng(seed)
    x0 = (3 * rng.standard_normal((nbatch, n))).astype(dtype)
    if special is not None and x0.size:
        x0[0, 0] = special
    x = layout(x0, bdim, kind)
    logical = np.moveaxis(x, bdim, 0).astype(np.float64)
    with kernel_threads(threads):
        lse, sm = _core.batched_logsumexp(x, bdim), _core.batched_softmax(x, bdim)
    with np.errstate(all="ignore"):
        want_lse = scipy.special.logsumexp(logical, axis=1) if nbatch else np.empty(0)
        want_sm = scipy.special.softmax(logical, axis=1) if nbatch and n else np.empty((nbatch, n))
    assert lse.dtype == dtype and sm.dtype == dtype and sm.shape == (nbatch, n)
    np.testing.assert_allclose(lse, want_lse.astype(dtype), **tol(dtype), equal_nan=True)
    np.testing.assert_allclose(sm, want_sm.astype(dtype), **tol(dtype), equal_nan=True)


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=200, deadline=None)
@given(
    dtype=st.sampled_from([np.float32, np.float64, np.complex64, np.complex128]),
    nbatch=st.sampled_from([0, 1, 5, 300]),
    nkm=st.sampled_from([(1, 1, 1), (5, 7, 3), (1, 6, 1), (6, 1, 5), (16, 16, 16), (0, 3, 2), (3, 0, 2)]),
    kinds=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
    bdims=st.tuples(st.sampled_from([0, 1, 2, None]), st.sampled_from([0, 1, 2, None])),
    seed=st.integers(0, 2**16),
)
def test_batched_gemm_matches_numpy(threads, dtype, nbatch, nkm, kinds, bdims, seed):
    if bdims == (None, None):
        bdims = (None, 0)
    n, k, m = nkm
    rng = np.random.default_rng(seed)
    complex_ = np.dtype(dtype).kind == "c"

    def operand(shape, bdim, kind):
        x = rng.standard_normal((nbatch,) + shape) + (1j * rng.standard_normal((nbatch,) + shape) if complex_ else 0)
        x = x.astype(dtype)
        if bdim is None:
            one = x[0] if nbatch else np.zeros(shape, dtype)
            return one, np.broadcast_to(one, (nbatch,) + shape)
        phys = layout(x, bdim, kind)
        return phys, np.moveaxis(phys, bdim, 0)

    a, a_full = operand((n, k), bdims[0], kinds[0])
    b, b_full = operand((k, m), bdims[1], kinds[1])
    with kernel_threads(threads):
        got = _core.batched_gemm(a, bdims[0], b, bdims[1])
    wide = np.complex128 if complex_ else np.float64
    want = np.matmul(a_full.astype(wide), b_full.astype(wide))
    assert got.dtype == dtype and got.shape == (nbatch, n, m)
    np.testing.assert_allclose(got, want.astype(dtype), **tol(dtype))


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(_core.BINARY) + sorted(_core.UNARY)),
    dtype=st.sampled_from([np.float32, np.float64]),
    nbatch=st.sampled_from([0, 1, 3, 40_000]),
    shape=st.sampled_from([(), (1,), (5,), (2, 3)]),
    kinds=st.tuples(st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS)),
    ybatched=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_elementwise_kernels_match_numpy(threads, name, dtype, nbatch, shape, kinds, ybatched, seed):
    rng = np.random.default_rng(seed)
    x0 = np.abs(rng.standard_normal((nbatch,) + shape)).astype(dtype) + 0.1
    x = layout(x0, 0, kinds[0]) if shape or kinds[0] != "transposed" else x0
    logical_x = x
    with kernel_threads(threads):
        if name in _core.UNARY:
            got = _core.batched_unary(name, x, 0)
            want = getattr(np, name)(logical_x) if got is not None else None
        else:
            y = layout(rng.standard_normal((nbatch,) + shape).astype(dtype), 0, kinds[1]) if ybatched else rng.standard_normal(shape).astype(dtype)
            got = _core.batched_binary(name, x, 0, y, 0 if ybatched else None)
            want = getattr(np, name)(logical_x, y) if got is not None else None
    if got is None:  # declined: the examples do not flatten to one stride
        assert kinds[0] in ("stepped", "transposed", "F", "reversed") or kinds[1] in ("stepped", "transposed", "F", "reversed")
        return
    assert got.dtype == dtype and got.shape == (nbatch,) + shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, **tol(dtype))


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(_core.ROWSCALAR)),
    dtype=st.sampled_from([np.float32, np.float64]),
    nbatch=st.sampled_from([0, 1, 3, 40_000]),
    shape=st.sampled_from([(0,), (1,), (7,), (2, 3), (64,)]),
    kind=st.sampled_from(["C", "reversed", "rows of a wider array", "broadcast"]),
    v_kind=st.sampled_from(["C", "reversed", "stepped", "broadcast"]),
    v_first=st.booleans(),
    specials=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_row_scalar_kernel_is_numpy_bit_for_bit(threads, name, dtype, nbatch, shape, kind, v_kind, v_first, specials, seed):
    # x [B, ...] with contiguous examples and any batch stride; v [B, 1, ..., 1]
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((nbatch,) + shape).astype(dtype)
    v0 = rng.standard_normal(nbatch).astype(dtype)
    if specials and x0.size and nbatch:
        x0.flat[rng.integers(0, x0.size, 3)] = [np.nan, np.inf, 0.0]
        v0[rng.integers(0, nbatch)] = rng.choice([0.0, -0.0, np.inf, np.nan])
    if kind == "C":
        x = x0
    elif kind == "reversed":
        x = x0[::-1]
    elif kind == "rows of a wider array":
        x = np.concatenate([x0, x0], axis=-1)[..., : shape[-1]] if len(shape) == 1 else x0
    else:
        x = np.broadcast_to(x0[:1], x0.shape) if nbatch else x0
    v = {"C": v0, "reversed": v0[::-1].copy()[::-1], "stepped": np.repeat(v0, 2)[::2],
         "broadcast": np.broadcast_to(v0[:1], v0.shape) if nbatch else v0}[v_kind]
    v = v.reshape((nbatch,) + (1,) * len(shape))
    with kernel_threads(threads):
        got = _core.batched_rowscalar(name, x, v, v_first)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(v, x) if v_first else getattr(np, name)(x, v)
    assert got.dtype == want.dtype and got.shape == want.shape and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_scalar_division_by_zero_gives_numpy_s_inf_and_nan(dtype):
    # IEEE division in every build (the debug build's Cython division would raise)
    x = np.array([[1.0, -1.0, 0.0, np.inf]] * 3, dtype=dtype)
    v = np.array([[0.0], [-0.0], [np.nan]], dtype=dtype)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(_core.batched_rowscalar("divide", x, v), x / v)
        np.testing.assert_array_equal(_core.batched_rowscalar("divide", x, v, True), v / x)


def test_row_scalar_kernel_declines_what_it_does_not_take():
    x, v = np.ones((4, 6)), np.ones((4, 1))
    assert _core.batched_rowscalar("add", x, v) is not None
    assert _core.batched_rowscalar("add", x.T.copy().T, v) is None  # examples not contiguous
    assert _core.batched_rowscalar("add", x, np.ones((4, 6))) is None  # not one number per example
    assert _core.batched_rowscalar("add", x, np.ones(4)) is None  # ranks differ
    assert _core.batched_rowscalar("add", x, np.ones((4, 1), np.float32)) is None
    assert _core.batched_rowscalar("add", x.astype(int), v.astype(int)) is None
    assert _core.batched_rowscalar("add", x, np.ones((3, 1))) is None


def test_elementwise_kernels_decline_what_they_do_not_take():
    assert _core.batched_binary("add", np.ones((2, 3)), 0, np.ones((2, 3), np.float32), 0) is None
    assert _core.batched_binary("add", np.ones((2, 3)), 0, np.ones((2, 4)), 0) is None
    assert _core.batched_unary("exp", np.ones((2, 3), int), 0) is None
    assert _core.batched_unary("exp", np.ones((4, 4))[:, ::2][::2].T, 0) is not None  # one stride per example
    assert _core.batched_unary("exp", np.ones((4, 6, 6))[:, ::2, :3], 0) is None


# The SIMD exp, log, tanh, sin and cos (vmaprt/_simd.h) -------------------------------------------------------
def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


ULPS = {"exp": 1, "log": 2, "tanh": 4, "sin": 2, "cos": 2}  # tanh: 4 at x = -0.031096190592978523


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(sorted(ULPS)),
    shape=st.sampled_from([(4096,), (64, 100), (300, 257), (3, 50, 40)]),
    order=st.sampled_from(["C", "F"]),
    scale=st.sampled_from([1e-300, 1e-5, 1.0, 30.0, 700.0, 1e5]),
    seed=st.integers(0, 2**16),
)
def test_unary_flat_within_a_few_ulps_of_numpy(threads, name, shape, order, scale, seed):
    x = np.asarray(np.random.default_rng(seed).uniform(-1, 1, shape) * scale, order=order)
    if name == "log":
        x = np.abs(x) + 1e-300
    with kernel_threads(threads):
        got = _core.unary_flat(name, x)
    if name == "exp" and np.abs(x).max() > 708:  # NumPy's exp runs there, with its overflow warning
        assert got is None
        return
    want = getattr(np, name)(x)
    assert got.flags.f_contiguous if order == "F" else got.flags.c_contiguous
    assert _ulps(got, want).max() <= ULPS[name]
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_unary_flat_edges_and_refusals():
    worst_tanh = np.full(512, -0.031096190592978523)  # found by hypothesis: 4 ulps from libm's
    assert _ulps(_core.unary_flat("tanh", worst_tanh), np.tanh(worst_tanh)).max() <= ULPS["tanh"]
    edges = np.tile([0.0, -0.0, 708.0, -708.0, 1e-310, np.log(2) / 2, -np.log(2) / 2, 1.0], 1000)
    assert _ulps(_core.unary_flat("exp", edges), np.exp(edges)).max() <= 1
    big = np.zeros(5000)
    for bad in (708.5, -745.0, np.nan, np.inf, -np.inf):  # NumPy's exp runs there, with its warnings
        big[17] = bad
        assert _core.unary_flat("exp", big) is None
    ends = np.tile([0.0, -0.0, 19.9, -20.0, 20.1, -1e300, np.inf, -np.inf, np.nan, 0.3], 500)
    got, want = _core.unary_flat("tanh", ends), np.tanh(ends)  # libm's beyond +-20 and for NaN
    assert np.nanmax(_ulps(got, want)) <= 3 and np.isnan(got[8])
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    logs = np.concatenate([[1.0, 2.0, 0.5, 1e-310, 5e-324, np.inf, 1.7e308], np.linspace(0.9, 1.1, 400)])
    got, want = _core.unary_flat("log", logs), np.log(logs)  # libm's for subnormals and inf
    assert np.nanmax(_ulps(got[np.isfinite(want)], want[np.isfinite(want)])) <= 2 and got[5] == np.inf
    for bad in (0.0, -0.0, -1.0, np.nan):  # NumPy's log runs there, with its warnings
        assert _core.unary_flat("log", np.append(logs, bad)) is None
    k = np.arange(1.0, 60000.0)  # near the zeros of sin and cos
    near = np.concatenate([k * np.pi, k * np.pi / 2, [1e5, -1e5, 1e6, -3e7]])
    for name in ("sin", "cos"):  # libm's beyond +-1e5; NumPy's, with its warning, for inf and NaN
        got, want = _core.unary_flat(name, near), getattr(np, name)(near)
        assert _ulps(got, want).max() <= 2
        for bad in (np.inf, np.nan):
            assert _core.unary_flat(name, np.append(near, bad)) is None
    zeros = np.tile([0.0, -0.0, 1e-300, -1e-300, 0.5], 1000)  # sin keeps the sign of a zero, as libm
    for name in ("sin", "cos", "exp", "tanh"):
        np.testing.assert_array_equal(np.signbit(_core.unary_flat(name, zeros)), np.signbit(getattr(np, name)(zeros)))
    assert _core.unary_flat("exp", np.zeros(100)) is None  # small: NumPy's call is as fast
    assert _core.unary_flat("exp", np.zeros(_core.FLAT_MIN_SIZE)) is not None
    assert _core.unary_flat("exp", np.zeros(5000, np.float32)) is None  # NumPy's float32 exp is SIMD
    assert _core.unary_flat("tanh", np.zeros((100, 100))[:, ::2]) is None  # not contiguous


def test_vmap_simd_ufuncs_match_the_loop_and_keep_numpys_warnings():
    x = np.random.default_rng(0).standard_normal((200, 50))
    for f, u in ((np.exp, 1), (np.tanh, 3), (np.sin, 2), (np.cos, 2), (np.log, 2)):
        x_f = np.abs(x) if f is np.log else x
        got = vmaprt.vmap(f)(x_f)
        assert _ulps(got, np.stack([f(r) for r in x_f])).max() <= u
    x[3, 4] = 800.0
    with pytest.warns(RuntimeWarning, match="overflow"):
        got = vmaprt.vmap(np.exp)(x)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got, np.exp(x))
    x[3, 4] = np.inf
    with pytest.warns(RuntimeWarning, match="invalid"):
        got = vmaprt.vmap(np.sin)(x)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(got, np.sin(x))


def test_byte_swapped_operands_are_left_to_numpy():
    # The kernels read native-order floats; a big-endian array must not reach them.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 40)).astype(">f8")
    y = rng.standard_normal((300, 40)).astype(">f8")
    assert not _core.dot_wins(x, 0, y, 0)
    assert not _core.reduce_wins("sum", x, 0)
    assert _core.batched_unary("exp", x, 0) is None
    assert _core.batched_binary("add", x, 0, y, 0) is None
    assert _core.unary_flat("exp", rng.standard_normal(1 << 20).astype(">f8")) is None
    assert _core.matmul_path(x.reshape(300, 5, 8)[:, :4, :4], 0, x.reshape(300, 5, 8)[:, :4, :4], 0) is None
    for f in [np.dot, np.add, lambda a, b: np.exp(a) * b, lambda a, b: a.sum() + b.max() + a.std()]:
        got = vmaprt.vmap(f)(x, y)
        np.testing.assert_allclose(got, np.stack([f(x[i], y[i]) for i in range(len(x))]), rtol=1e-12)


@pytest.mark.parametrize("shape", [(9, 4, 3), (9, 2, 3, 5), (9, 0, 3), (9, 3, 0)])
@pytest.mark.parametrize("axis", [None, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_of_larger_examples_run_as_rows_of_the_kernel(monkeypatch, shape, axis, keepdims):
    # x.sum(axis=-1) of a [4, 3] example: the batch and the leading axes merge into rows
    calls = []
    real = _core.batched_reduce
    monkeypatch.setattr(_core, "batched_reduce", lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    for name in ["sum", "mean", "var", "std", "prod", "max"]:
        f = lambda a: getattr(np, name)(a, axis=axis, keepdims=keepdims)  # noqa: E731
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                want = np.stack([f(e) for e in x])
            except ValueError:  # the max of an empty axis
                with pytest.raises(ValueError):
                    vmaprt.vmap(f)(x)
                continue
            got = vmaprt.vmap(f)(x)
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, equal_nan=True)
            np.testing.assert_allclose(vmaprt.vmap(f, in_dims=1)(np.moveaxis(x, 0, 1)), want, rtol=1e-12, atol=1e-14, equal_nan=True)
    rows = math.prod(shape[:-1]) if axis == -1 else shape[0]
    assert calls and all(c[0] == rows for c in calls)


@pytest.mark.parametrize("in_dim", [0, 1])
def test_one_number_per_row_of_larger_examples_runs_in_the_row_scalar_kernel(monkeypatch, in_dim):
    # x - x.max(axis=-1, keepdims=True) of a [m, n] example: [B * m, n] rows against [B * m, 1]
    calls = []
    real = _core.batched_rowscalar
    monkeypatch.setattr(_core, "batched_rowscalar", lambda *a: calls.append(a[1].shape) or real(*a))
    x = np.random.default_rng(2).standard_normal((6, 5, 4))

    def f(a):
        e = np.exp(a - a.max(axis=-1, keepdims=True))
        return (e / e.sum(axis=-1, keepdims=True), a.mean(axis=-1, keepdims=True) / a)

    got = vmaprt.vmap(f, in_dims=in_dim)(np.moveaxis(x, 0, in_dim))
    want = [np.stack(w) for w in zip(*(f(e) for e in x))]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)
    if in_dim == 0:  # (in_dims=1: the batch-first view does not merge, NumPy runs it)
        assert calls == [(30, 4)] * 3  # x - max, e / sum, mean / a (the number first)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.int64])
@pytest.mark.parametrize("shape", [(7, 5), (7, 4, 3), (7, 0, 3), (7, 3, 0)])
def test_norms_over_the_last_axis_run_in_the_dot_kernel(monkeypatch, dtype, shape):
    # ||x|| over the last axis = sqrt(r . r) of the rows; complex and int examples stay with NumPy
    calls = []
    real = _core.batched_dot
    monkeypatch.setattr(_core, "batched_dot", lambda *a: calls.append(a[0].shape) or real(*a))
    x = (np.random.default_rng(4).standard_normal(shape) * 3).astype(dtype)
    norms = [lambda a: np.linalg.norm(a, axis=-1), lambda a: np.linalg.norm(a, 2, axis=-1, keepdims=True),
             lambda a: np.linalg.vector_norm(a, axis=-1), lambda a: np.linalg.vector_norm(a, axis=-1, keepdims=True)]
    for in_dim in range(len(shape)):
        for f in norms:
            got = vmaprt.vmap(f, in_dims=in_dim)(np.moveaxis(x, 0, in_dim))
            want = np.stack([f(e) for e in x])
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, **tol(np.float32 if dtype == np.float32 else np.float64))
    assert bool(calls) == (np.dtype(dtype).kind == "f")
