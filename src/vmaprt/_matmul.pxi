# Batched matmul: small sizes unrolled, larger ones through BLAS, and the choice between them.
# Included by _core.pyx, which holds the cimports, the externs and the shared
# helpers for strided views.

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
    limit = blas_single_thread() if nthreads > 1 else None
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
