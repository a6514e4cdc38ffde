# Batched dot: its kernel, its selection (dot_wins) and its threshold.
# Included by _core.pyx, which holds the cimports, the externs and the shared
# helpers for strided views.

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
