"""Per-example scientific functions, written as for one example, under vmap.

Each runs on a batch with no per-example fallback (a PerformanceWarning is an
error here) and matches the loop ``np.stack([f(x[i]) for i in range(n)])``.
They are the kind of code the coverage work is for: filters, energies,
likelihoods, ODE steps, losses, feature maps, sorting, decompositions and
indexing, in float64, float32, complex and integer arithmetic.
"""

import warnings

import numpy as np
import pytest

import vmaprt
from vmaprt import scipy as vsp

from conftest import assert_matches, loop

N = 5  # examples


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def check(f, args, in_dims=0, dtype=None, chunk_size=None):
    """vmap(f) matches the loop, with no fallback warning."""
    in_dims = in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args)
    with warnings.catch_warnings():
        warnings.simplefilter("error", vmaprt.PerformanceWarning)
        got = vmaprt.vmap(f, in_dims=in_dims, chunk_size=chunk_size)(*args)
    want = loop(f, args, in_dims)
    assert_matches(got, want, dtype)
    return got


# Filters and dynamics -------------------------------------------------------------------------
def kalman_step(x, P, z, F, H, Q, R):
    """One predict/update step of a Kalman filter."""
    x_pred = F @ x
    P_pred = F @ P @ F.T + Q
    S = H @ P_pred @ H.T + R
    K = P_pred @ H.T @ np.linalg.inv(S)
    x_new = x_pred + K @ (z - H @ x_pred)
    P_new = (np.eye(len(x)) - K @ H) @ P_pred
    return x_new, P_new


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kalman_step(rng, dtype):
    d, m = 4, 2
    F = np.eye(d) + 0.1 * rng.standard_normal((d, d))
    H = rng.standard_normal((m, d))
    Q, R = 0.1 * np.eye(d), 0.5 * np.eye(m)
    x = rng.standard_normal((N, d))
    A = rng.standard_normal((N, d, d))
    P = A @ A.transpose(0, 2, 1) + np.eye(d)
    z = rng.standard_normal((N, m))
    args = [a.astype(dtype) for a in (x, P, z, F, H, Q, R)]
    got = check(kalman_step, args, (0, 0, 0, None, None, None, None), dtype)
    assert got[0].dtype == dtype
    # The same with the observations batched along their last axis.
    check(kalman_step, [args[0], args[1], args[2].T, *args[3:]], (0, 0, 1, None, None, None, None), dtype)


def rk4_step(y, h, a=1.1, b=0.4, c=0.4, d=0.1):
    """One Runge-Kutta step of the Lotka-Volterra equations."""

    def f(u):
        return np.stack([a * u[0] - b * u[0] * u[1], d * u[0] * u[1] - c * u[1]])

    k1 = f(y)
    k2 = f(y + h / 2 * k1)
    k3 = f(y + h / 2 * k2)
    k4 = f(y + h * k3)
    return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def test_rk4_step(rng):
    y = np.abs(rng.standard_normal((N, 2))) + 1
    h = np.full(N, 0.1)
    check(rk4_step, [y, h])
    check(rk4_step, [y.T, 0.05], (1, None), chunk_size=2)


# Energies and distances -----------------------------------------------------------------------
def lennard_jones(pos, eps=1.0, sigma=1.0):
    """Total Lennard-Jones energy of a configuration of particles."""
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = np.sum(diff**2, axis=-1) + np.eye(len(pos))  # 1 on the diagonal keeps it finite
    inv6 = (sigma**2 / r2) ** 3
    e = 4 * eps * (inv6**2 - inv6)
    return 0.5 * (np.sum(e) - np.trace(e))


def pairwise_min_distance(pos):
    d2 = np.sum((pos[:, None, :] - pos[None, :, :]) ** 2, axis=-1)
    np.fill_diagonal(d2, np.inf)
    return np.sqrt(np.min(d2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lennard_jones_and_min_distance(rng, dtype):
    pos = (rng.standard_normal((N, 6, 3)) * 2).astype(dtype)
    check(lennard_jones, [pos], dtype=dtype)
    check(pairwise_min_distance, [pos], dtype=dtype)
    check(pairwise_min_distance, [np.moveaxis(pos, 0, 2)], 2, dtype)


# Likelihoods and losses -------------------------------------------------------------------------
def mvn_logpdf(x, mu, cov):
    """Log-density of a multivariate normal, through its Cholesky factor."""
    L = np.linalg.cholesky(cov)
    z = np.linalg.solve(L, x - mu)
    logdet = 2 * np.sum(np.log(np.diag(L)))
    return -0.5 * (z @ z + logdet + len(x) * np.log(2 * np.pi))


def test_mvn_logpdf(rng):
    d = 3
    A = rng.standard_normal((N, d, d))
    cov = A @ A.transpose(0, 2, 1) + d * np.eye(d)
    x, mu = rng.standard_normal((N, d)), rng.standard_normal(d)
    check(mvn_logpdf, [x, mu, cov], (0, None, 0))
    check(mvn_logpdf, [x, mu, cov[0]], (0, None, None))  # one covariance for every example


def softmax_cross_entropy(logits, label):
    m = np.max(logits)
    lse = m + np.log(np.sum(np.exp(logits - m)))
    return lse - logits[label]


def test_softmax_cross_entropy(rng):
    logits = rng.standard_normal((N, 4))
    labels = rng.integers(0, 4, N)
    check(softmax_cross_entropy, [logits, labels])
    check(lambda z, y: vsp.logsumexp(z) - z[y], [logits, labels])
    check(softmax_cross_entropy, [logits.astype(np.float32), labels], dtype=np.float32)


def logistic_gradient(w, X, y):
    p = 1 / (1 + np.exp(-(X @ w)))
    return X.T @ (p - y) / len(y)


def test_logistic_regression_gradient(rng):
    X, y = rng.standard_normal((20, 3)), (rng.random(20) < 0.5).astype(float)
    check(logistic_gradient, [rng.standard_normal((N, 3)), X, y], (0, None, None))


# Features and products --------------------------------------------------------------------------
def polynomial_features(x):
    """Degree-2 features: 1, x, and the upper triangle of outer(x, x)."""
    quad = np.outer(x, x)[np.triu_indices(len(x))]
    return np.concatenate([np.ones(1), x, quad])


def bilinear(x, A, y):
    return np.einsum("i,ij,j->", x, A, y)


def test_features_and_bilinear_forms(rng):
    x = rng.standard_normal((N, 4))
    check(polynomial_features, [x])
    check(polynomial_features, [x.T], 1)
    A = rng.standard_normal((4, 4))
    check(bilinear, [x, A, x[::-1]], (0, None, 0))
    check(bilinear, [x, rng.standard_normal((N, 4, 4)), x[0]], (0, 0, None))
    check(lambda u, v: np.einsum("...i,...i", u, v), [x, x[::-1]])


# Sorting and decompositions ---------------------------------------------------------------------
def top_k(x, k=3):
    idx = np.argsort(-x, kind="stable")[:k]
    return x[idx], idx, np.sort(x)[-k:][::-1], np.partition(x, -k)[-k:].sum()


def test_top_k(rng):
    x = rng.standard_normal((N, 8))
    check(top_k, [x])
    check(top_k, [rng.integers(-9, 9, (N, 8))])


def test_eigh_and_det_inv(rng):
    A = rng.standard_normal((N, 4, 4))
    S = A + A.transpose(0, 2, 1)
    check(lambda s: np.linalg.eigh(s)[0], [S])
    check(lambda s: tuple(np.linalg.eigh(s)), [S])
    check(lambda a: np.linalg.det(a) * np.linalg.inv(a), [A + 4 * np.eye(4)])  # the adjugate
    check(lambda a: np.linalg.slogdet(a)[1] - np.log(np.abs(np.linalg.det(a))), [A + 4 * np.eye(4)])


def test_norm_variants(rng):
    A = rng.standard_normal((N, 3, 4))
    la = np.linalg

    def norms(a):
        v = a[0]
        return (la.norm(v), la.norm(v, 1), la.norm(v, np.inf), la.norm(a), la.norm(a, "fro"),
                la.norm(a, 2), la.norm(a, "nuc"), la.norm(a, axis=0), la.norm(a, 1, axis=1),
                la.vector_norm(a), la.matrix_norm(a, ord=np.inf), la.norm(a, keepdims=True))  # fmt: skip

    check(norms, [A])
    check(norms, [A.astype(np.complex128) * (1 + 1j)])


# Indexing -----------------------------------------------------------------------------------------
def indexing_mix(x, i):
    rows = x[::2, 1:]
    picked = x[i]  # a batched integer index gathers per example
    cols = x[..., [0, 2]]
    upper = x[np.triu_indices(3)]
    masked = x[np.array([True, False, True])]
    y = x.copy()
    y[i] = -1.0  # a batched scatter
    y[:, 0] += picked[0]
    return rows, picked, cols, upper, masked, y, x[None, 1, :, None]


def test_indexing_mix(rng):
    x = rng.standard_normal((N, 3, 3))
    i = rng.integers(0, 3, N)
    check(indexing_mix, [x, i])
    check(indexing_mix, [x, i[0]], (0, None))
    check(lambda a, j: np.take_along_axis(a, np.argsort(a, axis=1), axis=1)[:, j], [x, i])


# Dtypes -------------------------------------------------------------------------------------------
def test_complex_inputs(rng):
    z = rng.standard_normal((N, 4)) + 1j * rng.standard_normal((N, 4))
    M = rng.standard_normal((N, 4, 4)) + 1j * rng.standard_normal((N, 4, 4)) + 4 * np.eye(4)
    got = check(lambda z, M: (np.linalg.solve(M, z), np.vdot(z, z), np.abs(z) ** 2, np.angle(z), np.conj(z) @ M @ z), [z, M])
    assert got[0].dtype == np.complex128
    check(lambda z: (np.fft.fft(z), np.sort_complex(z), np.linalg.eigvals(np.outer(z, z.conj()) + np.eye(4))), [z])
    check(lambda z: (np.cov(np.stack([z, z.conj()])), np.correlate(z, z, "full")), [z])


def test_integer_floor_division_and_remainder(rng):
    x = rng.integers(-20, 20, (N, 6))
    y = rng.integers(1, 7, (N, 6)) * rng.choice([-1, 1], (N, 6))

    def f(a, b):
        q, r = np.divmod(a, b)
        return a // b, a % b, q, r, a // 3, a % -4, np.floor_divide(a, b[0]), np.remainder(a, 5), np.fmod(a, b)

    got = check(f, [x, y])
    assert all(g.dtype == x.dtype for g in got)
    check(f, [x.astype(np.int32), y.astype(np.int32)])
    check(lambda a, b: (a // b, a % b), [x.astype(np.float32), y.astype(np.float32)], dtype=np.float32)


# More of the same kind ------------------------------------------------------------------------------
def test_statistics_summary(rng):
    def summary(x, w):
        return (np.mean(x), np.median(x), np.quantile(x, [0.1, 0.9]), np.average(x, weights=w),
                np.histogram(x, bins=5)[0], np.histogram(x, bins=[-3, -1, 0, 1, 3])[0], np.cov(x[:-1], x[1:]),
                np.corrcoef(x[:-1], x[1:])[0, 1], np.ptp(x), np.std(x, ddof=1), np.bincount(np.digitize(x, [-1, 0, 1]), minlength=4))  # fmt: skip

    check(summary, [rng.standard_normal((N, 12)), np.abs(rng.standard_normal(12))], (0, None))


def test_signal_processing(rng):
    def features(signal, kernel):
        smooth = np.convolve(signal, kernel, mode="same")
        power = np.abs(np.fft.rfft(signal)) ** 2
        t = np.linspace(0.0, 1.0, len(signal))
        resampled = np.interp(np.linspace(0.0, 1.0, 7), t, smooth)
        return smooth, power, resampled, np.gradient(signal), np.diff(signal, prepend=0.0), np.cumsum(signal)

    kernel = np.array([0.25, 0.5, 0.25])
    check(features, [rng.standard_normal((N, 16)), kernel], (0, None))
    check(features, [rng.standard_normal((N, 16)), np.abs(rng.standard_normal((N, 3)))])


def test_inverse_cdf_sampling(rng):
    def sample(weights, u):
        cdf = np.cumsum(weights) / np.sum(weights)
        return np.searchsorted(cdf, u), np.interp(u, cdf, np.arange(len(weights)))

    check(sample, [np.abs(rng.standard_normal((N, 6))), rng.random((N, 4))])
    check(sample, [np.abs(rng.standard_normal(6)), rng.random((N, 4))], (None, 0))


def test_least_squares_and_gaussian_process(rng):
    def gp_mean(xs, ys, xq, length):
        k = np.exp(-0.5 * (xs[:, None] - xs[None, :]) ** 2 / length**2) + 1e-3 * np.eye(len(xs))
        kq = np.exp(-0.5 * (xq[:, None] - xs[None, :]) ** 2 / length**2)
        return kq @ np.linalg.solve(k, ys)

    xs, xq = np.linspace(0, 1, 8), np.linspace(0, 1, 5)
    check(gp_mean, [xs, rng.standard_normal((N, 8)), xq, np.full(N, 0.3)], (None, 0, None, 0))
    X = rng.standard_normal((N, 10, 3))
    y = rng.standard_normal((N, 10))
    check(lambda a, b: (np.linalg.lstsq(a, b)[0], np.linalg.pinv(a) @ b, np.polyfit(a[:, 0], b, 2)), [X, y])

    def qr_least_squares(a, b):
        q, r = np.linalg.qr(a)
        return np.linalg.solve(r, q.T @ b)

    check(qr_least_squares, [X, y])


def test_grids_and_piecewise(rng):
    def field(c):
        gx, gy = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 3))
        r = np.hypot(gx - c[0], gy - c[1])
        return np.piecewise(r, [r < 0.5, r >= 0.5], [lambda v: 1 - v, 0.0]), np.where(r < 0.5, 1.0, 0.0), np.select([r < 0.2, r < 0.6], [2.0, 1.0])

    check(field, [rng.uniform(-1, 1, (N, 2))])
