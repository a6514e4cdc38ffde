"""x[key] and x[key] = v per example, against the loop, for every kind of key."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmaprt import vmap

from conftest import LAYOUTS, assert_like_loop, assert_matches, layout, loop

SHAPE = (4, 5, 6)  # per example

KEYS = [
    0, -1, slice(1, 3), slice(None, None, -2), Ellipsis, None,
    (0, slice(None)), (Ellipsis, 2), (slice(None), None, 1), (1, Ellipsis, None),
    np.array([0, 3, 1]), [1, 1, 0], (np.array([0, 2]), np.array([1, 4])),
    (slice(None), np.array([[0], [2]]), np.array([1, 4, 5])),      # adjacent, after a slice
    (np.array([0, 2]), slice(1, 4), np.array([1, 5])),             # separated: advanced dims first
    (0, slice(None), np.array([1, 2])),                             # an int counts as advanced
    (Ellipsis, np.array([5, 0])), (None, np.array([1, 2]), None),
    np.triu_indices(4, 1, 5),                                        # a tuple of index arrays
    np.ones(4, dtype=bool), (slice(None), np.array([True, False, True, False, True])),
]  # fmt: skip


@pytest.mark.parametrize("key", KEYS, ids=repr)
@pytest.mark.parametrize("kind", ["C", "transposed", "reversed", "broadcast"])
def test_getitem_constant_key(rng, key, kind):
    x = layout(rng.standard_normal((3,) + SHAPE), 1, kind)
    f = lambda a: a[key]  # noqa: E731
    assert_matches(vmap(f, in_dims=1)(x), loop(f, [x], (1,)))


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_setitem_constant_key(rng, key):
    x = rng.standard_normal((3,) + SHAPE)
    v = rng.standard_normal((3,) + np.empty(SHAPE)[key].shape)

    def f(a, v):
        a = a.copy()
        a[key] = v
        a[key] += 1.0
        return a

    assert_matches(vmap(f, in_dims=(2, 0))(np.moveaxis(x, 0, 2), v), loop(f, [x, v], (0, 0)))
    # An unbatched value broadcast into a batched target.
    assert_matches(vmap(f, in_dims=(0, None))(x, v[0]), loop(f, [x, v[0]], (0, None)))


def _batched_index_cases():
    # (per-example key built from a per-example index array i, index array shape)
    return [
        (lambda i: i, (3,)),
        (lambda i: (i,), (2, 2)),
        (lambda i: (slice(None), i), (3,)),
        (lambda i: (i, slice(1, 3)), (2,)),
        (lambda i: (Ellipsis, i), (3,)),
        (lambda i: (1, slice(None), i), (3,)),
        (lambda i: (i, slice(None), np.array([0, 5, 1])), (3,)),
        (lambda i: (slice(None), i, np.array([[0], [5]])), (3,)),
        (lambda i: (None, slice(2), i), (2, 1)),
        (lambda i: (np.array([0, 1]), i), (1,)),
    ]


@pytest.mark.parametrize("make_key, ishape", _batched_index_cases())
@pytest.mark.parametrize("kind", LAYOUTS)
def test_batched_index_gathers_per_example(rng, make_key, ishape, kind):
    x = layout(rng.standard_normal((3,) + SHAPE), 0, kind)
    idx = layout(rng.integers(0, 4, (3,) + ishape), len(ishape), "C")  # batch axis last
    f = lambda a, i: a[make_key(i)]  # noqa: E731
    assert_matches(vmap(f, in_dims=(0, len(ishape)))(x, idx), loop(f, [x, idx], (0, len(ishape))))
    # A batched index into an unbatched value (captured from an outer vmap, so it dispatches).
    g = lambda a, i: vmap(lambda j: a[make_key(j)], in_dims=len(ishape))(i)  # noqa: E731
    want = loop(lambda a: loop(lambda j: a[make_key(j)], [idx], (len(ishape),)), [x], (0,))
    assert_matches(vmap(g, in_dims=(0, None))(x, idx), want)


def test_plain_ndarray_indexed_by_a_batched_index_points_to_asarray_like(rng):
    table, idx = rng.standard_normal((5, 2)), rng.integers(0, 5, (4, 3))
    # NumPy converts the index of a plain ndarray with __array__; np.take dispatches on
    # the table only. np.asarray(table, like=i) is a zero-stride batched view of it.
    with pytest.raises(RuntimeError, match=r"indexed by a batched index \(table\[i\]: write np.asarray\(table, like=i\)\[i\]"):
        vmap(lambda i: table[i])(idx)
    assert_matches(vmap(lambda i: np.asarray(table, like=i)[i])(idx), table[idx])
    assert_matches(vmap(lambda i: np.take(np.asarray(table, like=i), i, axis=0))(idx), table[idx])
    for kw in [dict(), dict(axis=1, mode="wrap"), dict(axis=-1, mode="clip")]:
        t = rng.standard_normal((4, 3, 5))
        for in_dims in [(0, None), (None, 0), (0, 0)]:
            if in_dims[0] is None:
                f = lambda t, i: np.take(np.asarray(t, like=i), i, **kw)  # noqa: E731
            else:
                f = lambda t, i: np.take(t, i, **kw)  # noqa: E731
            args = [t if in_dims[0] is not None else t[0], idx if in_dims[1] is not None else idx[0]]
            assert_matches(vmap(f, in_dims=in_dims)(*args), loop(f, args, in_dims))


@pytest.mark.parametrize("make_key, ishape", _batched_index_cases())
def test_batched_index_setitem_scatters_per_example(rng, make_key, ishape):
    x = rng.standard_normal((3,) + SHAPE)
    idx = rng.integers(0, 4, (3,) + ishape)

    def f(a, i):
        a = a.copy()
        a[make_key(i)] = -1.0
        a[make_key(i)] += a[make_key(i)] * 2
        return a

    assert_matches(vmap(f)(x, idx), loop(f, [x, idx], (0, 0)))


def test_batched_boolean_mask_is_refused():
    with pytest.raises(RuntimeError, match=r"^vmap: indexing with a batched boolean mask.*np.where"):
        vmap(lambda a: a[a > 0])(np.ones((2, 3)))


@pytest.mark.parametrize("kind", LAYOUTS)
def test_assigning_one_value_through_a_batched_mask_keeps_the_shape(rng, kind):
    """y[y < 0] = 0 selects a different number of elements per example, but every one
    gets the same value (a number, or a row for the axes after the mask's): a fill."""
    x = rng.standard_normal((5, 4, 3))

    def f(a, r):
        y = a.copy()
        y[y < 0] = 0
        y[a > 1] = a.max()  # one number per example
        y[a[:, 0] > 0] = r  # one row per example, for each selected row
        z = (a * 10).astype(np.int64)
        z[a < 0] = 2.7  # cast as NumPy casts it
        return y, z

    r = rng.standard_normal((5, 3))
    x = layout(x, 0, kind)
    got, want = vmap(f)(x, r), loop(f, [x, r], (0, 0))
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-13)
    assert [g.shape for g in vmap(f)(x[:0], r[:0])] == [(0, 4, 3)] * 2
    with pytest.raises(RuntimeError, match=r"^vmap: indexing with a batched boolean mask"):
        vmap(lambda a: (a.copy().__setitem__(a < 0, a[a < 0] * 2)))(x)  # one value per element: ragged


def test_too_many_indices():
    with pytest.raises(IndexError, match="too many indices.*1-dimensional per example"):
        vmap(lambda a: a[0, 0])(np.ones((2, 3)))


def test_setitem_on_a_transposed_view_writes_through(rng):
    x = rng.standard_normal((4, 3))
    want = x.copy()
    want[1, :] = 7.0

    def f(a):
        a[1] = 7.0
        return a

    vmap(f)(x.T)  # each example is a column of x, seen through a transposed view
    assert_matches(x, want)


def test_nested_index_by_outer_value(rng):
    x, i = rng.standard_normal((2, 3, 5)), rng.integers(0, 5, (2, 4))

    def outer(xr, ir):
        return vmap(lambda row: row[ir])(xr)

    assert_matches(vmap(outer)(x, i), np.stack([x[b][:, i[b]] for b in range(2)]))


def _basic_keys(ndim):
    entry = st.one_of(
        st.integers(-4, 3),
        st.builds(slice, st.one_of(st.none(), st.integers(-5, 5)), st.one_of(st.none(), st.integers(-5, 5)),
                  st.one_of(st.none(), st.sampled_from([1, 2, -1, -3]))),
        st.none(),
        st.lists(st.integers(-4, 3), min_size=1, max_size=3).map(np.array),
    )
    return st.lists(entry, min_size=1, max_size=ndim).map(tuple)


@settings(max_examples=150, deadline=None)
@given(key=_basic_keys(3), in_dim=st.integers(0, 3), batched_index=st.booleans())
def test_random_keys_match_the_loop(key, in_dim, batched_index):
    rng = np.random.default_rng(0)
    x = np.moveaxis(rng.standard_normal((2, 4, 4, 4)), 0, in_dim)
    try:
        want = loop(lambda a: a[key], [x], (in_dim,))
    except IndexError:
        with pytest.raises(IndexError):
            vmap(lambda a: a[key], in_dims=in_dim)(x)
        return
    assert_matches(vmap(lambda a: a[key], in_dims=in_dim)(x), want)
    arrays = [j for j, k in enumerate(key) if isinstance(k, np.ndarray)]
    if batched_index and arrays:  # the first index array differs per example
        j = arrays[0]
        idx = np.stack([key[j], key[j][::-1]])

        def g(a, i):
            return a[key[:j] + (i,) + key[j + 1 :]]

        assert_matches(vmap(g, in_dims=(in_dim, 0))(x, idx), loop(g, [x, idx], (in_dim, 0)))


# Note [per-example broadcasting of a written value] (issue 15, classes A, B, G) ---------
X4 = np.array([[.5, -1, 2, 3], [-.3, .7, -2, 1], [1, 2, 3, 4], [4, 3, 2, 1]])
WRITE_KEYS = [Ellipsis, slice(None), slice(1, None), [0, 2], (np.array([1, 3]),)]


def _write(key, value):
    def f(v):
        y = v.copy()
        y[key] = value
        return y

    return f


@pytest.mark.parametrize("key", WRITE_KEYS, ids=repr)
@pytest.mark.parametrize(
    "value",
    [np.arange(4.0)[:, None], np.arange(4.0)[None, :, None], np.ones((2, 1)), np.arange(3.0),
     np.arange(4.0)[None], np.ones((1, 1, 1)), np.arange(2.0), 2.5],
    ids=lambda v: str(np.shape(v)),
)
@pytest.mark.parametrize("in_dim", [0, 1])
def test_setitem_unbatched_value_broadcasts_per_example(key, value, in_dim):
    assert_like_loop(_write(key, value), [X4], in_dim)


@pytest.mark.parametrize("key", WRITE_KEYS, ids=repr)
@pytest.mark.parametrize("vshape", [(1, 4), (1, 1), (1,), (4, 1), (2,), (1, 1, 4), ()], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.int64])
def test_setitem_batched_value_broadcasts_per_example(key, vshape, dtype):
    def f(v, w):
        y = v.copy()
        y[key] = w
        return y

    w = np.arange(4 * int(np.prod(vshape))).reshape((4,) + vshape).astype(dtype)
    assert_like_loop(f, [X4.astype(dtype), w], (0, 0))
    assert_like_loop(f, [X4.astype(dtype), np.moveaxis(w, 0, -1)], (1, -1))


def test_setitem_at_a_batched_index_with_a_row_is_numpys_error():
    def f(v):
        y = v.copy()
        y[np.argmax(v)] = np.arange(4.0)
        return y

    assert_like_loop(f, [X4])


@pytest.mark.parametrize("vshape", [(4, 4), (1, 4), (4,), (1,), (2,), (4, 1), ()], ids=str)
@pytest.mark.parametrize("batched", [False, True])
def test_put_along_axis_value_broadcasts_per_example(vshape, batched):
    value = np.arange(float(np.prod(vshape) * (4 if batched else 1))).reshape(((4,) if batched else ()) + vshape)

    def f(v, w):
        y = v.copy()
        np.put_along_axis(y, np.argsort(v), w, -1)
        return y

    assert_like_loop(f, [X4, value], (0, 0 if batched else None))


@pytest.mark.parametrize(
    "target, value",
    [(np.float64, 1 + 0.5j), (np.int64, np.inf), (np.int64, np.nan), (np.int8, 300), (np.uint8, -1), (np.int32, 2.5)],
)
@pytest.mark.parametrize("form", ["mask", "ellipsis", "index", "put_along_axis"])
def test_python_number_written_converts_as_numpy_does(target, value, form):
    def f(v):
        y = v.astype(target)
        if form == "mask":
            y[v > 0] = value
        elif form == "ellipsis":
            y[...] = value
        elif form == "index":
            y[[0, 2]] = value
        else:
            np.put_along_axis(y, np.argsort(v), value, -1)
        return y

    assert_like_loop(f, [X4])


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.complex128, np.bool_])
@pytest.mark.parametrize("value", [np.array([5.0]), [5.0], np.array([[1.0]]), np.array(5.0), 5.0], ids=repr)
def test_element_assignment_takes_a_scalar_only(dtype, value):
    """y[i, j] = v with integers only sets one element: a size-1 array is NumPy's
    ValueError (bool targets take it), found by the program-family fuzzer."""
    def f(v):
        y = v.astype(dtype)
        y[0, 1] = value
        return y

    assert_like_loop(f, [np.ones((3, 2, 2))])


@pytest.mark.parametrize("mask", [[True, False, True], [True], [True, False, True, False], [[True], [False], [True]]], ids=str)
@pytest.mark.parametrize("value", [0, 1 + 0.5j, np.arange(1.0)], ids=repr)
def test_unbatched_mask_and_index_are_checked_before_the_value(mask, value):
    """NumPy's index errors (a mask of the wrong length, too many indices) come first,
    before the value's conversion; found by the program-family fuzzer."""
    m = np.array(mask)

    def f(v):
        y = v.copy()
        y[m] = value
        y[0, 1:] = value
        return y

    assert_like_loop(f, [np.ones((2, 3, 1))])
    assert_like_loop(f, [np.ones((2, 3))])


def test_element_assignment_checks_bounds_before_the_value():
    def f(v):
        y = v[:0]
        y[0] = v  # NumPy: the index is out of bounds, before the value is looked at
        return y

    assert_like_loop(f, [np.ones((2, 3))])


def test_a_scalar_indexed_is_a_new_array_and_bounds_come_first():
    """Fuzzer finds: s[...] of a NumPy scalar is a new 0-d array (writable), np.real of
    a real array is that array (still writable), and y[0, 1:] = row into an empty y is
    NumPy's IndexError before the value's broadcast error."""
    def indexed(v):
        s = v.sum()
        a = s[...]
        a[...] = 7
        r = np.real(np.where(v > 0, v, v)[0] + 0)
        return a, r

    x = np.arange(6.0).reshape(3, 2)
    assert_matches(vmap(indexed)(x), loop(indexed, [x], (0,), (0, 0)))

    def empty(v):
        y = np.take(v, [], axis=0)
        y[0, 1:] = np.ones(4)
        return y

    assert_like_loop(empty, [np.ones((3, 2, 5))])

    def real_keeps(v):
        w = np.where(v > 0, v, v).copy()[..., 0]
        np.real(w)
        w[...] = 1
        return w

    assert_like_loop(real_keeps, [x])


def test_an_empty_boolean_mask_fits_any_axis_and_ufunc_at_sees_0d_arrays():
    """Fuzzer finds: NumPy takes a boolean index of size 0 whatever the axis length,
    and np.add.at on a 0-d array is its IndexError (not the scalar TypeError)."""
    def masked(v):
        y = v.copy()
        y[np.zeros(0, bool)] = 0
        return y

    assert_like_loop(masked, [np.ones((3, 4))])

    def at(v):
        y = np.where(v > 0, v, v).copy()
        np.add.at(y, [0, 0], v)
        return y

    assert_like_loop(at, [np.ones(3)])
