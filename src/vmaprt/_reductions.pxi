# Reductions over one per-example axis, and column sums; reduce_wins chooses.
# Included by _core.pyx, which holds the cimports, the externs and the shared
# helpers for strided views.

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
