"""Memory: chunk_size bounds the peak, repeated calls leak nothing, and the buffer
cache reuses batch-sized temporaries safely."""

import gc
import multiprocessing
import os
import resource
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from child_process import run_python
import vmaprt
from vmaprt import _core, vmap


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


# The buffer cache (vmaprt/_cache.h, Note [buffer cache] in vmaprt/_api.py) ----------------
_handler_name = np._core.multiarray.get_handler_name


def _wave(r):
    return np.sin(r) * np.exp(-(r**2)) + 0.5 * r


@pytest.fixture
def cache_on():
    """The cache at its default size, whatever VMAPRT_CACHE_MB says for the run."""
    previous = vmaprt.set_cache_limit(64 << 20)
    yield
    vmaprt.set_cache_limit(previous)


def test_buffer_cache_reuses_batch_sized_temporaries(cache_on):
    x = np.random.default_rng(2).standard_normal((300, 1000))  # 2.4 MB per temporary
    f = vmap(_wave)
    want = np.stack([_wave(r) for r in x])
    f(x)
    before = _core.cache_info()
    got = [f(x) for _ in range(3)]
    after = _core.cache_info()
    assert after["hits"] - before["hits"] >= 3 * 4  # every temporary of the chain, every call
    assert after["bytes"] <= after["limit"] and after["blocks"] <= 32
    for g in got:  # results kept by the caller are never handed out again while alive
        np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)


def test_buffer_cache_is_numpys_allocator_only_inside_vmap(cache_on):
    seen, fail = [], []

    def f(r):
        seen.append(_handler_name(np.empty(10)))
        if fail:
            raise ZeroDivisionError("boom")
        return r

    big = np.ones((4, _core.CACHE_INPUT_MIN // 32))  # 64 KiB
    vmap(f)(big)
    vmap(f)(big[:, :10])  # small inputs leave NumPy's allocator alone
    assert seen == ["vmaprt_cache", "default_allocator"] and _handler_name(np.empty(10)) == "default_allocator"
    fail.append(True)
    with pytest.raises(ZeroDivisionError):
        vmap(f)(big)
    assert _handler_name(np.empty(10)) == "default_allocator"  # an exception leaves no allocator behind
    assert _handler_name(vmap(lambda r: r * 2)(big)) == "vmaprt_cache"
    assert _handler_name(vmap(vmap(lambda v: v * 2))(big)) == "vmaprt_cache"  # set by the outer level


def test_set_cache_limit_zero_turns_the_cache_off_and_frees_it(cache_on):
    x = np.ones((300, 1000))
    vmap(_wave)(x)
    previous = vmaprt.set_cache_limit(0)
    try:
        assert _core.cache_info()["bytes"] == 0 and _core.cache_info()["blocks"] == 0
        out = vmap(lambda r: (r - 1.0) * 2)(x)
        assert _handler_name(out) == "default_allocator"
        np.testing.assert_array_equal(out, 0.0)
        with pytest.raises(ValueError, match="expected a number of bytes >= 0"):
            vmaprt.set_cache_limit(-1)
    finally:
        vmaprt.set_cache_limit(previous)
    assert _core.cache_info()["limit"] == previous


def test_buffer_cache_under_threads_gives_each_call_its_own_memory(cache_on):
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal((200, 500)) for _ in range(8)]
    want = [np.stack([_wave(r) for r in x]) for x in xs]
    f = vmap(_wave)

    def work(i):
        return [f(xs[i]) for _ in range(20)]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    for outs, w in zip(results, want):
        for o in outs:
            np.testing.assert_array_equal(o, outs[0])
            np.testing.assert_allclose(o, w, rtol=1e-13, atol=1e-15)


def test_cache_limit_from_the_environment():
    code = "from vmaprt import _core; print(_core.cache_info()['limit'])"
    ok = run_python(code, env={"VMAPRT_CACHE_MB": "3"})
    assert ok.stdout.strip() == str(3 << 20)
    bad = run_python(code, env={"VMAPRT_CACHE_MB": "lots"}, check=False)
    assert bad.returncode != 0 and "VMAPRT_CACHE_MB must be a whole number of megabytes" in bad.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_child_runs_kernels_on_one_thread_and_keeps_the_cache(cache_on):
    # Note [fork] in vmaprt/_threads.pxi: OpenMP's threads do not survive fork()
    x = np.ones((300, 1000))
    vmap(_wave)(x)  # the parent's OpenMP threads and cache are in use
    with multiprocessing.get_context("fork").Pool(1) as pool:
        total, threads, refused = pool.apply(_in_child, (x,))
    assert total == pytest.approx(_wave(x).sum())
    assert threads == 1
    assert "start worker processes with multiprocessing's 'spawn'" in refused


def _in_child(x):
    total = float(vmap(_wave)(x).sum() + vmap(_wave)(x).sum()) / 2
    try:
        vmaprt.set_num_threads(2)
        refused = ""
    except RuntimeError as e:
        refused = str(e)
    return total, vmaprt.get_num_threads(), refused
