"""The stack of vmap levels, kept in a context variable.

Each call of a vmapped function pushes one :class:`Level`. A ``BatchedArray``
remembers the level that created it; a batch rule runs at the innermost level
among its arguments and treats values batched only at outer levels as constants.

Note [levels in contextvars]
    The stack lives in a ``contextvars.ContextVar`` holding an immutable tuple,
    so threads (and asyncio tasks) that vmap at the same time each see their own
    stack, and leaving a level is a ``reset`` in ``try/finally``: an exception
    inside the user's function leaves nothing behind.
"""

import contextvars

__all__ = ["Level", "push", "pop", "current_levels"]

_LEVELS = contextvars.ContextVar("vmaprt_levels", default=())


class Level:
    """One active vmap call (or one chunk of it).

    ``depth`` orders levels: a larger depth is further inside.  ``size`` is the
    number of examples this level runs (the chunk length under ``chunk_size``);
    ``offset`` and ``total`` place the chunk in the whole batch, which the
    position-addressed random streams need (Note [chunking and randomness] in
    ``vmaprt/random.py``).  ``alive`` turns False when the call returns, so a
    ``BatchedArray`` that escapes is refused instead of misread.
    """

    __slots__ = ("depth", "size", "randomness", "offset", "total", "alive", "rng_state")

    def __init__(self, depth, size, randomness="error", offset=0, total=None, rng_state=None):
        self.depth = depth
        self.size = size
        self.randomness = randomness
        self.offset = offset
        self.total = size if total is None else total
        self.alive = True
        # Random bookkeeping owned by vmaprt.random, shared by the chunks of one call.
        self.rng_state = rng_state  # a vmaprt.random CallState, made at the first draw if None

    def __repr__(self):
        return f"Level(depth={self.depth}, size={self.size}, randomness={self.randomness!r})"


def current_levels():
    """The active levels, outermost first."""
    return _LEVELS.get()


def push(size, randomness="error", offset=0, total=None, rng_state=None):
    """Enter a new innermost level; returns ``(level, token)`` for :func:`pop`."""
    stack = _LEVELS.get()
    level = Level(len(stack) + 1, size, randomness, offset, total, rng_state)
    return level, _LEVELS.set(stack + (level,))


def pop(level, token):
    """Leave ``level``: it is dead from now on, and the stack is what it was."""
    level.alive = False
    _LEVELS.reset(token)
