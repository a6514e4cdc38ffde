# cython: language_level=3
"""Compiled strided kernels.

Every kernel takes raw pointers and element strides, the batch stride
included, so any view (transposed, stepped, reversed, zero-stride broadcast)
is read in place.  Each has two layers: a ``cdef ... noexcept nogil`` kernel
whose docstring is its formula, and a thin ``def`` wrapper that checks
dtypes, allocates the output and releases the GIL.  Compiler directives are
set once in ``setup.py`` (``VMAPRT_DEBUG_BUILD=1`` turns bounds checks on).

This file holds the cimports, the C declarations and the helpers every family
shares (strided views); each family of kernels is a file of its own, included
at the end, with the functions that choose it (``*_wins``, ``*_path``) and its
thresholds beside its kernels: _threads.pxi (the thread runtime, the fork
hook, BLAS limits), _dot.pxi, _matmul.pxi (unrolled and BLAS), _reductions.pxi,
_rowwise.pxi (logsumexp, softmax, one number per row), _elementwise.pxi (SIMD
math), _allocator.pxi (NEP 49 buffer cache) and _philox.pxi (random streams).
The extension is one module, ``vmaprt._core``.
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


# The kernel families, one file each ---------------------------------------------------------
include "_threads.pxi"
include "_dot.pxi"
include "_matmul.pxi"
include "_reductions.pxi"
include "_rowwise.pxi"
include "_elementwise.pxi"
include "_allocator.pxi"
include "_philox.pxi"
