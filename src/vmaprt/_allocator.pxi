# Memory for batch temporaries: NumPy's allocator hook (NEP 49) over the buffer cache of _cache.h.
# Included by _core.pyx, which holds the cimports, the externs and the shared
# helpers for strided views.

# Memory for batch temporaries (vmaprt/_cache.h) ------------------------------------------
cdef extern from "_cache.h":
    object _cache_capsule "vmaprt_cache_capsule"(size_t limit)
    size_t _cache_set_limit "vmaprt_cache_set_limit"(size_t limit) noexcept nogil
    size_t _cache_limit "vmaprt_cache_limit"() noexcept nogil
    void _cache_stats "vmaprt_cache_stats"(size_t* out) noexcept nogil
    void _cache_after_fork "vmaprt_cache_after_fork"() noexcept nogil

cdef extern from "numpy/arrayobject.h":
    object PyDataMem_SetHandler(object handler)


def _default_cache_limit():
    mb = os.environ.get("VMAPRT_CACHE_MB", "").strip()
    if not mb:
        return 64 << 20
    try:
        value = int(mb)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"vmaprt: VMAPRT_CACHE_MB must be a whole number of megabytes >= 0 "
                         f"(0 turns the cache off), got {mb!r}")
    return value << 20


_CACHE = _cache_capsule(_default_cache_limit())


CACHE_INPUT_MIN = 1 << 16
"""Bytes of the largest input below which a vmapped call leaves NumPy's allocator
alone: its temporaries are rarely cacheable (256 KiB and up), and swapping the
allocator in and out costs about 0.7 µs of the 10 µs a tiny call takes."""


def use_cache(leaves):
    """Make the buffer cache NumPy's data allocator in the current context while
    a vmapped function runs on ``leaves`` (its inputs), if one of them has at
    least ``CACHE_INPUT_MIN`` bytes.  NumPy keeps the allocator in a context
    variable, and a vmap call runs in a copy of the context, so leaving that
    copy puts the caller's allocator back: nothing has to undo this."""
    if not _cache_limit():
        return
    for leaf in leaves:
        if type(leaf) is np.ndarray and cnp.PyArray_NBYTES(<cnp.ndarray>leaf) >= CACHE_INPUT_MIN:
            PyDataMem_SetHandler(_CACHE)
            return


def set_cache_limit(nbytes):
    """Keep at most ``nbytes`` of freed batch-sized buffers for reuse inside ``vmap``.

    Parameters
    ----------
    nbytes : int
        Bytes the cache may hold (default 64 MiB, or ``VMAPRT_CACHE_MB``
        megabytes).  0 turns the cache off and gives back what it holds.

    Returns
    -------
    int
        The previous limit.

    Examples
    --------
    >>> import vmaprt
    >>> old = vmaprt.set_cache_limit(0)      # no cache: every temporary is fresh memory
    >>> vmaprt.set_cache_limit(old)
    0
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"set_cache_limit: expected a number of bytes >= 0 (0 turns the cache off), got {nbytes!r}")
    return _cache_set_limit(nbytes)


def cache_info():
    """``{'bytes', 'blocks', 'hits', 'misses', 'limit'}`` of the buffer cache."""
    cdef size_t s[4]
    _cache_stats(s)
    return {"bytes": s[0], "blocks": s[1], "hits": s[2], "misses": s[3], "limit": _cache_limit()}
