"""vmaprt.vmap: in_dims, out_dims, pytrees, kwargs, batch sizes, chunking, nesting, errors."""

import collections
import functools

import numpy as np
import pytest

import vmaprt
from vmaprt import vmap

from conftest import assert_matches, layout, loop

P = collections.namedtuple("P", "a b")


def test_batched_dot_equals_einsum(rng):
    x, y = rng.standard_normal((2, 7, 5))
    assert_matches(vmap(np.dot)(x, y), np.einsum("nd,nd->n", x, y))


def test_wraps_keeps_name_and_doc():
    def energy(x):
        """Energy of one configuration."""
        return (x**2).sum()

    f = vmap(energy)
    assert f.__name__ == "energy" and f.__doc__ == "Energy of one configuration."
    assert f.__wrapped__ is energy


# in_dims -------------------------------------------------------------------------------
@pytest.mark.parametrize("in_dim", [0, 1, 2, -1, -2, -3])
def test_int_in_dim_any_axis(rng, in_dim):
    x = rng.standard_normal((4, 3, 5))
    f = lambda a: np.sin(a).sum(axis=0)  # noqa: E731
    assert_matches(vmap(f, in_dims=in_dim)(x), loop(f, [x], (in_dim % 3,)))


def test_in_dims_tuple_with_none(rng):
    x, w = rng.standard_normal((6, 3)), rng.standard_normal((3, 2))
    assert_matches(vmap(np.dot, in_dims=(0, None))(x, w), x @ w)


def test_top_level_list_is_read_as_tuple(rng):
    x, w = rng.standard_normal((6, 3)), rng.standard_normal(3)
    assert_matches(vmap(np.dot, in_dims=[0, None])(x, w), x @ w)


def test_pytree_in_dims_prefix(rng):
    x, y, z = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((3, 4))

    def f(d, pair):
        return d["x"] * d["y"] + pair[0] + pair[1]

    out = vmap(f, in_dims=({"x": 0, "y": None}, 1))({"x": x, "y": y}, (z, z))
    assert_matches(out, x * y + 2 * z.T)


def test_pytree_int_applies_to_every_leaf(rng):
    x = rng.standard_normal((4, 3))
    tree = {"a": x, "b": [x, (x,)], "c": P(x, x)}
    out = vmap(lambda t: t["a"] + t["b"][0] + t["b"][1][0] + t["c"].a + t["c"].b)(tree)
    assert_matches(out, 5 * x)


def test_none_in_dims_for_a_subtree(rng):
    x, c = rng.standard_normal((4, 3)), rng.standard_normal(3)
    out = vmap(lambda t: t["x"] + t["c"][0], in_dims=({"x": 0, "c": None},))({"x": x, "c": [c, "label"]})
    assert_matches(out, x + c)


def test_ordered_dict_prefix_matched_by_key(rng):
    x, y = rng.standard_normal((4, 3)), rng.standard_normal(3)
    arg = collections.OrderedDict([("y", y), ("x", x)])  # insertion order differs from sorted
    out = vmap(lambda d: d["x"] - d["y"], in_dims=({"x": 0, "y": None},))(arg)
    assert_matches(out, x - y)


def test_defaultdict_and_namedtuple_inputs(rng):
    x = rng.standard_normal((4, 3))
    d = collections.defaultdict(list, {"k": x})
    assert_matches(vmap(lambda d: d["k"] * 2)(d), 2 * x)
    assert_matches(vmap(lambda p: p.a - p.b, in_dims=(P(0, None),))(P(x, x[0])), x - x[0])


def test_registered_node(rng):
    class Box:
        def __init__(self, v):
            self.v = v

    vmaprt.tree.register_node(Box, lambda b: ((b.v,), None), lambda aux, ch: Box(*ch))
    x = rng.standard_normal((4, 3))
    out = vmap(lambda b: Box(b.v * 2))(Box(x))
    assert isinstance(out, Box)
    assert_matches(out.v, 2 * x)


def test_kwargs_are_not_batched(rng):
    x = rng.standard_normal((2, 5))

    def fn(x, scale=4.0):
        return x * scale

    assert vmap(fn)(x, scale=x).shape == (2, 2, 5)
    assert_matches(vmap(fn)(x, scale=3.0), 3.0 * x)


def test_non_array_leaves_with_none(rng):
    x = rng.standard_normal((3, 2))
    out = vmap(lambda x, n, s, g: x * n, in_dims=(0, None, None, None))(x, 3, "name", len)
    assert_matches(out, 3 * x)


def test_numpy_scalar_and_batched_input(rng):
    x = rng.standard_normal((3, 2))
    assert_matches(vmap(lambda x, s: x * s, in_dims=(0, None))(x, np.float64(2.0)), 2 * x)


@pytest.mark.parametrize("kind", ["C", "F", "transposed", "stepped", "reversed", "broadcast"])
def test_layouts_are_read_in_place(rng, kind):
    x = layout(rng.standard_normal((5, 4, 3)), 1, kind)
    f = lambda a: (a * 2).sum(-1)  # noqa: E731
    assert_matches(vmap(f, in_dims=1)(x), loop(f, [x], (1,)))


# batch size ---------------------------------------------------------------------------
def test_size_mismatch_names_every_argument():
    x, y = np.ones((2, 3)), np.ones((4, 3))
    with pytest.raises(ValueError, match=r"vmap\(f\): inconsistent sizes for the mapped dimension: "
                       r"argument x \(in_dim 0\) has size 2, argument y\[1\] \(in_dim 1\) has size 3"):
        def f(x, y):
            return x

        vmap(f, in_dims=(0, (None, 1)))(x, (x, y))


def test_axis_size_when_nothing_is_mapped():
    out = vmap(lambda c: c * 2, in_dims=None, axis_size=3)(np.arange(2.0))
    assert_matches(out, np.tile(np.arange(2.0) * 2, (3, 1)))


def test_axis_size_must_agree():
    with pytest.raises(ValueError, match=r"vmap\(<lambda>, axis_size=3\): the mapped inputs have size 2"):
        vmap(lambda x: x, axis_size=3)(np.ones((2, 1)))


def test_nothing_mapped_without_axis_size():
    with pytest.raises(ValueError, match=r"vmap\(<lambda>, in_dims=None\): no input is mapped.*axis_size"):
        vmap(lambda x: x, in_dims=None)(np.ones(3))
    with pytest.raises(ValueError, match=r"no input is mapped"):
        vmap(lambda: 1.0)()


def test_size_zero_batch():
    x = np.ones((0, 3))
    assert vmap(lambda a: np.sin(a) @ np.ones(3))(x).shape == (0,)
    assert vmap(lambda a: a.sum(0), in_dims=1)(np.ones((3, 0))).shape == (0,)


# out_dims ---------------------------------------------------------------------------------
@pytest.mark.parametrize("out_dim", [0, 1, 2, -1, -2, -3])
def test_out_dims_int(rng, out_dim):
    x = rng.standard_normal((4, 3, 2))
    out = vmap(lambda a: a * 2, out_dims=out_dim)(x)
    assert_matches(out, np.moveaxis(2 * x, 0, out_dim))


def test_out_dims_is_a_view_not_a_copy(rng):
    x = rng.standard_normal((4, 3))
    out = vmap(lambda a: a, out_dims=1)(x)
    assert np.shares_memory(out, x)


def test_out_dims_tree_and_one_element_tuple(rng):
    x = rng.standard_normal((4, 3))
    a, (b, c) = vmap(lambda t: (t, (t.sum(), t * 2)), out_dims=(1, (0, 1)))(x)
    assert_matches(a, x.T)
    assert_matches(b, x.sum(1))
    assert_matches(c, 2 * x.T)
    assert_matches(vmap(lambda t: t, out_dims=(1,))(x), x.T)


def test_unbatched_outputs_are_broadcast_fresh_and_writable():
    out = vmap(lambda x: 3.0)(np.ones(4))
    assert_matches(out, np.full(4, 3.0))
    c = np.arange(3.0)
    out = vmap(lambda x: c, out_dims=1)(np.ones((2, 5)))
    assert out.shape == (3, 2) and out.flags.writeable and not np.shares_memory(out, c)
    out[0, 0] = 99
    assert c[0] == 0
    assert_matches(vmap(lambda x: np.int64(7))(np.ones(2)), np.array([7, 7]))
    assert_matches(vmap(lambda x: True)(np.ones(2)), np.array([True, True]))


def test_out_dims_none_passes_unbatched_leaves():
    out, name, nothing = vmap(lambda x: (x * 2, "label", None), out_dims=(0, None, None))(np.ones(3))
    assert name == "label" and nothing is None
    c = np.arange(2.0)
    assert vmap(lambda x: c, out_dims=None)(np.ones(3)) is c


def test_out_dims_none_on_batched_output_is_an_error():
    with pytest.raises(ValueError, match=r"vmap\(<lambda>, out_dims=\.\.\.\): the output has out_dim None, but it is batched"):
        vmap(lambda x: x, out_dims=None)(np.ones(3))


def test_non_array_output_with_int_out_dim_suggests_none():
    with pytest.raises(ValueError, match=r"vmap\(<lambda>, out_dims=0\): output 1 is 'label'.*out_dims=None"):
        vmap(lambda x: (x, "label"))(np.ones(3))
    with pytest.raises(ValueError, match=r"output 0 is None"):
        vmap(lambda x: (None, x))(np.ones(3))


def test_out_dim_out_of_range():
    with pytest.raises(ValueError, match=r"out_dim 2 for the output is out of range.*\[-2, 1\]"):
        vmap(lambda x: x, out_dims=2)(np.ones((3, 4)))


def test_out_dims_structure_mismatch():
    with pytest.raises(ValueError, match=r"vmap\(<lambda>, out_dims=\(0, 0, 0\)\): out_dims is not compatible"):
        vmap(lambda x: (x, x), out_dims=(0, 0, 0))(np.ones(3))


# chunk_size ----------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 100])
def test_chunk_size_matches_unchunked(rng, chunk):
    x, w = rng.standard_normal((7, 4)), rng.standard_normal((4, 3))
    f = lambda a, w: (np.tanh(a @ w), a.sum(), "tag")  # noqa: E731
    got = vmap(f, in_dims=(0, None), out_dims=(1, 0, None), chunk_size=chunk)(x, w)
    want = vmap(f, in_dims=(0, None), out_dims=(1, 0, None))(x, w)
    for g, w_ in zip(got[:2], want[:2]):
        assert_matches(g, w_)
    assert got[2] == "tag"


def test_chunk_size_bounds_the_level_size(rng):
    seen = []

    def f(x):
        seen.append(vmaprt._levels.current_levels()[-1].size)
        return x

    vmap(f, chunk_size=3)(np.ones((8, 2)))
    assert seen == [3, 3, 2]


# nesting ---------------------------------------------------------------------------------------
def test_nested_vmap_dot(rng):
    x, y = rng.standard_normal((2, 3, 4, 5))
    assert_matches(vmap(vmap(np.dot))(x, y), np.einsum("abk,abk->ab", x, y))


def test_nested_out_dims_order_outer_first(rng):
    x = rng.standard_normal((2, 3, 4))
    out = vmap(vmap(lambda a: a.sum(), out_dims=0), out_dims=1)(x)
    assert_matches(out, x.sum(-1).T)


def test_three_levels_with_captured_values(rng):
    x, y, z = rng.standard_normal((2,)), rng.standard_normal((3,)), rng.standard_normal((4,))

    def f(a):
        return vmap(lambda b: vmap(lambda c: a * b + c)(z))(y)

    assert_matches(vmap(f)(x), x[:, None, None] * y[None, :, None] + z)


# vmap() argument checks -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(in_dims="0"), r"in_dims must be an int, None, or a tuple"),
        (dict(in_dims={"x": 0}), r"For a single pytree argument, wrap it"),
        (dict(in_dims="0"), r"got str\. Give each batch axis as an int \(in_dims=0\)"),
        (dict(in_dims=np.ones((2, 3))), r"in_dims=<array of shape \(2, 3\)>\).*Pass the inputs to the function vmap returns"),
        (dict(in_dims=True), r"in_dims must be an int"),
        (dict(in_dims=(0, True)), r"bool is not accepted"),
        (dict(in_dims=(0, 1.0)), r"every entry of in_dims must be an int or None, but got 1.0"),
        (dict(out_dims="x"), r"every entry of out_dims must be an int or None"),
        (dict(randomness="other"), r"randomness must be one of 'error', 'different' or 'same'"),
        (dict(chunk_size=0), r"chunk_size must be None or a positive int, but got 0"),
        (dict(chunk_size=2.5), r"chunk_size must be None or a positive int"),
        (dict(axis_size=-1), r"axis_size must be None or a non-negative int"),
    ],
)
def test_vmap_arguments_checked_at_vmap_time(kwargs, match):
    def f(x):
        return x

    with pytest.raises(ValueError, match=r"^vmap\(f.*" + match):
        vmap(f, **kwargs)


def test_func_must_be_callable():
    with pytest.raises(ValueError, match=r"^vmap: expected a function.*vmaprt.vmap\(f\)\(x\)"):
        vmap(np.ones(3))


@pytest.mark.parametrize(
    "in_dims, args, match",
    [
        ((0, 0), (np.ones(3),), r"in_dims has 2 entries but 1 positional argument was given"),
        (0, (np.ones(3), 2.0), r"got in_dim=0 for argument y, which is of type float.*use None"),
        (0, (np.ones(3), None), r"got in_dim=0 for argument y, which is of type NoneType"),
        (0, (np.ones(3), np.float64(1)), r"argument y, which is a 0-d array"),
        ((0, 2), (np.ones(3), np.ones((3, 2))), r"got in_dim=2 for argument y of shape \(3, 2\).*\[-2, 1\]"),
        (({"a": 0},), ({"b": np.ones(3)},), r"in_dims is not compatible with the structure of the inputs"),
        (((0, 0),), ([np.ones(3), np.ones(3)],), r"in_dims is not compatible"),
    ],
)
def test_call_time_errors(in_dims, args, match):
    def f(x, y=None):
        return x

    with pytest.raises(ValueError, match=r"^vmap\(f.*" + match):
        vmap(f, in_dims=in_dims)(*args)


def test_structure_errors_show_the_structure_and_an_example_not_the_data():
    P = collections.namedtuple("P", "a b")
    with pytest.raises(ValueError) as info:
        vmap(lambda p: p.a + p.b, in_dims=((0, None),))(P(np.full((3, 2), 7.25), np.full(2, 7.25)))
    message = str(info.value)
    assert "structure of the inputs, which is (P(a=*, b=*),)" in message
    assert message.endswith("e.g. in_dims=(P(a=0, b=0),)") and "7.25" not in message
    with pytest.raises(ValueError, match=r"outputs, which is \(\*, \{'u': \*\}\).*whole output.*out_dims=\(0, \{'u': 0\}\)"):
        vmap(lambda x: (x, {"u": x}), out_dims=(0, 0, 0))(np.ones(3))


def test_errors_name_the_function_via_partial():
    f = functools.partial(np.add, 1.0)
    with pytest.raises(ValueError, match=r"^vmap\(partial"):
        vmap(f, in_dims=None)(np.ones(2))


def test_vmaprt_scipy_loads_on_first_use():
    assert vmaprt.scipy.softmax is __import__("vmaprt.scipy").scipy.softmax
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        vmaprt.nothing


def test_import_fails_loudly_without_the_compiled_core(tmp_path):
    import shutil
    import subprocess
    import sys

    import vmaprt as installed

    src = tmp_path / "vmaprt"
    shutil.copytree(installed.__path__[0], src, ignore=shutil.ignore_patterns("_core*.so", "_core*.pyd"))
    result = subprocess.run([sys.executable, "-c", "import vmaprt"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode != 0
    assert "vmaprt: the compiled extension vmaprt._core could not be imported" in result.stderr
    # the cause first: this copy, run from its parent folder, shadows the installed package
    assert f"the folder {src.resolve()}, which has no compiled extension, is shadowing the installed vmaprt at" in result.stderr
    assert "Run from another folder" in result.stderr


def test_no_stray_public_names():
    public = {name for name in dir(vmaprt) if not name.startswith("_")}
    assert public <= set(vmaprt.__all__), public - set(vmaprt.__all__)


@pytest.mark.parametrize(
    "f, x",
    [(np.sum, np.ones((3, 4))), (lambda v: v * 2, np.ones(3)), (lambda v: v, np.ones(3)),
     (lambda v: v[0], np.ones((3, 2))), (vmap(np.sum), np.ones((2, 3, 4)))],
)
def test_outputs_of_scalars_per_example_are_writable_arrays(f, x):
    """Note [scalars per example]: the read-only marking stays inside the vmapped function."""
    out = vmap(f)(x)
    assert out.flags.writeable
    out[...] = 0


def test_a_read_only_input_stays_read_only_through_the_identity():
    x = np.ones(3)
    x.flags.writeable = False
    assert not vmap(lambda v: v)(x).flags.writeable
