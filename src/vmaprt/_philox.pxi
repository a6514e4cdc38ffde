# Counter-based random streams for vmaprt.random: Philox4x64-10 and the samplers on it.
#
# Included at the end of vmaprt/_core.pyx, so it shares that module's thread
# count (_num_threads, _threads_for) and compiler directives.  Every kernel is
# a ``noexcept nogil`` function of raw pointers; the ``def`` wrappers at the
# bottom check their arguments and release the GIL.
#
# Note [Philox stream layout]
#     A generator is a Philox4x64-10 key (two words, from a SeedSequence) and a
#     call counter k.  The 4-word Philox counter addresses every word ever
#     drawn:
#
#         (c0, c1, c2, c3) = (j + 1, 0, k, 0)   main stream of call k, block j
#         (c0, c1, c2, c3) = (j + 1, p, k, 1)   sub-stream of position p, block j
#
#     Word n of the main stream is word n % 4 of block n // 4.  So the main
#     stream of call k is exactly the output of
#     ``np.random.Philox(key=key, counter=k << 128).random_raw()`` (NumPy adds
#     one to the counter before each block), and the sub-stream of position p
#     is that of ``counter=(1 << 192) | (k << 128) | (p << 64)``.
#
#     Position p is the flat index of a value in the whole (unbatched) draw.
#     Fixed-cost values read the main stream at p: word p for a float64 or a
#     bounded integer, the low (p even) or high (p odd) half of word p // 2 for
#     a float32 (NumPy's order of 32-bit halves).  A value that needs more
#     words (a normal or exponential ziggurat rejection, an integer rejection)
#     continues in the sub-stream of its own position; a Poisson, binomial,
#     gamma or beta value reads only its position's sub-stream.  A
#     joint draw (a permutation, a sample without replacement) is one "row"
#     whose position is its index among the rows; it reads its row's
#     sub-stream.  A value therefore depends only on (key, k, p): how the
#     positions are split between chunks or threads cannot change it.

from libc.stdint cimport UINT64_MAX, int64_t, uint32_t, uint64_t
from libc.math cimport M_PI, erfc, exp, fabs, floor, log, log1p, pow, sqrt
from libc.string cimport memcpy

cdef extern from *:
    """
    #include <stdint.h>
    #define VMAPRT_PHILOX_M0 UINT64_C(0xD2E7470EE14C6C93)
    #define VMAPRT_PHILOX_M1 UINT64_C(0xCA5A826395121157)
    #define VMAPRT_PHILOX_W0 UINT64_C(0x9E3779B97F4A7C15)
    #define VMAPRT_PHILOX_W1 UINT64_C(0xBB67AE8584CAA73B)
    #define VMAPRT_MASK52 UINT64_C(0x000FFFFFFFFFFFFF)
    /* lo = a * b mod 2**64, *hi = a * b >> 64 */
    #if defined(__SIZEOF_INT128__)
    static inline uint64_t vmaprt_mulhilo64(uint64_t a, uint64_t b, uint64_t *hi) {
        __uint128_t p = (__uint128_t)a * b;
        *hi = (uint64_t)(p >> 64);
        return (uint64_t)p;
    }
    #elif defined(_MSC_VER) && defined(_M_X64)
    #include <intrin.h>
    static inline uint64_t vmaprt_mulhilo64(uint64_t a, uint64_t b, uint64_t *hi) {
        return _umul128(a, b, hi);
    }
    #else
    static inline uint64_t vmaprt_mulhilo64(uint64_t a, uint64_t b, uint64_t *hi) {
        uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
        uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
        uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;
        *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
        return (mid << 32) | (uint32_t)p00;
    }
    #endif
    """
    uint64_t VMAPRT_PHILOX_M0
    uint64_t VMAPRT_PHILOX_M1
    uint64_t VMAPRT_PHILOX_W0
    uint64_t VMAPRT_PHILOX_W1
    uint64_t VMAPRT_MASK52
    uint64_t vmaprt_mulhilo64(uint64_t a, uint64_t b, uint64_t* hi) noexcept nogil


# The block function ---------------------------------------------------------------
cdef inline void philox4x64_10(const uint64_t* ctr, uint64_t k0, uint64_t k1,
                               uint64_t* out) noexcept nogil:
    """out = Philox4x64-10(ctr, key=(k0, k1)): ten rounds of
    (c0, c1, c2, c3) <- (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0)),
    the key bumped by the Weyl constants (W0, W1) between rounds."""
    cdef uint64_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3]
    cdef uint64_t hi0, hi1, lo0, lo1
    cdef int r
    for r in range(10):
        if r:
            k0 += VMAPRT_PHILOX_W0
            k1 += VMAPRT_PHILOX_W1
        lo0 = vmaprt_mulhilo64(VMAPRT_PHILOX_M0, c0, &hi0)
        lo1 = vmaprt_mulhilo64(VMAPRT_PHILOX_M1, c2, &hi1)
        c0 = hi1 ^ c1 ^ k0
        c1 = lo1
        c2 = hi0 ^ c3 ^ k1
        c3 = lo0
    out[0] = c0
    out[1] = c1
    out[2] = c2
    out[3] = c3


cdef inline double _u53(uint64_t w) noexcept nogil:
    """A double in [0, 1) from the top 53 bits of w (NumPy's next_double)."""
    return <double>(w >> 11) * (1.0 / 9007199254740992.0)


cdef inline float _u24(uint32_t w) noexcept nogil:
    """A float in [0, 1) from the top 24 bits of w (NumPy's next_float)."""
    return <float>(w >> 8) * (1.0 / 16777216.0)


# Sub-streams ---------------------------------------------------------------------
cdef struct _Substream:
    uint64_t k0
    uint64_t k1
    uint64_t ctr[4]
    uint64_t buf[4]
    int pos


cdef inline void _sub_init(_Substream* s, uint64_t k0, uint64_t k1, uint64_t call,
                           uint64_t position) noexcept nogil:
    """s := the sub-stream of ``position`` in call ``call``: counters (j + 1, position, call, 1)."""
    s.k0 = k0
    s.k1 = k1
    s.ctr[0] = 0
    s.ctr[1] = position
    s.ctr[2] = call
    s.ctr[3] = 1
    s.pos = 4


cdef inline uint64_t _next64(_Substream* s) noexcept nogil:
    """The next word of the sub-stream."""
    if s.pos == 4:
        s.ctr[0] += 1
        philox4x64_10(s.ctr, s.k0, s.k1, s.buf)
        s.pos = 0
    s.pos += 1
    return s.buf[s.pos - 1]


cdef inline double _next_double(_Substream* s) noexcept nogil:
    return _u53(_next64(s))


cdef inline uint64_t _bounded(uint64_t w, uint64_t rng, _Substream* s) noexcept nogil:
    """A uniform integer in [0, rng] from the word w, Lemire's method; rejections
    (probability below (rng + 1) / 2**64) read on in s."""
    cdef uint64_t n, hi, lo, threshold
    if rng == UINT64_MAX:
        return w
    if rng == 0:
        return 0
    n = rng + 1
    lo = vmaprt_mulhilo64(w, n, &hi)
    if lo < n:
        threshold = (0 - n) % n
        while lo < threshold:
            lo = vmaprt_mulhilo64(_next64(s), n, &hi)
    return hi


cdef inline uint64_t _bounded_at(uint64_t w, uint64_t rng, uint64_t k0, uint64_t k1, uint64_t call,
                                 uint64_t position) noexcept nogil:
    """_bounded on main-stream word w of ``position``, opening the position's
    sub-stream only if the word is rejected."""
    cdef uint64_t n, hi, lo, threshold
    cdef _Substream s
    if rng == UINT64_MAX:
        return w
    if rng == 0:
        return 0
    n = rng + 1
    lo = vmaprt_mulhilo64(w, n, &hi)
    if lo < n:
        threshold = (0 - n) % n
        if lo < threshold:
            _sub_init(&s, k0, k1, call, position)
            while lo < threshold:
                lo = vmaprt_mulhilo64(_next64(&s), n, &hi)
    return hi


# The ziggurat for the normal distribution -----------------------------------------
# 256 layers on 52-bit mantissas (Marsaglia & Tsang 2000, in NumPy's layout): layer 0
# is the base strip with the tail, layer 255 lies just above it, layer 1 at the top.
cdef double _ZIG_R = 3.6541528853610088
cdef double _zig_w[256]
cdef double _zig_f[256]
cdef uint64_t _zig_k[256]


cdef void _init_ziggurat() noexcept:
    """Fill the layer tables: widths w[i] = x_i / 2**52, heights f[i] = exp(-x_i**2 / 2),
    acceptance bounds k[i] = 2**52 x_{i-1} / x_i."""
    cdef double m1 = 4503599627370496.0  # 2**52
    cdef double r = _ZIG_R
    cdef double v = r * exp(-0.5 * r * r) + sqrt(M_PI / 2) * erfc(r / sqrt(2.0))  # layer area
    cdef double q = v / exp(-0.5 * r * r)
    cdef double dn = r, tn = r
    cdef int i
    _zig_k[0] = <uint64_t>((dn / q) * m1)
    _zig_k[1] = 0
    _zig_w[0] = q / m1
    _zig_w[255] = dn / m1
    _zig_f[0] = 1.0
    _zig_f[255] = exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = sqrt(-2.0 * log(v / dn + exp(-0.5 * dn * dn)))
        _zig_k[i + 1] = <uint64_t>((dn / tn) * m1)
        tn = dn
        _zig_f[i] = exp(-0.5 * dn * dn)
        _zig_w[i] = dn / m1


_init_ziggurat()


cdef inline bint _zig_fast(uint64_t r, double* x) noexcept nogil:
    """x := the candidate of word r; True if it lies inside its layer's rectangle
    (99.3% of words), so that it is a standard normal value."""
    cdef int idx = r & 0xff
    cdef uint64_t rabs = (r >> 9) & VMAPRT_MASK52
    x[0] = rabs * _zig_w[idx]
    if (r >> 8) & 1:
        x[0] = -x[0]
    return rabs < _zig_k[idx]


cdef double _zig_finish(uint64_t r, _Substream* s) noexcept nogil:
    """A standard normal value: the ziggurat from the word r, reading further words in s."""
    cdef int idx
    cdef uint64_t rabs
    cdef double x, xx, yy
    while True:
        if _zig_fast(r, &x):
            return x
        idx = r & 0xff
        rabs = (r >> 9) & VMAPRT_MASK52
        if idx == 0:  # the tail beyond R, Marsaglia's method
            while True:
                xx = -log1p(-_next_double(s)) / _ZIG_R
                yy = -log1p(-_next_double(s))
                if yy + yy > xx * xx:
                    return -(_ZIG_R + xx) if (rabs >> 8) & 1 else _ZIG_R + xx
        elif (_zig_f[idx - 1] - _zig_f[idx]) * _next_double(s) + _zig_f[idx] < exp(-0.5 * x * x):
            return x
        r = _next64(s)


cdef inline double _std_normal(_Substream* s) noexcept nogil:
    return _zig_finish(_next64(s), s)


# The ziggurat for the exponential distribution ----------------------------------------
# 256 layers on 53-bit mantissas (Marsaglia & Tsang 2000, NumPy's layout), the same
# arrangement as the normal one with f(x) = exp(-x).
cdef double _ZIGE_R = 7.69711747013104972
cdef double _zige_w[256]
cdef double _zige_f[256]
cdef uint64_t _zige_k[256]


cdef void _init_ziggurat_exp() noexcept:
    """Fill the layer tables: w[i] = x_i / 2**53, f[i] = exp(-x_i), k[i] = 2**53 x_{i-1} / x_i."""
    cdef double m2 = 9007199254740992.0  # 2**53
    cdef double r = _ZIGE_R
    cdef double v = (r + 1.0) * exp(-r)  # layer area: rectangle plus tail
    cdef double q = v / exp(-r)
    cdef double de = r, te = r
    cdef int i
    _zige_k[0] = <uint64_t>((de / q) * m2)
    _zige_k[1] = 0
    _zige_w[0] = q / m2
    _zige_w[255] = de / m2
    _zige_f[0] = 1.0
    _zige_f[255] = exp(-de)
    for i in range(254, 0, -1):
        de = -log(v / de + exp(-de))
        _zige_k[i + 1] = <uint64_t>((de / te) * m2)
        te = de
        _zige_f[i] = exp(-de)
        _zige_w[i] = de / m2


_init_ziggurat_exp()


cdef inline bint _zige_fast(uint64_t r, double* x) noexcept nogil:
    """x := the exponential candidate of word r; True if inside its layer's rectangle (98.9%)."""
    cdef uint64_t ri = r >> 11
    cdef int idx = (r >> 3) & 0xff
    x[0] = ri * _zige_w[idx]
    return ri < _zige_k[idx]


cdef double _zige_finish(uint64_t r, _Substream* s) noexcept nogil:
    """A standard exponential value: the ziggurat from the word r, reading further words in s."""
    cdef int idx
    cdef double x
    while True:
        if _zige_fast(r, &x):
            return x
        idx = (r >> 3) & 0xff
        if idx == 0:  # the tail beyond R is R plus an exponential
            return _ZIGE_R - log1p(-_next_double(s))
        if (_zige_f[idx - 1] - _zige_f[idx]) * _next_double(s) + _zige_f[idx] < exp(-x):
            return x
        r = _next64(s)


cdef inline double _std_exponential(_Substream* s) noexcept nogil:
    return _zige_finish(_next64(s), s)


# Variable-cost samplers, each on one sub-stream (NumPy's algorithms unless noted) ----------
cdef double _LOGGAM_A[10]
_LOGGAM_A[:] = [8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04,
                -5.952380952380952e-04, 8.417508417508418e-04, -1.917526917526918e-03,
                6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
                -1.39243221690590e+00]


cdef double _loggam(double x) noexcept nogil:
    """log Gamma(x) for x > 0 (NumPy's random_loggam: Stirling's series, shifted below 7)."""
    cdef double x0, x2, gl, gl0
    cdef int64_t k, n = 0
    if x == 1.0 or x == 2.0:
        return 0.0
    if x < 7.0:
        n = <int64_t>(7 - x)
    x0 = x + n
    x2 = (1.0 / x0) * (1.0 / x0)
    gl0 = _LOGGAM_A[9]
    for k in range(8, -1, -1):
        gl0 = gl0 * x2 + _LOGGAM_A[k]
    gl = gl0 / x0 + 0.5 * 1.8378770664093453 + (x0 - 0.5) * log(x0) - x0
    if x < 7.0:
        for k in range(n):
            gl -= log(x0 - 1.0)
            x0 -= 1.0
    return gl


cdef int64_t _poisson(double lam, _Substream* s) noexcept nogil:
    """Poisson(lam): multiplication of uniforms below 10, PTRS (Hormann 1993) above."""
    cdef double enlam, prod, slam, loglam, a, b, invalpha, vr, U, V, us
    cdef int64_t k
    if lam == 0:
        return 0
    if lam < 10:
        enlam = exp(-lam)
        k = 0
        prod = 1.0
        while True:
            prod *= _next_double(s)
            if prod > enlam:
                k += 1
            else:
                return k
    slam = sqrt(lam)
    loglam = log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2)
    while True:
        U = _next_double(s) - 0.5
        V = _next_double(s)
        us = 0.5 - fabs(U)
        k = <int64_t>floor((2 * a / us + b) * U + lam + 0.43)
        if us >= 0.07 and V <= vr:
            return k
        if k < 0 or (us < 0.013 and V > us):
            continue
        if log(V) + log(invalpha) - log(a / (us * us) + b) <= -lam + k * loglam - _loggam(k + 1):
            return k


cdef double _STIRLING_TAIL[10]
_STIRLING_TAIL[:] = [0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                     0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                     0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                     0.00833056343336287]


cdef inline double _stirling_tail(double k) noexcept nogil:
    """log k! - [(k + 1/2) log(k + 1) - (k + 1) + log(2 pi) / 2]."""
    cdef double kp1sq
    if k <= 9:
        return _STIRLING_TAIL[<int>k]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


cdef int64_t _binomial_small(int64_t n, double p, _Substream* s) noexcept nogil:
    """Binomial(n, p) by inversion, for p <= 1/2 and n p <= 30 (NumPy's method)."""
    cdef double q = 1.0 - p
    cdef double qn = exp(n * log(q))
    cdef double npq = n * p
    cdef double bound_d = npq + 10.0 * sqrt(npq * q + 1)
    cdef int64_t bound = n if n < bound_d else <int64_t>bound_d
    cdef int64_t X = 0
    cdef double px = qn
    cdef double U = _next_double(s)
    while U > px:
        X += 1
        if X > bound:
            X = 0
            px = qn
            U = _next_double(s)
        else:
            U -= px
            px = ((n - X + 1) * p * px) / (X * q)
    return X


cdef int64_t _binomial_btrs(int64_t count, double p, _Substream* s) noexcept nogil:
    """Binomial(count, p) for p <= 1/2 and count p > 30: BTRS, transformed rejection
    with a squeeze (Hormann 1993), as TensorFlow and JAX sample it."""
    cdef double n = <double>count
    cdef double stddev = sqrt(n * p * (1 - p))
    cdef double b = 1.15 + 2.53 * stddev
    cdef double a = -0.0873 + 0.0248 * b + 0.01 * p
    cdef double c = n * p + 0.5
    cdef double v_r = 0.92 - 4.2 / b
    cdef double r = p / (1 - p)
    cdef double alpha = (2.83 + 5.1 / b) * stddev
    cdef double m = floor((n + 1) * p)
    cdef double u, v, us, k, upper
    while True:
        u = _next_double(s) - 0.5
        v = _next_double(s)
        us = 0.5 - fabs(u)
        k = floor((2 * a / us + b) * u + c)
        if us >= 0.07 and v <= v_r:
            return <int64_t>k
        if k < 0 or k > n:
            continue
        v = log(v * alpha / (a / (us * us) + b))
        upper = ((m + 0.5) * log((m + 1) / (r * (n - m + 1)))
                 + (n + 1) * log((n - m + 1) / (n - k + 1))
                 + (k + 0.5) * log(r * (n - k + 1) / (k + 1))
                 + _stirling_tail(m) + _stirling_tail(n - m)
                 - _stirling_tail(k) - _stirling_tail(n - k))
        if v <= upper:
            return <int64_t>k


cdef int64_t _binomial(int64_t n, double p, _Substream* s) noexcept nogil:
    """Binomial(n, p), through the smaller of p and 1 - p."""
    if n == 0 or p == 0.0:
        return 0
    if p <= 0.5:
        return _binomial_small(n, p, s) if p * n <= 30.0 else _binomial_btrs(n, p, s)
    if (1.0 - p) * n <= 30.0:
        return n - _binomial_small(n, 1.0 - p, s)
    return n - _binomial_btrs(n, 1.0 - p, s)


cdef double _std_gamma(double shape, _Substream* s) noexcept nogil:
    """Gamma(shape, 1): Marsaglia & Tsang (2000) for shape >= 1, Ahrens & Dieter's
    GS below 1 (NumPy's methods)."""
    cdef double b, c, U, V, X, Y
    if shape == 1.0:
        return _std_exponential(s)
    if shape == 0.0:
        return 0.0
    if shape < 1.0:
        while True:
            U = _next_double(s)
            V = _std_exponential(s)
            if U <= 1.0 - shape:
                X = pow(U, 1.0 / shape)
                if X <= V:
                    return X
            else:
                Y = -log((1 - U) / shape)
                X = pow(1.0 - shape + shape * Y, 1.0 / shape)
                if X <= V + Y:
                    return X
    b = shape - 1.0 / 3.0
    c = 1.0 / sqrt(9 * b)
    while True:
        while True:
            X = _std_normal(s)
            V = 1.0 + c * X
            if V > 0.0:
                break
        V = V * V * V
        U = _next_double(s)
        if U < 1.0 - 0.0331 * (X * X) * (X * X):
            return b * V
        if log(U) < 0.5 * X * X + b * (1.0 - V + log(V)):
            return b * V


cdef double _beta(double a, double b, _Substream* s) noexcept nogil:
    """Beta(a, b): Johnk's method when a, b <= 1 (in logs if both powers underflow),
    else Ga / (Ga + Gb) (NumPy's methods)."""
    cdef double U, V, X, Y, XpY, logX, logY, logM, Ga, Gb
    if a <= 1.0 and b <= 1.0:
        while True:
            U = _next_double(s)
            V = _next_double(s)
            X = pow(U, 1.0 / a)
            Y = pow(V, 1.0 / b)
            XpY = X + Y
            if XpY <= 1.0 and U + V > 0.0:
                if XpY > 0:
                    return X / XpY
                logX = log(U) / a
                logY = log(V) / b
                logM = logX if logX > logY else logY
                logX -= logM
                logY -= logM
                return exp(logX - log(exp(logX) + exp(logY)))
    Ga = _std_gamma(a, s)
    Gb = _std_gamma(b, s)
    return Ga / (Ga + Gb)


# Fixed-cost values along a run of consecutive positions ------------------------------
# kinds of random_runs
cdef enum:
    _RUN_UNIFORM64 = 0
    _RUN_UNIFORM32 = 1
    _RUN_NORMAL64 = 2
    _RUN_NORMAL32 = 3
    _RUN_EXPONENTIAL64 = 4
    _RUN_EXPONENTIAL32 = 5
    _RUN_INTEGERS = 6  # a = low (two's complement), b = inclusive span

RUN_KINDS = {"uniform": _RUN_UNIFORM64, "normal": _RUN_NORMAL64, "exponential": _RUN_EXPONENTIAL64,
             "integers": _RUN_INTEGERS}
"""The kinds of random_runs by name; a float kind + 1 is its float32 version."""

cdef Py_ssize_t _TILE = 4096  # positions per parallel work item


cdef void _run_uniform64(double* out, uint64_t pos, Py_ssize_t n, uint64_t k0, uint64_t k1,
                         uint64_t call) noexcept nogil:
    """out[i] = u53(word pos + i of the main stream of call)"""
    cdef uint64_t ctr[4]
    cdef uint64_t buf[4]
    cdef Py_ssize_t i = 0
    cdef uint64_t lane = pos & 3
    ctr[0] = (pos >> 2) + 1
    ctr[1] = 0
    ctr[2] = call
    ctr[3] = 0
    while i < n:
        philox4x64_10(ctr, k0, k1, buf)
        if lane == 0 and i + 4 <= n:
            out[i] = _u53(buf[0])
            out[i + 1] = _u53(buf[1])
            out[i + 2] = _u53(buf[2])
            out[i + 3] = _u53(buf[3])
            i += 4
        else:
            while lane < 4 and i < n:
                out[i] = _u53(buf[lane])
                i += 1
                lane += 1
        lane = 0
        ctr[0] += 1


cdef void _run_uniform32(float* out, uint64_t pos, Py_ssize_t n, uint64_t k0, uint64_t k1,
                         uint64_t call) noexcept nogil:
    """out[i] = u24(half (pos + i) % 2 of word (pos + i) // 2 of the main stream), low half first"""
    cdef uint64_t ctr[4]
    cdef uint64_t buf[4]
    cdef Py_ssize_t i = 0
    cdef uint64_t half = pos & 7, w
    ctr[0] = (pos >> 3) + 1
    ctr[1] = 0
    ctr[2] = call
    ctr[3] = 0
    while i < n:
        philox4x64_10(ctr, k0, k1, buf)
        while half < 8 and i < n:
            w = buf[half >> 1]
            out[i] = _u24(<uint32_t>(w >> 32) if half & 1 else <uint32_t>w)
            i += 1
            half += 1
        half = 0
        ctr[0] += 1


cdef void _run_normal(floating* out, uint64_t pos, Py_ssize_t n, uint64_t k0, uint64_t k1,
                      uint64_t call) noexcept nogil:
    """out[i] = standard normal at position pos + i: the ziggurat on main-stream word
    pos + i, continued in the sub-stream of the position when it rejects"""
    cdef uint64_t ctr[4]
    cdef uint64_t buf[4]
    cdef Py_ssize_t i = 0
    cdef uint64_t lane = pos & 3
    cdef double x
    cdef _Substream s
    ctr[0] = (pos >> 2) + 1
    ctr[1] = 0
    ctr[2] = call
    ctr[3] = 0
    while i < n:
        philox4x64_10(ctr, k0, k1, buf)
        while lane < 4 and i < n:
            if not _zig_fast(buf[lane], &x):
                _sub_init(&s, k0, k1, call, pos + <uint64_t>i)
                x = _zig_finish(buf[lane], &s)
            out[i] = <floating>x
            i += 1
            lane += 1
        lane = 0
        ctr[0] += 1


cdef void _run_exponential(floating* out, uint64_t pos, Py_ssize_t n, uint64_t k0, uint64_t k1,
                           uint64_t call) noexcept nogil:
    """out[i] = standard exponential at position pos + i: the ziggurat on main-stream
    word pos + i, continued in the sub-stream of the position when it rejects"""
    cdef uint64_t ctr[4]
    cdef uint64_t buf[4]
    cdef Py_ssize_t i = 0
    cdef uint64_t lane = pos & 3
    cdef double x
    cdef _Substream s
    ctr[0] = (pos >> 2) + 1
    ctr[1] = 0
    ctr[2] = call
    ctr[3] = 0
    while i < n:
        philox4x64_10(ctr, k0, k1, buf)
        while lane < 4 and i < n:
            if not _zige_fast(buf[lane], &x):
                _sub_init(&s, k0, k1, call, pos + <uint64_t>i)
                x = _zige_finish(buf[lane], &s)
            out[i] = <floating>x
            i += 1
            lane += 1
        lane = 0
        ctr[0] += 1


cdef void _run_integers(uint64_t* out, uint64_t pos, Py_ssize_t n, uint64_t low, uint64_t rng,
                        uint64_t k0, uint64_t k1, uint64_t call) noexcept nogil:
    """out[i] = low + uniform integer in [0, rng] from main-stream word pos + i (Lemire;
    a rejection continues in the sub-stream of the position)"""
    cdef uint64_t ctr[4]
    cdef uint64_t buf[4]
    cdef Py_ssize_t i = 0
    cdef uint64_t lane = pos & 3
    ctr[0] = (pos >> 2) + 1
    ctr[1] = 0
    ctr[2] = call
    ctr[3] = 0
    while i < n:
        philox4x64_10(ctr, k0, k1, buf)
        while lane < 4 and i < n:
            out[i] = low + _bounded_at(buf[lane], rng, k0, k1, call, pos + <uint64_t>i)
            i += 1
            lane += 1
        lane = 0
        ctr[0] += 1


cdef void _run(int kind, char* out, uint64_t pos, Py_ssize_t n, uint64_t a, uint64_t b,
               uint64_t k0, uint64_t k1, uint64_t call) noexcept nogil:
    """One run of ``kind`` into out (the run's first element)."""
    if kind == _RUN_UNIFORM64:
        _run_uniform64(<double*>out, pos, n, k0, k1, call)
    elif kind == _RUN_UNIFORM32:
        _run_uniform32(<float*>out, pos, n, k0, k1, call)
    elif kind == _RUN_NORMAL64:
        _run_normal(<double*>out, pos, n, k0, k1, call)
    elif kind == _RUN_NORMAL32:
        _run_normal(<float*>out, pos, n, k0, k1, call)
    elif kind == _RUN_EXPONENTIAL64:
        _run_exponential(<double*>out, pos, n, k0, k1, call)
    elif kind == _RUN_EXPONENTIAL32:
        _run_exponential(<float*>out, pos, n, k0, k1, call)
    else:
        _run_integers(<uint64_t*>out, pos, n, a, b, k0, k1, call)


cdef void _runs_span(int kind, char* out, Py_ssize_t itemsize, Py_ssize_t e0, Py_ssize_t e1,
                     const uint64_t* bases, Py_ssize_t run_len, uint64_t a, uint64_t b,
                     uint64_t k0, uint64_t k1, uint64_t call) noexcept nogil:
    """Elements e0..e1 of runs_kernel: element e is position bases[e // run_len] + e % run_len."""
    cdef Py_ssize_t r = e0 // run_len, off = e0 % run_len, e = e0, seg
    while e < e1:
        seg = run_len - off
        if seg > e1 - e:
            seg = e1 - e
        _run(kind, out + e * itemsize, bases[r] + <uint64_t>off, seg, a, b, k0, k1, call)
        e += seg
        r += 1
        off = 0


cdef void runs_kernel(int kind, char* out, Py_ssize_t itemsize, Py_ssize_t n_runs,
                      const uint64_t* bases, Py_ssize_t run_len, uint64_t a, uint64_t b,
                      uint64_t k0, uint64_t k1, uint64_t call, int nthreads) noexcept nogil:
    """out[r * run_len + i] = value of ``kind`` (parameters a, b) at position bases[r] + i,
    over tiles of _TILE elements spread over the threads."""
    cdef Py_ssize_t total = n_runs * run_len
    cdef Py_ssize_t ntiles = (total + _TILE - 1) // _TILE, t, e1
    if total == 0:
        return
    if nthreads > 1 and ntiles > 1:
        for t in prange(ntiles, schedule="static", num_threads=nthreads):
            e1 = (t + 1) * _TILE
            _runs_span(kind, out, itemsize, t * _TILE, e1 if e1 < total else total,
                       bases, run_len, a, b, k0, k1, call)
    else:
        _runs_span(kind, out, itemsize, 0, total, bases, run_len, a, b, k0, k1, call)


# Values with per-element parameters ------------------------------------------------------
# kinds of random_elements
cdef enum:
    _EL_INTEGERS = 0     # out uint64, p0 = low (uint64, two's complement), p1 = inclusive range
    _EL_POISSON = 1      # out int64, p0 = lam (double)
    _EL_BINOMIAL = 2     # out int64, p0 = n (int64), p1 = p (double)
    _EL_GAMMA = 3        # out double, p0 = shape (double)
    _EL_BETA = 4         # out double, p0 = a, p1 = b (double)

ELEMENT_KINDS = {"integers": _EL_INTEGERS, "poisson": _EL_POISSON, "binomial": _EL_BINOMIAL,
                 "gamma": _EL_GAMMA, "beta": _EL_BETA}
"""The kinds of random_elements by name."""


cdef void _elements_span(int kind, char* out, Py_ssize_t e0, Py_ssize_t e1,
                         const uint64_t* bases, Py_ssize_t run_len,
                         const char* p0, Py_ssize_t s0, const char* p1, Py_ssize_t s1,
                         uint64_t k0, uint64_t k1, uint64_t call) noexcept nogil:
    """Elements e0..e1 of elements_kernel."""
    cdef Py_ssize_t e, r = e0 // run_len, off = e0 % run_len
    cdef uint64_t pos, blk, cur = UINT64_MAX
    cdef uint64_t ctr[4]
    cdef uint64_t buf[4]
    cdef _Substream s
    ctr[1] = 0
    ctr[2] = call
    ctr[3] = 0
    for e in range(e0, e1):
        pos = bases[r] + <uint64_t>off
        off += 1
        if off == run_len:
            off = 0
            r += 1
        if kind == _EL_INTEGERS:
            blk = pos >> 2
            if blk != cur:
                ctr[0] = blk + 1
                philox4x64_10(ctr, k0, k1, buf)
                cur = blk
            (<uint64_t*>out)[e] = (<const uint64_t*>p0)[e * s0] + _bounded_at(
                buf[pos & 3], (<const uint64_t*>p1)[e * s1], k0, k1, call, pos)
            continue
        _sub_init(&s, k0, k1, call, pos)
        if kind == _EL_POISSON:
            (<int64_t*>out)[e] = _poisson((<const double*>p0)[e * s0], &s)
        elif kind == _EL_BINOMIAL:
            (<int64_t*>out)[e] = _binomial((<const int64_t*>p0)[e * s0],
                                           (<const double*>p1)[e * s1], &s)
        elif kind == _EL_GAMMA:
            (<double*>out)[e] = _std_gamma((<const double*>p0)[e * s0], &s)
        else:
            (<double*>out)[e] = _beta((<const double*>p0)[e * s0], (<const double*>p1)[e * s1], &s)


cdef void elements_kernel(int kind, char* out, Py_ssize_t n_runs, const uint64_t* bases,
                          Py_ssize_t run_len, const char* p0, Py_ssize_t s0,
                          const char* p1, Py_ssize_t s1, uint64_t k0, uint64_t k1,
                          uint64_t call, int nthreads) noexcept nogil:
    """out[e] = value of ``kind`` with parameters p0[e * s0], p1[e * s1] at position
    bases[e // run_len] + e % run_len (a stride of 0 broadcasts a parameter)."""
    cdef Py_ssize_t total = n_runs * run_len
    cdef Py_ssize_t ntiles = (total + _TILE - 1) // _TILE, t, e1
    if total == 0:
        return
    if nthreads > 1 and ntiles > 1:
        for t in prange(ntiles, schedule="dynamic", num_threads=nthreads):
            e1 = (t + 1) * _TILE
            _elements_span(kind, out, t * _TILE, e1 if e1 < total else total, bases, run_len,
                           p0, s0, p1, s1, k0, k1, call)
    else:
        _elements_span(kind, out, 0, total, bases, run_len, p0, s0, p1, s1, k0, k1, call)


# Joint draws, one per row -----------------------------------------------------------------
# kinds of random_rows
cdef enum:
    _ROW_PERMUTATION = 0  # out int64 [rows, n]: a permutation of 0..n-1
    _ROW_SAMPLE = 1       # out int64 [rows, m]: m of 0..n-1 without replacement, in draw order
    _ROW_UNIFORM = 2      # out double [rows, n]: n uniforms

ROW_KINDS = {"permutation": _ROW_PERMUTATION, "sample": _ROW_SAMPLE, "uniform": _ROW_UNIFORM}
"""The kinds of random_rows by name."""


cdef void _rows_span(int kind, char* out, Py_ssize_t r0, Py_ssize_t r1, const uint64_t* bases,
                     Py_ssize_t run_len, Py_ssize_t n, Py_ssize_t m, int64_t* work,
                     int64_t* picks, uint64_t k0, uint64_t k1, uint64_t call) noexcept nogil:
    """Rows r0..r1 of rows_kernel; ``work`` (n entries, holding 0..n-1) and ``picks``
    (m entries) are this thread's scratch for _ROW_SAMPLE."""
    cdef Py_ssize_t row, i, j
    cdef int64_t tmp
    cdef int64_t* o
    cdef double* d
    cdef _Substream s
    for row in range(r0, r1):
        _sub_init(&s, k0, k1, call, bases[row // run_len] + <uint64_t>(row % run_len))
        if kind == _ROW_PERMUTATION:  # Fisher-Yates from the back, as NumPy's shuffle
            o = (<int64_t*>out) + row * n
            for i in range(n):
                o[i] = i
            for i in range(n - 1, 0, -1):
                j = <Py_ssize_t>_bounded(_next64(&s), <uint64_t>i, &s)
                tmp = o[i]
                o[i] = o[j]
                o[j] = tmp
        elif kind == _ROW_SAMPLE:  # the first m steps of Fisher-Yates from the front, undone after
            o = (<int64_t*>out) + row * m
            for i in range(m):
                j = i + <Py_ssize_t>_bounded(_next64(&s), <uint64_t>(n - 1 - i), &s)
                picks[i] = j
                tmp = work[i]
                work[i] = work[j]
                work[j] = tmp
                o[i] = work[i]
            for i in range(m - 1, -1, -1):
                j = picks[i]
                tmp = work[i]
                work[i] = work[j]
                work[j] = tmp
        else:
            d = (<double*>out) + row * n
            for i in range(n):
                d[i] = _next_double(&s)


cdef void rows_kernel(int kind, char* out, Py_ssize_t n_runs, const uint64_t* bases,
                      Py_ssize_t run_len, Py_ssize_t n, Py_ssize_t m, int64_t* work,
                      int64_t* picks, uint64_t k0, uint64_t k1, uint64_t call,
                      int nthreads) noexcept nogil:
    """Row r (position bases[r // run_len] + r % run_len) of ``kind``, from that
    position's sub-stream; thread t uses work[t * n:] and picks[t * m:]."""
    cdef Py_ssize_t rows = n_runs * run_len, per, t, r1
    if rows == 0:
        return
    if nthreads > 1 and rows > 1:
        per = (rows + nthreads - 1) // nthreads
        for t in prange(nthreads, schedule="static", num_threads=nthreads):
            r1 = (t + 1) * per
            if t * per < rows:
                _rows_span(kind, out, t * per, r1 if r1 < rows else rows, bases, run_len, n, m,
                           work + t * n, picks + t * m, k0, k1, call)
    else:
        _rows_span(kind, out, 0, rows, bases, run_len, n, m, work, picks, k0, k1, call)


cdef void searchsorted_rows_kernel(const double* cdf, Py_ssize_t rows, Py_ssize_t n,
                                   const double* u, Py_ssize_t m, int64_t* out) noexcept nogil:
    """out[r, i] = the number of cdf[r, :] <= u[r, i] (np.searchsorted side='right' per row)"""
    cdef Py_ssize_t r, i, lo, hi, mid
    cdef const double* c
    cdef double x
    for r in range(rows):
        c = cdf + r * n
        for i in range(m):
            x = u[r * m + i]
            lo = 0
            hi = n
            while lo < hi:
                mid = (lo + hi) >> 1
                if c[mid] <= x:
                    lo = mid + 1
                else:
                    hi = mid
            out[r * m + i] = lo


# Python wrappers -------------------------------------------------------------------------
cdef inline uint64_t* _bases_ptr(cnp.ndarray bases, Py_ssize_t run_len, Py_ssize_t size) except? NULL:
    if (bases.dtype != np.uint64 or bases.ndim != 1 or not bases.flags.c_contiguous
            or run_len < 0 or bases.shape[0] * run_len != size):
        raise ValueError(
            f"random kernels expect bases as a contiguous 1-d uint64 array with "
            f"len(bases) * run_len == out.size, got {bases.dtype}{(<object>bases).shape}, "
            f"run_len={run_len}, size {size}"
        )
    return <uint64_t*>cnp.PyArray_DATA(bases)


cdef inline void _check_out(cnp.ndarray out, dtype) except *:
    if out.dtype != dtype or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(
            f"random kernels expect a writable C-contiguous {np.dtype(dtype)} output, "
            f"got {out.dtype} (contiguous={out.flags.c_contiguous})"
        )


def philox4x64_10_block(key, counter):
    """The Philox4x64-10 block function: four words for ``counter`` (4 words, c0
    first) under ``key`` (2 words, k0 first), as a uint64 array of 4.

    ``np.random.Philox(key=k0 + (k1 << 64), counter=c - 1).random_raw(4)`` gives the
    same four words: NumPy increments its counter before each block.
    """
    cdef uint64_t ctr[4]
    cdef uint64_t buf[4]
    cdef int i
    key = [int(x) for x in key]
    counter = [int(x) for x in counter]
    if len(key) != 2 or len(counter) != 4:
        raise ValueError(f"philox4x64_10_block expects 2 key words and 4 counter words, got {key}, {counter}")
    for i in range(4):
        ctr[i] = counter[i]
    cdef uint64_t k0 = key[0], k1 = key[1]
    with nogil:
        philox4x64_10(ctr, k0, k1, buf)
    return np.array([buf[0], buf[1], buf[2], buf[3]], dtype=np.uint64)


_RUN_DTYPES = {
    _RUN_UNIFORM64: np.float64, _RUN_UNIFORM32: np.float32, _RUN_NORMAL64: np.float64,
    _RUN_NORMAL32: np.float32, _RUN_EXPONENTIAL64: np.float64, _RUN_EXPONENTIAL32: np.float32,
    _RUN_INTEGERS: np.uint64,
}


def random_runs(int kind, uint64_t k0, uint64_t k1, uint64_t call, cnp.ndarray bases,
                Py_ssize_t run_len, cnp.ndarray out, uint64_t a=0, uint64_t b=0):
    """Fill ``out`` (C-contiguous, ``len(bases) * run_len`` values) with fixed-cost values:
    element ``r * run_len + i`` is the value at position ``bases[r] + i`` of call ``call``
    under key ``(k0, k1)`` (Note [Philox stream layout]).

    ``kind``: 0/1 uniform [0, 1) float64/float32, 2/3 standard normal, 4/5 standard
    exponential, 6 uint64 integers ``a + [0, b]`` (mod 2**64).
    """
    if kind not in _RUN_DTYPES:
        raise ValueError(f"random_runs: unknown kind {kind}")
    _check_out(out, _RUN_DTYPES[kind])
    cdef uint64_t* bp = _bases_ptr(bases, run_len, out.size)
    cdef char* o = <char*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t n_runs = bases.shape[0], itemsize = out.itemsize
    cdef int nthreads = _threads_for(out.size)
    with nogil:
        runs_kernel(kind, o, itemsize, n_runs, bp, run_len, a, b, k0, k1, call, nthreads)
    return out


_EL_TYPES = {  # kind: (out dtype, p0 dtype, p1 dtype, relative cost)
    _EL_INTEGERS: (np.uint64, np.uint64, np.uint64, 1),
    _EL_POISSON: (np.int64, np.float64, None, 8),
    _EL_BINOMIAL: (np.int64, np.int64, np.float64, 8),
    _EL_GAMMA: (np.float64, np.float64, None, 8),
    _EL_BETA: (np.float64, np.float64, np.float64, 16),
}


cdef inline char* _param_ptr(p, dtype, Py_ssize_t size, Py_ssize_t* stride) except? NULL:
    cdef cnp.ndarray a = p
    if a.dtype != dtype or a.ndim != 1 or not a.flags.c_contiguous or a.shape[0] not in (1, size):
        raise ValueError(
            f"random_elements expects each parameter as a contiguous 1-d {np.dtype(dtype)} "
            f"array of 1 or {size} values, got {a.dtype}{(<object>a).shape}"
        )
    stride[0] = 0 if a.shape[0] == 1 else 1
    return <char*>cnp.PyArray_DATA(a)


def random_elements(int kind, uint64_t k0, uint64_t k1, uint64_t call, cnp.ndarray bases,
                    Py_ssize_t run_len, cnp.ndarray out, p0, p1=None):
    """Fill ``out`` with values that take per-element parameters ``p0``, ``p1``
    (1-d arrays of ``out.size`` values, or of one value for all); element ``e`` is at
    position ``bases[e // run_len] + e % run_len`` of call ``call``.

    ``kind``: 0 integers (uint64 low + uniform in [0, p1]), 1 Poisson(p0), 2
    binomial(p0, p1), 3 standard gamma(p0), 4 beta(p0, p1).
    """
    if kind not in _EL_TYPES:
        raise ValueError(f"random_elements: unknown kind {kind}")
    out_t, p0_t, p1_t, cost = _EL_TYPES[kind]
    _check_out(out, out_t)
    cdef uint64_t* b = _bases_ptr(bases, run_len, out.size)
    cdef Py_ssize_t s0 = 0, s1 = 0, size = out.size
    cdef char* a0 = _param_ptr(p0, p0_t, size, &s0)
    cdef char* a1 = a0
    if p1_t is not None:
        a1 = _param_ptr(p1, p1_t, size, &s1)
    cdef char* o = <char*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t n_runs = bases.shape[0]
    cdef int nthreads = _threads_for(size * cost)
    with nogil:
        elements_kernel(kind, o, n_runs, b, run_len, a0, s0, a1, s1, k0, k1, call, nthreads)
    return out


def random_rows(int kind, uint64_t k0, uint64_t k1, uint64_t call, cnp.ndarray bases,
                Py_ssize_t run_len, Py_ssize_t n, Py_ssize_t m, cnp.ndarray out):
    """Joint draws, one per row; row ``r`` reads the sub-stream of position
    ``bases[r // run_len] + r % run_len`` of call ``call``.

    ``kind``: 0 a permutation of ``range(n)`` (``out`` int64 ``[rows, n]``), 1 ``m``
    distinct values of ``range(n)`` in draw order (int64 ``[rows, m]``), 2 ``n``
    uniforms in [0, 1) (float64 ``[rows, n]``).
    """
    cdef Py_ssize_t rows = bases.shape[0] * run_len, width
    if kind == _ROW_PERMUTATION or kind == _ROW_UNIFORM:
        width = n
    elif kind == _ROW_SAMPLE:
        width = m
        if m > n or m < 0:
            raise ValueError(f"random_rows: cannot sample {m} of {n} without replacement")
    else:
        raise ValueError(f"random_rows: unknown kind {kind}")
    _check_out(out, np.float64 if kind == _ROW_UNIFORM else np.int64)
    cdef uint64_t* b = _bases_ptr(bases, run_len, rows)
    if out.size != rows * width:
        raise ValueError(f"random_rows: out has {out.size} values, expected {rows} x {width}")
    cdef int nthreads = _threads_for(rows * (n if kind != _ROW_SAMPLE else m) * 4)
    if nthreads > rows:
        nthreads = max(1, rows)
    cdef cnp.ndarray work = np.empty(0, dtype=np.int64), picks = work
    if kind == _ROW_SAMPLE:
        work = np.tile(np.arange(n, dtype=np.int64), nthreads)
        picks = np.empty(nthreads * max(m, 1), dtype=np.int64)
    cdef int64_t* w = <int64_t*>cnp.PyArray_DATA(work)
    cdef int64_t* pk = <int64_t*>cnp.PyArray_DATA(picks)
    cdef char* o = <char*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t n_runs = bases.shape[0]
    with nogil:
        rows_kernel(kind, o, n_runs, b, run_len, n, m, w, pk, k0, k1, call, nthreads)
    return out


def searchsorted_rows(cnp.ndarray cdf, cnp.ndarray u):
    """``out[r] = np.searchsorted(cdf[r], u[r], side='right')`` for float64 C-contiguous
    ``cdf [R, n]`` and ``u [R, m]``; returns int64 ``[R, m]``."""
    if (cdf.ndim != 2 or u.ndim != 2 or cdf.shape[0] != u.shape[0] or cdf.dtype != np.float64
            or u.dtype != np.float64 or not cdf.flags.c_contiguous or not u.flags.c_contiguous):
        raise ValueError("searchsorted_rows expects C-contiguous float64 arrays [R, n] and [R, m]")
    cdef cnp.ndarray out = np.empty((u.shape[0], u.shape[1]), dtype=np.int64)
    cdef const double* c = <const double*>cnp.PyArray_DATA(cdf)
    cdef const double* x = <const double*>cnp.PyArray_DATA(u)
    cdef int64_t* o = <int64_t*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t rows = cdf.shape[0], n = cdf.shape[1], m = u.shape[1]
    with nogil:
        searchsorted_rows_kernel(c, rows, n, x, m, o)
    return out
