"""Pytrees, as vmap sees them: a thin layer over ``optree``.

Containers are tuples, lists, dicts (keys sorted), OrderedDicts, defaultdicts,
namedtuples and the types registered with :func:`register_node`.  ``None`` is a
leaf, as in torch.vmap.  Registrations live in the ``'vmaprt'`` namespace of
optree, so they do not leak into other libraries that use optree.

>>> import vmaprt.tree as tree
>>> leaves, spec = tree.flatten({"b": 1, "a": (2, None)})
>>> leaves
[2, None, 1]
>>> tree.unflatten(spec, [10, 20, 30]) == {"a": (10, 20), "b": 30}
True
>>> tree.map(lambda x: x * 2, [1, (2, 3)])
[2, (4, 6)]
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable

import optree

__all__ = ["flatten", "flatten_with_path", "unflatten", "map", "leaves", "register_node"]

NAMESPACE = "vmaprt"


def flatten(tree: Any) -> tuple[list[Any], optree.PyTreeSpec]:
    """``(leaves, treespec)`` of ``tree``, leaves in a fixed order."""
    return optree.tree_flatten(tree, none_is_leaf=True, namespace=NAMESPACE)


def flatten_with_path(tree: Any) -> tuple[list[tuple[Any, ...]], list[Any], optree.PyTreeSpec]:
    """``(paths, leaves, treespec)``: each path is the tuple of keys down to its leaf."""
    return optree.tree_flatten_with_path(tree, none_is_leaf=True, namespace=NAMESPACE)


def leaves(tree: Any) -> list[Any]:
    """The leaves of ``tree``, in the order :func:`flatten` gives them."""
    return optree.tree_leaves(tree, none_is_leaf=True, namespace=NAMESPACE)


def unflatten(treespec: optree.PyTreeSpec, leaves: Iterable[Any]) -> Any:
    """Rebuild a tree of the structure ``treespec`` from ``leaves``."""
    return optree.tree_unflatten(treespec, leaves)


def map(func: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``func`` to every leaf of ``tree`` (and the matching leaves of ``rest``)."""
    return optree.tree_map(func, tree, *rest, none_is_leaf=True, namespace=NAMESPACE)


def register_node(
    cls: type,
    flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Any, Iterable[Any]], Any],
) -> None:
    """Make instances of ``cls`` pytree nodes for vmap's ``in_dims``, inputs and outputs.

    Parameters
    ----------
    cls : type
        The container class.
    flatten_func : callable
        ``flatten_func(node) -> (children, aux_data)``: the child subtrees, and
        whatever else (hashable) is needed to rebuild the node.
    unflatten_func : callable
        ``unflatten_func(aux_data, children) -> node``.

    Examples
    --------
    >>> import numpy as np, vmaprt
    >>> class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    >>> vmaprt.tree.register_node(Pair, lambda p: ((p.a, p.b), None),
    ...                           lambda aux, children: Pair(*children))
    >>> vmaprt.vmap(lambda p: p.a * p.b)(Pair(np.ones(3), np.arange(3.0)))   # [3], [3] -> [3]
    array([0., 1., 2.])
    """
    if not isinstance(cls, type):
        raise TypeError(f"vmap: tree.register_node expects a class, but got {cls!r}")
    if not callable(flatten_func) or not callable(unflatten_func):
        raise TypeError(
            "vmap: tree.register_node expects flatten_func(node) -> (children, aux) and "
            "unflatten_func(aux, children) -> node, both callables"
        )
    try:
        optree.register_pytree_node(cls, flatten_func, unflatten_func, namespace=NAMESPACE)
    except ValueError as e:
        raise ValueError(f"vmap: tree.register_node({cls.__name__}) failed: {e}") from None
