"""vmaprt._dask: vmap over Dask arrays, on the threaded scheduler and on a
2-process LocalCluster.

The oracle is the in-memory call: ``vmap(f)(*numpy inputs)``.  Every Dask
result is compared with it bit for bit, for three chunkings of the batch, on
both schedulers; random draws included.  The cluster is started once for the
module and closed at the end; the killed-worker test runs last.
"""

import os
import signal
import time

import numpy as np
import pytest

from child_process import run_python
import vmaprt

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

B = 37
CHUNKINGS = [(B,), (10, 10, 10, 7), (1, 5, 30, 1)]
MEMORY_LIMIT = 400e6  # per worker; the out-of-core batch is larger


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None, memory_limit=MEMORY_LIMIT,
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield cluster, client


@pytest.fixture(params=["threads", "cluster"])
def compute(request):
    """``compute(*lazy) -> tuple of results`` on the scheduler under test."""
    if request.param == "threads":
        return lambda *xs: dask.compute(*xs, scheduler="threads", num_workers=4)
    _, client = request.getfixturevalue("cluster")
    return lambda *xs: dask.compute(*xs, scheduler=client)


def to_dask(x, d, chunking):
    """``x`` with its batch axis ``d`` cut into ``chunking`` and its other axes in 2s."""
    return da.from_array(x, chunks={ax: chunking if ax == d else 2 for ax in range(x.ndim)})


def assert_same(got, want):
    assert type(got) is type(want) or isinstance(want, np.ndarray), (type(got), type(want))
    if isinstance(want, (tuple, list)):
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
        return
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


# Cases: make() -> (vmapped f, numpy inputs, the batch axis of each input or None) ---------------
def _dot():
    r = np.random.default_rng(1)
    return vmaprt.vmap(np.dot), (r.standard_normal((B, 5)), r.standard_normal((B, 5))), (0, 0)


def _matmul():
    r = np.random.default_rng(2)
    a, w = r.standard_normal((4, B, 3)), r.standard_normal((3, 6))
    return vmaprt.vmap(np.matmul, in_dims=(1, None), out_dims=-1), (a, w), (1, None)


def _reduction():
    r = np.random.default_rng(3)
    f = vmaprt.vmap(lambda m: (m.std(axis=0), m.max()), in_dims=1, out_dims=(1, 0))
    return f, (r.standard_normal((6, B, 4)),), (1,)


def _nested():
    r = np.random.default_rng(4)
    inner = vmaprt.vmap(lambda x, y: np.tanh(x @ y), in_dims=(0, None))
    return vmaprt.vmap(inner, in_dims=(0, 1)), (r.standard_normal((B, 3, 5)), r.standard_normal((5, B))), (0, 1)


def _random():
    rng = vmaprt.random.default_rng(5)

    def f(x):                                    # [4] -> [4], [2]: two draws per example
        noise = rng.normal(size=4) * x
        inner = vmaprt.vmap(lambda _: rng.poisson(3.0), randomness="different", axis_size=2, in_dims=None)
        return noise + rng.standard_normal(), inner(None)

    f = vmaprt.vmap(f, randomness="different", chunk_size=3)
    return f, (np.arange(B * 4.0).reshape(B, 4),), (0,)


CASES = {"dot": _dot, "matmul": _matmul, "reduction": _reduction, "nested": _nested, "random": _random}


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=lambda c: f"{len(c)}blocks")
@pytest.mark.parametrize("case", CASES)
def test_equals_the_in_memory_call(case, chunking, compute):
    f, args, dims = CASES[case]()
    want = f(*args)
    f, args, _ = CASES[case]()
    lazy = f(*(x if d is None else to_dask(x, d, chunking) for x, d in zip(args, dims)))
    for leaf in lazy if isinstance(lazy, tuple) else (lazy,):
        assert isinstance(leaf, da.Array)
    (got,) = compute(lazy)
    assert_same(got, want)


# The lazy result ------------------------------------------------------------------------------
def test_result_is_lazy_and_chunked_along_the_batch():
    computed = []

    def fill(block, block_info=None):
        computed.append(block_info[None]["chunk-location"])
        return block + 1.0

    x = da.zeros((B, 5), chunks=(10, 5)).map_blocks(fill, dtype=float)
    out = vmaprt.vmap(lambda v: (np.outer(v, v), v.sum()), out_dims=(2, 0))(x)
    assert computed == []                        # building the graph computes nothing
    assert out[0].shape == (5, 5, B) and out[0].chunks == ((5,), (5,), (10, 10, 10, 7))
    assert out[1].shape == (B,) and out[1].chunks == ((10, 10, 10, 7),)
    np.testing.assert_array_equal(out[1].compute(scheduler="sync"), np.full(B, 5.0))


def test_pytree_inputs_outputs_kwargs_and_unmapped_dask_inputs():
    r = np.random.default_rng(6)
    x, w, b = r.standard_normal((B, 3)), r.standard_normal((3, 2)), r.standard_normal(2)

    def f(tree, w, tag, *, bias):                # {'x': [3]}, [3, 2] -> {'y': [2], 'n': [], ...}
        y = tree["x"] @ w + bias
        return {"y": y, "n": np.linalg.norm(y), "tag": tag, "w2": w * 2}

    vf = vmaprt.vmap(f, in_dims=({"x": 0}, None, None), out_dims={"y": 1, "n": 0, "tag": None, "w2": None})
    want = vf({"x": x}, w, "s", bias=b)
    got = vf({"x": to_dask(x, 0, (20, 17))}, da.from_array(w, chunks=1), "s", bias=da.from_array(b, chunks=1))
    assert got["tag"] == "s" and isinstance(got["w2"], da.Array)
    got = dask.compute(got, scheduler="threads")[0]
    assert got["tag"] == "s"
    for key in ("y", "n", "w2"):
        assert_same(got[key], want[key])


def test_numpy_mapped_inputs_follow_the_dask_blocks():
    x, y = np.arange(B * 2.0).reshape(B, 2), np.ones((2, B))
    out = vmaprt.vmap(np.dot, in_dims=(0, 1))(to_dask(x, 0, CHUNKINGS[2]), y)
    assert out.chunks == (CHUNKINGS[2],)
    assert_same(out.compute(scheduler="threads"), vmaprt.vmap(np.dot, in_dims=(0, 1))(x, y))


def test_empty_batch():
    out = vmaprt.vmap(np.sum)(da.zeros((0, 3), chunks=(1, 3)))
    assert_same(out.compute(scheduler="sync"), np.zeros(0))


# Shapes from the first example when f cannot run on an empty batch ---------------------------
def test_trace_falls_back_to_the_first_example():
    inv = vmaprt.vmap(lambda m, w: np.linalg.inv(w) @ m, in_dims=(0, None))   # inv of placeholder zeros fails
    x, w = np.ones((B, 2)), np.array([[2.0, 0.0], [0.0, 4.0]])
    out = inv(to_dask(x, 0, CHUNKINGS[1]), da.from_array(w))
    assert_same(out.compute(scheduler="threads"), inv(x, w))

    per_example = vmaprt.vmap(vmaprt.per_example(lambda v: v[::-1].copy()))   # refuses a batch of 0
    assert_same(per_example(to_dask(x, 0, CHUNKINGS[1])).compute(scheduler="threads"), x[:, ::-1])


def test_errors_read_as_in_memory():
    with pytest.raises(ValueError, match=r"vmap\(dot\): inconsistent sizes .* argument b \(in_dim 0\) has size 4"):
        vmaprt.vmap(np.dot)(da.ones((3, 2)), da.ones((4, 2)))
    with pytest.raises(ValueError, match="unknown chunk sizes; call x.compute_chunk_sizes"):
        x = da.ones((6, 2), chunks=(3, 2))
        vmaprt.vmap(np.sum)(x[x[:, 0] > 0])
    with pytest.raises(RuntimeError, match="randomness='error'"):
        rng = vmaprt.random.default_rng(0)
        vmaprt.vmap(lambda v: v + rng.random())(da.ones((3, 2)))


# Randomness: the caller's generator, threads sharing it, chunk_size ---------------------------
def test_generator_advances_once_when_the_graph_is_built():
    rng, ref = vmaprt.random.default_rng(8), vmaprt.random.default_rng(8)
    f = vmaprt.vmap(lambda v: v + rng.normal() + rng.random(2), randomness="different")
    want = vmaprt.vmap(lambda v: v + ref.normal() + ref.random(2), randomness="different")(np.zeros((B, 2)))
    lazy = f(to_dask(np.zeros((B, 2)), 0, CHUNKINGS[1]))
    assert rng.calls == ref.calls == 2
    rng.random()                                 # the caller draws on; the graph does not see it
    first = lazy.compute(scheduler="threads")
    assert rng.calls == 3                        # and computing does not move the generator
    assert_same(first, want)
    assert_same(lazy.compute(scheduler="sync"), want)


def test_blocks_sharing_a_generator_on_threads():
    rng = vmaprt.random.default_rng(9)
    draws = lambda g: vmaprt.vmap(lambda v: v * g.standard_normal(3) + g.integers(0, 9), randomness="different")
    want = draws(vmaprt.random.default_rng(9))(np.ones((B, 3)))
    lazy = draws(rng)(to_dask(np.ones((B, 3)), 0, (1,) * B))
    assert_same(lazy.compute(scheduler="threads", num_workers=8), want)


def test_generator_made_inside_f():
    def f(v):                                    # a fresh generator per call of f
        return v + vmaprt.random.default_rng(3).normal(size=2)

    vf = vmaprt.vmap(f, randomness="different")
    x = np.zeros((B, 2))
    assert_same(vf(to_dask(x, 0, CHUNKINGS[2])).compute(scheduler="threads"), vf(x))


def test_two_generators_with_one_seed_and_different_states():
    a, b = vmaprt.random.default_rng(4), vmaprt.random.default_rng(4)
    b.random()
    f = vmaprt.vmap(lambda v: v + a.random() + b.random(), randomness="different")
    with pytest.raises(ValueError, match=r"vmap\(<lambda>\): over Dask arrays, .* two vmaprt.random generators with the same seed"):
        f(da.zeros((3, 2)))


def test_chunk_size_bounds_each_block():
    seen = []

    def f(v):
        seen.append(v.value.shape[0])            # the physical batch of this call
        return v * 2

    x = np.arange(B * 2.0).reshape(B, 2)
    out = vmaprt.vmap(f, chunk_size=4)(to_dask(x, 0, CHUNKINGS[1]))
    seen.clear()
    assert_same(out.compute(scheduler="threads"), x * 2)
    assert max(seen) == 4 and sum(seen) == B


# Without Dask -------------------------------------------------------------------------------
def test_vmap_does_not_import_dask():
    code = (
        "import sys, numpy as np, vmaprt\n"
        "vmaprt.vmap(np.dot)(np.ones((3, 2)), np.ones((3, 2)))\n"
        "vmaprt.vmap(lambda t: t['a'].sum(), in_dims=({'a': 0},))({'a': np.ones((3, 2))})\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]\n"
    )
    run_python(code)


# On the cluster: out of core, and a worker killed mid-computation -----------------------------
def peak_rss():
    # VmHWM, this process's own high-water mark: ru_maxrss would also count the
    # parent's resident size at fork() (Linux keeps it across exec), which made
    # the workers of a large pytest process look as large as it.
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def test_batch_larger_than_worker_memory(cluster):
    _, client = cluster
    n = 6_000_000                                # 6e6 x 16 float64 = 768 MB, each worker has 400 MB
    x = da.random.default_rng(0).standard_normal((n, 16), chunks=(250_000, 16))
    w = np.linspace(-1.0, 1.0, 16 * 4).reshape(16, 4)
    workers = set(client.scheduler_info()["workers"])
    out = vmaprt.vmap(lambda v: np.tanh(v @ w).sum())(x)
    err = abs(out - np.tanh(x @ w).sum(axis=1)).max()
    total, err = dask.compute(out.sum(), err, scheduler=client)
    assert np.isfinite(total) and err < 1e-12
    assert set(client.scheduler_info()["workers"]) == workers    # no worker was restarted
    assert max(client.run(peak_rss).values()) < MEMORY_LIMIT


def test_killed_worker_is_retried(cluster):
    _, client = cluster
    client.wait_for_workers(2)

    def make():
        rng = vmaprt.random.default_rng(10)

        def f(v):                                # [4] -> [4]: a quarter second per block
            time.sleep(0.25)
            return v * rng.normal(size=4)

        return vmaprt.vmap(f, randomness="different")

    x = np.arange(64 * 4.0).reshape(64, 4)
    want = make()(x)
    lazy = client.persist(make()(to_dask(x, 0, (4,) * 16)))
    parts = distributed.futures_of(lazy)
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 30
    while not (done := [p for p in parts if p.done()]):
        assert time.monotonic() < deadline, "no block finished in 30 s"
        time.sleep(0.02)
    victim = next(iter(client.who_has([done[0]])[done[0].key]))
    assert len(done) < len(parts)                # mid-computation
    os.kill(pids[victim], signal.SIGKILL)
    got = lazy.compute(scheduler=client)
    assert_same(got, want)
    client.wait_for_workers(2, timeout=30)       # the nanny restarts the worker
    assert pids[victim] not in client.run(os.getpid).values()
