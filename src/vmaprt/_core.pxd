# Shared declarations of the compiled kernels (vmaprt/_core.pyx).
from cython cimport floating

cdef void dot_kernel(Py_ssize_t nbatch, Py_ssize_t n,
                     const floating* a, Py_ssize_t a_b, Py_ssize_t a_k,
                     const floating* b, Py_ssize_t b_b, Py_ssize_t b_k,
                     floating* out, int nthreads) noexcept nogil

# Float and complex element types of the matmul kernels.
ctypedef fused scalar:
    float
    double
    float complex
    double complex

cdef void matmul_kernel(Py_ssize_t nb, Py_ssize_t n, Py_ssize_t k, Py_ssize_t m,
                        const scalar* a, Py_ssize_t ab, Py_ssize_t ai, Py_ssize_t al,
                        const scalar* b, Py_ssize_t bb, Py_ssize_t bl, Py_ssize_t bj,
                        scalar* c, Py_ssize_t cb, Py_ssize_t ci, Py_ssize_t cj,
                        int nthreads) noexcept nogil

cdef void reduce_kernel(int op, Py_ssize_t nb, Py_ssize_t n, const floating* x,
                        Py_ssize_t xb, Py_ssize_t xk, double ddof,
                        floating* out, Py_ssize_t* iout, int nthreads) noexcept nogil

cdef void logsumexp_kernel(Py_ssize_t nb, Py_ssize_t n, const floating* x, Py_ssize_t xb,
                           Py_ssize_t xk, floating* out, int nthreads) noexcept nogil

cdef void softmax_kernel(Py_ssize_t nb, Py_ssize_t n, const floating* x, Py_ssize_t xb,
                         Py_ssize_t xk, floating* out, int nthreads) noexcept nogil

cdef void gemm_kernel(Py_ssize_t nb, int n, int k, int m,
                      const scalar* a, Py_ssize_t ab, char ta, int lda,
                      const scalar* b, Py_ssize_t bb, char tb, int ldb,
                      scalar* c, int nthreads) noexcept nogil
