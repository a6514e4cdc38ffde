"""Memory: chunk_size bounds the peak, and repeated calls leak nothing."""

import gc
import resource
import tracemalloc

import numpy as np

import vmaprt
from vmaprt import vmap


def _pairwise_energy(x):  # [16] -> []; a [16, 16] intermediate per example
    d = np.subtract.outer(x, x)
    return np.sum(np.tanh(d * d))


def test_chunk_size_bounds_peak_memory():
    x = np.random.default_rng(0).standard_normal((1_000_000, 16))
    f = vmap(_pairwise_energy, chunk_size=1000)
    gc.collect()
    tracemalloc.start()
    try:
        out = f(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Unchunked, the intermediates alone would take 10^6 * 256 * 8 B = 2 GB.
    assert out.shape == (1_000_000,)
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    np.testing.assert_allclose(out[:5], [_pairwise_energy(r) for r in x[:5]])


def _rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def test_repeated_calls_leave_rss_flat():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((64, 8)), rng.standard_normal((8, 3))
    m = rng.standard_normal((64, 3, 3))
    calls = [
        lambda: vmap(np.dot)(x, x),
        lambda: vmap(lambda r: np.tanh(r @ w).sum(), chunk_size=7)(x),
        lambda: vmap(vmap(lambda a: a * 2 + a.var()))(m),
        lambda: vmap(np.matmul)(m, m),
        lambda: vmap(lambda r: (r[::2] - r.mean()) / r.std(), in_dims=1)(x),
    ]
    for _ in range(200):  # warm up caches and pools
        for c in calls:
            c()
    gc.collect()
    before = _rss_mib()
    for _ in range(2000):
        for c in calls:
            c()
    gc.collect()
    growth = _rss_mib() - before
    assert growth < 8, f"RSS grew by {growth:.1f} MiB over 10^4 calls"
    assert vmaprt._levels.current_levels() == ()
