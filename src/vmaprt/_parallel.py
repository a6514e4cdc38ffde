"""Splitting a batch over threads, for NumPy calls that release the GIL.

NumPy's ufunc loops and reductions use SIMD but one core.  A batch gives a
free way to use the others: cut it into pieces along the batch axis and run
the same NumPy call on each piece in its own thread, writing into one output.
Results are bit-identical to the single call for elementwise operations, and
for reductions over per-example axes (each example is still reduced by one
NumPy call).  The compiled kernels in ``_core`` use OpenMP for the same
purpose; this is the path for everything NumPy already does well.

Note [thread pool]
    One pool per process, created on first use and resized when
    ``vmaprt.set_num_threads`` changes the count.  The calling thread runs
    the first piece itself, so ``n`` threads need ``n - 1`` workers.  BLAS
    calls made from the pieces are held to one thread each (threadpoolctl),
    so that pieces x BLAS threads never exceed the cores.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _core

__all__ = ["parallel_for", "pieces", "MIN_WORK"]

MIN_WORK = 1 << 19
"""Elements below which one thread does a call: waking a worker and faulting in
a fresh output cost about what NumPy needs for this many elements of exp or
sin.  Measured on 2 cores (docs/performance.rst), splitting pays from about
2^19 elements for transcendental ufuncs, and from 1.5M (``scale=3``) for
reductions and memory-bound arithmetic (add, multiply, maximum, ...), where
the second core helps only once the arrays spill out of the cache."""

_lock = threading.Lock()
_pool = None
_pool_size = 0


def _executor(workers):
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vmaprt")
            _pool_size = workers
        return _pool


def pieces(n, work):
    """How many pieces a batch of ``n`` examples with ``work`` elements in all gets."""
    return max(1, min(_core.get_num_threads(), n, work // (MIN_WORK // 4 or 1)))


def parallel_for(n, work, fn, blas=False):
    """Run ``fn(start, stop)`` over ``[0, n)`` in up to ``get_num_threads()`` pieces.

    ``work`` (elements touched) decides whether splitting pays.  With
    ``blas=True`` the BLAS library runs one thread per piece while the pieces
    run.  Exceptions from any piece are raised here.
    """
    t = pieces(n, work)  # (callers decided splitting pays: work only caps the count)
    if t == 1:
        fn(0, n)
        return
    bounds = [n * i // t for i in range(t + 1)]
    limit = _core.blas_single_thread() if blas else None
    try:
        pool = _executor(_core.get_num_threads() - 1)
        futures = [pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, t)]
        try:
            fn(bounds[0], bounds[1])
        finally:
            for f in futures:
                f.result()
    finally:
        if limit is not None:
            limit.restore_original_limits()


def split_call(func, values, batched, axis, out, **kwargs):
    """``func(*values, out=out, **kwargs)`` with the batch cut along ``axis`` into pieces.

    ``batched[i]`` says whether ``values[i]`` carries the batch at ``axis``
    (the others broadcast from the right and go to every piece whole); ``out``
    is an array or a tuple of arrays with the batch at ``axis``.
    """
    outs = out if isinstance(out, tuple) else (out,)
    n = outs[0].shape[axis]
    lead = (slice(None),) * axis

    def run(start, stop):
        sl = lead + (slice(start, stop),)
        args = [v[sl] if b else v for v, b in zip(values, batched)]
        o = tuple(x[sl] for x in outs)
        func(*args, out=o if isinstance(out, tuple) else o[0], **kwargs)

    parallel_for(n, sum(x.size for x in outs) + sum(v.size for v, b in zip(values, batched) if b), run)
    return out


def worth_splitting(values, size, scale=1):
    """Whether a call over these physical values is big enough to split (ndarrays
    only); ``scale`` multiplies the threshold for cheaper work per element."""
    if _core.get_num_threads() < 2 or size < 2:
        return False
    total = 0
    for v in values:
        if type(v) is np.ndarray:
            total += v.size
        elif hasattr(v, "level"):  # an outer-level BatchedArray: NumPy does not run here
            return False
    return total >= MIN_WORK * scale
