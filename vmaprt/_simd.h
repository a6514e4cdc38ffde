/* Elementwise float64 math in plain arithmetic that the compiler turns into SIMD.
 *
 * libm's exp and tanh are one call per element (9 and 15 ns here); NumPy uses
 * them for float64 on CPUs without AVX-512.  The functions below are written as
 * straight-line arithmetic on one double, always inlined into a loop over a
 * block, and that loop is compiled twice: for the baseline (SSE2) and for AVX2
 * with FMA, chosen at run time.  Each stays within a few ulp of libm (tested in
 * tests/test_core.py) on its domain; callers hand everything else to NumPy.
 */
#ifndef VMAPRT_SIMD_H
#define VMAPRT_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define VMAPRT_INLINE static inline __attribute__((always_inline))
#else
#define VMAPRT_INLINE static inline
#endif

enum { VMAPRT_EXP = 0, VMAPRT_TANH = 1 };

/* 2^n for the integer-valued n held in t = n + 1.5 * 2^52, through the exponent bits. */
VMAPRT_INLINE double vmaprt_pow2(double t) {
    int64_t bits;
    uint64_t e;
    double scale;
    memcpy(&bits, &t, 8);
    e = (uint64_t)(bits - (int64_t)0x4338000000000000LL + 1023) << 52;
    memcpy(&scale, &e, 8);
    return scale;
}

/* e^r - 1 for |r| <= ln 2 / 2, by its Taylor series to r^13 (truncation below 1e-17). */
VMAPRT_INLINE double vmaprt_expm1_small(double r) {
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    return p * r;
}

/* x = n ln 2 + r, n = round(x / ln 2): returns r, and t = n + 1.5 * 2^52 (adding
 * 1.5 * 2^52 rounds to an integer and leaves it in the low bits). */
VMAPRT_INLINE double vmaprt_reduce_ln2(double x, double* t) {
    const double shift = 6755399441055744.0;
    double n;
    *t = x * 1.4426950408889634074 + shift;
    n = *t - shift;
    return (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
}

/* e^x for |x| <= 708 (2^n stays a normal number). */
VMAPRT_INLINE double vmaprt_exp_core(double x) {
    double t, r = vmaprt_reduce_ln2(x, &t);
    return (vmaprt_expm1_small(r) + 1.0) * vmaprt_pow2(t);
}

/* tanh x = (e^y - 1) / (e^y + 1) with y = 2|x|, e^y - 1 = 2^n (e^r - 1) + (2^n - 1)
 * so small x loses nothing; for |x| <= 20 (beyond, tanh is 1 in double: libm's).
 * Capping y here instead would stop the compiler from vectorizing the loop. */
VMAPRT_INLINE double vmaprt_tanh_core(double x) {
    double y = 2.0 * fabs(x), t, r, scale, em1;
    r = vmaprt_reduce_ln2(y, &t);
    scale = vmaprt_pow2(t);
    em1 = scale * vmaprt_expm1_small(r) + (scale - 1.0);
    return copysign(em1 / (em1 + 2.0), x);
}

/* Whether v is in the domain of op's core. */
VMAPRT_INLINE int vmaprt_in_domain(int op, double v) {
    return fabs(v) <= (op == VMAPRT_EXP ? 708.0 : 20.0);
}

#define VMAPRT_BLOCK(NAME, ATTR)                                                   \
    ATTR static void NAME(int op, const double* buf, double* out, Py_ssize_t m) {  \
        Py_ssize_t i;                                                               \
        if (op == VMAPRT_EXP)                                                       \
            for (i = 0; i < m; i++) out[i] = vmaprt_exp_core(buf[i]);              \
        else                                                                        \
            for (i = 0; i < m; i++) out[i] = vmaprt_tanh_core(buf[i]);             \
    }

VMAPRT_BLOCK(vmaprt_block_base, )

#if defined(__GNUC__) && defined(__x86_64__)
VMAPRT_BLOCK(vmaprt_block_avx2, __attribute__((target("avx2,fma"))))
static int vmaprt_has_avx2(void) {
    static int has = -1;
    if (has < 0) has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}
#else
#define vmaprt_block_avx2 vmaprt_block_base
static int vmaprt_has_avx2(void) { return 0; }
#endif

/* out[i] = op(x[i * s] + shift) for i < n, in blocks of 256 copied to the stack
 * first (so out may alias x).  Returns 0 when every argument was in op's domain;
 * else 1, with those computed by libm when use_libm is set and left unspecified
 * when it is not. */
static int vmaprt_unary_n(int op, const double* x, Py_ssize_t s, double shift, double* out,
                          Py_ssize_t n, int use_libm) {
    double buf[256];
    int bad = 0, avx2 = vmaprt_has_avx2();
    Py_ssize_t i0, i, m;
    for (i0 = 0; i0 < n; i0 += 256) {
        int b = 0;
        m = n - i0 < 256 ? n - i0 : 256;
        if (shift != 0.0)
            for (i = 0; i < m; i++) buf[i] = x[(i0 + i) * s] + shift;
        else  /* (adding 0.0 would turn -0.0 into 0.0) */
            for (i = 0; i < m; i++) buf[i] = x[(i0 + i) * s];
        for (i = 0; i < m; i++) b |= !vmaprt_in_domain(op, buf[i]);
        if (avx2) vmaprt_block_avx2(op, buf, out + i0, m);
        else vmaprt_block_base(op, buf, out + i0, m);
        if (b) {
            bad = 1;
            if (use_libm)
                for (i = 0; i < m; i++)
                    if (!vmaprt_in_domain(op, buf[i]))
                        out[i0 + i] = op == VMAPRT_EXP ? exp(buf[i]) : tanh(buf[i]);
        }
    }
    return bad;
}

#endif
