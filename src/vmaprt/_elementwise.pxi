# Elementwise arithmetic and math: the SIMD flat kernel and the strided batch kernels.
# Included by _core.pyx, which holds the cimports, the externs and the shared
# helpers for strided views.

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


# For tests and benchmarks only: no batch rule calls batched_binary or batched_unary.
# They hold the strided elementwise kernels to NumPy on every layout.
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
