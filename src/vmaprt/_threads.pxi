# The thread runtime: how many threads the kernels use, the fork hook, BLAS limits.
# Included by _core.pyx, which holds the cimports, the externs and the shared
# helpers for strided views.

# Threads -----------------------------------------------------------------------
def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


cdef int _num_threads = _default_threads()


def set_num_threads(n):
    """Set how many threads the compiled kernels spread a batch over.

    Parameters
    ----------
    n : int
        A positive number of threads.  The default is the number of cores this
        process may use, or ``OMP_NUM_THREADS`` when that is set.

    Examples
    --------
    >>> import vmaprt
    >>> old = vmaprt.get_num_threads()
    >>> vmaprt.set_num_threads(1); vmaprt.get_num_threads()
    1
    >>> vmaprt.set_num_threads(old)
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(
            f"vmap: set_num_threads expects a positive int, but got {n!r}; "
            f"use e.g. vmaprt.set_num_threads(2)"
        )
    if _forked and n > 1:
        raise RuntimeError(
            f"vmap: set_num_threads({n!r}) in a process forked from a vmaprt process: "
            f"OpenMP cannot start threads after fork(), so kernels here run on one "
            f"thread; start worker processes with multiprocessing's 'spawn' or "
            f"'forkserver' method to use threads in them"
        )
    _num_threads = int(n)


# Note [fork]
#     libgomp's thread pool does not survive fork(): the child's first parallel
#     loop waits forever for the parent's threads.  A forked child therefore runs
#     every kernel on one thread (PyTorch does the same), and the buffer cache's
#     lock is made anew there.
cdef bint _forked = False


def _after_fork_in_child():
    global _num_threads, _forked
    _forked = True
    _num_threads = 1
    _cache_after_fork()


if hasattr(os, "register_at_fork"):  # (POSIX only; Windows has no fork)
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_num_threads():
    """How many threads the compiled kernels use (see :func:`set_num_threads`)."""
    return _num_threads


cdef inline int _threads_for(Py_ssize_t work) noexcept nogil:
    # Waking a sleeping OpenMP thread (OMP_WAIT_POLICY=passive) took 15-20 us on
    # the 2-core VMs: a second thread lost below 2**18 elements of a dot or sum
    # (2.5x slower at 2**15, 1.2-1.3x at 2**18) and won from 2**19 (0.5-0.8x).
    if work < 262144:
        return 1
    return _num_threads


_blas_controller = None


def blas_single_thread():
    """BLAS held to one thread while our threads each call it (threadpoolctl).

    One controller for the package: ``vmaprt._parallel`` uses it too."""
    global _blas_controller
    if _blas_controller is None:
        from threadpoolctl import ThreadpoolController
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")
