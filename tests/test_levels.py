"""The level stack: exceptions leave nothing behind, threads do not see each other."""

import os
import sys
import threading
import warnings

import numpy as np
import pytest

import vmaprt
from vmaprt import _levels, vmap


def test_stack_is_empty_outside_and_grows_inside():
    depths = []

    def inner(y):
        depths.append(len(_levels.current_levels()))
        return y

    vmap(lambda x: vmap(inner)(x))(np.ones((2, 3)))
    assert depths == [2]
    assert _levels.current_levels() == ()


def test_exception_in_func_leaves_no_level():
    def boom(x):
        raise KeyError("from the user")

    with pytest.raises(KeyError, match="from the user"):
        vmap(vmap(boom))(np.ones((2, 2)))
    assert _levels.current_levels() == ()
    # And the next call works as usual.
    np.testing.assert_array_equal(vmap(lambda x: x + 1)(np.zeros(3)), np.ones(3))


def test_exception_in_a_chunk_leaves_no_level():
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("second chunk")
        return x

    with pytest.raises(ValueError, match="second chunk"):
        vmap(f, chunk_size=2)(np.ones((5, 1)))
    assert _levels.current_levels() == ()


def test_threads_vmap_concurrently_without_interference():
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((50, 8, 8)) for _ in range(8)]
    barrier = threading.Barrier(8)
    results, errors, stacks = [None] * 8, [], [None] * 8

    def work(k):
        try:
            barrier.wait()
            x = inputs[k]
            if k % 2:
                f = vmap(vmap(lambda r: np.tanh(r) @ r), chunk_size=7)
            else:
                f = vmap(lambda m: (m @ m.T).sum(0) + np.dot(m[0], m[1]))
            for _ in range(20):
                results[k] = f(x)
            stacks[k] = _levels.current_levels()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for k, x in enumerate(inputs):
        if k % 2:
            want = (np.tanh(x) * x).sum(-1)
        else:
            want = np.einsum("bij,bkj->bik", x, x).sum(1) + np.einsum("bi,bi->b", x[:, 0], x[:, 1])[:, None]
        np.testing.assert_allclose(results[k], want, rtol=1e-10, atol=1e-10)
        assert stacks[k] == ()


def test_kernel_thread_count_does_not_change_results():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 100_000, 8))
    old = vmaprt.get_num_threads()
    try:
        vmaprt.set_num_threads(1)
        one = vmap(np.dot)(a, b)
        vmaprt.set_num_threads(2)
        two = vmap(np.dot)(a, b)
    finally:
        vmaprt.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


def _stress_workloads():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 6, 6))
    v = rng.standard_normal((200, 16))
    return [
        ("nested", lambda: vmap(vmap(lambda r: np.tanh(r) @ r))(x)),
        ("chunked", lambda: vmap(lambda m: m @ m.T + m.var(), chunk_size=7)(x)),
        ("kernels", lambda: (vmap(np.dot)(v, v), vmap(np.matmul)(x[:, :3, :3], x[:, :3, :3]), vmap(np.std)(v))),
        ("random", lambda: vmap(lambda r: r + vmaprt.random.default_rng(5).normal(size=16),
                                randomness="different", chunk_size=64)(v)),
        ("nested random", lambda: vmap(vmap(lambda a: a * vmaprt.random.default_rng(9).random(), randomness="different"),
                                       randomness="same")(x[:, 0, :])),
    ]


def _flat(result):
    return [np.asarray(r) for r in (result if isinstance(result, tuple) else (result,))]


def test_thread_stress_matches_the_single_threaded_run():
    import time

    workloads = _stress_workloads()
    reference = {name: _flat(f()) for name, f in workloads}
    errors, mismatches, stacks = [], [], []
    stop = time.monotonic() + 3.0

    def work(k):
        try:
            vmaprt_threads = 2 if k % 2 else 1  # kernels with 2 threads in half the workers
            i = k
            while time.monotonic() < stop:
                name, f = workloads[i % len(workloads)]
                if k % 2:
                    vmaprt.set_num_threads(vmaprt_threads)
                got = _flat(f())
                if not all(np.array_equal(g, w) for g, w in zip(got, reference[name])):  # bit for bit
                    mismatches.append(name)
                i += 1
            stacks.append(_levels.current_levels())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    old = vmaprt.get_num_threads()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        vmaprt.set_num_threads(old)
    assert not any(t.is_alive() for t in threads), "deadlock: a worker did not finish"
    assert not errors, errors
    assert not mismatches, mismatches
    assert stacks == [()] * 8 and _levels.current_levels() == ()


# Note [entering a level atomically]: a KeyboardInterrupt at any line of vmaprt ---------------
_PACKAGE = os.path.dirname(vmaprt.__file__)
_CAPTURED = []


def _workloads():
    big = np.linspace(-1, 1, 64 * 1100).reshape(64, 1100)  # large enough for the buffer cache
    small = np.arange(12.0).reshape(4, 3)

    def keep(v):
        _CAPTURED.append(v)
        return v

    def writes(v):
        y = keep(v).copy()
        y[v > 5] = 0
        y[1:] = y[:-1] * 2
        return np.clip(y, max=4.0).sum()

    def fallback(v):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.apply_along_axis(np.sum, 0, keep(v))

    def noisy(x):  # a fresh generator each run: the same draws every time
        rng = vmaprt.random.default_rng(0)
        inner = vmaprt.vmap(lambda v: keep(v) + rng.normal(), randomness="different")
        return vmaprt.vmap(inner, randomness="different", chunk_size=3)(x)

    return [
        ("large", lambda: vmaprt.vmap(lambda v: np.sin(keep(v)).sum())(big)),
        ("nested", lambda: noisy(np.stack([small, small + 1, small + 2, small + 3]))),
        ("writes", lambda: vmaprt.vmap(writes, in_dims=1)(small)),
        ("fallback", lambda: vmaprt.vmap(fallback)(small)),
    ]


def _run_interrupted(work, at):
    """Run ``work`` with a KeyboardInterrupt raised at the ``at``-th trace event (call,
    line or return) in vmaprt's own code; returns (events seen, whether it was raised)."""
    seen = [0]

    def local(frame, event, arg):
        seen[0] += 1
        if seen[0] == at:
            raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        if frame.f_code.co_filename.startswith(_PACKAGE):
            return local(frame, event, arg)
        return None

    sys.settrace(tracer)
    try:
        result = work()
    except KeyboardInterrupt:
        return seen[0], True, None
    finally:
        sys.settrace(None)
    return seen[0], False, result


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # (a generator it closed)
@pytest.mark.parametrize("name", ["large", "nested", "writes", "fallback"])
def test_a_keyboard_interrupt_at_any_line_leaves_no_state(name):
    from numpy._core.multiarray import get_handler_name

    work = dict(_workloads())[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        total, _, _ = _run_interrupted(work, 0)
        expected = work()
    assert total > 50
    for at in range(1, total + 1):
        _CAPTURED.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, raised, result = _run_interrupted(work, at)
        where = f"interrupt at event {at} of {total}"
        assert _levels.current_levels() == (), where
        assert get_handler_name() == "default_allocator", where
        assert not any(v.level.alive for v in _CAPTURED), where
        vmaprt.random.default_rng(1).normal()  # no level left refusing draws
        if not raised:  # (an interrupt swallowed by the code it landed in changes nothing)
            np.testing.assert_array_equal(result, expected, err_msg=where)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(work(), expected)
