# Shared declarations of the compiled kernels (vmaprt/_core.pyx).
from cython cimport floating

cdef void dot_kernel(Py_ssize_t nbatch, Py_ssize_t n,
                     const floating* a, Py_ssize_t a_b, Py_ssize_t a_k,
                     const floating* b, Py_ssize_t b_b, Py_ssize_t b_k,
                     floating* out, int nthreads) noexcept nogil
