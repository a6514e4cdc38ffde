/* Elementwise float64 math in plain arithmetic that the compiler turns into SIMD.
 *
 * libm's exp, log, tanh, sin and cos are one call per element (9-15 ns here); NumPy
 * uses them for float64 on CPUs without AVX-512.  The functions below are written as
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
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define VMAPRT_INLINE static inline __attribute__((always_inline))
#else
#define VMAPRT_INLINE static inline
#endif

enum { VMAPRT_EXP = 0, VMAPRT_TANH = 1, VMAPRT_SIN = 2, VMAPRT_COS = 3, VMAPRT_LOG = 4 };

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

/* sin x for q = 0, cos x for q = 1, with |x| <= 1e5.  x = n pi/2 + r, |r| <= pi/4,
 * pi/2 in three parts of 33 bits and a tail (n times each part is exact for
 * n < 2^20, so r keeps its digits near the zeros of sin and cos);
 * quadrant n + q picks the series of sin r or cos r (to r^17 and r^18) and the
 * sign, through bit masks the compiler vectorizes. */
VMAPRT_INLINE double vmaprt_sincos_core(double x, int64_t q) {
    const double shift = 6755399441055744.0;
    double t = x * 6.36619772367581382433e-01 + shift;
    double n = t - shift;
    double r = (((x - n * 1.57079632673412561417e+00) - n * 6.07710050630396597660e-11)
                - n * 2.02226624871116645580e-21) - n * 8.47842766036889956997e-32;
    double z = r * r, sp, cp, v;
    int64_t bits;
    uint64_t sb, cb, vb, odd;
    sp = 1.0 / 355687428096000.0;
    sp = sp * z - 1.0 / 1307674368000.0;
    sp = sp * z + 1.0 / 6227020800.0;
    sp = sp * z - 1.0 / 39916800.0;
    sp = sp * z + 1.0 / 362880.0;
    sp = sp * z - 1.0 / 5040.0;
    sp = sp * z + 1.0 / 120.0;
    sp = sp * z - 1.0 / 6.0;
    sp = copysign(r + r * z * sp, r);  /* the sign of r, also for r = -0.0, which r + (+0.0) would lose */
    cp = -1.0 / 6402373705728000.0;
    cp = cp * z + 1.0 / 20922789888000.0;
    cp = cp * z - 1.0 / 87178291200.0;
    cp = cp * z + 1.0 / 479001600.0;
    cp = cp * z - 1.0 / 3628800.0;
    cp = cp * z + 1.0 / 40320.0;
    cp = cp * z - 1.0 / 720.0;
    cp = cp * z + 1.0 / 24.0;
    cp = cp * z - 0.5;
    cp = 1.0 + z * cp;
    memcpy(&bits, &t, 8);
    bits = bits - (int64_t)0x4338000000000000LL + q;  /* the quadrant, mod 4 in its low bits */
    memcpy(&sb, &sp, 8);
    memcpy(&cb, &cp, 8);
    odd = (uint64_t)0 - (uint64_t)(bits & 1);
    vb = ((sb & ~odd) | (cb & odd)) ^ ((uint64_t)(bits & 2) << 62);
    memcpy(&v, &vb, 8);
    return v;
}

/* log x for a normal positive finite x: x = 2^k m with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^23/23), s = (m - 1) / (m + 1),
 * |s| <= 0.1716.  k and m come from the bits with 64-bit shifts and adds only
 * (AVX2 has neither arithmetic 64-bit shifts nor int64 -> double conversion). */
VMAPRT_INLINE double vmaprt_log_core(double x) {
    uint64_t ix, u, iz, tb;
    double m, kd, s, z, p;
    memcpy(&ix, &x, 8);
    u = ix - 0x3fe6a09e667f3bcdULL + 0x4000000000000000ULL;  /* (k + 1024) in the top bits */
    iz = ix - (u & 0xfff0000000000000ULL) + 0x4000000000000000ULL;  /* m = x / 2^k */
    memcpy(&m, &iz, 8);
    tb = (u >> 52) - 1024 + 0x4338000000000000ULL;  /* k + 1.5 * 2^52 */
    memcpy(&kd, &tb, 8);
    kd -= 6755399441055744.0;
    s = (m - 1.0) / (m + 1.0);
    z = s * s;
    p = 1.0 / 23.0;
    p = p * z + 1.0 / 21.0;
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    return kd * 6.93147180369123816490e-01 + ((2.0 * s + 2.0 * s * z * p) + kd * 1.90821492927058770002e-10);
}

/* Whether v is in the domain of op's core. */
VMAPRT_INLINE int vmaprt_in_domain(int op, double v) {
    if (op == VMAPRT_LOG) return v >= 2.2250738585072014e-308 && v <= 1.7976931348623157e308;
    return fabs(v) <= (op == VMAPRT_EXP ? 708.0 : op == VMAPRT_TANH ? 20.0 : 1e5);
}

/* One block of vmaprt_unary_n: buf[i] = x[i * s] + shift, then out[i] = op(buf[i]),
 * for i < m <= 256; returns whether some buf[i] is outside op's domain.  The copy
 * and the check are in here so that they too get the AVX2 build. */
#define VMAPRT_BLOCK(NAME, ATTR)                                                                  \
    ATTR static int NAME(int op, const double* x, Py_ssize_t s, double shift, double* buf,        \
                         double* out, Py_ssize_t m) {                                             \
        Py_ssize_t i;                                                                              \
        int bad = 0;                                                                               \
        if (shift != 0.0)                                                                          \
            for (i = 0; i < m; i++) buf[i] = x[i * s] + shift;                                     \
        else if (s == 1)  /* (adding 0.0 would turn -0.0 into 0.0) */                              \
            memcpy(buf, x, m * sizeof(double));                                                    \
        else                                                                                       \
            for (i = 0; i < m; i++) buf[i] = x[i * s];                                             \
        if (op == VMAPRT_EXP) {                                                                    \
            for (i = 0; i < m; i++) bad |= !vmaprt_in_domain(VMAPRT_EXP, buf[i]);                  \
            for (i = 0; i < m; i++) out[i] = vmaprt_exp_core(buf[i]);                              \
        } else if (op == VMAPRT_TANH) {                                                            \
            for (i = 0; i < m; i++) bad |= !vmaprt_in_domain(VMAPRT_TANH, buf[i]);                 \
            for (i = 0; i < m; i++) out[i] = vmaprt_tanh_core(buf[i]);                             \
        } else if (op == VMAPRT_LOG) {                                                             \
            for (i = 0; i < m; i++) bad |= !vmaprt_in_domain(VMAPRT_LOG, buf[i]);                  \
            for (i = 0; i < m; i++) out[i] = vmaprt_log_core(buf[i]);                              \
        } else {                                                                                   \
            for (i = 0; i < m; i++) bad |= !vmaprt_in_domain(VMAPRT_SIN, buf[i]);                  \
            if (op == VMAPRT_SIN)                                                                  \
                for (i = 0; i < m; i++) out[i] = vmaprt_sincos_core(buf[i], 0);                    \
            else                                                                                   \
                for (i = 0; i < m; i++) out[i] = vmaprt_sincos_core(buf[i], 1);                    \
        }                                                                                          \
        return bad;                                                                                \
    }

VMAPRT_BLOCK(vmaprt_block_base, )

#if defined(__GNUC__) && defined(__x86_64__)
VMAPRT_BLOCK(vmaprt_block_avx2, __attribute__((target("avx2,fma"))))
static int vmaprt_has_avx2(void) {
    static int has = -1;
    if (has < 0) has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}

/* The largest (smallest) of x[0..n), n >= 1, NaN if there is one, as NumPy's max
 * (min): four-wide max/min over two registers, NaNs tracked on the side (the
 * compiler does not vectorize a NaN-propagating max from plain C). */
__attribute__((target("avx2")))
static double vmaprt_rowext_avx2(const double* x, Py_ssize_t n, int largest) {
    __m256d m0 = _mm256_set1_pd(x[0]), m1 = m0, bad = _mm256_setzero_pd(), a, b;
    double lanes[8], r = x[0];
    Py_ssize_t k = 0;
    int nan, j;
    if (largest)
        for (; k + 8 <= n; k += 8) {
            a = _mm256_loadu_pd(x + k);
            b = _mm256_loadu_pd(x + k + 4);
            m0 = _mm256_max_pd(m0, a);
            m1 = _mm256_max_pd(m1, b);
            bad = _mm256_or_pd(bad, _mm256_cmp_pd(a, b, _CMP_UNORD_Q));
        }
    else
        for (; k + 8 <= n; k += 8) {
            a = _mm256_loadu_pd(x + k);
            b = _mm256_loadu_pd(x + k + 4);
            m0 = _mm256_min_pd(m0, a);
            m1 = _mm256_min_pd(m1, b);
            bad = _mm256_or_pd(bad, _mm256_cmp_pd(a, b, _CMP_UNORD_Q));
        }
    nan = _mm256_movemask_pd(bad) != 0;
    _mm256_storeu_pd(lanes, m0);
    _mm256_storeu_pd(lanes + 4, m1);
    for (j = 0; j < 8; j++) r = largest ? (lanes[j] > r ? lanes[j] : r) : (lanes[j] < r ? lanes[j] : r);
    for (; k < n; k++) {
        nan |= x[k] != x[k];
        r = largest ? (x[k] > r ? x[k] : r) : (x[k] < r ? x[k] : r);
    }
    return nan ? NAN : r;
}

/* vmaprt_rowext_avx2 for the four rows x, x + ld, x + 2 ld, x + 3 ld, into out[0..4):
 * four load streams in flight, as in vmaprt_rowsum4_avx2 (one row at a time left
 * the row max at 1.8x the time of the four-row sum; benchmarks: row max). */
__attribute__((target("avx2")))
VMAPRT_INLINE __m256d vmaprt_ext_pd(__m256d a, __m256d b, int largest) {
    return largest ? _mm256_max_pd(a, b) : _mm256_min_pd(a, b);
}

__attribute__((target("avx2")))
static void vmaprt_rowext4_avx2(const double* x, Py_ssize_t ld, Py_ssize_t n, int largest, double* out) {
    const double* row[4] = {x, x + ld, x + 2 * ld, x + 3 * ld};
    __m256d m[4], bad[4], a, b;
    double lanes[4], r;
    Py_ssize_t k = 0;
    int i, j, nan;
    for (i = 0; i < 4; i++) {
        m[i] = _mm256_set1_pd(row[i][0]);
        bad[i] = _mm256_setzero_pd();
    }
    for (; k + 8 <= n; k += 8)
        for (i = 0; i < 4; i++) {
            a = _mm256_loadu_pd(row[i] + k);
            b = _mm256_loadu_pd(row[i] + k + 4);
            m[i] = vmaprt_ext_pd(vmaprt_ext_pd(m[i], a, largest), b, largest);
            bad[i] = _mm256_or_pd(bad[i], _mm256_cmp_pd(a, b, _CMP_UNORD_Q));
        }
    for (i = 0; i < 4; i++) {
        const double* xi = row[i];
        Py_ssize_t t;
        nan = _mm256_movemask_pd(bad[i]) != 0;
        _mm256_storeu_pd(lanes, m[i]);
        r = lanes[0];
        for (j = 1; j < 4; j++) r = largest ? (lanes[j] > r ? lanes[j] : r) : (lanes[j] < r ? lanes[j] : r);
        for (t = k; t < n; t++) {
            nan |= xi[t] != xi[t];
            r = largest ? (xi[t] > r ? xi[t] : r) : (xi[t] < r ? xi[t] : r);
        }
        out[i] = nan ? NAN : r;
    }
}

/* The sum of the four lanes of v, pairwise. */
__attribute__((target("avx2")))
VMAPRT_INLINE double vmaprt_hsum_avx2(__m256d v) {
    double l[4];
    _mm256_storeu_pd(l, v);
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* out[r] = sum of x[r * ld + k] over k < n, for the four rows r < 4.  Four rows at
 * a time keep four load streams in flight, as BLAS's GEMV does; one row at a time
 * leaves half of the cache bandwidth unused (benchmarks: row sum). */
__attribute__((target("avx2")))
static void vmaprt_rowsum4_avx2(const double* x, Py_ssize_t ld, Py_ssize_t n, double* out) {
    const double *x0 = x, *x1 = x + ld, *x2 = x + 2 * ld, *x3 = x + 3 * ld;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    double t0, t1, t2, t3;
    Py_ssize_t k = 0;
    for (; k + 8 <= n; k += 8) {
        a0 = _mm256_add_pd(a0, _mm256_loadu_pd(x0 + k));
        a1 = _mm256_add_pd(a1, _mm256_loadu_pd(x1 + k));
        a2 = _mm256_add_pd(a2, _mm256_loadu_pd(x2 + k));
        a3 = _mm256_add_pd(a3, _mm256_loadu_pd(x3 + k));
        b0 = _mm256_add_pd(b0, _mm256_loadu_pd(x0 + k + 4));
        b1 = _mm256_add_pd(b1, _mm256_loadu_pd(x1 + k + 4));
        b2 = _mm256_add_pd(b2, _mm256_loadu_pd(x2 + k + 4));
        b3 = _mm256_add_pd(b3, _mm256_loadu_pd(x3 + k + 4));
    }
    t0 = vmaprt_hsum_avx2(_mm256_add_pd(a0, b0));
    t1 = vmaprt_hsum_avx2(_mm256_add_pd(a1, b1));
    t2 = vmaprt_hsum_avx2(_mm256_add_pd(a2, b2));
    t3 = vmaprt_hsum_avx2(_mm256_add_pd(a3, b3));
    for (; k < n; k++) {
        t0 += x0[k]; t1 += x1[k]; t2 += x2[k]; t3 += x3[k];
    }
    out[0] = t0; out[1] = t1; out[2] = t2; out[3] = t3;
}

/* sum of a[k] * b[k] over k < n: four registers of products (FMA), so the adds
 * of one do not wait on the others. */
__attribute__((target("avx2,fma")))
static double vmaprt_dot_avx2(const double* a, const double* b, Py_ssize_t n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    double r;
    Py_ssize_t k = 0;
    for (; k + 16 <= n; k += 16) {
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k), _mm256_loadu_pd(b + k), s0);
        s1 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k + 4), _mm256_loadu_pd(b + k + 4), s1);
        s2 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k + 8), _mm256_loadu_pd(b + k + 8), s2);
        s3 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k + 12), _mm256_loadu_pd(b + k + 12), s3);
    }
    for (; k + 4 <= n; k += 4)
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a + k), _mm256_loadu_pd(b + k), s0);
    r = vmaprt_hsum_avx2(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
    for (; k < n; k++) r += a[k] * b[k];
    return r;
}

#else
#define vmaprt_block_avx2 vmaprt_block_base
static int vmaprt_has_avx2(void) { return 0; }
static double vmaprt_rowext_avx2(const double* x, Py_ssize_t n, int largest) { return NAN; }  /* never called */
static void vmaprt_rowsum4_avx2(const double* x, Py_ssize_t ld, Py_ssize_t n, double* out) {}  /* never called */
static void vmaprt_rowext4_avx2(const double* x, Py_ssize_t ld, Py_ssize_t n, int largest, double* out) {}  /* never called */
static double vmaprt_dot_avx2(const double* a, const double* b, Py_ssize_t n) { return NAN; }    /* never called */
#endif

/* The value libm gives, for arguments outside the SIMD domain. */
static double vmaprt_libm(int op, double v) {
    return op == VMAPRT_EXP ? exp(v) : op == VMAPRT_TANH ? tanh(v) : op == VMAPRT_SIN ? sin(v)
         : op == VMAPRT_COS ? cos(v) : log(v);
}

/* out[i] = op(x[i * s] + shift) for i < n, in blocks of 256 copied to the stack
 * first (so out may alias x); arguments outside the SIMD domain through libm when
 * use_libm is set (else out is unspecified there).  Returns 1 when NumPy's own
 * call should run instead, to keep its floating-point warnings: an exp outside
 * [-708, 708] or of NaN, a sin or cos of inf or NaN, a log of x <= 0 or NaN;
 * else 0. */
static int vmaprt_unary_n(int op, const double* x, Py_ssize_t s, double shift, double* out,
                          Py_ssize_t n, int use_libm) {
    double buf[256];
    int numpy = 0, avx2 = vmaprt_has_avx2();
    Py_ssize_t i0, i, m;
    for (i0 = 0; i0 < n; i0 += 256) {
        int b;
        m = n - i0 < 256 ? n - i0 : 256;
        if (avx2) b = vmaprt_block_avx2(op, x + i0 * s, s, shift, buf, out + i0, m);
        else b = vmaprt_block_base(op, x + i0 * s, s, shift, buf, out + i0, m);
        if (b) {
            for (i = 0; i < m; i++) {
                if (vmaprt_in_domain(op, buf[i])) continue;
                if (use_libm) out[i0 + i] = vmaprt_libm(op, buf[i]);
                if (op == VMAPRT_EXP || (op == VMAPRT_LOG && !(buf[i] > 0.0))
                    || ((op == VMAPRT_SIN || op == VMAPRT_COS) && !(fabs(buf[i]) <= 1.7976931348623157e308)))
                    numpy = 1;
            }
        }
    }
    return numpy;
}

#endif
