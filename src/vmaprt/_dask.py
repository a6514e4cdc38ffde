"""vmap over Dask arrays: a lazy result, computed one in-memory vmap per block.

``vmaprt.vmap(f)(x)`` with a ``dask.array.Array`` among the inputs builds a
graph instead of computing: one task per block of the batch axis runs the
ordinary pipeline of ``vmaprt/_api.py`` on NumPy blocks, and each output leaf
is a Dask array assembled from those tasks along its out_dim.

Note [Dask inputs]
    ``_api._vmap_call`` sends a call here when any input leaf (positional or
    keyword) is a Dask array, and it looks for one only when ``dask.array`` is
    in ``sys.modules`` already: without Dask nothing imports it.  Here:

    - The inputs are checked by ``_api._process_batched_inputs`` itself, on
      stand-ins with the shapes and dtypes of the Dask leaves (zero-stride
      arrays, no memory), so every error reads as in memory.
    - The batch axis is cut where the first mapped Dask input has its blocks;
      every mapped input is rechunked to those blocks along its in_dim and to
      one chunk on its other axes (NumPy inputs are wrapped first).  Unmapped
      Dask inputs become one chunk that every block reads; other unmapped
      inputs and the keyword arguments travel in the plan, once per graph.
    - Shapes and dtypes of the outputs come from one run of the pipeline on a
      batch of 0 examples (no data computed); if ``f`` cannot run on an empty
      batch (a per-example fallback, or a value check on placeholder zeros),
      on the first example, computed.
    - The graph has one layer of block tasks, each returning the tuple of
      its output leaves (a 1-d Dask array of objects, never computed
      itself), and per output leaf one layer that picks its part of every
      block, chunked along the leaf's out_dim.  An array output with out_dim
      None is the first block's; a non-array one (a string, None) the
      trace's.

Note [Dask blocks and randomness]
    A block is examples ``[offset, offset + n)`` of a batch of ``total``; its
    level carries both, so 'different' draws take the positions they have in
    the whole batch (Note [chunking and randomness] in
    vmaprt/random/__init__.py).  What remains is the counter ``k`` of each draw: every
    block must draw with the counters the generators had when vmap was called.

    - The trace runs ``f`` once when the graph is built, so the caller's
      generators advance then, exactly as one in-memory call advances them.
      Its ``Level.rng_state`` records each generator's counters before its
      first draw: the start state, kept by Philox key.
    - A block runs with a ``vmaprt.random`` ``BlockState`` as its
      ``rng_state``: the first time a generator syncs with the block's level,
      the record it finds is the start state of its key, so the sync puts the
      generator back there.
      Matching by key, not by object, covers every way the generator reaches a
      worker: the caller's own object (threads), a copy pickled with ``f``, or
      a module global that the worker imported afresh.
    - After the block the generators get back the counters they had before
      it, so computing the graph never moves the caller's generators.
    - A generator object may be shared by blocks that run at once (the
      threaded scheduler runs the caller's ``f``), and it is not thread-safe:
      blocks that draw hold one lock per process.  Blocks without draws run in
      parallel.

Note [misaligned blocks]
    dask.distributed may hand a task an array that sits at an address that is
    not a multiple of its itemsize (a view into a received frame).  NumPy
    does not give such arrays to BLAS: ``np.matmul`` then runs its own loop,
    whose sums round differently in the last bit.  A block copies misaligned
    inputs, so its result does not depend on how its data travelled.
"""

import contextlib
import operator
import threading
import uuid

import dask
import dask.array as da
import numpy as np
from dask.highlevelgraph import HighLevelGraph

from . import _api
from . import tree as _tree
from .random._state import BlockState, CallState

__all__ = ["vmap_call"]

_RANDOM_LOCK = threading.Lock()  # Note [Dask blocks and randomness]


def vmap_call(spec, args, kwargs):
    """The lazy result of ``vmap(f, ...)(*args, **kwargs)`` when an input is a Dask array.

    Parameters
    ----------
    spec : vmaprt._api._Spec
        What ``vmap()`` was called with.
    args, kwargs
        The call's arguments; their leaves may be Dask arrays, NumPy arrays or
        anything ``vmap`` accepts.

    Returns
    -------
    dask.array.Array or a pytree of them
        Lazy; ``.compute()`` equals the in-memory call bit for bit, random
        draws included, for every chunking and scheduler.
    """
    n_args = len(_tree.leaves(args))
    leaves, treespec = _tree.flatten((args, kwargs))
    for leaf in leaves:
        if _is_dask(leaf) and any(np.isnan(s) for s in leaf.shape):
            raise ValueError(
                f"vmap({spec.name}): got a Dask array of shape {leaf.shape} with unknown "
                f"chunk sizes; call x.compute_chunk_sizes() (or give the chunks) first"
            )
    stand_ins = _tree.map(lambda x: _stand_in(x) if _is_dask(x) else x, args)
    _, dims, _, size = _api._process_batched_inputs(spec, stand_ins)
    dims = list(dims) + [None] * (len(leaves) - n_args)
    mapped = any(d is not None for d in dims)

    outs, out_dims, out_spec, start = _trace(spec, leaves, dims, treespec, size, mapped)
    if not outs:  # f returned an empty container: nothing to compute
        return _tree.unflatten(out_spec, [])
    chunks = next((x.chunks[d] for x, d in zip(leaves, dims) if d is not None and _is_dask(x)), (size,))
    plan, inputs = _plan(spec, leaves, dims, treespec, size, chunks, mapped, start)
    blocks = _blocks(f"vmap-{spec.name}-{uuid.uuid4().hex}", plan, inputs, chunks)
    results = [_output(blocks, j, out, od) for j, (out, od) in enumerate(zip(outs, out_dims))]
    return results[0] if out_spec is None else _tree.unflatten(out_spec, results)


def _is_dask(x):
    return isinstance(x, da.Array)


def _stand_in(x):
    # Shape and dtype of a Dask array, without memory: what the input checks read.
    return np.broadcast_to(np.zeros((), x.dtype), x.shape)


def _part_spec(spec, n, mapped):
    """``spec`` for a part of ``n`` examples: axis_size is the part's when nothing is mapped."""
    return _api._Spec(
        spec.func, spec.name, spec.in_dims, spec.out_dims, spec.randomness, spec.chunk_size,
        None if mapped else n,
    )


# The trace: output shapes and dtypes, and where the generators start ---------------------------
def _trace(spec, leaves, dims, treespec, size, mapped):
    """Run the pipeline on 0 examples (else on the first one, computed):
    ``(output leaves, out_dims, out treespec, start)``, ``start`` mapping a
    Philox key to the counters its generator had (Note [Dask blocks and randomness])."""
    for n in (0, 1) if size else (0,):
        rng_state = CallState()
        try:
            parts = _trace_inputs(leaves, dims, n)
            args, kwargs = _tree.unflatten(treespec, parts)
            outs, out_dims, out_spec = _api._vmap_part(_part_spec(spec, n, mapped), args, kwargs, 0, size, rng_state)
        except Exception:
            rng_state.rewind()  # undo the failed attempt's draws
            if n == 1 or size == 0:
                raise
            continue
        return outs, out_dims, out_spec, _start_states(spec, rng_state)


def _trace_inputs(leaves, dims, n):
    """The inputs of a trace over ``n`` examples, 0 (placeholders) or 1 (computed)."""
    parts = []
    for x, d in zip(leaves, dims):
        if d is not None:
            x = x[(slice(None),) * d + (slice(0, n),)]
            if _is_dask(x) and n == 0:
                x = np.empty(x.shape, x.dtype)
        elif _is_dask(x) and n == 0:
            x = np.zeros(x.shape, x.dtype)
        parts.append(x)
    return list(dask.compute(*parts)) if n else parts


def _start_states(spec, rng_state):
    start = {}
    for gen, counters in rng_state.starts().items():
        if start.setdefault(gen.key, counters) != counters:
            raise ValueError(
                f"vmap({spec.name}): over Dask arrays, {spec.name} draws from two "
                f"vmaprt.random generators with the same seed (key {gen.key:#x}) but "
                f"different states; blocks find their generators by seed. Seed them "
                f"differently, or spawn one from the other (Generator.spawn)"
            )
    return start


# The graph -------------------------------------------------------------------------------------
class _Plan:
    """What every block shares: the spec, the unmapped inputs, the batch size and
    where the generators start.  One node of the graph, sent to each worker once."""

    __slots__ = ("spec", "template", "chunk_at", "whole_at", "total", "start")

    def __init__(self, spec, template, chunk_at, whole_at, total, start):
        self.spec = spec
        self.template = template  # (args, kwargs) with None where a block's inputs go
        self.chunk_at = chunk_at
        self.whole_at = whole_at
        self.total = total
        self.start = start


def _plan(spec, leaves, dims, treespec, size, chunks, mapped, start):
    """``(plan, inputs)``: ``inputs`` holds ``(array, in_dim)`` for each input a
    block reads from the graph, rechunked: mapped ones cut only along their batch
    axis, at ``chunks``; unmapped Dask arrays in one chunk (in_dim None)."""
    static = list(leaves)
    chunk_at, whole_at, inputs = [], [], []
    for i, (x, d) in enumerate(zip(leaves, dims)):
        if d is not None:
            if not _is_dask(x):
                x = da.from_array(x, chunks=-1, name=False)
            inputs.append((x.rechunk({ax: chunks if ax == d else -1 for ax in range(x.ndim)}), d))
            chunk_at.append(i)
        elif _is_dask(x):
            inputs.append((x.rechunk(-1) if x.ndim else x, None))
            whole_at.append(i)
        else:
            continue
        static[i] = None
    block_spec = _part_spec(spec, size, mapped)
    plan = _Plan(block_spec, _tree.unflatten(treespec, static), chunk_at, whole_at, size, start)
    return plan, inputs


def _blocks(name, plan, inputs, chunks):
    """A 1-d Dask array of objects: block ``b`` is the tuple of output leaves of
    ``_run_block`` over the examples of ``chunks[b]``.  Never computed itself."""
    plan_key = f"{name}-plan"
    layer = {plan_key: plan}
    whole = [(x.name,) + (0,) * x.ndim for x, d in inputs if d is None]
    offset = 0
    for b, n in enumerate(chunks):
        chunk = [(x.name,) + tuple(b if ax == d else 0 for ax in range(x.ndim)) for x, d in inputs if d is not None]
        layer[(name, b)] = (_run_block, plan_key, chunk, whole, offset)
        offset += n
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[x for x, _ in inputs])
    return da.Array(graph, name, (chunks,), meta=np.empty((0,), dtype=object))


def _output(blocks, j, trace_out, od):
    """Output leaf ``j``: its part of every block, along out_dim ``od``."""
    if od is None:  # the same in every block: the first block's (a non-array: the trace's)
        if not isinstance(trace_out, (np.ndarray, np.generic)):
            return trace_out
        ndim = np.ndim(trace_out)
        chunks = tuple((s,) for s in np.shape(trace_out))
        sources = {(0,) * ndim: 0}  # the output chunk's index -> the block it comes from
    else:
        ndim, axis = trace_out.ndim, _api._batch_axis(trace_out, od)
        chunks = tuple(blocks.chunks[0] if ax == axis else (s,) for ax, s in enumerate(trace_out.shape))
        sources = {(0,) * axis + (b,) + (0,) * (ndim - axis - 1): b for b in range(blocks.numblocks[0])}
    name = f"{blocks.name}-out{j}"
    layer = {(name,) + index: (operator.getitem, (blocks.name, b), j) for index, b in sources.items()}
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[blocks])
    return da.Array(graph, name, chunks, meta=np.empty((0,) * ndim, dtype=trace_out.dtype))


# In the worker ---------------------------------------------------------------------------------
def _run_block(plan, chunk_values, whole_values, offset):
    """One block: the in-memory pipeline over examples ``[offset, offset + n)``."""
    leaves, treespec = _tree.flatten(plan.template)
    for at, values in ((plan.chunk_at, chunk_values), (plan.whole_at, whole_values)):
        for i, v in zip(at, values):
            leaves[i] = v if v.flags.aligned else v.copy()  # Note [misaligned blocks]
    args, kwargs = _tree.unflatten(treespec, leaves)
    rng_state = BlockState(plan.start)
    with _RANDOM_LOCK if plan.start else contextlib.nullcontext():
        try:
            outs, _, _ = _api._vmap_part(plan.spec, args, kwargs, offset, plan.total, rng_state)
        finally:
            rng_state.restore()
    return tuple(outs)
