"""The counter state that the parts of one vmap call share (Note [chunking and
randomness] in vmaprt/random/__init__.py).

Every chunk of a chunked call, and every block of a call over Dask arrays,
runs ``func`` again and must draw with the counters the generators had when
the call began.  A :class:`CallState` is the object the parts share: it is
``Level.rng_state``, and a generator syncs with it before each draw.  A
:class:`BlockState` is a Dask block's (Note [Dask blocks and randomness] in
vmaprt/_dask.py).  Outside this module only these classes touch a generator's
counters.
"""


def counters(gen):
    """``(calls, spawned)`` of ``gen``: everything that moves when it draws or spawns."""
    return gen._calls, gen._spawned


def set_counters(gen, state):
    """Put ``gen`` back to ``state``, a value of :func:`counters`."""
    gen._calls, gen._spawned = state


class CallState:
    """The counters each generator had at its first draw under one vmap call, and
    the level (the chunk) that last synced it."""

    __slots__ = ("_first",)

    def __init__(self):
        self._first = {}  # generator -> [calls, spawned, level]

    def sync(self, gen, level):
        """Make ``gen`` draw, at ``level``, as the first part of the call did.

        Its first sync records its counters; the first sync of each later part
        (a different level object sharing this state) puts them back."""
        entry = self._first.get(gen)
        if entry is None:
            entry = self._entry(gen)
        if entry is None:
            self._first[gen] = [gen._calls, gen._spawned, level]
        elif entry[2] is not level:
            gen._calls, gen._spawned, entry[2] = entry[0], entry[1], level

    def _entry(self, gen):
        """The record of a generator not yet seen: none, for a call of its own."""
        return None

    def starts(self):
        """``{generator: counters}`` at each generator's first draw in the call."""
        return {gen: (calls, spawned) for gen, (calls, spawned, _) in self._first.items()}

    def rewind(self):
        """Undo every draw of the call: each generator back to its first counters."""
        for gen, state in self.starts().items():
            set_counters(gen, state)


class BlockState(CallState):
    """A Dask block's state: a generator's first sync finds the start counters of
    its key in ``start`` (``{key: counters}``), so it draws as in the whole
    call; :meth:`restore` then gives the generators back their own counters."""

    __slots__ = ("start", "_found")

    def __init__(self, start):
        super().__init__()
        self.start = start
        self._found = []

    def _entry(self, gen):
        begin = self.start.get(gen.key)
        if begin is None:
            return None
        self._found.append((gen, counters(gen)))
        entry = self._first[gen] = [begin[0], begin[1], None]  # no level yet: this sync resets
        return entry

    def restore(self):
        for gen, state in self._found:
            set_counters(gen, state)
