"""Shared test helpers: the per-example loop oracle and physical layouts of a batch."""

import numpy as np
import pytest

LAYOUTS = ["C", "F", "transposed", "stepped", "reversed", "broadcast"]

TOL = {
    np.dtype(np.float32): dict(rtol=2e-4, atol=2e-5),
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
    np.dtype(np.complex64): dict(rtol=2e-4, atol=2e-5),
    np.dtype(np.complex128): dict(rtol=1e-10, atol=1e-12),
}


def tol(dtype):
    return TOL.get(np.dtype(dtype), dict(rtol=0, atol=0))


def layout(x, in_dim, kind):
    """``x`` is a batch with the batch axis first; return the same logical batch
    with the batch axis at ``in_dim``, stored in the physical layout ``kind``."""
    x = np.moveaxis(x, 0, in_dim)
    if kind == "C":
        return np.ascontiguousarray(x)
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "transposed":  # a C array of the reversed shape, viewed transposed
        return np.ascontiguousarray(x.T).T
    if kind == "stepped":  # every other element of a larger array, on every axis
        big = np.zeros(tuple(2 * s for s in x.shape), dtype=x.dtype)
        view = big[tuple(slice(None, None, 2) for _ in x.shape)]
        view[...] = x
        return view
    if kind == "reversed":
        rev = tuple(slice(None, None, -1) for _ in x.shape)
        return np.ascontiguousarray(x[rev])[rev]
    if kind == "broadcast":  # zero batch stride: every example is the first one
        if x.shape[in_dim] == 0:
            return x
        first = np.take(x, [0], axis=in_dim)
        return np.broadcast_to(first, x.shape)
    raise ValueError(kind)


def example(x, in_dim, i):
    return x if in_dim is None else np.take(x, i, axis=in_dim)


def loop(f, args, in_dims, out_dims=0):
    """The oracle: ``stack([f(example i) for i in range(n)])`` along out_dims."""
    sizes = {np.shape(a)[d] for a, d in zip(args, in_dims) if d is not None}
    (n,) = sizes
    outs = [f(*(example(a, d, i) for a, d in zip(args, in_dims))) for i in range(n)]
    if isinstance(outs[0], tuple):
        return tuple(
            np.stack([o[j] for o in outs], axis=od)
            for j, od in enumerate(out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(outs[0]))
        )
    return np.stack([np.asarray(o) for o in outs], axis=out_dims)


def assert_matches(got, want, dtype=None):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_matches(g, w, dtype)
        return
    assert type(got) is np.ndarray, type(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, **tol(dtype or want.dtype), equal_nan=True)


def random_array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        x = rng.standard_normal(shape)
    elif dtype.kind == "c":
        x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    elif dtype.kind == "b":
        x = rng.random(shape) < 0.5
    else:
        x = rng.integers(-5, 6, size=shape)
    return np.asarray(x).astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-long", action="store_true", default=False,
        help="run thousands of fuzzed programs in tests/test_fuzz.py instead of a few hundred",
    )


@pytest.fixture
def fuzz_long(request):
    return request.config.getoption("--fuzz-long")


def assert_like_loop(f, args, in_dims=0, errors=None):
    """``vmap(f)(*args)`` gives the value, dtype and shape of the loop over the views
    ``x[i]`` (so each example has the memory layout it has in ``x``, which decides
    whether ravel or reshape alias), or raises the loop's error class (a vmap
    RuntimeError is accepted when ``errors='runtime'``).  ``f`` must not write into
    its inputs."""
    import warnings

    import vmaprt

    dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    n = next(np.shape(a)[d] for a, d in zip(args, dims) if d is not None)
    views = [[a if d is None else a[(slice(None),) * (d % np.ndim(a)) + (i,)] for a, d in zip(args, dims)] for i in range(n)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = np.stack([np.asarray(f(*v)) for v in views])
    except Exception as e:
        # (NumPy's own subclasses, UFuncTypeError or AxisError, count as their builtin base)
        base = next(c for c in type(e).__mro__ if c.__module__ == "builtins")
        accepted = (base,) + ((RuntimeError,) if errors == "runtime" else ())
        with pytest.raises(accepted):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vmaprt.vmap(f, in_dims=dims)(*args)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = vmaprt.vmap(f, in_dims=dims)(*args)
    assert_matches(got, want)
