# Row kernels: logsumexp and softmax over the last axis, and a batch op one number per row.
# Included by _core.pyx, which holds the cimports, the externs and the shared
# helpers for strided views.

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


def _checked_rows(x, bdim, what):
    if _real_type(x) < 0 or x.ndim != 2:
        raise TypeError(f"{what} expects a 2-D float32/float64 array, got {type(x).__name__}")
    return x


def batched_logsumexp(x, Py_ssize_t bdim):
    """``out[z] = log(sum(exp(x[z])))`` for a batch of vectors (batch axis ``bdim``)."""
    cdef cnp.ndarray X = _checked_rows(x, bdim, "batched_logsumexp")
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
    cdef cnp.ndarray X = _checked_rows(x, bdim, "batched_softmax")
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
