"""The stack of vmap levels, kept in a context variable.

Each call of a vmapped function pushes one :class:`Level`. A ``BatchedArray``
remembers the level that created it; a batch rule runs at the innermost level
among its arguments and treats values batched only at outer levels as constants.

Note [levels in contextvars]
    The stack lives in a ``contextvars.ContextVar`` holding an immutable tuple,
    so threads (and asyncio tasks) that vmap at the same time each see their own
    stack.

Note [entering a level atomically]
    A KeyboardInterrupt can arrive between any two lines of Python, a
    ``finally`` block included, so no Python code may stand between changing
    the state and the guarantee that it is undone.  A level is therefore never
    popped: :func:`run_in_level` runs the call in a fresh copy of the current
    context (``contextvars.Context.run``), and the level stack and NumPy's data
    allocator (itself a context variable, set there by ``_core.use_cache``) are
    changed only inside that copy.  When ``run`` returns or raises, C code
    switches back to the caller's context: whatever line an exception lands on,
    either nothing happened or everything is undone.  A level is alive while
    the copy exists: it holds the level's only strong reference to a small
    token, which the level watches through a weak reference, so the level dies
    when ``run`` leaves, with no Python line to run.  (Context variables that
    the vmapped function itself sets, such as ``np.seterr``, are scoped to the
    call the same way; ``with np.errstate(...)`` inside it is unaffected.)
"""

import contextvars
import weakref

__all__ = ["Level", "run_in_level", "current_levels"]

_LEVELS = contextvars.ContextVar("vmaprt_levels", default=())
_TOKENS = contextvars.ContextVar("vmaprt_level_tokens", default=())


class _Token:
    __slots__ = ("__weakref__",)


_DEAD = weakref.ref(_Token())  # a level is dead until it is entered


class Level:
    """One active vmap call (or one chunk of it).

    ``depth`` orders levels: a larger depth is further inside.  ``size`` is the
    number of examples this level runs (the chunk length under ``chunk_size``);
    ``offset`` and ``total`` place the chunk in the whole batch, which the
    position-addressed random streams need (Note [chunking and randomness] in
    ``vmaprt/random/__init__.py``).  ``alive`` is True while the call runs and False once
    it has returned, so a ``BatchedArray`` that escapes is refused instead of
    misread (Note [entering a level atomically]).
    """

    __slots__ = ("depth", "size", "randomness", "offset", "total", "rng_state", "_token")

    def __init__(self, depth, size, randomness="error", offset=0, total=None, rng_state=None):
        self.depth = depth
        self.size = size
        self.randomness = randomness
        self.offset = offset
        self.total = size if total is None else total
        # Random bookkeeping owned by vmaprt.random, shared by the chunks of one call.
        self.rng_state = rng_state  # a vmaprt.random CallState, made at the first draw if None
        self._token = _DEAD

    @property
    def alive(self):
        return self._token() is not None

    def __repr__(self):
        return f"Level(depth={self.depth}, size={self.size}, randomness={self.randomness!r})"


def current_levels():
    """The active levels, outermost first."""
    return _LEVELS.get()


def run_in_level(body, size, randomness="error", offset=0, total=None, rng_state=None):
    """``body(level)`` inside a new innermost level, in a copy of the current context
    that is dropped when it returns or raises (Note [entering a level atomically])."""
    return contextvars.copy_context().run(_enter, body, size, randomness, offset, total, rng_state)


def _enter(body, size, randomness, offset, total, rng_state):
    # (runs inside the copied context: nothing here outlives it)
    stack = _LEVELS.get()
    level = Level(len(stack) + 1, size, randomness, offset, total, rng_state)
    token = _Token()
    _TOKENS.set(_TOKENS.get() + (token,))
    level._token = weakref.ref(token)
    del token
    _LEVELS.set(stack + (level,))
    return body(level)
