"""``vmaprt.vmap``.

It reads top to bottom as a pipeline:
``_process_batched_inputs`` (flatten, match in_dims, find the batch size) ->
``_create_batched_inputs`` (wrap mapped leaves as BatchedArrays) -> call
``func`` inside a new level -> ``_unwrap_batched`` (batch axis to out_dims).
Chunking is its own path, ``_chunked_vmap``, around the same steps.  Dask
inputs take another, ``vmaprt/_dask.py``, which runs this pipeline per block.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import optree

from . import _core, _levels
from . import tree as _tree
from ._batched import BatchedArray, level_of, read_only
from .random._state import CallState

if TYPE_CHECKING:
    from ._typing import Dims, Randomness

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")


def vmap(
    func: Callable[..., Any],
    in_dims: Dims = 0,
    out_dims: Dims = 0,
    randomness: Randomness = "error",
    *,
    chunk_size: int | None = None,
    axis_size: int | None = None,
) -> Callable[..., Any]:
    """Vectorize ``func`` over a batch axis of its inputs.

    ``func`` is written for one example.  ``vmap(func)`` runs it on a whole
    batch at once: NumPy calls inside ``func`` see per-example arrays and run
    batched through batch rules, so the result equals
    ``np.stack([func(x[i]) for i in range(n)])`` without the loop.

    Parameters
    ----------
    func : callable
        Takes positional arguments that are arrays or pytrees of arrays.
    in_dims : int, None or tuple, default 0
        Which axis of each input is the batch.  An int or None applies to every
        array leaf of every argument; a tuple gives one entry per positional
        argument, each a prefix of that argument's pytree (an int or None at a
        node covers all leaves below it).  None means "not batched": the value
        is passed to every example as it is.  Negative axes count from the end.
    out_dims : int, None or pytree prefix, default 0
        Where the batch axis goes in each output.  None returns an output that
        is the same for every example unchanged (strings, None, constants).
    randomness : {'error', 'different', 'same'}, default 'error'
        What ``vmaprt.random`` draws inside ``func`` do: refuse, draw
        independently per example, or draw once for the whole batch.
    chunk_size : int, optional
        Run the batch in pieces of at most this many examples, to bound memory.
        Results are identical to the unchunked call, random draws included.
    axis_size : int, optional
        The batch size when no input is mapped (``in_dims`` all None).

    Returns
    -------
    callable
        The batched function, with ``func``'s name and docstring.  Keyword
        arguments are passed to ``func`` unbatched.

    Examples
    --------
    >>> import numpy as np, vmaprt
    >>> x, y = np.ones((2, 5)), np.arange(10.0).reshape(2, 5)
    >>> vmaprt.vmap(np.dot)(x, y)                          # [2, 5], [2, 5] -> [2]
    array([10., 35.])
    >>> vmaprt.vmap(np.dot, in_dims=(0, None))(x, y[0])    # [2, 5], [5] -> [2]
    array([10., 10.])
    >>> vmaprt.vmap(lambda a: a.sum(), in_dims=1)(y)       # [2, 5] -> [5]
    array([ 5.,  7.,  9., 11., 13.])
    """
    name = getattr(func, "__name__", None) or type(func).__name__
    if not callable(func):
        raise ValueError(
            f"vmap: expected a function to vectorize as the first argument, but got "
            f"{type(func).__name__} {func!r}. Use vmaprt.vmap(f)(x), not vmaprt.vmap(x)."
        )
    in_dims = _check_in_dims(in_dims, name)
    _check_dims_tree(out_dims, name, "out_dims")
    if not isinstance(randomness, str) or randomness not in _RANDOMNESS:
        raise ValueError(
            f"vmap({name}): randomness must be one of 'error', 'different' or 'same', "
            f"but got {randomness!r}"
        )
    if chunk_size is not None and (not _is_int(chunk_size) or chunk_size < 1):
        raise ValueError(
            f"vmap({name}): chunk_size must be None or a positive int, but got "
            f"{chunk_size!r}; use e.g. chunk_size=1024, or None to run the batch at once"
        )
    if axis_size is not None and (not _is_int(axis_size) or axis_size < 0):
        raise ValueError(
            f"vmap({name}): axis_size must be None or a non-negative int, but got {axis_size!r}"
        )
    spec = _Spec(func, name, in_dims, out_dims, randomness, chunk_size, axis_size)

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return _vmap_call(spec, args, kwargs)

    return wrapped


class _Spec:
    """What vmap() was called with, checked."""

    __slots__ = ("func", "name", "in_dims", "out_dims", "randomness", "chunk_size", "axis_size")

    def __init__(self, func, name, in_dims, out_dims, randomness, chunk_size, axis_size):
        self.func = func
        self.name = name
        self.in_dims = in_dims
        self.out_dims = out_dims
        self.randomness = randomness
        self.chunk_size = chunk_size
        self.axis_size = axis_size


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_in_dims(in_dims, name):
    if isinstance(in_dims, list):
        in_dims = tuple(in_dims)
    if not (in_dims is None or _is_int(in_dims) or isinstance(in_dims, tuple)):
        if isinstance(in_dims, np.ndarray):  # vmap(f, x): the input passed where in_dims goes
            shown, fix = f"<array of shape {in_dims.shape}>", f"Pass the inputs to the function vmap returns: vmap({name})(x)"
        elif _tree.flatten(in_dims)[1].num_nodes > 1:  # a dict or another pytree node
            shown, fix = repr(in_dims), f"For a single pytree argument, wrap it: in_dims=({in_dims!r},)"
        else:
            shown, fix = repr(in_dims), "Give each batch axis as an int (in_dims=0), or None for an unmapped input"
        raise ValueError(
            f"vmap({name}, in_dims={shown}): in_dims must be an int, None, or a tuple "
            f"with one entry per positional argument, but got {type(in_dims).__name__}. {fix}"
        )
    _check_dims_tree(in_dims, name, "in_dims")
    return in_dims


def _count(n, one, many=None):
    """'1 entry', '2 entries': ``n`` with the noun in the number it takes."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def _check_dims_tree(dims, name, what):
    try:
        leaves = _tree.leaves(dims)
    except Exception as e:  # optree refuses a malformed container
        raise ValueError(f"vmap({name}, {what}={dims!r}): {what} is not a valid pytree: {e}") from None
    for leaf in leaves:
        if leaf is not None and not _is_int(leaf):
            raise ValueError(
                f"vmap({name}, {what}={dims!r}): every entry of {what} must be an int or "
                f"None, but got {leaf!r} of type {type(leaf).__name__}"
                + (" (bool is not accepted as an axis)" if isinstance(leaf, (bool, np.bool_)) else "")
            )


# Inputs --------------------------------------------------------------------------------
def _is_array(x):
    return isinstance(x, (np.ndarray, np.generic, BatchedArray))


def _process_batched_inputs(spec, args):
    """Flatten the inputs and match them with in_dims: ``(leaves, dims, treespec, size)``."""
    in_dims = spec.in_dims
    if type(in_dims) is tuple and len(in_dims) != len(args):
        raise ValueError(
            f"vmap({spec.name}, in_dims={in_dims!r}): in_dims has {_count(len(in_dims), 'entry', 'entries')} "
            f"but {_count(len(args), 'positional argument')} {'was' if len(args) == 1 else 'were'} given; "
            f"give one in_dim per positional argument (keyword arguments are never batched)"
        )
    fast = _flat_inputs(in_dims, args) if spec.axis_size is None else None
    if fast is not None:
        return fast
    leaves, treespec = _tree.flatten(args)
    level_of(leaves)  # refuses a BatchedArray whose vmap has returned
    dims = _broadcast_prefix(spec, in_dims, args, "in_dims", "the inputs")
    size = None
    sizes = []
    for i, (leaf, d) in enumerate(zip(leaves, dims)):
        if d is None:
            continue
        if not _is_array(leaf) or leaf.ndim == 0:
            raise ValueError(_unmappable_leaf(spec, in_dims, args, treespec, i, d, leaf))
        if not -leaf.ndim <= d < leaf.ndim:
            raise ValueError(
                f"vmap({spec.name}, in_dims={in_dims!r}): got in_dim={d} for "
                f"{_describe_leaf(spec, args, treespec, i)} of shape {tuple(leaf.shape)}, "
                f"but it has {leaf.ndim} dimension(s); in_dim must be in "
                f"[{-leaf.ndim}, {leaf.ndim - 1}]"
            )
        d = dims[i] = d % leaf.ndim
        n = leaf.shape[d]
        sizes.append((i, d, n))
        if size is None:
            size = n
    if any(n != size for _, _, n in sizes):
        detail = ", ".join(
            f"{_describe_leaf(spec, args, treespec, i)} (in_dim {d}) has size {n}"
            for i, d, n in sizes
        )
        raise ValueError(f"vmap({spec.name}): inconsistent sizes for the mapped dimension: {detail}")
    if spec.axis_size is not None:
        if size is not None and size != spec.axis_size:
            raise ValueError(
                f"vmap({spec.name}, axis_size={spec.axis_size}): the mapped inputs have "
                f"size {size} along their in_dims, which differs from axis_size"
            )
        size = spec.axis_size
    if size is None:
        raise ValueError(
            f"vmap({spec.name}, in_dims={in_dims!r}): no input is mapped (every in_dim "
            f"is None, or there are no array inputs), so the batch size is unknown. "
            f"Pass axis_size=n, or map at least one input"
        )
    return leaves, dims, treespec, size


def _flat_inputs(in_dims, args):
    """The common case without a pytree walk: array arguments (ndarrays, or the
    BatchedArrays an outer vmap passes in), every in_dim valid, one batch size and
    no axis_size.  None sends the call down the general path, which also produces
    the errors."""
    n = len(args)
    dims = list(in_dims) if type(in_dims) is tuple else [in_dims] * n
    if len(dims) != n:
        return None
    size = None
    for i in range(n):  # (indexing, not zip: this loop is a tenth of a tiny call)
        a = args[i]
        t = type(a)
        if t is not np.ndarray and (t is not BatchedArray or not a.level.alive):
            return None
        d = dims[i]
        if d is None:
            continue
        nd = a.ndim
        if type(d) is not int or not -nd <= d < nd:
            return None
        if d < 0:
            d = dims[i] = d + nd
        length = a.shape[d]
        if size is None:
            size = length
        elif length != size:
            return None
    return None if size is None else (list(args), dims, None, size)


def _broadcast_prefix(spec, prefix, full, what, target):
    """The entries of the prefix tree ``prefix`` for each leaf of ``full``, in leaf order."""
    try:
        broadcast = optree.tree_broadcast_prefix(
            prefix, full, none_is_leaf=True, namespace=_tree.NAMESPACE
        )
    except (ValueError, TypeError):
        # (the structure, not optree's message, which prints the user's data)
        structure = optree.tree_structure(full, none_is_leaf=True, namespace=_tree.NAMESPACE)
        leaves = structure.unflatten([_LEAF] * structure.num_leaves)
        zeros = structure.unflatten([0] * structure.num_leaves)
        part = "argument" if what == "in_dims" else "output"
        raise ValueError(
            f"vmap({spec.name}, {what}={prefix!r}): {what} is not compatible with the "
            f"structure of {target}, which is {leaves!r} (* for each array or other "
            f"leaf). {what} must be an int or None for a whole {part}, or a container "
            f"of the same type and length as the {part} holding ints or None, e.g. "
            f"{what}={zeros!r}"
        ) from None
    # Match by path, not position: an OrderedDict and a dict prefix order keys differently.
    paths, values, _ = _tree.flatten_with_path(broadcast)
    by_path = dict(zip(paths, values))
    return [by_path[p] for p in _tree.flatten_with_path(full)[0]]


class _Leaf:
    def __repr__(self):
        return "*"


_LEAF = _Leaf()


def _arg_names(func, n):
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    return [names[i] if i < len(names) else f"args[{i}]" for i in range(n)]


def _unmappable_leaf(spec, in_dims, args, treespec, i, d, leaf):
    """The message for an int in_dim given to a leaf that has no axis to map."""
    head = f"vmap({spec.name}, in_dims={in_dims!r}): got in_dim={d} for "
    path = _tree.flatten_with_path(args)[0][i]
    arg = args[path[0]]
    if len(path) > 1 and isinstance(arg, (list, tuple)) and _numbers_only(arg):
        # A list of numbers is a pytree of Python numbers to vmap, not an array.
        name = _arg_names(spec.func, len(args))[path[0]]
        return (head + f"argument {name}, which is a Python {type(arg).__name__} of numbers: vmap "
                f"reads a {type(arg).__name__} as a pytree whose leaves (here Python numbers) "
                f"are passed one by one, and a number has no axis to map. To map over its "
                f"elements, convert it to an array first: np.asarray({name})")
    what = "a 0-d array" if _is_array(leaf) else f"of type {type(leaf).__name__}"
    return (head + f"{_describe_leaf(spec, args, treespec, i)}, which is {what}. Only arrays with "
            f"at least one dimension can be mapped; use None as the in_dim of this input")


def _numbers_only(tree):
    """Whether every leaf of ``tree`` is a number (the nested lists np.asarray turns into an array)."""
    return all(isinstance(leaf, (int, float, complex, np.number, np.bool_)) for leaf in _tree.leaves(tree))


def _describe_leaf(spec, args, treespec, i):
    """'argument x' or 'argument y[1]['a']' for leaf ``i`` (only built for error messages)."""
    names = _arg_names(spec.func, len(args))
    if treespec is None:
        return f"argument {names[i]}"
    path = _tree.flatten_with_path(args)[0][i]
    return f"argument {names[path[0]]}" + "".join(f"[{k!r}]" for k in path[1:])


def _create_batched_inputs(leaves, dims, treespec, level):
    batched = [
        leaf if d is None else BatchedArray(_example_scalars(leaf), d, level) for leaf, d in zip(leaves, dims)
    ]
    return tuple(batched) if treespec is None else _tree.unflatten(treespec, batched)


def _example_scalars(leaf):
    """A 1-d input's examples are NumPy scalars in the loop (``x[i]``): a read-only view
    (Note [scalars per example] in vmaprt/_batched.py)."""
    if leaf.ndim != 1 or type(leaf) is not np.ndarray and type(leaf) is not BatchedArray:
        return leaf
    return read_only(leaf)


# Outputs -------------------------------------------------------------------------------------
def _unwrap_batched(spec, out, level, size):
    """Outputs with their batch axis at out_dims: ``(leaves, out_dims, treespec)``."""
    out_dims = spec.out_dims
    if isinstance(out_dims, tuple) and len(out_dims) == 1 and not isinstance(out, tuple):
        out_dims = out_dims[0]
    if type(out_dims) is not tuple and type(out_dims) is not list and type(out) is BatchedArray:
        return [_unwrap_leaf(spec, out, out_dims, level, size, "the output")], [out_dims], None
    leaves, treespec = _tree.flatten(out)
    dims = _broadcast_prefix(spec, out_dims, out, "out_dims", "the outputs")
    unwrapped = [
        _unwrap_leaf(spec, leaf, d, level, size, f"output {i}") for i, (leaf, d) in enumerate(zip(leaves, dims))
    ]
    return unwrapped, dims, treespec


def _unwrap_leaf(spec, leaf, od, level, size, where):
    if type(leaf) is BatchedArray and leaf.level is level:
        if od is None:
            raise ValueError(
                f"vmap({spec.name}, out_dims=...): {where} has out_dim None, but it is "
                f"batched (it depends on the mapped inputs), so it differs between "
                f"examples; give it an int out_dim"
            )
        nd = leaf.value.ndim
        od = _check_out_dim(spec, od, nd, where)
        value, bdim = leaf.value, leaf.bdim
        if type(value) is np.ndarray and not value.flags.writeable:
            value = _writable(value)
        if bdim == od:
            return value
        return np.moveaxis(value, bdim, od)
    if od is None:
        return leaf
    if isinstance(leaf, (int, float, complex)) or _is_array(leaf):  # bool is an int
        x = leaf if type(leaf) is BatchedArray else np.asarray(leaf)
        od = _check_out_dim(spec, od, x.ndim + 1, where)
        shape = tuple(x.shape)
        return np.broadcast_to(np.expand_dims(x, od), shape[:od] + (size,) + shape[od:]).copy()
    raise ValueError(
        f"vmap({spec.name}, out_dims={spec.out_dims!r}): {where} is {leaf!r} of type "
        f"{type(leaf).__name__}, which is not an array, so it cannot be stacked along "
        f"out_dim {od}. Return arrays, or give this output out_dims=None to pass it "
        f"through unchanged"
    )


def _writable(value):
    """An output of one scalar per example is an ordinary array again (Note [scalars
    per example] in vmaprt/_batched.py); a view of a read-only input stays read-only."""
    try:
        value.flags.writeable = True
    except ValueError:
        pass
    return value


def _check_out_dim(spec, od, nd, where):
    if not -nd <= od < nd:
        raise ValueError(
            f"vmap({spec.name}, out_dims={spec.out_dims!r}): out_dim {od} for {where} is "
            f"out of range: a batched output of rank {nd} takes out_dims in [{-nd}, {nd - 1}]"
        )
    return od % nd


# The call -------------------------------------------------------------------------------------
def _vmap_call(spec, args, kwargs):
    # The common call, arrays in and no keywords: no pytree walk and no Dask check.
    flat = None if kwargs or spec.axis_size is not None else _flat_inputs(spec.in_dims, args)
    if flat is not None:
        outs, _, out_spec = _run(spec, *flat, kwargs)
        return outs[0] if out_spec is None else _tree.unflatten(out_spec, outs)
    if _has_dask_leaf(args, kwargs):
        from . import _dask

        return _dask.vmap_call(spec, args, kwargs)
    outs, _, out_spec = _vmap_part(spec, args, kwargs)
    return outs[0] if out_spec is None else _tree.unflatten(out_spec, outs)


def _has_dask_leaf(args, kwargs):
    # Note [Dask inputs]: only look when dask.array is imported already; never import it.
    da = sys.modules.get("dask.array")
    if da is None or (not kwargs and all(type(a) is np.ndarray or type(a) is BatchedArray for a in args)):
        return False
    return any(isinstance(leaf, da.Array) for leaf in _tree.leaves((args, kwargs)))


def _vmap_part(spec, args, kwargs, offset=0, total=None, rng_shared=None):
    """The pipeline for examples ``[offset, offset + n)`` of a batch of ``total``
    (the whole batch by default): ``(output leaves, out_dims, treespec)``.  A Dask
    block runs through here (Note [chunking and randomness])."""
    leaves, dims, treespec, size = _process_batched_inputs(spec, args)
    return _run(spec, leaves, dims, treespec, size, kwargs, offset, total, rng_shared)


def _run(spec, leaves, dims, treespec, size, kwargs, offset=0, total=None, rng_shared=None):
    """Flattened inputs through func: in chunks of ``spec.chunk_size``, or at one level."""
    total = size if total is None else total
    if spec.chunk_size is not None and size > spec.chunk_size:
        return _chunked_vmap(spec, leaves, dims, treespec, size, kwargs, offset, total, rng_shared)
    return _call_level(spec, leaves, dims, treespec, size, kwargs, offset, total, rng_shared)


def _call_level(spec, leaves, dims, treespec, size, kwargs, offset, total, rng_shared):
    def body(level):
        # Note [buffer cache]: while func runs, NumPy allocates array data through
        # vmaprt/_cache.h, which hands batch-sized blocks freed by earlier steps (and
        # earlier calls) out again instead of faulting in fresh pages.  Like the level,
        # the allocator is set in this call's own context only (Note [entering a
        # level atomically] in vmaprt/_levels.py).
        _core.use_cache(leaves)
        batched = _create_batched_inputs(leaves, dims, treespec, level)
        out = spec.func(*batched, **kwargs)
        return _unwrap_batched(spec, out, level, size)

    return _levels.run_in_level(body, size, spec.randomness, offset, total, rng_shared)


def _chunked_vmap(spec, leaves, dims, treespec, size, kwargs, offset, total, rng_shared):
    """Run the batch in chunks of ``spec.chunk_size`` and concatenate along out_dims.

    Each chunk's level knows its offset in the whole batch and shares one random
    bookkeeping object with the others, so random draws come out as in the
    unchunked call (Note [chunking and randomness] in vmaprt/random/__init__.py).
    """
    rng_shared = CallState() if rng_shared is None else rng_shared  # one for every chunk
    parts = []
    for start in range(0, size, spec.chunk_size):
        stop = min(start + spec.chunk_size, size)
        chunk = [
            leaf if d is None else leaf[(slice(None),) * d + (slice(start, stop),)]
            for leaf, d in zip(leaves, dims)
        ]
        parts.append(
            _call_level(spec, chunk, dims, treespec, stop - start, kwargs, offset + start, total, rng_shared)
        )
    _, out_dims, out_spec = parts[0]
    outs = [
        parts[0][0][j] if od is None else np.concatenate([p[0][j] for p in parts], axis=_batch_axis(p0, od))
        for j, (od, p0) in enumerate(zip(out_dims, parts[0][0]))
    ]
    return outs, out_dims, out_spec


def _batch_axis(unwrapped, od):
    return od % np.ndim(unwrapped) if od < 0 else od
