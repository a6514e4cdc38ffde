"""Seeded random numbers that vmap knows about: ``vmaprt.random``.

``default_rng(seed)`` returns a :class:`Generator` with NumPy's methods and
signatures.  Outside vmap it is an ordinary seeded generator.  Inside
``vmap(f, randomness=...)`` every draw follows the mode of the active levels:

- ``'error'`` (the default): any draw raises RuntimeError.
- ``'same'``: one draw, shared by every example of that level.
- ``'different'``: the draw equals the unbatched draw with the batch sizes of
  the 'different' levels prepended, outer levels first, so example ``i`` gets
  its own values, identical for every ``chunk_size`` and for every batch that
  contains example ``i`` at the same index.

>>> import numpy as np, vmaprt
>>> rng = vmaprt.random.default_rng(0)
>>> noisy = vmaprt.vmap(lambda x: x + rng.normal(size=3), randomness="different")
>>> X = np.zeros((4, 3))
>>> out = noisy(X)                                        # [4, 3] -> [4, 3]
>>> np.array_equal(out, X + vmaprt.random.default_rng(0).normal(size=(4, 3)))
True

Note [positions of a batched draw]
    Every value a generator produces has an address: the generator's key, the
    number ``k`` of the call (its counter: the k-th draw of this generator),
    and the value's flat position ``p`` in the whole unbatched draw (Note
    [Philox stream layout] in vmaprt/_philox.pxi gives the Philox counter of
    each).  Under 'different' levels ``d_1 .. d_L`` (outer first) the unbatched
    draw has shape ``(T_1, .., T_L) + shape``, where ``T_j`` is the level's
    full batch size (``Level.total``), so the value at example indices
    ``(i_1, .., i_L)`` and per-example flat index ``q`` has position
    ``((i_1 T_2 + i_2) T_3 + ..) * prod(shape) + q`` with ``i_j`` the index in
    the whole batch: ``Level.offset`` plus the index inside the chunk.  For
    the innermost 'different' level these positions are one contiguous run
    per combination of the outer indices; the kernels fill runs.  'same'
    levels add nothing to a position.  A parameter batched at a 'same' level
    (``vmap(lambda lam: rng.poisson(lam), randomness='same')``) adds an axis
    to the physical result along which the positions repeat.  Joint draws
    (``permutation``, ``shuffle``, ``choice`` without replacement) are one row
    per example: the row's position is its flat index over the 'different'
    levels, and the row reads that position's sub-stream.

Note [chunking and randomness]
    Under ``chunk_size`` every chunk runs ``func`` again, at a level with its
    own ``offset``; all chunks make the same calls.  The chunks of one vmap
    call share ``Level.rng_state``, a ``CallState`` (``_state.py``).  The first
    time a generator draws (or spawns) under a level, the state records the
    generator's counters and that chunk's level; when a later chunk (a
    different level object with the same state) first uses the generator, its
    counters are put back to the recorded ones.  So every chunk draws with the
    same ``k`` as the first, and after the last chunk the generator has
    advanced as for one unbatched call.  With nested levels each level does
    this, outermost first.  An unchunked level makes a state of its own at its
    first draw and never resets anything.

The package's modules: ``_generator`` (the Generator and its methods),
``_layout`` (where the values of a batched draw live), ``_params`` (the
checks and conversions of the methods' arguments, as NumPy's) and
``_state`` (the counters the chunks of a call, and the blocks of a Dask
call, share).
"""

from ._generator import Generator, _restore, default_rng  # noqa: F401  (_restore: for pickles)

__all__ = ["Generator", "default_rng"]
# _restore stays importable here: pickles of a Generator name vmaprt.random._restore.
