# cython: language_level=3
"""Compiled strided kernels.

Every kernel takes raw pointers and element strides, the batch stride
included, so any view (transposed, stepped, reversed, zero-stride broadcast)
is read in place.  Each has two layers: a ``cdef ... noexcept nogil`` kernel
whose docstring is its formula, and a thin ``def`` wrapper that checks
dtypes, allocates the output and releases the GIL.  Compiler directives are
set once in ``setup.py`` (``VMAPRT_DEBUG_BUILD=1`` turns bounds checks on).
"""

import os

cimport cython
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, NAN, cos, exp, fabs, isfinite, log, sin, sqrt, tanh
from scipy.linalg.cython_blas cimport cgemm, dgemm, sgemm, zgemm

ctypedef float complex floatcomplex
ctypedef double complex doublecomplex

import numpy as np

cnp.import_array()

cdef extern from *:
    """
    #ifndef VMAPRT_DEBUG
    #define VMAPRT_DEBUG 0
    #endif
    """
    int VMAPRT_DEBUG

cdef extern from "_simd.h":
    enum:
        VMAPRT_EXP
        VMAPRT_TANH
        VMAPRT_SIN
        VMAPRT_COS
        VMAPRT_LOG
    int _unary_n "vmaprt_unary_n"(int op, const double* x, Py_ssize_t s, double shift, double* out,
                                  Py_ssize_t n, int use_libm) noexcept nogil
    int _has_avx2 "vmaprt_has_avx2"() noexcept nogil
    double _rowext_avx2 "vmaprt_rowext_avx2"(const double* x, Py_ssize_t n, int largest) noexcept nogil
    void _rowsum4_avx2 "vmaprt_rowsum4_avx2"(const double* x, Py_ssize_t ld, Py_ssize_t n, double* out) noexcept nogil
    void _rowext4_avx2 "vmaprt_rowext4_avx2"(const double* x, Py_ssize_t ld, Py_ssize_t n, int largest,
                                             double* out) noexcept nogil
    double _dot_avx2 "vmaprt_dot_avx2"(const double* a, const double* b, Py_ssize_t n) noexcept nogil

HAS_AVX2 = bool(_has_avx2())
"""Whether this CPU runs the AVX2 copies of the kernels (vmaprt/_simd.h)."""

DEBUG_BUILD = bool(VMAPRT_DEBUG)
"""True when built with VMAPRT_DEBUG_BUILD=1 (Cython's bounds and None checks on, -O0)."""


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


# Strided views -------------------------------------------------------------------
cdef inline bint _elem_strides(cnp.ndarray x, Py_ssize_t* out) noexcept:
    """Byte strides of ``x`` as element strides; False if one is not a whole element."""
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(x)
    cdef int d
    for d in range(cnp.PyArray_NDIM(x)):
        if cnp.PyArray_STRIDES(x)[d] % item:
            return False
        out[d] = cnp.PyArray_STRIDES(x)[d] // item
    return True


cdef inline int _real_type(x) noexcept:
    """NPY_FLOAT or NPY_DOUBLE for a native-order float32 or float64 ndarray, else
    -1.  Read from the C struct: comparing ``x.dtype`` with ``np.float64`` costs
    about 0.15 us, a sizeable part of a tiny call."""
    if type(x) is not np.ndarray:
        return -1
    cdef cnp.ndarray a = x
    cdef int t = cnp.PyArray_TYPE(a)
    if (t == cnp.NPY_DOUBLE or t == cnp.NPY_FLOAT) and cnp.PyArray_ISNOTSWAPPED(a):
        return t
    return -1


# Batched dot -------------------------------------------------------------------------
cdef inline floating _dot1(Py_ssize_t n, const floating* a, Py_ssize_t sa,
                           const floating* b, Py_ssize_t sb) noexcept nogil:
    """sum_k a[k * sa] * b[k * sb], accumulated in double with four partial sums."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t k = 0
    if sa == 1 and sb == 1:
        while k + 4 <= n:
            s0 += <double>a[k] * b[k]
            s1 += <double>a[k + 1] * b[k + 1]
            s2 += <double>a[k + 2] * b[k + 2]
            s3 += <double>a[k + 3] * b[k + 3]
            k += 4
    else:
        while k + 4 <= n:
            s0 += <double>a[k * sa] * b[k * sb]
            s1 += <double>a[(k + 1) * sa] * b[(k + 1) * sb]
            s2 += <double>a[(k + 2) * sa] * b[(k + 2) * sb]
            s3 += <double>a[(k + 3) * sa] * b[(k + 3) * sb]
            k += 4
    while k < n:
        s0 += <double>a[k * sa] * b[k * sb]
        k += 1
    return <floating>((s0 + s1) + (s2 + s3))


cdef void dot_kernel(Py_ssize_t nbatch, Py_ssize_t n,
                     const floating* a, Py_ssize_t a_b, Py_ssize_t a_k,
                     const floating* b, Py_ssize_t b_b, Py_ssize_t b_k,
                     floating* out, int nthreads) noexcept nogil:
    """out[i] = sum_k a[i * a_b + k * a_k] * b[i * b_b + k * b_k]"""
    cdef Py_ssize_t i
    if floating is double and a_k == 1 and b_k == 1 and n >= 16 and _has_avx2():
        if nthreads > 1:
            for i in prange(nbatch, schedule="static", num_threads=nthreads):
                out[i] = _dot_avx2(a + i * a_b, b + i * b_b, n)
        else:
            for i in range(nbatch):
                out[i] = _dot_avx2(a + i * a_b, b + i * b_b, n)
    elif nthreads > 1:
        for i in prange(nbatch, schedule="static", num_threads=nthreads):
            out[i] = _dot1(n, a + i * a_b, a_k, b + i * b_b, b_k)
    else:
        for i in range(nbatch):
            out[i] = _dot1(n, a + i * a_b, a_k, b + i * b_b, b_k)


cdef inline bint _dot_operands(a, Py_ssize_t ab, b, Py_ssize_t bb) noexcept:
    """Two 2-D float32 or float64 ndarrays of one native-order dtype and one shape,
    with batch axes ``ab``, ``bb`` in {0, 1}.  Read from the C structs: done with
    Python attributes and dtype comparisons, these checks took longer than a
    tiny dot's kernel."""
    cdef int t = _real_type(a)
    if t < 0 or t != _real_type(b) or not (0 <= ab <= 1 and 0 <= bb <= 1):
        return False
    cdef cnp.ndarray A = a, B = b
    if cnp.PyArray_NDIM(A) != 2 or cnp.PyArray_NDIM(B) != 2:
        return False
    cdef cnp.npy_intp* da = cnp.PyArray_DIMS(A)
    cdef cnp.npy_intp* db = cnp.PyArray_DIMS(B)
    return da[ab] == db[bb] and da[1 - ab] == db[1 - bb]


DOT_MAX_N = 64
"""The longest vectors :func:`batched_dot` takes, unless both are contiguous
float64 rows on an AVX2 CPU.  On [100000, 8] it runs in 0.45x the time of
NumPy's best (einsum) and ties at 64; from 256 on, np.vecdot's BLAS dot per row
is faster than the plain kernel, but not than its AVX2+FMA copy (0.35-0.7x on
[500, 1000] and [100, 10000]; docs/performance.rst)."""


def dot_wins(a, ab, b, bb):
    """Whether :func:`batched_dot` is the fastest way to batch this dot: two
    float32 or float64 ndarrays, each a batch of vectors of at most
    ``DOT_MAX_N`` elements, or of contiguous float64 vectors of any length
    where the CPU has AVX2."""
    if ab is None or bb is None or not _dot_operands(a, ab, b, bb):
        return False
    cdef cnp.ndarray A = a, B = b
    cdef Py_ssize_t ka = 1 - <Py_ssize_t>ab, kb = 1 - <Py_ssize_t>bb
    return cnp.PyArray_DIMS(A)[ka] <= DOT_MAX_N or (
        HAS_AVX2 and cnp.PyArray_TYPE(A) == cnp.NPY_DOUBLE
        and cnp.PyArray_STRIDES(A)[ka] == 8 and cnp.PyArray_STRIDES(B)[kb] == 8)


def batched_dot(a, Py_ssize_t ab, b, Py_ssize_t bb):
    """``out[i] = a[i] . b[i]`` for two batches of vectors; ``ab``/``bb`` is the batch axis.

    ``a`` and ``b`` are float32 or float64 arrays of shape ``[B, n]`` (or
    ``[n, B]`` with batch axis 1) with any strides.  Returns a new ``[B]``
    array of the same dtype.
    """
    if not _dot_operands(a, ab, b, bb):
        raise TypeError(
            f"batched_dot expects two float32/float64 2-D arrays of the same dtype and "
            f"matching shape, got {a.dtype}{a.shape} and {b.dtype}{b.shape}"
        )
    cdef Py_ssize_t sa[2]
    cdef Py_ssize_t sb[2]
    cdef cnp.ndarray A = a, B = b
    if not (_elem_strides(A, sa) and _elem_strides(B, sb)):
        A, B = np.ascontiguousarray(A), np.ascontiguousarray(B)
        _elem_strides(A, sa)
        _elem_strides(B, sb)
    cdef cnp.npy_intp nbatch = A.shape[ab], n = A.shape[1 - ab]
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &nbatch, cnp.PyArray_TYPE(A), 0)
    cdef int nthreads = _threads_for(nbatch * n)
    if cnp.PyArray_TYPE(A) == cnp.NPY_DOUBLE:
        with nogil:
            dot_kernel(nbatch, n, <const double*>cnp.PyArray_DATA(A), sa[ab], sa[1 - ab],
                       <const double*>cnp.PyArray_DATA(B), sb[bb], sb[1 - bb],
                       <double*>cnp.PyArray_DATA(out), nthreads)
    else:
        with nogil:
            dot_kernel(nbatch, n, <const float*>cnp.PyArray_DATA(A), sa[ab], sa[1 - ab],
                       <const float*>cnp.PyArray_DATA(B), sb[bb], sb[1 - bb],
                       <float*>cnp.PyArray_DATA(out), nthreads)
    return out


# Batched small matmul ------------------------------------------------------------------
# (the fused type ``scalar``, float/double and their complex types, is in _core.pxd)

cdef inline void _mm1(Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                      const scalar* a, Py_ssize_t ai, Py_ssize_t al,
                      const scalar* b, Py_ssize_t bl, Py_ssize_t bj,
                      scalar* c, Py_ssize_t ci, Py_ssize_t cj) noexcept nogil:
    """c[i, j] = sum_l a[i, l] * b[l, j] for one matrix (inlined with constant sizes)"""
    cdef Py_ssize_t i, j, l
    cdef scalar s
    for i in range(n):
        for j in range(m):
            s = a[i * ai] * b[j * bj]
            for l in range(1, k):
                s = s + a[i * ai + l * al] * b[l * bl + j * bj]
            c[i * ci + j * cj] = s


cdef inline void _mm_batch(Py_ssize_t nb, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                           const scalar* a, Py_ssize_t ab, Py_ssize_t ai, Py_ssize_t al,
                           const scalar* b, Py_ssize_t bb, Py_ssize_t bl, Py_ssize_t bj,
                           scalar* c, Py_ssize_t cb, Py_ssize_t ci, Py_ssize_t cj,
                           int nthreads) noexcept nogil:
    cdef Py_ssize_t z
    if nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            _mm1(n, k, m, a + z * ab, ai, al, b + z * bb, bl, bj, c + z * cb, ci, cj)
    else:
        for z in range(nb):
            _mm1(n, k, m, a + z * ab, ai, al, b + z * bb, bl, bj, c + z * cb, ci, cj)


cdef void matmul_kernel(Py_ssize_t nb, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                        const scalar* a, Py_ssize_t ab, Py_ssize_t ai, Py_ssize_t al,
                        const scalar* b, Py_ssize_t bb, Py_ssize_t bl, Py_ssize_t bj,
                        scalar* c, Py_ssize_t cb, Py_ssize_t ci, Py_ssize_t cj,
                        int nthreads) noexcept nogil:
    """c[z, i, j] = sum_l a[z * ab + i * ai + l * al] * b[z * bb + l * bl + j * bj]

    The square sizes 2, 3 and 4 are separate calls with constant sizes, which
    the compiler unrolls completely; other sizes run the same loops with
    variable bounds.
    """
    if n == k == m == 3:
        _mm_batch(nb, 3, 3, 3, a, ab, ai, al, b, bb, bl, bj, c, cb, ci, cj, nthreads)
    elif n == k == m == 2:
        _mm_batch(nb, 2, 2, 2, a, ab, ai, al, b, bb, bl, bj, c, cb, ci, cj, nthreads)
    elif n == k == m == 4:
        _mm_batch(nb, 4, 4, 4, a, ab, ai, al, b, bb, bl, bj, c, cb, ci, cj, nthreads)
    elif k == 3 and m == 1:
        _mm_batch(nb, n, 3, 1, a, ab, ai, al, b, bb, bl, bj, c, cb, ci, cj, nthreads)
    else:
        _mm_batch(nb, n, k, m, a, ab, ai, al, b, bb, bl, bj, c, cb, ci, cj, nthreads)


_MATMUL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64),
                  np.dtype(np.complex64), np.dtype(np.complex128))

MATMUL_MAX = 4
"""The largest matrix side the unrolled kernel takes (it is unrolled for 2, 3, 4).
On [100000, 3, 3] it takes 0.43x NumPy's time; at side 8 its loops with
variable bounds lose to BLAS (benchmarks/, docs/performance.rst)."""

GEMM_MAX = 32
"""The largest matrix side that goes to :func:`batched_gemm` (one single-threaded
BLAS call per example, spread over threads): 0.32x NumPy on [2000, 16, 16];
around side 64 NumPy's own loop over BLAS is as fast, so it takes over."""


def _matmul_operand(x, bdim):
    if type(x) is not np.ndarray or x.ndim != 2 + (bdim is not None):
        return False
    return x.dtype in _MATMUL_DTYPES


def matmul_path(a, ab, b, bb):
    """Which kernel should batch this matmul of two stacks (or a stack and one
    matrix) of one float or complex dtype: ``batched_matmul`` for small
    matrices, ``batched_gemm`` for middle sizes, or None (NumPy)."""
    if not (_matmul_operand(a, ab) and _matmul_operand(b, bb)) or a.dtype != b.dtype:
        return None
    if ab is None and bb is None:
        return None
    sa = a.shape if ab is None else a.shape[:ab] + a.shape[ab + 1:]
    sb = b.shape if bb is None else b.shape[:bb] + b.shape[bb + 1:]
    if sa[1] != sb[0]:
        return None
    side = max(sa[0], sa[1], sb[1])
    if side <= MATMUL_MAX:
        return batched_matmul
    if side <= GEMM_MAX:
        return batched_gemm
    return None


def matmul_wins(a, ab, b, bb):
    """Whether :func:`batched_matmul` takes these operands (see :func:`matmul_path`)."""
    return matmul_path(a, ab, b, bb) is batched_matmul


def batched_matmul(a, ab, b, bb):
    """``c[z] = a[z] @ b[z]`` for stacks of small matrices, reading any strides.

    ``ab``/``bb`` is the batch axis of ``a``/``b`` among their three axes, or
    None for a single matrix used by every example (batch stride 0).
    Returns a new C-contiguous ``[B, n, m]`` array.
    """
    if not matmul_wins(a, ab, b, bb) or (ab is None and bb is None):
        raise TypeError(
            f"batched_matmul expects small float or complex matrices of one dtype, at "
            f"least one of them batched; got {a.dtype}{a.shape} and {b.dtype}{b.shape}"
        )
    cdef Py_ssize_t sa[3]
    cdef Py_ssize_t sb[3]
    cdef cnp.ndarray A = a, B = b
    if not _elem_strides(A, sa):
        A = np.ascontiguousarray(A)
        _elem_strides(A, sa)
    if not _elem_strides(B, sb):
        B = np.ascontiguousarray(B)
        _elem_strides(B, sb)
    # (batch stride, row stride, column stride) of each operand.
    cdef Py_ssize_t a_b = 0, a_i, a_l, b_b = 0, b_l, b_j, nb
    if ab is None:
        a_i, a_l = sa[0], sa[1]
    else:
        a_b = sa[ab]
        a_i, a_l = [sa[d] for d in range(3) if d != ab]
    if bb is None:
        b_l, b_j = sb[0], sb[1]
    else:
        b_b = sb[bb]
        b_l, b_j = [sb[d] for d in range(3) if d != bb]
    nb = A.shape[ab] if ab is not None else B.shape[bb]
    pa = [A.shape[d] for d in range(A.ndim) if d != ab]
    pb = [B.shape[d] for d in range(B.ndim) if d != bb]
    cdef Py_ssize_t n = pa[0], k = pa[1], m = pb[1]
    cdef cnp.ndarray C = np.empty((nb, n, m), dtype=A.dtype)
    cdef int nthreads = _threads_for(nb * n * m * k)
    cdef void* pA = cnp.PyArray_DATA(A)
    cdef void* pB = cnp.PyArray_DATA(B)
    cdef void* pC = cnp.PyArray_DATA(C)
    cdef Py_ssize_t cb = n * m
    if cnp.PyArray_TYPE(A) == cnp.NPY_DOUBLE:
        with nogil:
            matmul_kernel(nb, n, k, m, <const double*>pA, a_b, a_i, a_l, <const double*>pB, b_b, b_l, b_j,
                          <double*>pC, cb, m, 1, nthreads)
    elif cnp.PyArray_TYPE(A) == cnp.NPY_FLOAT:
        with nogil:
            matmul_kernel(nb, n, k, m, <const float*>pA, a_b, a_i, a_l, <const float*>pB, b_b, b_l, b_j,
                          <float*>pC, cb, m, 1, nthreads)
    elif cnp.PyArray_TYPE(A) == cnp.NPY_CDOUBLE:
        with nogil:
            matmul_kernel(nb, n, k, m, <const double complex*>pA, a_b, a_i, a_l,
                          <const double complex*>pB, b_b, b_l, b_j, <double complex*>pC, cb, m, 1, nthreads)
    else:
        with nogil:
            matmul_kernel(nb, n, k, m, <const float complex*>pA, a_b, a_i, a_l,
                          <const float complex*>pB, b_b, b_l, b_j, <float complex*>pC, cb, m, 1, nthreads)
    return C


# Reductions over one per-example axis ---------------------------------------------------

cdef enum:
    R_SUM, R_MEAN, R_PROD, R_MAX, R_MIN, R_VAR, R_STD, R_ARGMAX, R_ARGMIN

REDUCTIONS = {"sum": R_SUM, "mean": R_MEAN, "prod": R_PROD, "max": R_MAX, "min": R_MIN,
              "var": R_VAR, "std": R_STD, "argmax": R_ARGMAX, "argmin": R_ARGMIN}


cdef inline double _sum1(Py_ssize_t n, const floating* x, Py_ssize_t s) noexcept nogil:
    """sum_k x[k * s] in double, eight partial sums (the compiler pairs them into SIMD)"""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0
    cdef Py_ssize_t k = 0
    if s == 1:
        while k + 8 <= n:
            s0 += x[k]; s1 += x[k + 1]; s2 += x[k + 2]; s3 += x[k + 3]
            s4 += x[k + 4]; s5 += x[k + 5]; s6 += x[k + 6]; s7 += x[k + 7]
            k += 8
    while k < n:
        s0 += x[k * s]
        k += 1
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@cython.cdivision(True)  # (IEEE in the debug build too)
cdef inline double _var1(Py_ssize_t n, const floating* x, Py_ssize_t s, double ddof) noexcept nogil:
    """The variance of x[k * s] with max(n - ddof, 0) degrees of freedom, as NumPy
    divides (inf, or NaN for 0 / 0, when ddof >= n): the mean, then the squared
    deviations from it (the textbook stable two-pass form, per example, so the
    second pass reads a row that is still in cache)"""
    if n == 0:
        return NAN
    cdef double mean = _sum1(n, x, s) / n
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0, d0, d1, d2, d3
    cdef Py_ssize_t k = 0
    if s == 1:
        while k + 4 <= n:
            d0 = x[k] - mean; d1 = x[k + 1] - mean; d2 = x[k + 2] - mean; d3 = x[k + 3] - mean
            s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
            k += 4
    while k < n:
        d0 = x[k * s] - mean
        s0 += d0 * d0
        k += 1
    return ((s0 + s1) + (s2 + s3)) / (n - ddof if n > ddof else 0.0)


cdef inline double _ext1(Py_ssize_t n, const floating* x, Py_ssize_t s, bint largest) noexcept nogil:
    """The largest (smallest) x[k * s], NaN if there is one, as in NumPy; four lanes
    written so the compiler can use vector max/min"""
    cdef floating m0 = x[0], m1 = x[0], m2 = x[0], m3 = x[0], v
    cdef bint nan = False
    cdef Py_ssize_t k = 0
    if s == 1:
        while k + 4 <= n:
            if largest:
                v = x[k]; m0 = v if v > m0 else m0
                v = x[k + 1]; m1 = v if v > m1 else m1
                v = x[k + 2]; m2 = v if v > m2 else m2
                v = x[k + 3]; m3 = v if v > m3 else m3
            else:
                v = x[k]; m0 = v if v < m0 else m0
                v = x[k + 1]; m1 = v if v < m1 else m1
                v = x[k + 2]; m2 = v if v < m2 else m2
                v = x[k + 3]; m3 = v if v < m3 else m3
            nan = nan | (x[k] != x[k]) | (x[k + 1] != x[k + 1]) | (x[k + 2] != x[k + 2]) | (x[k + 3] != x[k + 3])
            k += 4
    while k < n:
        v = x[k * s]
        if largest:
            m0 = v if v > m0 else m0
        else:
            m0 = v if v < m0 else m0
        nan = nan | (v != v)
        k += 1
    if nan:
        return NAN
    if largest:
        m0 = m1 if m1 > m0 else m0
        m2 = m3 if m3 > m2 else m2
        return m2 if m2 > m0 else m0
    m0 = m1 if m1 < m0 else m0
    m2 = m3 if m3 < m2 else m2
    return m2 if m2 < m0 else m0


cdef inline Py_ssize_t _argext1(Py_ssize_t n, const floating* x, Py_ssize_t s, bint largest) noexcept nogil:
    """Index of the first largest (smallest) x[k * s]; the first NaN wins, as in NumPy"""
    cdef Py_ssize_t k, best = 0
    cdef floating v, b = x[0]
    if b != b:
        return 0
    for k in range(1, n):
        v = x[k * s]
        if (v > b) if largest else (v < b):
            b = v
            best = k
        elif v != v:
            return k
    return best


cdef inline double _reduce1(int op, Py_ssize_t n, const floating* x, Py_ssize_t s, double ddof) noexcept nogil:
    cdef double acc
    cdef Py_ssize_t k
    if op == R_SUM:
        return _sum1(n, x, s)
    if op == R_MEAN:
        return _sum1(n, x, s) / n if n else NAN
    if op == R_PROD:
        acc = 1
        for k in range(n):
            acc *= x[k * s]
        return acc
    if op == R_VAR:
        return _var1(n, x, s, ddof)
    if op == R_STD:
        return sqrt(_var1(n, x, s, ddof))
    # R_MAX, R_MIN (n >= 1, checked by the wrapper)
    return _ext1(n, x, s, op == R_MAX)


cdef void reduce_kernel(int op, Py_ssize_t nb, Py_ssize_t n, const floating* x,
                        Py_ssize_t xb, Py_ssize_t xk, double ddof,
                        floating* out, Py_ssize_t* iout, int nthreads) noexcept nogil:
    """out[z] = op_k x[z * xb + k * xk] (iout for argmax/argmin)"""
    cdef Py_ssize_t z
    if op == R_ARGMAX or op == R_ARGMIN:
        if nthreads > 1:
            for z in prange(nb, schedule="static", num_threads=nthreads):
                iout[z] = _argext1(n, x + z * xb, xk, op == R_ARGMAX)
        else:
            for z in range(nb):
                iout[z] = _argext1(n, x + z * xb, xk, op == R_ARGMAX)
    elif floating is double and (op == R_SUM or op == R_MEAN) and xk == 1 and nb >= 4 and _has_avx2():
        _rowsums_avx2(nb, n, x, xb, op == R_MEAN, out, nthreads)
    elif floating is double and (op == R_MAX or op == R_MIN) and xk == 1 and _has_avx2():
        _rowexts_avx2(nb, n, x, xb, op == R_MAX, out, nthreads)
    elif nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            out[z] = <floating>_reduce1(op, n, x + z * xb, xk, ddof)
    else:
        for z in range(nb):
            out[z] = <floating>_reduce1(op, n, x + z * xb, xk, ddof)


cdef void _rowsums_avx2(Py_ssize_t nb, Py_ssize_t n, const double* x, Py_ssize_t xb, bint mean,
                        double* out, int nthreads) noexcept nogil:
    """out[z] = sum (mean) of the contiguous row x[z * xb : z * xb + n], four rows
    per AVX2 call; the last nb % 4 rows through _sum1"""
    cdef Py_ssize_t g, z, full = nb - nb % 4
    if nthreads > 1:
        for g in prange(0, full, 4, schedule="static", num_threads=nthreads):
            _rowsum4_avx2(x + g * xb, xb, n, out + g)
    else:
        for g in range(0, full, 4):
            _rowsum4_avx2(x + g * xb, xb, n, out + g)
    for z in range(full, nb):
        out[z] = _sum1(n, x + z * xb, 1)
    if mean:
        for z in range(nb):
            out[z] = out[z] / n if n else NAN


cdef void _rowexts_avx2(Py_ssize_t nb, Py_ssize_t n, const double* x, Py_ssize_t xb, bint largest,
                        double* out, int nthreads) noexcept nogil:
    """out[z] = max (min) of the contiguous row x[z * xb : z * xb + n], n >= 1, four
    rows per AVX2 call; the last nb % 4 rows one at a time"""
    cdef Py_ssize_t g, z, full = nb - nb % 4
    if nthreads > 1:
        for g in prange(0, full, 4, schedule="static", num_threads=nthreads):
            _rowext4_avx2(x + g * xb, xb, n, largest, out + g)
    else:
        for g in range(0, full, 4):
            _rowext4_avx2(x + g * xb, xb, n, largest, out + g)
    for z in range(full, nb):
        out[z] = _rowext_avx2(x + z * xb, n, largest)


cdef inline void _colsum_block(Py_ssize_t z0, Py_ssize_t z1, Py_ssize_t n, const floating* x,
                               Py_ssize_t xk, bint mean, floating* out) noexcept nogil:
    """out[z] = sum_k x[z + k * xk] for z in [z0, z1), a row of the batch at a time,
    starting from 0 as NumPy does (a sum of -0.0 is 0.0)"""
    cdef Py_ssize_t z, k = 0
    cdef const floating* r0
    cdef const floating* r1
    cdef const floating* r2
    cdef const floating* r3
    for z in range(z0, z1):
        out[z] = 0
    while k + 4 <= n:  # four rows per pass over out, added in order
        r0 = x + k * xk; r1 = r0 + xk; r2 = r1 + xk; r3 = r2 + xk
        for z in range(z0, z1):
            out[z] = (((out[z] + r0[z]) + r1[z]) + r2[z]) + r3[z]
        k += 4
    while k < n:
        r0 = x + k * xk
        for z in range(z0, z1):
            out[z] += r0[z]
        k += 1
    if mean:
        for z in range(z0, z1):
            out[z] = out[z] / n if n else NAN


cdef enum:
    COL_BLOCK = 512  # examples per block: 4 KB of float64 sums stay in L1 while rows stream past


cdef void colsum_kernel(Py_ssize_t nb, Py_ssize_t n, const floating* x, Py_ssize_t xk, bint mean,
                        floating* out, int nthreads) noexcept nogil:
    """out[z] = sum_k x[z + k * xk] (/ n for the mean), in blocks of the batch,
    at least one block per thread"""
    cdef Py_ssize_t b, width = min(<Py_ssize_t>COL_BLOCK, (nb + nthreads - 1) // nthreads)
    cdef Py_ssize_t nblocks = (nb + width - 1) // width
    if nthreads > 1:
        for b in prange(nblocks, schedule="static", num_threads=nthreads):
            _colsum_block(b * width, min((b + 1) * width, nb), n, x, xk, mean, out)
    else:
        for b in range(nblocks):
            _colsum_block(b * width, min((b + 1) * width, nb), n, x, xk, mean, out)


def batched_colsum(x, Py_ssize_t bdim, bint mean=False):
    """``out[z] = sum(x[z])`` (or the mean) when the batch axis ``bdim`` of the 2-D
    float32/float64 ``x`` has the unit stride: whole rows of the batch are added
    in turn, SIMD across examples, in NumPy's order for a sum over axis 0, so
    the result equals ``x.sum(axis=1 - bdim)`` bit for bit."""
    if _real_type(x) < 0 or x.ndim != 2:
        raise TypeError(f"batched_colsum expects a 2-D float32/float64 array, got {type(x).__name__}")
    cdef cnp.ndarray X = x
    cdef Py_ssize_t sx[2]
    cdef Py_ssize_t nb = X.shape[bdim], n = X.shape[1 - bdim]
    if not _elem_strides(X, sx) or (sx[bdim] != 1 and X.size):
        raise ValueError(f"batched_colsum expects the batch axis {bdim} to have the unit stride, got strides {x.strides}")
    cdef Py_ssize_t xk = sx[1 - bdim]
    cdef cnp.ndarray out = np.empty(nb, dtype=X.dtype)
    cdef int nthreads = _threads_for(nb * n)
    if cnp.PyArray_TYPE(X) == cnp.NPY_DOUBLE:
        with nogil:
            colsum_kernel(nb, n, <const double*>cnp.PyArray_DATA(X), xk, mean, <double*>cnp.PyArray_DATA(out), nthreads)
    else:
        with nogil:
            colsum_kernel(nb, n, <const float*>cnp.PyArray_DATA(X), xk, mean, <float*>cnp.PyArray_DATA(out), nthreads)
    return out


def reduce_wins(name, x, bdim):
    """Whether :func:`batched_reduce` should run this reduction: a float32/float64
    ndarray batch of vectors, with at least one element per example for the
    extrema (NumPy raises there), where benchmarks/ measured the kernel ahead.

    When the batch axis has the unit stride and the example's does not (mapping
    over axis 1 of a C array), only sums and means run compiled, in
    :func:`batched_colsum`; NumPy wins the rest.  Otherwise the kernel wins the
    sums, products and variances at every length, and the extrema on short
    examples (:data:`REDUCE_MAX_N`), or at every length on contiguous float64
    rows where the CPU has AVX2."""
    if type(x) is not np.ndarray or x.ndim != 2 or name not in REDUCTIONS:
        return False
    if _real_type(x) < 0:
        return False
    n = x.shape[1 - bdim]
    if n == 0 and name in ("max", "min", "argmax", "argmin"):
        return False
    if abs(x.strides[bdim]) == x.itemsize != abs(x.strides[1 - bdim]) and x.shape[bdim] > 1:
        return name in ("sum", "mean") and x.strides[bdim] > 0
    if name in ("max", "min") and HAS_AVX2 and _real_type(x) == cnp.NPY_DOUBLE and x.strides[1 - bdim] == 8:
        return True  # the AVX2 kernel: 0.15-0.8x NumPy at every length (vmaprt/_simd.h)
    longest = REDUCE_MAX_N.get(name, 0)
    return longest is None or n <= longest


REDUCE_MAX_N = {"sum": None, "mean": None, "prod": None, "var": None, "std": None, "max": 32, "min": 32}
"""Per reduction, the longest example the kernel takes (None: any length; absent:
never), measured through ``vmap`` against NumPy (split over threads where that
wins) on batches of 2 * 10**6 elements, examples of 8 to 10 000
(docs/performance.rst): sums, means, variances and products 0.2-0.9x at every
length; the extrema 0.4x on 8 elements, even at 64 and up to 3x slower on long
rows, where NumPy's AVX2 max beats the kernel's SSE2.  NumPy's argmax/argmin
is never slower."""


def batched_reduce(name, x, Py_ssize_t bdim, ddof=0):
    """``out[z] = name(x[z])`` over the one per-example axis of a batch of vectors.

    ``x`` is a float32/float64 ``[B, n]`` (or ``[n, B]`` with ``bdim=1``) array
    with any strides.  Sums accumulate in float64; variance is Welford's single
    pass.  Returns a ``[B]`` array of ``x``'s dtype (int64 for argmax/argmin).
    """
    cdef int op = REDUCTIONS[name]
    if _real_type(x) < 0 or x.ndim != 2:
        raise TypeError(f"batched_reduce expects a 2-D float32/float64 array, got {type(x).__name__}")
    cdef cnp.ndarray X = x
    cdef Py_ssize_t sx[2]
    if not _elem_strides(X, sx):
        X = np.ascontiguousarray(X)
        _elem_strides(X, sx)
    cdef Py_ssize_t nb = X.shape[bdim], n = X.shape[1 - bdim]
    if n == 0 and op in (R_MAX, R_MIN, R_ARGMAX, R_ARGMIN) and nb:
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity")
    if (op == R_SUM or op == R_MEAN) and sx[bdim] == 1 and sx[1 - bdim] != 1 and nb > 1:
        return batched_colsum(X, bdim, op == R_MEAN)
    cdef bint arg = op == R_ARGMAX or op == R_ARGMIN
    cdef cnp.ndarray out = np.empty(nb, dtype=np.intp if arg else X.dtype)
    cdef int nthreads = _threads_for(nb * n)
    cdef double dd = ddof
    cdef Py_ssize_t* iout = <Py_ssize_t*>cnp.PyArray_DATA(out) if arg else NULL
    if cnp.PyArray_TYPE(X) == cnp.NPY_DOUBLE:
        with nogil:
            reduce_kernel(op, nb, n, <const double*>cnp.PyArray_DATA(X), sx[bdim], sx[1 - bdim], dd,
                          NULL if arg else <double*>cnp.PyArray_DATA(out), iout, nthreads)
    else:
        with nogil:
            reduce_kernel(op, nb, n, <const float*>cnp.PyArray_DATA(X), sx[bdim], sx[1 - bdim], dd,
                          NULL if arg else <float*>cnp.PyArray_DATA(out), iout, nthreads)
    return out


# logsumexp and softmax over the last per-example axis -----------------------------------
cdef inline double _rowmax(Py_ssize_t n, const floating* x, Py_ssize_t s) noexcept nogil:
    """max_k x[k * s] (NaN if there is one), in AVX2 for contiguous float64 rows"""
    if floating is double and s == 1 and _has_avx2():
        return _rowext_avx2(x, n, 1)
    return _ext1(n, x, s, True)


cdef inline double _lse1(Py_ssize_t n, const floating* x, Py_ssize_t s) noexcept nogil:
    """log(sum_k exp(x[k * s])), shifted by the maximum (taken as 0 when not finite,
    as scipy.special.logsumexp does)"""
    if n == 0:
        return -INFINITY
    cdef double m = _rowmax(n, x, s), acc = 0
    cdef Py_ssize_t k
    if m != m:
        return m
    if not isfinite(m):
        m = 0
    cdef double buf[256]
    cdef Py_ssize_t k0, width
    if floating is double:  # the SIMD exp, 256 at a time
        for k0 in range(0, n, 256):
            width = min(<Py_ssize_t>256, n - k0)
            _unary_n(VMAPRT_EXP, x + k0 * s, s, -m, buf, width, 1)
            acc += _sum1(width, buf, 1)
    else:
        for k in range(n):
            acc += exp(x[k * s] - m)
    return log(acc) + m


cdef void logsumexp_kernel(Py_ssize_t nb, Py_ssize_t n, const floating* x, Py_ssize_t xb,
                           Py_ssize_t xk, floating* out, int nthreads) noexcept nogil:
    """out[z] = log(sum_k exp(x[z * xb + k * xk]))"""
    cdef Py_ssize_t z
    if nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            out[z] = <floating>_lse1(n, x + z * xb, xk)
    else:
        for z in range(nb):
            out[z] = <floating>_lse1(n, x + z * xb, xk)


cdef inline void _softmax1(Py_ssize_t n, const floating* x, Py_ssize_t s, floating* y) noexcept nogil:
    """y[k] = exp(x[k * s] - max) / sum_j exp(x[j * s] - max), y contiguous"""
    if n == 0:
        return
    cdef double m = _rowmax(n, x, s), acc = 0, e
    cdef Py_ssize_t k
    if floating is double:  # the SIMD exp straight into y, summed in eight lanes
        _unary_n(VMAPRT_EXP, x, s, -m, y, n, 1)
        acc = _sum1(n, y, 1)
    else:
        for k in range(n):
            e = exp(x[k * s] - m)
            y[k] = <floating>e
            acc += e
    acc = 1 / acc
    for k in range(n):
        y[k] = <floating>(y[k] * acc)


cdef void softmax_kernel(Py_ssize_t nb, Py_ssize_t n, const floating* x, Py_ssize_t xb,
                         Py_ssize_t xk, floating* out, int nthreads) noexcept nogil:
    """out[z, k] = exp(x[z, k] - max_j x[z, j]) / sum_j exp(x[z, j] - max_j x[z, j])"""
    cdef Py_ssize_t z
    if nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            _softmax1(n, x + z * xb, xk, out + z * n)
    else:
        for z in range(nb):
            _softmax1(n, x + z * xb, xk, out + z * n)


def _rows(x, bdim, what):
    if _real_type(x) < 0 or x.ndim != 2:
        raise TypeError(f"{what} expects a 2-D float32/float64 array, got {type(x).__name__}")
    return x


def batched_logsumexp(x, Py_ssize_t bdim):
    """``out[z] = log(sum(exp(x[z])))`` for a batch of vectors (batch axis ``bdim``)."""
    cdef cnp.ndarray X = _rows(x, bdim, "batched_logsumexp")
    cdef Py_ssize_t sx[2]
    if not _elem_strides(X, sx):
        X = np.ascontiguousarray(X)
        _elem_strides(X, sx)
    cdef Py_ssize_t nb = X.shape[bdim], n = X.shape[1 - bdim]
    cdef cnp.ndarray out = np.empty(nb, dtype=X.dtype)
    cdef int nthreads = _threads_for(8 * nb * n)  # exp costs several times a load
    if cnp.PyArray_TYPE(X) == cnp.NPY_DOUBLE:
        with nogil:
            logsumexp_kernel(nb, n, <const double*>cnp.PyArray_DATA(X), sx[bdim], sx[1 - bdim],
                             <double*>cnp.PyArray_DATA(out), nthreads)
    else:
        with nogil:
            logsumexp_kernel(nb, n, <const float*>cnp.PyArray_DATA(X), sx[bdim], sx[1 - bdim],
                             <float*>cnp.PyArray_DATA(out), nthreads)
    return out


def batched_softmax(x, Py_ssize_t bdim):
    """``out[z] = softmax(x[z])`` for a batch of vectors; returns a C-contiguous ``[B, n]``."""
    cdef cnp.ndarray X = _rows(x, bdim, "batched_softmax")
    cdef Py_ssize_t sx[2]
    if not _elem_strides(X, sx):
        X = np.ascontiguousarray(X)
        _elem_strides(X, sx)
    cdef Py_ssize_t nb = X.shape[bdim], n = X.shape[1 - bdim]
    cdef cnp.ndarray out = np.empty((nb, n), dtype=X.dtype)
    cdef int nthreads = _threads_for(8 * nb * n)
    if cnp.PyArray_TYPE(X) == cnp.NPY_DOUBLE:
        with nogil:
            softmax_kernel(nb, n, <const double*>cnp.PyArray_DATA(X), sx[bdim], sx[1 - bdim],
                           <double*>cnp.PyArray_DATA(out), nthreads)
    else:
        with nogil:
            softmax_kernel(nb, n, <const float*>cnp.PyArray_DATA(X), sx[bdim], sx[1 - bdim],
                           <float*>cnp.PyArray_DATA(out), nthreads)
    return out


# Batched matmul through BLAS ---------------------------------------------------------------
cdef inline bint _blas_operand(Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t rs, Py_ssize_t cs,
                               char* trans, int* ld) noexcept nogil:
    """How BLAS reads a rows x cols row-major-thought matrix with element strides
    (rs, cs), as the transposed column-major operand of C^T = B^T A^T:
    'N' with ld = rs when rows are contiguous, 'T' with ld = cs when columns are.
    False when neither stride is unit (the caller copies)."""
    if cols == 1:
        cs = 1
    if rows == 1:
        rs = cols if cs == 1 else 1
    if cs == 1 and rs >= max(cols, 1):
        trans[0] = b"N"
        ld[0] = <int>rs
        return True
    if rs == 1 and cs >= max(rows, 1):
        trans[0] = b"T"
        ld[0] = <int>cs
        return True
    return False


cdef inline void _gemm1(int n, int k, int m, const scalar* a, char ta, int lda,
                        const scalar* b, char tb, int ldb, scalar* c) noexcept nogil:
    """c (n x m, C order) = a (n x k) @ b (k x m), as column-major c^T = b^T a^T"""
    cdef scalar one = 1, zero = 0
    cdef int ldc = m if m > 0 else 1
    if scalar is double:
        dgemm(&tb, &ta, &m, &n, &k, &one, <double*>b, &ldb, <double*>a, &lda, &zero, c, &ldc)
    elif scalar is float:
        sgemm(&tb, &ta, &m, &n, &k, &one, <float*>b, &ldb, <float*>a, &lda, &zero, c, &ldc)
    elif scalar is doublecomplex:
        zgemm(&tb, &ta, &m, &n, &k, &one, <doublecomplex*>b, &ldb, <doublecomplex*>a, &lda, &zero, c, &ldc)
    else:
        cgemm(&tb, &ta, &m, &n, &k, &one, <floatcomplex*>b, &ldb, <floatcomplex*>a, &lda, &zero, c, &ldc)


cdef void gemm_kernel(Py_ssize_t nb, int n, int k, int m,
                      const scalar* a, Py_ssize_t ab, char ta, int lda,
                      const scalar* b, Py_ssize_t bb, char tb, int ldb,
                      scalar* c, int nthreads) noexcept nogil:
    """c[z] = a[z * ab] @ b[z * bb], one single-threaded BLAS GEMM per example"""
    cdef Py_ssize_t z
    if nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            _gemm1(n, k, m, a + z * ab, ta, lda, b + z * bb, tb, ldb, c + z * n * m)
    else:
        for z in range(nb):
            _gemm1(n, k, m, a + z * ab, ta, lda, b + z * bb, tb, ldb, c + z * n * m)


def _gemm_view(x, bdim):
    """``(array, batch stride, trans, ld)`` for BLAS, copying only when neither inner
    stride of a matrix is unit."""
    cdef cnp.ndarray X = x
    cdef Py_ssize_t s[3]
    cdef char t = b"N"
    cdef int ld = 1
    axes = [d for d in range(X.ndim) if d != bdim]
    if _elem_strides(X, s) and _blas_operand(X.shape[axes[0]], X.shape[axes[1]], s[axes[0]], s[axes[1]], &t, &ld):
        return X, (s[bdim] if bdim is not None else 0), t, ld
    X = np.ascontiguousarray(np.moveaxis(x, bdim, 0) if bdim is not None else x)
    _elem_strides(X, s)
    row = 1 if bdim is not None else 0
    _blas_operand(X.shape[row], X.shape[row + 1], s[row], s[row + 1], &t, &ld)
    return X, (s[0] if bdim is not None else 0), t, ld


def batched_gemm(a, ab, b, bb):
    """``c[z] = a[z] @ b[z]`` through BLAS ``?gemm``, one call per example spread over
    threads (BLAS itself held to one thread meanwhile), leading dimensions taken
    from the strides.  Same operands and result as :func:`batched_matmul`, for any
    matrix size."""
    if not (_matmul_operand(a, ab) and _matmul_operand(b, bb)) or a.dtype != b.dtype or (ab is None and bb is None):
        raise TypeError(f"batched_gemm expects float or complex matrices of one dtype, got {a.dtype}{a.shape} and {b.dtype}{b.shape}")
    pa = [a.shape[d] for d in range(3 - (ab is None)) if d != ab]
    pb = [b.shape[d] for d in range(3 - (bb is None)) if d != bb]
    if pa[1] != pb[0]:
        raise ValueError(f"matmul: mismatch in the core dimension ({pa[1]} != {pb[0]})")
    cdef Py_ssize_t nb = a.shape[ab] if ab is not None else b.shape[bb]
    cdef int n = pa[0], k = pa[1], m = pb[1]
    cdef cnp.ndarray C = np.empty((nb, n, m), dtype=a.dtype)
    if nb == 0 or n == 0 or m == 0:
        return C
    if k == 0:
        C[...] = 0
        return C
    A, a_b, ta, lda = _gemm_view(a, ab)
    B, b_b, tb, ldb = _gemm_view(b, bb)
    cdef cnp.ndarray AA = A, BB = B
    cdef Py_ssize_t sab = a_b, sbb = b_b
    cdef char cta = ta, ctb = tb
    cdef int ilda = lda, ildb = ldb
    cdef int nthreads = _threads_for(nb * n * m * k // 8)
    cdef void* pA = cnp.PyArray_DATA(AA)
    cdef void* pB = cnp.PyArray_DATA(BB)
    cdef void* pC = cnp.PyArray_DATA(C)
    limit = _blas_limits() if nthreads > 1 else None
    try:
        if cnp.PyArray_TYPE(C) == cnp.NPY_DOUBLE:
            with nogil:
                gemm_kernel(nb, n, k, m, <const double*>pA, sab, cta, ilda, <const double*>pB, sbb, ctb, ildb, <double*>pC, nthreads)
        elif cnp.PyArray_TYPE(C) == cnp.NPY_FLOAT:
            with nogil:
                gemm_kernel(nb, n, k, m, <const float*>pA, sab, cta, ilda, <const float*>pB, sbb, ctb, ildb, <float*>pC, nthreads)
        elif cnp.PyArray_TYPE(C) == cnp.NPY_CDOUBLE:
            with nogil:
                gemm_kernel(nb, n, k, m, <const double complex*>pA, sab, cta, ilda, <const double complex*>pB, sbb, ctb, ildb, <double complex*>pC, nthreads)
        else:
            with nogil:
                gemm_kernel(nb, n, k, m, <const float complex*>pA, sab, cta, ilda, <const float complex*>pB, sbb, ctb, ildb, <float complex*>pC, nthreads)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    return C


_controller = None


def _blas_limits():
    """BLAS held to one thread while our threads each call it (threadpoolctl)."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


# Elementwise arithmetic and math ----------------------------------------------------------

cdef enum:
    E_ADD, E_SUB, E_MUL, E_DIV, E_MAX, E_MIN
    U_EXP, U_LOG, U_SIN, U_COS, U_TANH, U_SQRT, U_ABS

BINARY = {"add": E_ADD, "subtract": E_SUB, "multiply": E_MUL, "divide": E_DIV,
          "maximum": E_MAX, "minimum": E_MIN}
UNARY = {"exp": U_EXP, "log": U_LOG, "sin": U_SIN, "cos": U_COS, "tanh": U_TANH,
         "sqrt": U_SQRT, "absolute": U_ABS}


@cython.cdivision(True)  # (as _rowscalar1)
cdef inline floating _binary1(int op, floating x, floating y) noexcept nogil:
    if op == E_ADD:
        return x + y
    if op == E_SUB:
        return x - y
    if op == E_MUL:
        return x * y
    if op == E_DIV:
        return x / y
    if op == E_MAX:
        return x if (x >= y or x != x) else y  # NaN propagates, as np.maximum
    return x if (x <= y or x != x) else y


cdef inline floating _unary1(int op, floating x) noexcept nogil:
    if op == U_EXP:
        return <floating>exp(x)
    if op == U_LOG:
        return <floating>log(x)
    if op == U_SIN:
        return <floating>sin(x)
    if op == U_COS:
        return <floating>cos(x)
    if op == U_TANH:
        return <floating>tanh(x)
    if op == U_SQRT:
        return <floating>sqrt(x)
    return <floating>fabs(x)


cdef void binary_kernel(int op, Py_ssize_t nb, Py_ssize_t n,
                        const floating* x, Py_ssize_t xb, Py_ssize_t xk,
                        const floating* y, Py_ssize_t yb, Py_ssize_t yk,
                        floating* out, int nthreads) noexcept nogil:
    """out[z, k] = x[z * xb + k * xk] (op) y[z * yb + k * yk]; a stride of 0 broadcasts"""
    cdef Py_ssize_t z, k
    if nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            for k in range(n):
                out[z * n + k] = _binary1(op, x[z * xb + k * xk], y[z * yb + k * yk])
    else:
        for z in range(nb):
            for k in range(n):
                out[z * n + k] = _binary1(op, x[z * xb + k * xk], y[z * yb + k * yk])


cdef void unary_kernel(int op, Py_ssize_t nb, Py_ssize_t n, const floating* x,
                       Py_ssize_t xb, Py_ssize_t xk, floating* out, int nthreads) noexcept nogil:
    """out[z, k] = f(x[z * xb + k * xk])"""
    cdef Py_ssize_t z, k
    if nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            for k in range(n):
                out[z * n + k] = _unary1(op, x[z * xb + k * xk])
    else:
        for z in range(nb):
            for k in range(n):
                out[z * n + k] = _unary1(op, x[z * xb + k * xk])


cdef enum:
    FLAT_BLOCK = 8192  # elements per OpenMP task of unary_flat

SIMD_UNARY = {"exp": VMAPRT_EXP, "log": VMAPRT_LOG, "tanh": VMAPRT_TANH, "sin": VMAPRT_SIN, "cos": VMAPRT_COS}


cdef int flat_kernel(int op, const double* x, double* out, Py_ssize_t n, int nthreads) noexcept nogil:
    """out[i] = op(x[i]) (vmaprt/_simd.h), through libm outside the SIMD domain;
    1 if NumPy's call should run instead, for its warnings"""
    cdef Py_ssize_t b, nblocks = (n + FLAT_BLOCK - 1) // FLAT_BLOCK
    cdef int bad = 0
    if nthreads > 1:
        for b in prange(nblocks, schedule="static", num_threads=nthreads):
            bad |= _unary_n(op, x + b * FLAT_BLOCK, 1, 0.0, out + b * FLAT_BLOCK,
                            min(<Py_ssize_t>FLAT_BLOCK, n - b * FLAT_BLOCK), 1)
    else:
        for b in range(nblocks):
            bad |= _unary_n(op, x + b * FLAT_BLOCK, 1, 0.0, out + b * FLAT_BLOCK,
                            min(<Py_ssize_t>FLAT_BLOCK, n - b * FLAT_BLOCK), 1)
    return bad


FLAT_MIN_SIZE = 256
"""The smallest array :func:`unary_flat` takes.  Against NumPy on one thread
(docs/performance.rst): 0.36-0.81x at 256 elements, 0.31-0.49x at 1024,
0.18-0.37x from 16384; below 256 the two calls cost about the same."""


def unary_flat(name, x):
    """``np.exp``, ``np.log``, ``np.tanh``, ``np.sin`` or ``np.cos`` (``name``) of a
    C- or F-contiguous float64 array of at least :data:`FLAT_MIN_SIZE` elements,
    SIMD (vmaprt/_simd.h) and over threads: 1.3-2.8 ns an element where NumPy's
    libm calls take 9-15.  The result has ``x``'s memory order.  None when ``x``
    is not such an array, or holds values whose NumPy result comes with a
    warning (exp beyond +-708 or of NaN, log of x <= 0 or NaN, sin and cos of
    inf or NaN): NumPy's function should run then.  Other arguments outside the
    SIMD domain (tanh beyond +-20, sin and cos beyond +-1e5, log of subnormals
    and inf) take libm's value."""
    if _real_type(x) != cnp.NPY_DOUBLE or x.size < FLAT_MIN_SIZE:
        return None
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        return None
    cdef int op = SIMD_UNARY[name]
    cdef cnp.ndarray X = x
    cdef cnp.ndarray out = np.empty_like(x)
    cdef Py_ssize_t n = X.size
    cdef int nthreads = _threads_for(8 * n), bad
    with nogil:
        bad = flat_kernel(op, <const double*>cnp.PyArray_DATA(X), <double*>cnp.PyArray_DATA(out), n, nthreads)
    return None if bad else out


def _rows_of(x, Py_ssize_t bdim):
    """A batch as ``(array, batch stride, element stride)`` over its flattened
    examples, without copying, or None when the examples do not flatten to one
    stride.  (Its callers have checked the dtype.)"""
    if type(x) is not np.ndarray:
        return None
    cdef Py_ssize_t s[32]
    if x.ndim > 32 or not _elem_strides(x, s):
        return None
    axes = [d for d in range(x.ndim) if d != bdim and x.shape[d] != 1]
    step = 0
    if axes:  # the per-example axes must chain into one stride, last axis fastest
        step = s[axes[len(axes) - 1]]
        for i in range(len(axes) - 1):
            if s[axes[i]] != s[axes[i + 1]] * x.shape[axes[i + 1]]:
                return None
    return x, s[bdim], step


def batched_binary(name, x, xbdim, y, ybdim):
    """``out = name(x, y)`` for two batches of one float dtype and per-example
    shape (either may be unbatched: bdim None, batch stride 0), any flattenable
    strides.  Returns a C-contiguous array with the batch first, or None when the
    operands are not ones the kernel takes."""
    cdef int t = _real_type(x)
    if t < 0 or t != _real_type(y):
        return None
    sx = x.shape if xbdim is None else x.shape[:xbdim] + x.shape[xbdim + 1:]
    sy = y.shape if ybdim is None else y.shape[:ybdim] + y.shape[ybdim + 1:]
    if sx != sy or (xbdim is None and ybdim is None):
        return None
    nb = x.shape[xbdim] if xbdim is not None else y.shape[ybdim]
    rx = _rows_of(x, xbdim) if xbdim is not None else _rows_of(x[None], 0)
    ry = _rows_of(y, ybdim) if ybdim is not None else _rows_of(y[None], 0)
    if rx is None or ry is None:
        return None
    cdef cnp.ndarray X = rx[0], Y = ry[0]
    cdef Py_ssize_t xb = rx[1] if xbdim is not None else 0, xk = rx[2]
    cdef Py_ssize_t yb = ry[1] if ybdim is not None else 0, yk = ry[2]
    cdef Py_ssize_t cnb = nb, n = int(np.prod(sx))
    cdef int op = BINARY[name]
    cdef cnp.ndarray out = np.empty((nb,) + tuple(sx), dtype=x.dtype)
    cdef int nthreads = _threads_for(nb * n)
    if t == cnp.NPY_DOUBLE:
        with nogil:
            binary_kernel(op, cnb, n, <const double*>cnp.PyArray_DATA(X), xb, xk,
                          <const double*>cnp.PyArray_DATA(Y), yb, yk, <double*>cnp.PyArray_DATA(out), nthreads)
    else:
        with nogil:
            binary_kernel(op, cnb, n, <const float*>cnp.PyArray_DATA(X), xb, xk,
                          <const float*>cnp.PyArray_DATA(Y), yb, yk, <float*>cnp.PyArray_DATA(out), nthreads)
    return out


@cython.cdivision(True)  # IEEE: x / 0 is inf or nan, as in NumPy, in the debug build too
cdef inline void _rowscalar1(int op, bint v_first, Py_ssize_t n, const floating* x, floating v,
                             floating* out) noexcept nogil:
    """out[k] = x[k] (op) v, or v (op) x[k]: one loop per operation, which the
    compiler vectorizes (a switch per element, as in binary_kernel, it cannot)"""
    cdef Py_ssize_t k
    if op == E_ADD:
        for k in range(n):
            out[k] = x[k] + v
    elif op == E_MUL:
        for k in range(n):
            out[k] = x[k] * v
    elif op == E_SUB and not v_first:
        for k in range(n):
            out[k] = x[k] - v
    elif op == E_SUB:
        for k in range(n):
            out[k] = v - x[k]
    elif not v_first:
        for k in range(n):
            out[k] = x[k] / v
    else:
        for k in range(n):
            out[k] = v / x[k]


cdef void rowscalar_kernel(int op, bint v_first, Py_ssize_t nb, Py_ssize_t n, const floating* x,
                           Py_ssize_t xb, const floating* v, Py_ssize_t vb, floating* out,
                           int nthreads) noexcept nogil:
    """out[z, k] = x[z * xb + k] (op) v[z * vb] (v first with v_first)"""
    cdef Py_ssize_t z
    if nthreads > 1:
        for z in prange(nb, schedule="static", num_threads=nthreads):
            _rowscalar1(op, v_first, n, x + z * xb, v[z * vb], out + z * n)
    else:
        for z in range(nb):
            _rowscalar1(op, v_first, n, x + z * xb, v[z * vb], out + z * n)


ROWSCALAR = {"add": E_ADD, "subtract": E_SUB, "multiply": E_MUL, "divide": E_DIV}


def batched_rowscalar(name, x, v, bint v_first=False):
    """``x (name) v`` (``v (name) x`` with ``v_first``) where ``x`` is a float32/float64
    batch ``[B, ...]`` with the batch axis first and contiguous examples (any batch
    stride), and ``v`` is ``[B, 1, ..., 1]`` of the same dtype: one number per
    example, as in ``x - x.mean()`` or ``e / e.sum()`` under vmap.  NumPy runs this
    as one short inner loop per example (575 us on [10000, 64] where a flat add
    takes 200).  Results are NumPy's bit for bit (one IEEE operation per element).
    Returns a C-contiguous array, or None when the operands are not such."""
    cdef int t = _real_type(x), op = ROWSCALAR[name]
    if t < 0 or t != _real_type(v):
        return None
    cdef cnp.ndarray X = x, V = v
    cdef int nd = cnp.PyArray_NDIM(X), d
    if nd < 2 or cnp.PyArray_NDIM(V) != nd or V.shape[0] != X.shape[0]:
        return None
    for d in range(1, nd):
        if V.shape[d] != 1:
            return None
    rx = _rows_of(X, 0)
    if rx is None or (rx[2] != 1 and X.size > X.shape[0]):
        return None
    cdef Py_ssize_t sv[32]
    if not _elem_strides(V, sv):
        return None
    cdef Py_ssize_t nb = X.shape[0], n = X.size // nb if nb else 0, xb = rx[1]
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(nd, cnp.PyArray_DIMS(X), t, 0)
    cdef int nthreads = _threads_for(nb * n)
    if t == cnp.NPY_DOUBLE:
        with nogil:
            rowscalar_kernel(op, v_first, nb, n, <const double*>cnp.PyArray_DATA(X), xb,
                             <const double*>cnp.PyArray_DATA(V), sv[0], <double*>cnp.PyArray_DATA(out), nthreads)
    else:
        with nogil:
            rowscalar_kernel(op, v_first, nb, n, <const float*>cnp.PyArray_DATA(X), xb,
                             <const float*>cnp.PyArray_DATA(V), sv[0], <float*>cnp.PyArray_DATA(out), nthreads)
    return out


def batched_unary(name, x, Py_ssize_t bdim):
    """``out = name(x)`` for a float batch with flattenable examples; C-contiguous,
    batch first; None when the kernel does not take ``x``."""
    cdef int t = _real_type(x)
    if t < 0:
        return None
    rx = _rows_of(x, bdim)
    if rx is None:
        return None
    cdef cnp.ndarray X = rx[0]
    cdef Py_ssize_t xb = rx[1], xk = rx[2], nb = x.shape[bdim]
    shape = x.shape[:bdim] + x.shape[bdim + 1:]
    cdef Py_ssize_t n = int(np.prod(shape))
    cdef int op = UNARY[name]
    cdef cnp.ndarray out = np.empty((nb,) + tuple(shape), dtype=x.dtype)
    cdef int nthreads = _threads_for(8 * nb * n)
    if t == cnp.NPY_DOUBLE:
        with nogil:
            unary_kernel(op, nb, n, <const double*>cnp.PyArray_DATA(X), xb, xk, <double*>cnp.PyArray_DATA(out), nthreads)
    else:
        with nogil:
            unary_kernel(op, nb, n, <const float*>cnp.PyArray_DATA(X), xb, xk, <float*>cnp.PyArray_DATA(out), nthreads)
    return out


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
    least ``CACHE_INPUT_MIN`` bytes; returns what :func:`restore_allocator` takes."""
    if not _cache_limit():
        return None
    for leaf in leaves:
        if type(leaf) is np.ndarray and cnp.PyArray_NBYTES(<cnp.ndarray>leaf) >= CACHE_INPUT_MIN:
            return PyDataMem_SetHandler(_CACHE)
    return None


def restore_allocator(previous):
    """Undo :func:`use_cache`, given what it returned when that was not None."""
    PyDataMem_SetHandler(previous)


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


include "_philox.pxi"
