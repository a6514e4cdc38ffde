"""The bad-input sweep: every public entry point, fed wrong input, ends in a clear
ValueError/TypeError/RuntimeError that starts with ``vmap`` and leaves the
caller's arrays exactly as they were."""

import pickle
import re

import numpy as np
import pytest

import vmaprt
from vmaprt import vmap

ARRAYS = {
    "float": np.arange(12.0).reshape(3, 4),
    "int": np.arange(12).reshape(3, 4),
    "object": np.array([[1, "a"], [2, None], [3, 4.5]], dtype=object),
    "structured": np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]),
    "string": np.array(["ab", "cd", "ef"]),
    "0-d": np.array(2.0),
    "empty": np.zeros((0, 3)),
}


def _snapshot(objs):
    return [pickle.dumps(o) for o in objs]


BAD_VMAP_ARGS = [
    dict(func=None),
    dict(func=np.ones(3)),
    dict(in_dims="x"),
    dict(in_dims=1.5),
    dict(in_dims=[0, "a"]),
    dict(in_dims=(0, {"a": 1.0})),
    dict(in_dims=True),
    dict(out_dims=[None, "a"]),
    dict(out_dims=np.int64(0) > 0),
    dict(randomness=None),
    dict(randomness="Different"),
    dict(chunk_size=-3),
    dict(chunk_size=True),
    dict(chunk_size="8"),
    dict(axis_size=2.0),
    dict(axis_size=-1),
]


@pytest.mark.parametrize("kwargs", BAD_VMAP_ARGS, ids=repr)
def test_bad_vmap_arguments(kwargs):
    func = kwargs.pop("func", np.sin)
    with pytest.raises((ValueError, TypeError)) as info:
        vmap(func, **kwargs)
    assert str(info.value).startswith("vmap")


BAD_CALLS = [
    (dict(), ("0-d",)),
    (dict(in_dims=2), ("float",)),
    (dict(in_dims=-3), ("float",)),
    (dict(in_dims=(0, 0)), ("float",)),
    (dict(in_dims=(0, 0)), ("float", "empty")),
    (dict(in_dims=({"a": 0},)), ("float",)),
    (dict(), ("float", "int")),  # sizes 3 and 3 are fine, but the call passes a dict below
    (dict(in_dims=None), ("float",)),
    (dict(axis_size=5), ("float",)),
]


@pytest.mark.parametrize("kwargs, names", BAD_CALLS, ids=repr)
def test_bad_calls_leave_inputs_untouched(kwargs, names):
    args = [ARRAYS[n].copy() for n in names]
    if kwargs == {} and names == ("float", "int"):
        args = [{"a": args[0]}, [args[1], "text"]]  # a string leaf mapped with in_dim 0
    before = _snapshot(args)
    with pytest.raises((ValueError, TypeError, RuntimeError)) as info:
        vmap(lambda *a: a[0], **kwargs)(*args)
    assert str(info.value).startswith("vmap")
    assert _snapshot(args) == before


@pytest.mark.parametrize("name", ["float", "int", "object", "string", "empty"])
@pytest.mark.parametrize("in_dim", [0, 1, -1])
def test_any_dtype_passes_through_identity(name, in_dim):
    x = ARRAYS[name]
    if x.ndim < 2:
        in_dim = 0
    before = x.copy()
    out = vmap(lambda a: a, in_dims=in_dim)(x)
    np.testing.assert_array_equal(out, np.moveaxis(x, in_dim, 0))
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", ["object", "structured", "string"])
def test_unusual_dtypes_follow_numpy_or_fail_cleanly(name):
    """Operations on object/structured/string batches either match the loop or
    raise NumPy's own error (never a crash, never a partial write)."""
    x = ARRAYS[name].copy()
    before = _snapshot([x])
    for f in (lambda a: a[...], lambda a: a.copy(), lambda a: np.stack([a, a]), lambda a: a + a):
        try:
            want = np.stack([f(x[i, ...]) for i in range(len(x))])  # 0-d arrays, not scalars
        except Exception as e:  # NumPy refuses it per example: vmap must refuse it too
            with pytest.raises(type(e)):
                vmap(f)(x)
        else:
            np.testing.assert_array_equal(vmap(f)(x), want)
        assert _snapshot([x]) == before


def test_failures_inside_func_leave_inputs_and_levels_untouched():
    x = np.arange(6.0).reshape(2, 3)
    before = x.copy()

    def f(a):
        a += 1  # writes through to the caller's array, as torch.vmap's in-place ops do...
        raise ZeroDivisionError("user code")

    with pytest.raises(ZeroDivisionError):
        vmap(f)(x.copy())
    np.testing.assert_array_equal(x, before)

    def g(a):
        b = a * 2
        return b[a]  # float index: NumPy's IndexError, before anything is written

    with pytest.raises(IndexError):
        vmap(g)(x)
    np.testing.assert_array_equal(x, before)
    assert vmaprt._levels.current_levels() == ()


@pytest.mark.parametrize(
    "call",
    [
        lambda: vmaprt.tree.register_node("not a class", len, len),
        lambda: vmaprt.tree.register_node(tuple, len, None),
        lambda: vmaprt.register_batch_rule("np.sum"),
        lambda: vmaprt.register_batch_rule(np.sum, nargs=-2),
        lambda: vmaprt.register_batch_rule(np.sum)(3),
        lambda: vmaprt.per_example(None),
        lambda: vmaprt.set_num_threads(-1),
        lambda: vmaprt.set_num_threads(2.5),
        lambda: vmaprt.set_num_threads("2"),
        lambda: vmaprt.random.default_rng("x"),
        lambda: vmaprt.random.default_rng(np.random.default_rng(0)),
        lambda: vmaprt.random.default_rng(0).normal(size=-1),
        lambda: vmaprt.random.default_rng(0).normal(scale=-1.0),
        lambda: vmaprt.random.default_rng(0).uniform(size=(2, "a")),
        lambda: vmaprt.random.default_rng(0).integers(5, 2),
        lambda: vmaprt.random.default_rng(0).integers(0, 300, dtype=np.uint8),
        lambda: vmaprt.random.default_rng(0).random(dtype=np.int32),
        lambda: vmaprt.random.default_rng(0).poisson(-1.0),
        lambda: vmaprt.random.default_rng(0).binomial(5, 1.5),
        lambda: vmaprt.random.default_rng(0).choice(3, size=5, replace=False),
        lambda: vmaprt.random.default_rng(0).choice([1, 2], p=[0.3, 0.3]),
        lambda: vmaprt.random.default_rng(0).permutation("abc"),
        lambda: vmaprt.random.default_rng(0).shuffle(3),
        lambda: vmaprt.random.default_rng(0).spawn(-1),
        lambda: vmaprt.random.default_rng(0).standard_normal(out=np.zeros(3, np.int64)),
    ],
)
def test_other_entry_points(call):
    with pytest.raises((ValueError, TypeError, OverflowError)) as info:
        call()
    assert str(info.value).startswith("vmap")


def test_a_random_argument_error_does_not_advance_the_generator():
    rng = vmaprt.random.default_rng(3)
    with pytest.raises(ValueError):
        rng.normal(scale=-1.0, size=3)
    np.testing.assert_array_equal(rng.normal(size=3), vmaprt.random.default_rng(3).normal(size=3))


# Messages that name the cause first -----------------------------------------------------------
OUTSIDE = np.zeros((4, 3))


def _write_row(x):
    OUTSIDE[0] = x  # a row of an array created outside the function
    return x


def _write_slice(x):
    OUTSIDE[1:3] = x * 2
    return x


def _write_number(x):
    OUTSIDE[0, 0] = x.sum()  # NumPy converts with float(x) and raises its own ValueError from ours
    return x


@pytest.mark.parametrize("f", [_write_row, _write_slice, _write_number])
def test_a_write_into_an_array_from_outside_names_that_cause_and_the_fix(f):
    before = OUTSIDE.copy()
    with pytest.raises((RuntimeError, ValueError)) as info:
        vmap(f)(np.ones((2, 3)))
    error = info.value if isinstance(info.value, RuntimeError) else info.value.__cause__
    assert isinstance(error, RuntimeError), info.value
    line = f.__code__.co_firstlineno + 1
    assert re.match(rf"vmap: `target\[\.\.\.\] = value` at {re.escape(__file__)}:{line} cannot write a "
                    r"batched value into a plain NumPy array: one created outside the vmapped function",
                    str(error)), str(error)
    assert "np.zeros_like(x)" in str(error) and "out of place" in str(error)
    np.testing.assert_array_equal(OUTSIDE, before)


def test_asarray_in_other_code_keeps_the_general_message():
    with pytest.raises(RuntimeError, match=r"^vmap: a BatchedArray was converted to a NumPy array"):
        vmap(lambda x: np.asarray(x) + 1)(np.ones((2, 3)))


@pytest.mark.parametrize("args, in_dims, name", [
    (([1.0, 2.0, 3.0],), 0, "a"),
    (([[1, 2], [3, 4]], np.ones(2)), (0, None), "a"),
    ((np.ones((2, 2)), ((1.0, 2.0), (3.0, 4.0))), (None, 0), "b"),
])
def test_a_list_of_numbers_as_a_mapped_input_says_to_convert_it(args, in_dims, name):
    func = np.dot if len(args) == 2 else np.sum
    with pytest.raises(ValueError, match=rf"Python (list|tuple) of numbers: .* convert it to an array "
                                         rf"first: np.asarray\({name}\)$"):
        vmap(func, in_dims=in_dims)(*args)
