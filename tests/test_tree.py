"""vmaprt.tree: the pytree layer over optree."""

import collections

import numpy as np
import pytest

import vmaprt.tree as tree


def test_leaf_order_and_none_is_a_leaf():
    leaves, spec = tree.flatten({"b": 1, "a": (2, None), "c": [3]})
    assert leaves == [2, None, 1, 3]
    assert tree.unflatten(spec, leaves) == {"a": (2, None), "b": 1, "c": [3]}


def test_containers_round_trip():
    P = collections.namedtuple("P", "x y")
    obj = [collections.OrderedDict(z=1, a=2), collections.defaultdict(int, k=3), P(4, (5,))]
    leaves, spec = tree.flatten(obj)
    assert leaves == [1, 2, 3, 4, 5]
    back = tree.unflatten(spec, leaves)
    assert back == obj and type(back[2]) is P and type(back[1]) is collections.defaultdict


def test_map_and_paths():
    assert tree.map(lambda a, b: a + b, (1, [2]), (10, [20])) == (11, [22])
    paths, leaves, _ = tree.flatten_with_path({"a": [np.zeros(1), 2]})
    assert paths == [("a", 0), ("a", 1)] and leaves[1] == 2
    assert tree.leaves([1, (2, None)]) == [1, 2, None]


def test_register_node_round_trip_and_errors():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    tree.register_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    leaves, spec = tree.flatten(Pair(1, [2]))
    assert leaves == [1, 2]
    assert tree.unflatten(spec, [5, 6]).b == [6]
    with pytest.raises(TypeError, match=r"^vmap: tree.register_node expects a class"):
        tree.register_node(Pair(1, 2), len, len)
    with pytest.raises(TypeError, match=r"^vmap: tree.register_node expects flatten_func"):
        tree.register_node(dict, None, None)
    with pytest.raises(ValueError, match=r"^vmap: tree.register_node\(Pair\) failed"):
        tree.register_node(Pair, lambda p: ((), None), lambda aux, ch: Pair(0, 0))
