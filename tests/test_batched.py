"""BatchedArray: per-example metadata, operators, methods, like=, in-place writes,
refusals, the per-example fallback and per_example."""

import operator
import re
import warnings

import numpy as np
import pytest

import vmaprt
from vmaprt import BatchedArray, PerformanceWarning, vmap
from vmaprt._batched import _UNSAFE_OUT

from conftest import assert_like_loop, assert_matches, loop


def inspect_inside(x, in_dims=0):
    seen = {}

    def f(a):
        seen["a"] = a
        seen.update(
            type=type(a), shape=a.shape, ndim=a.ndim, size=a.size, len=len(a), dtype=a.dtype,
            itemsize=a.itemsize, nbytes=a.nbytes,
        )
        return a

    vmap(f, in_dims=in_dims)(x)
    return seen


def test_per_example_metadata():
    seen = inspect_inside(np.ones((5, 3, 4), dtype=np.float32), in_dims=1)
    assert seen["type"] is BatchedArray
    assert (seen["shape"], seen["ndim"], seen["size"], seen["len"]) == ((5, 4), 2, 20, 5)
    assert seen["dtype"] == np.float32 and seen["itemsize"] == 4 and seen["nbytes"] == 80


def test_transposes_real_imag_and_iteration(rng):
    z = rng.standard_normal((3, 2, 4)) + 1j * rng.standard_normal((3, 2, 4))
    f = lambda a: (a.T, a.mT, a.real, a.imag, sum(row for row in a), np.stack(list(a)))  # noqa: E731
    assert_matches(vmap(f)(z), loop(f, [z], (0,)))


def test_mT_needs_two_dims():
    with pytest.raises(ValueError, match=r"vmap: matrix transpose \.mT needs at least 2 dimensions"):
        vmap(lambda a: a.mT)(np.ones((2, 3)))


def test_len_and_iter_of_0d():
    with pytest.raises(TypeError, match="len"):
        vmap(lambda a: len(a))(np.ones(3))
    with pytest.raises(TypeError, match="iteration"):
        vmap(lambda a: list(a))(np.ones(3))


def test_repr_shows_per_example_shape():
    seen = inspect_inside(np.ones((2, 3)))
    assert repr(seen["a"]).startswith("BatchedArray(shape=(3,), dtype=float64, bdim=0, level=1, escaped")


BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.eq, operator.ne,
          operator.gt, operator.ge, divmod]  # fmt: skip


@pytest.mark.parametrize("op", BINARY, ids=lambda o: o.__name__)
def test_binary_operators_both_sides(rng, op):
    x, y = rng.random((4, 3)) + 0.5, rng.random(3) + 0.5
    for f in (lambda a, b: op(a, b), lambda a, b: op(b, a)):
        assert_matches(vmap(f, in_dims=(0, None))(x, y), loop(f, [x, y], (0, None)))


def test_matmul_and_bitwise_and_unary_operators(rng):
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    i = rng.integers(0, 8, (4, 3))
    f = lambda a, w, i: (a @ w, w.T @ a, -a, +a, abs(a), ~i, i & 3, i | 1, i ^ 5, i << 1, i >> 1)  # noqa: E731
    assert_matches(vmap(f, in_dims=(0, None, 0))(x, w, i), loop(f, [x, w, i], (0, None, 0)))


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**=", "//=", "%="])
def test_inplace_operators_mutate_the_callers_array(rng, op):
    x = rng.random((4, 3)) + 1.0
    y = rng.random(3) + 1.0
    want = x.copy()
    exec(f"want {op} y")

    def f(a, b):
        exec(f"a {op} b")
        return a

    out = vmap(f, in_dims=(1, None))(x.T, y)  # a transposed view of x: writes go to x
    assert_matches(out, want.T[:, :].T.T if False else want)
    assert_matches(x, want)


def test_inplace_with_batched_value_into_batched_target(rng):
    x, y = rng.random((4, 3)), rng.random((4, 3))
    want = x + y

    def f(a, b):
        a += b
        return a

    vmap(f)(x, y)
    assert_matches(x, want)


def test_ufunc_out_and_where(rng):
    x = rng.standard_normal((4, 3))

    def f(a):
        out = np.zeros_like(a)
        np.exp(a, out=out, where=a > 0)
        return out

    assert_matches(vmap(f)(x), loop(f, [x], (0,)))


@pytest.mark.parametrize("func", sorted(_UNSAFE_OUT, key=lambda f: f.__name__), ids=lambda f: f.__name__)
def test_reductions_cast_into_any_out_dtype_as_numpy_does(rng, func):
    # np.mean(x, out=int_target) and np.sum(bools, out=bool_target) cast like NumPy's reductions
    x = np.round(rng.standard_normal((3, 2, 5)) * 3, 1)
    q = (50,) if func in (np.nanpercentile,) else (0.5,) if func is np.nanquantile else ()
    cum = func in (np.cumsum, np.cumprod, np.nancumsum, np.nancumprod)

    def f(a, dtype):
        if func is np.trace:
            out = np.zeros_like(a[0, 0], dtype=dtype)
            return func(a[:, :2], out=out)
        out = np.zeros_like(a if cum else a[:, 0], dtype=dtype)
        func(a, *q, axis=-1, out=out)
        return out

    for values, dtype in ((x, np.int64), (x > 0, bool)):
        if values.dtype == bool and func in (np.nanmedian, np.nanpercentile, np.nanquantile, np.median):
            continue  # (NumPy's own median of bools fails)
        assert_matches(vmap(lambda a: f(a, dtype))(values), loop(lambda a: f(a, dtype), [values], (0,)))


@pytest.mark.parametrize(
    "method, call",
    [
        ("sum", lambda a: a.sum(axis=1)), ("mean", lambda a: a.mean()), ("std", lambda a: a.std(0)),
        ("var", lambda a: a.var(ddof=1)), ("min", lambda a: a.min(1)), ("max", lambda a: a.max()),
        ("prod", lambda a: a.prod(0)), ("any", lambda a: (a > 0).any(1)), ("all", lambda a: (a > -9).all()),
        ("argmin", lambda a: a.argmin(1)), ("argmax", lambda a: a.argmax()), ("cumsum", lambda a: a.cumsum(1)),
        ("cumprod", lambda a: a.cumprod()), ("dot", lambda a: a.dot(a.T)), ("reshape", lambda a: a.reshape(4, 3)),
        ("reshape2", lambda a: a.reshape((-1,))), ("transpose", lambda a: a.transpose()),
        ("transpose2", lambda a: a.transpose(1, 0)), ("swapaxes", lambda a: a.swapaxes(0, 1)),
        ("squeeze", lambda a: a[None].squeeze()), ("ravel", lambda a: a.ravel()), ("flatten", lambda a: a.flatten()),
        ("astype", lambda a: a.astype(np.float32)), ("copy", lambda a: a.copy()), ("clip", lambda a: a.clip(-0.1, 0.1)),
        ("round", lambda a: a.round(1)), ("conj", lambda a: a.conj()), ("conjugate", lambda a: a.conjugate()),
        ("repeat", lambda a: a.repeat(2, axis=0)), ("take", lambda a: a.take([0, 2], axis=1)),
        ("trace", lambda a: a[:3, :3].trace()), ("diagonal", lambda a: a.diagonal()),
    ],
)
def test_methods(rng, method, call):
    x = rng.standard_normal((5, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)  # rules for some come with the coverage work
        got = vmap(call)(x)
    assert_matches(got, loop(call, [x], (0,)))


@pytest.mark.parametrize("dtype", [bool, np.int32, np.float32, np.complex128])
def test_conj_keeps_the_dtype_of_real_arrays(rng, dtype):
    x = (rng.standard_normal((3, 4)) * 3).astype(dtype)
    if x.dtype.kind == "c":
        x = x + 1j * x.real
    for call in (lambda a: a.conj(), lambda a: a.conjugate() * 1):
        got, want = vmap(call)(x), loop(call, [x], (0,))
        assert got.dtype == want.dtype
        assert_matches(got, want)


def test_fill_and_sort_in_place(rng):
    x = rng.standard_normal((4, 5))
    want = np.sort(x, axis=-1)

    def f(a):
        b = a.copy()
        b.sort()
        c = np.empty_like(a)
        c.fill(2.0)
        return b, c

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        b, c = vmap(f)(x)
    assert_matches(b, want)
    assert_matches(c, np.full_like(x, 2.0))


# like= creation -----------------------------------------------------------------------------
def test_like_creation_is_batched_and_writable(rng):
    x = rng.standard_normal((4, 3))

    def f(a):
        z = np.zeros(3, like=a)
        z += a
        o = np.ones((2,), like=a)
        e = np.full(3, 2.0, like=a)
        r = np.arange(3, like=a)
        i = np.eye(2, like=a)
        return z, o, e, r, i

    z, o, e, r, i = vmap(f)(x)
    assert_matches(z, x)
    assert_matches(o, np.ones((4, 2)))
    assert_matches(e, np.full((4, 3), 2.0))
    assert_matches(r, np.tile(np.arange(3), (4, 1)))
    assert_matches(i, np.tile(np.eye(2), (4, 1, 1)))


def test_like_full_with_batched_fill_and_array_of_batched(rng):
    x = rng.standard_normal((4, 3))
    f = lambda a: (np.full(2, a[0], like=a), np.array([a[0], a[1]], like=a), np.asarray(a, like=a))  # noqa: E731
    assert_matches(vmap(f)(x), loop(lambda a: (np.full(2, a[0]), np.array([a[0], a[1]]), np.asarray(a)), [x], (0,)))


def test_like_in_nested_vmap_is_batched_at_both_levels(rng):
    x = rng.standard_normal((2, 3, 4))

    def inner(a):
        z = np.zeros(4, like=a)
        z += a
        return z

    assert_matches(vmap(vmap(inner))(x), x)


# What a batch refuses -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "f, what",
    [
        (lambda a: 1 if a.sum() > 0 else 0, r"bool\(x\)"),
        (lambda a: bool(a), r"bool\(x\)"),
        (lambda a: float(a), r"float\(x\)"),
        (lambda a: int(a), r"int\(x\)"),
        (lambda a: complex(a), r"complex\(x\)"),
        (lambda a: operator.index(a), r"operator.index\(x\)"),
        (lambda a: [0, 1][a], r"operator.index\(x\)"),
        (lambda a: a.item(), r"x.item\(\)"),
        (lambda a: a.tolist(), r"x.tolist\(\)"),
    ],
)
def test_data_dependent_control_flow_is_refused(f, what):
    with pytest.raises(RuntimeError, match=r"^vmap: " + what + r".*np.where\(cond, a, b\).*vmaprt.per_example"):
        vmap(f)(np.ones((3,)) if "index" not in what else np.ones(3, dtype=int))


def test_asarray_is_refused_with_the_ways_out():
    with pytest.raises(RuntimeError, match=r"^vmap: a BatchedArray was converted to a NumPy array.*"
                       r"vmaprt.register_batch_rule.*vmaprt.per_example"):
        vmap(lambda a: np.asarray(a))(np.ones((2, 3)))


@pytest.mark.parametrize(
    "f",
    [
        lambda a, z: operator.iadd(z, a),
        lambda a, z: np.add(z, a, out=z),
        lambda a, z: np.copyto(z, a),
        lambda a, z: z.__setitem__(0, a[0]),
        lambda a, z: z.__setitem__(slice(None), a),
    ],
)
def test_writing_batched_into_unbatched_is_refused_and_changes_nothing(f):
    z = np.zeros(3)
    # z[0] = x: NumPy turns our RuntimeError from float(x) into a ValueError
    # ("setting an array element with a sequence") and chains ours as its cause.
    with pytest.raises((RuntimeError, ValueError)) as info:
        vmap(f, in_dims=(0, None))(np.ones((2, 3)), z)
    error = info.value if isinstance(info.value, RuntimeError) else info.value.__cause__
    assert isinstance(error, RuntimeError)
    assert re.match(
        r"vmap: .*(cannot write a batched value|converted to a NumPy array|written into one element)"
        r".*np.zeros_like", str(error), re.S
    )
    assert np.array_equal(z, np.zeros(3))


def test_inner_vmap_writing_into_an_outer_only_value_is_refused():
    def outer(x):
        buf = np.zeros_like(x)

        def inner(y):
            buf[...] = y  # y varies with the inner batch; buf does not
            return y

        return vmap(inner)(np.ones((3, 2)) * x[0])

    with pytest.raises(RuntimeError, match=r"cannot write a batched value into an array that varies along vmap level 1 only: the value .* also varies along level 2"):
        vmap(outer)(np.ones((4, 2)))


def test_writing_a_value_of_another_level_into_an_array_of_one_level():
    """An array made from the inner level's values cannot hold the outer level's: the
    message names both levels and the fix, which then matches the double loop."""
    x, p = np.arange(10.0).reshape(5, 2), np.arange(3.0)

    def inner(x, p, make):
        z = make(x, p)
        z[0] = p * x[0]
        z *= p
        return z

    def grid(make):
        return vmap(lambda p: vmap(lambda x: inner(x, p, make))(x))(p)

    with pytest.raises(RuntimeError, match=r"varies along vmap level 2 only: the value .* also varies along level 1 .*np.zeros_like\(x \* p\)"):
        grid(lambda x, p: np.zeros_like(x))
    want = np.stack([np.stack([inner(xi, pi, lambda x, p: np.zeros_like(x)) for xi in x]) for pi in p])
    assert_matches(grid(lambda x, p: np.zeros_like(x * p)), want)
    assert_matches(grid(lambda x, p: np.zeros(2, like=p * x)), want)


@pytest.mark.parametrize(
    "f",
    [np.nonzero, np.unique, np.argwhere, np.flatnonzero, lambda a: np.where(a > 0), lambda a: a[a > 0]],
)
def test_dynamic_shapes_are_refused(f):
    with pytest.raises(RuntimeError, match=r"^vmap: .*(differ|different)"):
        vmap(f)(np.ones((2, 3)))


def test_escaped_batched_array_is_refused():
    leaked = []
    vmap(lambda a: leaked.append(a) or a)(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match=r"^vmap: a BatchedArray was used after the vmap call that created it returned"):
        leaked[0] + 1
    with pytest.raises(RuntimeError, match=r"used after"):
        np.sum(leaked[0])
    with pytest.raises(RuntimeError, match=r"used after"):
        leaked[0][0]
    # passed into another vmap, mapped or not, alone or in a container
    for call in (lambda: vmap(lambda y: y)(leaked[0]), lambda: vmap(lambda y: y)((leaked[0], 1.0)),
                 lambda: vmap(lambda y: y, in_dims=None, axis_size=2)(leaked[0])):
        with pytest.raises(RuntimeError, match=r"used after"):
            call()


# The per-example fallback ---------------------------------------------------------------------
@pytest.fixture
def without_rules():
    """np.polyval and np.trapezoid without their batch rules, so that they go per example."""
    from vmaprt._registry import RULES

    saved = {f: RULES.pop(f) for f in (np.polyval, np.trapezoid) if f in RULES}
    yield
    RULES.update(saved)


def _no_rule(a):
    return np.polyval(a, 2.0)  # its rule is removed by the without_rules fixture


@pytest.mark.usefixtures("without_rules")
def test_fallback_matches_loop_and_warns_naming_the_function(rng):
    x = rng.standard_normal((4, 3))
    assert not vmaprt.has_batch_rule(np.polyval)
    with pytest.warns(PerformanceWarning, match=r"vmap: np.polyval has no batch rule.*register_batch_rule\(np.polyval\)"):
        got = vmap(_no_rule)(x)
    assert_matches(got, loop(_no_rule, [x], (0,)))


@pytest.mark.usefixtures("without_rules")
def test_fallback_warns_once_per_function_under_the_default_filter(rng):
    x = rng.standard_normal((4, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for _ in range(3):
            vmap(_no_rule)(x)
            vmap(lambda a: np.trapezoid(a))(x)
    messages = [str(w.message) for w in caught if issubclass(w.category, PerformanceWarning)]
    assert sum("np.polyval" in m for m in messages) == 1
    assert sum("np.trapezoid" in m for m in messages) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            vmap(_no_rule)(x)
    assert sum(issubclass(w.category, PerformanceWarning) for w in caught) == 3


@pytest.mark.usefixtures("without_rules")
def test_fallback_refuses_size_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        with pytest.raises(RuntimeError, match=r"vmap: np.polyval has no batch rule.*size 0"):
            vmap(_no_rule)(np.ones((0, 3)))


@pytest.mark.usefixtures("without_rules")
def test_fallback_nested_and_with_unbatched_args(rng):
    x, c = rng.standard_normal((2, 3, 4)), rng.standard_normal(4)
    f = lambda a, c: np.polyval(a, c)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        got = vmap(vmap(f, in_dims=(0, None)), in_dims=(0, None))(x, c)
    assert_matches(got, np.stack([np.stack([np.polyval(r, c) for r in m]) for m in x]))


def test_fallback_refuses_writing_into_an_unbatched_target():
    z = np.zeros(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerformanceWarning)
        with pytest.raises(RuntimeError, match=r"cannot write a batched value into the array that np.put writes into"):
            vmap(lambda a: np.put(z, [0], a[:1]) or a)(np.ones((2, 3)))
    assert np.array_equal(z, np.zeros(3))


def test_per_example_runs_the_loop_without_warning(rng):
    import scipy.integrate

    area = vmaprt.per_example(lambda y, dx: scipy.integrate.trapezoid(y, dx=dx))
    x = rng.standard_normal((3, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = vmap(area, in_dims=(0, None))(x, 0.5)
        nested = vmap(vmap(lambda y: area(y, 0.5)))(x[:, None, :].repeat(2, 1))
    assert_matches(got, scipy.integrate.trapezoid(x, dx=0.5, axis=1))
    assert_matches(nested, np.repeat(got[:, None], 2, 1))
    assert area(x[0], 0.5) == scipy.integrate.trapezoid(x[0], dx=0.5)  # outside vmap: a plain call


def test_per_example_uses_a_registered_rule(rng):
    calls = []
    softplus = vmaprt.per_example(lambda x: np.log1p(np.exp(x)))

    @vmaprt.register_batch_rule(softplus)
    def _rule(args, bdims):
        calls.append(bdims)
        return np.log1p(np.exp(args[0])), bdims[0]

    x = rng.standard_normal((4, 3))
    assert_matches(vmap(softplus, in_dims=1)(x), np.log1p(np.exp(x)).T)
    assert calls == [[1]]


# Note [scalars per example] (issue 15, class K) ----------------------------------------------
def _scalar_programs():
    def rebinds(v):
        y = v.copy()
        w = y[0]
        w += 100
        return y, w

    def aliased_sum(v):
        s = v.sum()
        t = s
        s *= 2
        return t, s

    def input_example(u):
        u += 1
        return u

    def item_assign(v):
        y = v.copy()
        w = y[0]
        w[...] = 7
        return y

    def out_into(v):
        y = v.copy()
        w = y[-1]
        np.negative(w, out=w)
        return y

    def array_0d(v):  # a 0-d array, not a scalar: writes work and views alias
        y = v.copy()
        z = np.zeros_like(y[0])
        z[...] = 7
        r = y[..., 0]
        r += 1
        return y, z

    def ravel_of_scalar(v):  # a scalar raveled or reshaped is a new array
        s = v.sum()
        s.ravel()[...] = 5
        s.reshape(1, 1)[0, 0] = 6
        return s, np.ravel(s)

    def astype_of_scalar(v):
        w = v.max().astype(np.float32)
        w[...] = 1
        return w, v

    def power_of_scalar(v):  # no square fast path for scalars: bool ** 2 is int64
        return (v[0] > 0) ** 2, np.clip(v[1], 0, 1) ** 2

    def where_is_an_array(v):  # np.where returns a 0-d array, which takes writes
        w = np.where(v[0] > 0, v[0], v[1])
        w[...] = 3
        return w, v

    return [rebinds, aliased_sum, item_assign, out_into, array_0d, ravel_of_scalar, astype_of_scalar,
            power_of_scalar, where_is_an_array]


# astype_of_scalar casts complex to float32, which warns in the loop as under vmap.
@pytest.mark.filterwarnings("ignore:Casting complex values to real:numpy.exceptions.ComplexWarning")
@pytest.mark.parametrize("program", _scalar_programs(), ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int64])
@pytest.mark.parametrize("in_dim", [0, 1])
def test_scalar_examples_are_immutable_as_in_the_loop(program, dtype, in_dim):
    x = np.moveaxis(np.arange(12).reshape(3, 4).astype(dtype), 0, in_dim)
    try:
        want = loop(program, [x], (in_dim,), (0, 0))
    except TypeError as e:  # NumPy's own message: item assignment, or out= of a scalar
        with pytest.raises(TypeError, match=str(e).split("'")[-1].strip() or "ArrayType"):
            vmap(program, in_dims=in_dim)(x)
        return
    assert_matches(vmap(program, in_dims=in_dim)(x), want)
    outer = np.stack([x, 2 * x])  # and nested, where the inner values are batched twice
    parts = [loop(program, [o], (in_dim,), (0, 0)) for o in outer]
    want = tuple(np.stack([p[k] for p in parts]) for k in range(len(parts[0]))) if isinstance(parts[0], tuple) else np.stack(parts)
    assert_matches(vmap(vmap(program, in_dims=in_dim))(outer), want)


def test_one_dimensional_input_examples_are_scalars():
    x = np.arange(4.0)
    y = x.copy()

    def f(v):
        v += 1  # rebinds, as for the loop's x[i]; the caller's array is unchanged
        return v

    np.testing.assert_array_equal(vmap(f)(y), x + 1)
    np.testing.assert_array_equal(y, x)
    with pytest.raises(TypeError, match="item assignment"):
        vmap(lambda v: v.__setitem__(Ellipsis, 0))(y)


@pytest.mark.parametrize(
    "write",
    [lambda w: w.fill(7), lambda w: w.fill(1 + 0.5j), lambda w: w.fill(np.inf), lambda w: np.copyto(w, 7.0),
     lambda w: np.putmask(w, True, 7.0), lambda w: np.place(w, True, 7.0), lambda w: np.put(w, [0], 7.0),
     lambda w: np.add.at(w, [0], 1.0), lambda w: np.add(w, 1, out=w)],
    ids=["fill", "fill-complex", "fill-inf", "copyto", "putmask", "place", "put", "add.at", "out="],
)
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_in_place_functions_on_a_scalar_example_do_what_numpy_does(write, dtype):
    """Found by the program-family fuzzer: fill converts and does nothing, copyto,
    putmask, place, ufunc.at and out= raise NumPy's TypeError, put does nothing."""
    def f(v):
        w = v.sum()
        write(w)
        return w

    assert_like_loop(f, [np.arange(6).reshape(3, 2).astype(dtype)])
