"""vmaprt.random: the Philox kernels, the position-addressed streams, the
randomness modes under vmap, chunking and nesting, and the statistics.

The oracle for a 'different' draw is the unbatched draw with the batch sizes
prepended (DESIGN section 4); for a 'same' draw, the unbatched draw of a fresh
generator with the same seed.
"""

import doctest
import pickle
import threading

import numpy as np
import pytest
import scipy.stats as st

from child_process import run_python
import vmaprt
from vmaprt import _core
from vmaprt.random import Generator, default_rng

SEED = 20240917
B = 23
CHUNKS = [1, 2, 5, 16, B, B + 9]


def vmap(f, randomness="different", **kw):
    return vmaprt.vmap(f, randomness=randomness, **kw)


def philox(key, counter):
    """NumPy's Philox positioned so that its next block is ``counter``."""
    return np.random.Philox(key=key, counter=(counter - 1) % (1 << 256))


# Draws: (name, f(rng, size)) where f makes one call of the generator ---------------------
DRAWS = {
    "random": lambda g, s: g.random(s),
    "random32": lambda g, s: g.random(s, dtype=np.float32),
    "standard_normal": lambda g, s: g.standard_normal(s),
    "standard_normal32": lambda g, s: g.standard_normal(s, dtype=np.float32),
    "normal": lambda g, s: g.normal(1.5, 2.0, s),
    "uniform": lambda g, s: g.uniform(-1.0, 3.0, s),
    "exponential": lambda g, s: g.exponential(2.0, s),
    "standard_exponential": lambda g, s: g.standard_exponential(s),
    "standard_exponential32": lambda g, s: g.standard_exponential(s, dtype=np.float32),
    "integers": lambda g, s: g.integers(-5, 17, s),
    "integers_uint8": lambda g, s: g.integers(0, 256, s, dtype=np.uint8),
    "integers_int8_endpoint": lambda g, s: g.integers(-128, 127, s, dtype=np.int8, endpoint=True),
    "integers_bool": lambda g, s: g.integers(0, 2, s, dtype=bool),
    "integers_uint64_full": lambda g, s: g.integers(0, 2**64, s, dtype=np.uint64),
    "poisson": lambda g, s: g.poisson(3.0, s),
    "poisson_large": lambda g, s: g.poisson(250.0, s),
    "binomial": lambda g, s: g.binomial(20, 0.3, s),
    "binomial_large": lambda g, s: g.binomial(1000, 0.7, s),
    "gamma": lambda g, s: g.gamma(2.5, 1.5, s),
    "gamma_small": lambda g, s: g.gamma(0.3, 1.0, s),
    "standard_gamma": lambda g, s: g.standard_gamma(4.0, s),
    "beta": lambda g, s: g.beta(2.0, 3.0, s),
    "beta_small": lambda g, s: g.beta(0.5, 0.5, s),
    "choice": lambda g, s: g.choice(7, s),
    "choice_p": lambda g, s: g.choice(4, s, p=[0.1, 0.2, 0.3, 0.4]),
}


# Philox: the block function and the stream layout ---------------------------------------
# Random123's known-answer vectors for philox4x64-10: (counter, key, output).
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x16554D9ECA36314C, 0xDB20FE9D672D0FDC, 0xD7E772CEE186176B, 0x7E68B68AEC7BA23B]),
    ([2**64 - 1] * 4, [2**64 - 1] * 2, [0x87B092C3013FE90B, 0x438C3C67BE8D0224, 0x9CC7D7C69CD777B6, 0xA09CAEBF594F0BA0]),
    (
        [0x243F6A8885A308D3, 0x13198A2E03707344, 0xA4093822299F31D0, 0x082EFA98EC4E6C89],
        [0x452821E638D01377, 0xBE5466CF34E90C6C],
        [0xA528F45403E61D95, 0x38C72DBD566E9788, 0xA5A1610E72FD18B5, 0x57BD43B5E52B7FE6],
    ),
]


@pytest.mark.parametrize("counter, key, want", KAT)
def test_philox_known_answers(counter, key, want):
    got = _core.philox4x64_10_block(key, counter)
    assert got.tolist() == want
    c = sum(w << (64 * i) for i, w in enumerate(counter))
    numpy_block = philox(key[0] | (key[1] << 64), c).random_raw(4)
    assert numpy_block.tolist() == want


def test_philox_block_equals_numpy_on_random_inputs():
    rs = np.random.default_rng(0)
    for _ in range(100):
        key = [int(w) for w in rs.integers(0, 2**64, 2, dtype=np.uint64)]
        counter = [int(w) for w in rs.integers(0, 2**64, 4, dtype=np.uint64)]
        c = sum(w << (64 * i) for i, w in enumerate(counter))
        want = philox(key[0] | (key[1] << 64), c).random_raw(4)
        assert (_core.philox4x64_10_block(key, counter) == want).all()


def test_first_call_equals_numpy_philox_generator():
    # The key is SeedSequence(seed).generate_state(2, uint64), and call 0's main stream
    # is Philox(key, counter=0 << 128): NumPy's Philox(seed) from its start.
    ours = default_rng(SEED).random(1001)
    assert np.array_equal(ours, np.random.Generator(np.random.Philox(SEED)).random(1001))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_main_stream_of_call_k_is_numpy_philox_at_counter_k(dtype):
    rng = default_rng(SEED)
    for k in range(4):
        got = rng.random(37, dtype=dtype)
        want = np.random.Generator(np.random.Philox(key=rng.key, counter=k << 128)).random(37, dtype=dtype)
        assert np.array_equal(got, want), k
    assert rng.calls == 4


def test_integers_full_uint64_range_are_the_raw_words():
    # The inclusive span 2**64 - 1 takes each main-stream word unchanged.
    rng = default_rng(SEED)
    rng.random()
    got = rng.integers(0, 2**64, 50, dtype=np.uint64)
    want = np.random.Philox(key=rng.key, counter=1 << 128).random_raw(50)
    assert np.array_equal(got, want)


def test_substream_of_a_position_is_numpy_philox_at_its_counter():
    # A permutation is a joint draw on the sub-stream of its row (position 0 unbatched):
    # Fisher-Yates from the back with Lemire's bounded integers on Philox(counter=(1 << 192) | (k << 128)).
    rng = default_rng(SEED)
    rng.random()  # k = 1 for the permutation
    got = rng.permutation(10)
    words = np.random.Philox(key=rng.key, counter=(1 << 192) | (1 << 128)).random_raw(20)
    perm = list(range(10))
    w = iter(int(x) for x in words)
    for i in range(9, 0, -1):
        while True:  # Lemire: the high word of w * (i + 1), rejecting the low word below 2**64 % (i + 1)
            m = next(w) * (i + 1)
            if m % 2**64 >= (2**64 - (i + 1)) % (i + 1):
                break
        j = m >> 64
        perm[i], perm[j] = perm[j], perm[i]
    assert got.tolist() == perm


def test_runs_kernel_positions():
    ss = np.random.SeedSequence(3)
    k0, k1 = (int(w) for w in ss.generate_state(2, np.uint64))
    full = np.empty(300)
    _core.random_runs(0, k0, k1, 5, np.array([0], np.uint64), 300, full)
    out = np.empty(21)
    _core.random_runs(0, k0, k1, 5, np.array([5, 100, 3], np.uint64), 7, out)
    assert np.array_equal(out, np.concatenate([full[5:12], full[100:107], full[3:10]]))


@pytest.mark.parametrize("kind, dtype", [(0, np.float64), (1, np.float32), (2, np.float64), (3, np.float32), (4, np.float64), (5, np.float32)])
def test_runs_kernel_independent_of_threads_and_split(kind, dtype):
    n = 100_003
    outs = []
    for threads in (1, 2, 3):
        old = vmaprt.get_num_threads()
        vmaprt.set_num_threads(threads)
        try:
            out = np.empty(n, dtype)
            _core.random_runs(kind, 11, 12, 7, np.array([0], np.uint64), n, out)
        finally:
            vmaprt.set_num_threads(old)
        outs.append(out)
    split = np.empty(n, dtype)
    _core.random_runs(kind, 11, 12, 7, np.arange(0, n, 1, dtype=np.uint64), 1, split)
    for out in outs[1:] + [split]:
        assert np.array_equal(out, outs[0])


def test_kernel_argument_checks():
    with pytest.raises(ValueError, match="bases"):
        _core.random_runs(0, 1, 2, 0, np.array([0], np.int64), 3, np.empty(3))
    with pytest.raises(ValueError, match="float64"):
        _core.random_runs(0, 1, 2, 0, np.array([0], np.uint64), 3, np.empty(3, np.float32))
    with pytest.raises(ValueError, match="parameter"):
        _core.random_elements(1, 1, 2, 0, np.array([0], np.uint64), 3, np.empty(3, np.int64), np.ones(2))
    with pytest.raises(ValueError, match="without replacement"):
        _core.random_rows(1, 1, 2, 0, np.array([0], np.uint64), 1, 3, 4, np.empty(4, np.int64))


# Seeds, state, reproducibility -------------------------------------------------------------------
SCRIPT = """
import hashlib, numpy as np, vmaprt
rng = vmaprt.random.default_rng({seed})
f = vmaprt.vmap(lambda x: x + rng.normal(size=4) + rng.poisson(3.0, 4) + rng.permutation(4), randomness="different", chunk_size=7)
out = f(np.zeros((30, 4)))
print(hashlib.sha256(np.ascontiguousarray(out).tobytes() + rng.random(8).tobytes()).hexdigest())
"""


def _digest(seed):
    rng = default_rng(seed)
    f = vmap(lambda x: x + rng.normal(size=4) + rng.poisson(3.0, 4) + rng.permutation(4), chunk_size=7)
    out = f(np.zeros((30, 4)))
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(out).tobytes() + rng.random(8).tobytes()).hexdigest()


def test_reproducible_across_processes():
    digests = {
        run_python(SCRIPT.format(seed=SEED)).stdout.strip()
        for _ in range(2)
    }
    assert digests == {_digest(SEED)}
    assert _digest(SEED + 1) != _digest(SEED)


def test_default_rng_seeds():
    assert default_rng(5).key == default_rng(np.random.SeedSequence(5)).key
    ss = np.random.SeedSequence(5).generate_state(2, np.uint64)
    assert default_rng(5).key == int(ss[0]) | (int(ss[1]) << 64)
    assert default_rng([1, 2, 3]).key != default_rng([1, 2, 4]).key
    assert default_rng().key != default_rng().key  # fresh entropy
    rng = default_rng(1)
    assert default_rng(rng) is rng
    with pytest.raises(TypeError, match="SeedSequence"):
        default_rng(np.random.default_rng(1))
    with pytest.raises(TypeError, match="default_rng"):
        Generator(5)


def test_pickle_keeps_the_state():
    rng = default_rng(SEED)
    rng.normal(size=3)
    copy = pickle.loads(pickle.dumps(rng))
    assert copy.calls == 1 and copy.key == rng.key
    assert np.array_equal(copy.normal(size=5), rng.normal(size=5))
    assert "calls=2" in repr(rng)


def test_pickles_from_before_random_was_a_package_load():
    rng = default_rng(SEED)
    rng.normal(size=3)
    new = pickle.dumps(rng, protocol=0)  # text protocol: the global is "module\nname\n"
    assert b"cvmaprt.random._generator\n_restore\n" in new
    old = new.replace(b"cvmaprt.random._generator\n", b"cvmaprt.random\n")  # what vmaprt/random.py wrote
    copy = pickle.loads(old)
    assert copy.calls == 1 and copy.key == rng.key
    assert np.array_equal(copy.normal(size=5), rng.normal(size=5))


def test_each_call_is_one_counter_step_and_depends_only_on_the_position():
    a, b = default_rng(SEED), default_rng(SEED)
    x = a.standard_normal((40, 5))
    y = b.standard_normal(200)
    assert np.array_equal(x.reshape(-1), y)  # the same positions, whatever the shape
    assert np.array_equal(a.random(3), b.random(3)) and a.calls == b.calls == 2
    assert np.array_equal(default_rng(SEED).standard_normal(50), y[:50])  # a prefix is a prefix


@pytest.mark.parametrize("name", ["random", "normal", "standard_normal", "uniform", "exponential", "standard_exponential", "gamma", "beta", "standard_gamma"])
def test_scalar_results_are_python_floats(name):
    args = {"gamma": (2.0,), "beta": (1.0, 2.0), "standard_gamma": (2.0,)}.get(name, ())
    ours = getattr(default_rng(0), name)(*args)
    theirs = getattr(np.random.default_rng(0), name)(*args)
    assert type(ours) is type(theirs) is float


def test_scalar_results_of_discrete_draws_match_numpy_types():
    ours, theirs = default_rng(0), np.random.default_rng(0)
    for f in [lambda g: g.poisson(), lambda g: g.binomial(10, 0.5), lambda g: g.choice(5), lambda g: g.integers(5), lambda g: g.integers(5, dtype=np.int8), lambda g: g.choice(np.arange(5.0))]:
        assert type(f(ours)) is type(f(theirs))


def test_out_and_dtype_arguments():
    rng = default_rng(SEED)
    out = np.empty((3, 4))
    assert rng.random(out=out) is out
    assert np.array_equal(out, default_rng(SEED).random((3, 4)))
    with pytest.raises(TypeError, match="wrong type"):
        rng.random(out=np.empty(3, np.float32))
    with pytest.raises(ValueError, match="size must match"):
        rng.standard_normal(4, out=np.empty(3))
    with pytest.raises(TypeError, match="Unsupported dtype"):
        rng.random(3, dtype=np.int64)
    with pytest.raises(TypeError, match="Unsupported dtype"):
        rng.integers(3, dtype=np.float64)
    out32 = np.empty(5, np.float32)
    rng.standard_gamma(2.0, out=out32, dtype=np.float32)
    assert (out32 > 0).all()
    assert rng.calls == 2  # refused calls do not count


def test_out_inside_vmap_is_batched():
    rng = default_rng(SEED)

    def f(x):
        buf = np.zeros_like(x)
        rng.standard_normal(out=buf)
        return buf

    assert np.array_equal(vmap(f)(np.zeros((B, 3))), default_rng(SEED).standard_normal((B, 3)))
    with pytest.raises(RuntimeError, match="cannot write a batched value"):
        vmap(lambda x: rng.standard_normal(out=np.zeros(3)))(np.zeros((B, 3)))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda g: g.normal(0, -1), ValueError, "scale < 0"),
        (lambda g: g.exponential(-1), ValueError, "scale < 0"),
        (lambda g: g.poisson(-1), ValueError, "lam < 0"),
        (lambda g: g.poisson(np.nan), ValueError, "lam < 0"),
        (lambda g: g.poisson(1e19), ValueError, "too large"),
        (lambda g: g.binomial(-1, 0.5), ValueError, "n < 0"),
        (lambda g: g.binomial(3, 1.5), ValueError, "p < 0"),
        (lambda g: g.gamma(-1), ValueError, "shape < 0"),
        (lambda g: g.beta(0, 1), ValueError, "a <= 0"),
        (lambda g: g.uniform(0, np.inf), OverflowError, "range exceeds"),
        (lambda g: g.integers(5, 3), ValueError, "low >= high"),
        (lambda g: g.integers(3, 3), ValueError, "low >= high"),
        (lambda g: g.integers(4, 3, endpoint=True), ValueError, "low > high"),
        (lambda g: g.integers(300, dtype=np.int8), ValueError, "high is out of bounds for int8"),
        (lambda g: g.integers(-300, 5, dtype=np.int8), ValueError, "low is out of bounds for int8"),
        (lambda g: g.integers(0, 2**64 + 1, dtype=np.uint64), ValueError, "high is out of bounds"),
        (lambda g: g.choice(0, 3), ValueError, "positive integer"),
        (lambda g: g.choice([], 3), ValueError, "cannot be empty"),
        (lambda g: g.choice(3, 5, replace=False), ValueError, "larger sample"),
        (lambda g: g.choice(3, p=[0.5, 0.6, 0.1]), ValueError, "do not sum to 1"),
        (lambda g: g.choice(3, p=[0.5, -0.5, 1.0]), ValueError, "non-negative"),
        (lambda g: g.choice(3, p=[0.5, 0.5]), ValueError, "same size"),
        (lambda g: g.choice(3, 3, replace=False, p=[0.5, 0.5, 0]), ValueError, "Fewer non-zero"),
        (lambda g: g.normal(np.zeros(2), size=3), ValueError, "shape mismatch"),
        (lambda g: g.random(-1), ValueError, "negative dimensions"),
        (lambda g: g.spawn(-1), ValueError, "non-negative"),
        (lambda g: g.standard_exponential(3, method="cdf"), ValueError, "method"),
        (lambda g: g.permutation(np.array(5.0)), np.exceptions.AxisError, "axis"),
    ],
)
def test_argument_errors_as_numpy(call, error, match):
    rng = default_rng(0)
    with pytest.raises(error, match=match):
        call(rng)
    assert rng.calls == 0


# Integers ------------------------------------------------------------------------------------------
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, bool]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integers_full_range_of_every_dtype(dtype):
    rng = default_rng(SEED)
    lo, hi = (0, 1) if dtype is bool else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    x = rng.integers(lo, hi, size=5000, dtype=dtype, endpoint=True)
    assert x.dtype == np.dtype(dtype)
    assert x.min() >= lo and x.max() <= hi
    y = rng.integers(lo, hi, size=5000, dtype=dtype)
    assert y.max() < hi if dtype is not bool else y.max() == 0
    if dtype is bool or np.iinfo(dtype).bits <= 8:  # every value shows up
        assert len(np.unique(x)) == hi - lo + 1


def test_integers_bounds_as_numpy():
    rng = default_rng(SEED)
    assert rng.integers(-3, -2, size=10).tolist() == [-3] * 10
    x = rng.integers(2**63 - 10, 2**63, size=100, dtype=np.uint64)
    assert x.min() >= 2**63 - 10 and x.max() < 2**63
    x = rng.integers(np.array([0, 10]), np.array([5, 2**63], dtype=np.uint64), size=(50, 2))
    assert (x[:, 0] < 5).all() and (x[:, 1] >= 10).all()
    assert rng.integers(5.9, size=1000).max() == 4  # float bounds truncate, as NumPy


def test_integers_with_array_bounds_are_the_same_values_at_the_same_positions():
    # Scalar bounds take the run kernel, array bounds the per-element one.
    a = default_rng(SEED).integers(-7, 100, size=(50, 4))
    b = default_rng(SEED).integers(np.full(4, -7), np.full((50, 1), 100))
    assert np.array_equal(a, b)
    c = default_rng(SEED).choice(107, size=(50, 4)) - 7
    assert np.array_equal(a, c)


def test_integers_are_uniform():
    x = default_rng(SEED).integers(0, 10, size=100_000)
    counts = np.bincount(x, minlength=10)
    assert st.chisquare(counts).pvalue > 1e-4


# Inside vmap: the modes ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_different_equals_unbatched_draw_with_batch_prepended(name):
    draw = DRAWS[name]
    rng = default_rng(SEED)
    got = vmap(lambda x: draw(rng, (3, 2)))(np.zeros(B))
    want = draw(default_rng(SEED), (B, 3, 2))
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)
    # and the generator is where the unbatched draw leaves it
    ref = default_rng(SEED)
    draw(ref, (B, 3, 2))
    assert rng.calls == ref.calls == 1
    assert np.array_equal(rng.random(4), ref.random(4))


def test_the_design_example():
    rng = default_rng(SEED)
    X = np.arange(B * 3.0).reshape(B, 3)
    out = vmap(lambda x: x + rng.normal(size=3))(X)
    assert np.array_equal(out, X + default_rng(SEED).normal(size=(B, 3)))


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_same_is_one_draw_broadcast(name):
    draw = DRAWS[name]
    rng = default_rng(SEED)
    got = vmap(lambda x: draw(rng, (3, 2)), randomness="same", out_dims=0)(np.zeros(B))
    want = draw(default_rng(SEED), (3, 2))
    assert np.array_equal(got, np.broadcast_to(want, (B, 3, 2)))
    assert rng.calls == 1


def test_same_returns_unbatched_values():
    rng = default_rng(SEED)
    seen = []

    def f(x):
        z = rng.standard_normal(3)
        seen.append(type(z))
        return x + z

    vmap(f, randomness="same")(np.zeros((4, 3)))
    assert seen == [np.ndarray]


def test_different_returns_a_batched_array():
    rng = default_rng(SEED)
    seen = []

    def f(x):
        z = rng.standard_normal(3)
        seen.append((type(z), z.shape))
        return z.sum() + x

    vmap(f)(np.zeros(4))
    assert seen == [(vmaprt.BatchedArray, (3,))]


def test_size_none_inside_vmap_is_a_scalar_per_example():
    rng = default_rng(SEED)
    got = vmap(lambda x: x + rng.random())(np.zeros(B))
    assert np.array_equal(got, default_rng(SEED).random(B))
    rng = default_rng(SEED)
    got = vmap(lambda x: rng.random(), randomness="same")(np.zeros(3))
    assert np.array_equal(got, np.full(3, default_rng(SEED).random()))


def test_error_mode_refuses_and_names_the_fix():
    rng = default_rng(SEED)
    for f in [lambda x: x + rng.normal(), lambda x: rng.permutation(x), lambda x: rng.integers(3, size=2), lambda x: rng.choice(x)]:
        with pytest.raises(RuntimeError, match=r"randomness='different'.*randomness='same'"):
            vmaprt.vmap(f)(np.zeros((4, 3)))
        with pytest.raises(RuntimeError, match="randomness='error'"):
            vmaprt.vmap(f, chunk_size=2)(np.zeros((4, 3)))
    # an inner level with the default refuses, whatever the outer one says
    with pytest.raises(RuntimeError, match="Generator.normal"):
        vmap(vmaprt.vmap(lambda x: x + rng.normal()))(np.zeros((2, 3)))
    assert rng.calls == 0
    # spawning is not a draw
    assert len(vmaprt.vmap(lambda x: (rng.spawn(1), x)[1])(np.zeros(2))) == 2


def test_numpy_generators_are_not_intercepted():
    np_rng = np.random.default_rng(0)
    out = vmap(lambda x: x + np_rng.normal(size=3))(np.zeros((4, 3)))
    assert np.array_equal(out, np.broadcast_to(out[0], (4, 3)))  # one draw, shared


# Chunking ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_chunk_invariance(name, chunk_size):
    draw = DRAWS[name]
    rng = default_rng(SEED)
    got = vmap(lambda x: x + draw(rng, 3), chunk_size=chunk_size)(np.zeros((B, 3)))
    want = draw(default_rng(SEED), (B, 3))
    assert np.array_equal(got, want)
    assert rng.calls == 1


JOINT = {
    "permutation_int": lambda g, x: g.permutation(6) + 0 * x[0],
    "permutation_array": lambda g, x: g.permutation(x),
    "permutation_axis1": lambda g, x: g.permutation(x.reshape(2, 3), axis=1).reshape(6),
    "choice_no_replace": lambda g, x: g.choice(x, 4, replace=False),
    "choice_no_replace_p": lambda g, x: g.choice(x, 3, replace=False, p=np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.1])),
    "choice_no_replace_sorted": lambda g, x: g.choice(6, 4, replace=False, shuffle=False) + 0 * x[0],
    "shuffle": lambda g, x: _shuffled(g, x),
}


def _shuffled(g, x):
    y = x.copy()
    g.shuffle(y)
    return y


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("name", sorted(JOINT))
def test_joint_draws_chunk_invariant_and_per_example(name, chunk_size):
    f = JOINT[name]
    X = np.tile(np.arange(6) * 10, (B, 1))
    rng, rng2 = default_rng(SEED), default_rng(SEED)
    whole = vmap(lambda x: f(rng, x))(X)
    assert np.array_equal(vmap(lambda x: f(rng2, x), chunk_size=chunk_size)(X), whole)
    assert rng.calls == rng2.calls == 1
    # each example its own draw; example 0 is the unbatched draw (position 0)
    assert len({tuple(r) for r in whole.tolist()}) >= 4
    assert np.array_equal(whole[0], f(default_rng(SEED), X[0]))
    for row in whole:  # a sample without repetition
        assert len(set(row.tolist())) == len(row)


def test_joint_draws_under_same_are_shared():
    rng = default_rng(SEED)
    P = vmap(lambda x: rng.permutation(x), randomness="same")(np.tile(np.arange(8), (5, 1)))
    assert np.array_equal(P, np.broadcast_to(default_rng(SEED).permutation(8), (5, 8)))


def test_shuffle_of_a_batched_array_mutates_it_per_example():
    X = np.tile(np.arange(10.0), (B, 1))
    rng = default_rng(SEED)

    def f(x):
        rng.shuffle(x)
        return x.sum()

    vmap(f)(X)
    assert (np.sort(X, axis=1) == np.arange(10.0)).all()
    assert len({tuple(r) for r in X.tolist()}) > B // 2


def test_shuffle_of_an_unbatched_array_under_different_is_refused():
    rng = default_rng(SEED)
    z = np.arange(5.0)
    with pytest.raises(RuntimeError, match="cannot write a batched value"):
        vmap(lambda x: (rng.shuffle(z), x)[1])(np.zeros(3))
    with pytest.raises(RuntimeError, match="Python list"):
        vmap(lambda x: (rng.shuffle([1, 2, 3]), x)[1])(np.zeros(3))
    lst = list(range(10))
    default_rng(SEED).shuffle(lst)
    assert sorted(lst) == list(range(10)) and lst == default_rng(SEED).permutation(10).tolist()


def test_several_draws_and_generators_under_chunks():
    def run(chunk_size):
        g, h = default_rng(1), default_rng(2)

        def f(x):
            a = g.normal(size=2)
            b = h.integers(0, 100, size=2)
            c = g.poisson(4.0, size=2)
            return x + a + b + c + g.random()

        out = vmap(f, chunk_size=chunk_size)(np.zeros((B, 2)))
        return out, g.calls, h.calls, g.random(3), h.random(3)

    ref = run(None)
    for cs in CHUNKS:
        got = run(cs)
        assert np.array_equal(got[0], ref[0])
        assert got[1:3] == ref[1:3] == (3, 1)
        assert np.array_equal(got[3], ref[3]) and np.array_equal(got[4], ref[4])


def test_in_dims_and_out_dims_do_not_change_the_draw():
    rng = default_rng(SEED)
    got = vmap(lambda x: x + rng.normal(size=3), in_dims=1, out_dims=1, chunk_size=4)(np.zeros((3, B)))
    assert np.array_equal(got, default_rng(SEED).normal(size=(B, 3)).T)


def test_axis_size_without_inputs():
    rng = default_rng(SEED)
    got = vmaprt.vmap(lambda: rng.random(2), in_dims=(), randomness="different", axis_size=5, chunk_size=2)()
    assert np.array_equal(got, default_rng(SEED).random((5, 2)))


def test_empty_batch_and_empty_draws():
    rng = default_rng(SEED)
    assert vmap(lambda x: rng.normal(size=3))(np.zeros((0, 2))).shape == (0, 3)
    assert vmap(lambda x: rng.poisson(2.0, size=3))(np.zeros((0, 2))).shape == (0, 3)
    assert vmap(lambda x: rng.permutation(4))(np.zeros((0, 2))).shape == (0, 4)
    assert vmap(lambda x: rng.integers(np.int64(5), size=(2, 0)))(np.zeros(3)).shape == (3, 2, 0)
    assert rng.choice(5, size=(2, 0), replace=False).shape == (2, 0)
    assert rng.calls == 5


# Prefix stability ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_prefix_stability(name):
    draw = DRAWS[name]
    small = vmap(lambda x: draw(default_rng(SEED), 4) + 0 * x)(np.zeros((10, 4)))
    large = vmap(lambda x: draw(default_rng(SEED), 4) + 0 * x, chunk_size=7)(np.zeros((37, 4)))
    assert np.array_equal(large[:10], small)


@pytest.mark.parametrize("name", sorted(JOINT))
def test_prefix_stability_of_joint_draws(name):
    f = JOINT[name]
    small = vmap(lambda x: f(default_rng(SEED), x))(np.tile(np.arange(6), (10, 1)))
    large = vmap(lambda x: f(default_rng(SEED), x))(np.tile(np.arange(6), (31, 1)))
    assert np.array_equal(large[:10], small)


def test_prefix_stability_of_the_outer_level_when_nested():
    def run(n):
        rng = default_rng(SEED)
        return vmap(vmap(lambda x: x + rng.normal()))(np.zeros((n, 4)))

    assert np.array_equal(run(12)[:5], run(5))


# Nesting ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("outer_chunk, inner_chunk", [(None, None), (2, None), (None, 3), (4, 3), (1, 1)])
@pytest.mark.parametrize("name", ["standard_normal", "random32", "poisson", "integers", "choice_p", "beta"])
def test_nested_different_different(name, outer_chunk, inner_chunk):
    draw = DRAWS[name]
    rng = default_rng(SEED)
    inner = vmap(lambda x: x + draw(rng, 2), chunk_size=inner_chunk)
    got = vmap(inner, chunk_size=outer_chunk)(np.zeros((5, 7, 2)))
    assert np.array_equal(got, draw(default_rng(SEED), (5, 7, 2)))
    assert rng.calls == 1


@pytest.mark.parametrize("outer_chunk, inner_chunk", [(None, None), (2, None), (None, 3), (4, 3)])
def test_nested_different_outside_same_inside(outer_chunk, inner_chunk):
    rng = default_rng(SEED)
    inner = vmap(lambda x: x + rng.normal(size=2), randomness="same", chunk_size=inner_chunk)
    got = vmap(inner, chunk_size=outer_chunk)(np.zeros((5, 7, 2)))
    want = default_rng(SEED).normal(size=(5, 2))
    assert np.array_equal(got, np.broadcast_to(want[:, None], (5, 7, 2)))
    assert rng.calls == 1


@pytest.mark.parametrize("outer_chunk, inner_chunk", [(None, None), (2, None), (None, 3), (4, 3)])
def test_nested_same_outside_different_inside(outer_chunk, inner_chunk):
    rng = default_rng(SEED)
    inner = vmap(lambda x: x + rng.normal(size=2), chunk_size=inner_chunk)
    got = vmap(inner, randomness="same", chunk_size=outer_chunk)(np.zeros((5, 7, 2)))
    want = default_rng(SEED).normal(size=(7, 2))
    assert np.array_equal(got, np.broadcast_to(want[None], (5, 7, 2)))
    assert rng.calls == 1


def test_nested_draws_at_both_levels():
    def run(outer_chunk, inner_chunk):
        rng = default_rng(SEED)

        def outer(x):
            a = rng.normal()  # at the outer level only: [5]
            y = vmap(lambda r: r + rng.random(), chunk_size=inner_chunk)(x)  # [5, 7]
            return y + a + rng.integers(0, 3)

        return vmap(outer, chunk_size=outer_chunk)(np.zeros((5, 7))), rng.calls

    ref = default_rng(SEED)
    a = ref.normal(size=5)
    r = ref.random((5, 7))
    c = ref.integers(0, 3, size=5)
    want = r + a[:, None] + c[:, None]
    for chunks in [(None, None), (2, 3), (1, 7), (5, 2)]:
        got, calls = run(*chunks)
        assert np.array_equal(got, want) and calls == 3


def test_nested_joint_draws():
    rng, rng2 = default_rng(SEED), default_rng(SEED)
    got = vmap(vmap(lambda x: rng.permutation(x), chunk_size=2), chunk_size=3)(np.tile(np.arange(5), (4, 3, 1)))
    # row (i, j) is at position i * 3 + j: the same as one level of 12 examples
    flat = vmap(lambda x: rng2.permutation(x))(np.tile(np.arange(5), (12, 1)))
    assert np.array_equal(got.reshape(12, 5), flat)


def test_nested_value_behaves_like_a_batched_value():
    rng = default_rng(SEED)

    def inner(x):
        z = rng.standard_normal(3)  # batched at both levels
        assert type(z) is vmaprt.BatchedArray and type(z.value) is vmaprt.BatchedArray
        return np.cumsum(z) @ x + z.mean() + np.exp(z).sum()

    X = np.ones((4, 5, 3))
    got = vmap(vmap(inner))(X)
    Z = default_rng(SEED).standard_normal((4, 5, 3))
    want = np.cumsum(Z, axis=-1).sum(-1) + Z.mean(-1) + np.exp(Z).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-12)


# Batched parameters ------------------------------------------------------------------------------------
def _params(n):
    rs = np.random.default_rng(1)
    return {
        "loc": rs.normal(size=n),
        "scale": rs.uniform(0.5, 2, size=n),
        "lam": rs.uniform(0.1, 40, size=n),
        "n": rs.integers(1, 60, size=n),
        "p": rs.uniform(0, 1, size=n),
        "low": rs.integers(-10, 0, size=n),
        "high": rs.integers(1, 10, size=n),
        "a": rs.uniform(0.2, 3, size=n),
    }


BATCHED = {
    "normal": (lambda g, q, s: g.normal(q["loc"], q["scale"], s)),
    "uniform": (lambda g, q, s: g.uniform(q["low"], q["high"], s)),
    "exponential": (lambda g, q, s: g.exponential(q["scale"], s)),
    "poisson": (lambda g, q, s: g.poisson(q["lam"], s)),
    "binomial": (lambda g, q, s: g.binomial(q["n"], q["p"], s)),
    "integers": (lambda g, q, s: g.integers(q["low"], q["high"], s)),
    "integers_endpoint_int16": (lambda g, q, s: g.integers(q["low"], q["high"], s, dtype=np.int16, endpoint=True)),
    "gamma": (lambda g, q, s: g.gamma(q["a"], q["scale"], s)),
    "beta": (lambda g, q, s: g.beta(q["a"], q["scale"], s)),
    "standard_gamma": (lambda g, q, s: g.standard_gamma(q["a"], s)),
}


def _batched_vs_loop(name, randomness, size):
    """vmap over the parameters; returns (got, per-example oracle)."""
    f = BATCHED[name]
    q = _params(B)
    rng = default_rng(SEED)
    keys = sorted(q)
    got = vmap(lambda *vals: f(rng, dict(zip(keys, vals)), size), randomness=randomness, chunk_size=5)(*(q[k] for k in keys))
    return got, q, f


@pytest.mark.parametrize("name", sorted(BATCHED))
def test_batched_parameters_under_different(name):
    got, q, f = _batched_vs_loop(name, "different", None)
    # the unbatched draw with the parameters as [B] arrays
    assert np.array_equal(got, f(default_rng(SEED), q, None))
    got, q, f = _batched_vs_loop(name, "different", (2,))
    want = f(default_rng(SEED), {k: v[:, None] for k, v in q.items()}, (B, 2))
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", sorted(BATCHED))
def test_batched_parameters_under_same(name):
    # vmap(f, randomness='same')(x)[i] == f(x[i]) with a fresh generator of the same seed
    got, q, f = _batched_vs_loop(name, "same", (3,))
    for i in range(B):
        want = f(default_rng(SEED), {k: v[i] for k, v in q.items()}, (3,))
        assert np.array_equal(got[i], want), i


def test_batched_parameter_at_an_outer_same_level():
    lams = np.array([1.0, 50.0, 500.0])
    rng = default_rng(SEED)
    got = vmap(lambda lam: vmap(lambda x: x + rng.poisson(lam))(np.zeros(6)), randomness="same", chunk_size=2)(lams)
    for i, lam in enumerate(lams):
        assert np.array_equal(got[i], default_rng(SEED).poisson(lam, size=6))


def test_batched_parameter_at_an_outer_different_level():
    lams = np.array([1.0, 50.0, 500.0])
    rng = default_rng(SEED)
    got = vmap(lambda lam: vmap(lambda x: x + rng.poisson(lam), chunk_size=4)(np.zeros(6)), chunk_size=2)(lams)
    assert np.array_equal(got, default_rng(SEED).poisson(lams[:, None], size=(3, 6)))


def test_batched_parameter_with_a_different_in_dim():
    P = np.random.default_rng(0).dirichlet(np.ones(5), size=B)  # [B, 5]
    rng, rng2 = default_rng(SEED), default_rng(SEED)
    got = vmap(lambda p: rng.choice(5, size=40, p=p), chunk_size=6)(P)
    assert np.array_equal(got, vmap(lambda p: rng2.choice(5, size=40, p=p), in_dims=1)(np.asfortranarray(P.T)))
    assert got.shape == (B, 40)
    for i in range(3):  # each row follows its own p
        counts = np.bincount(default_rng(i).choice(5, size=20000, p=P[i]), minlength=5)
        assert st.chisquare(counts, P[i] * 20000).pvalue > 1e-4


def test_choice_from_a_batched_population_and_weights():
    X = np.arange(B * 6).reshape(B, 6)
    rng = default_rng(SEED)
    got = vmap(lambda x: rng.choice(x, 10), randomness="same")(X)
    idx = default_rng(SEED).choice(6, 10)
    assert np.array_equal(got, X[:, idx])
    rng = default_rng(SEED)
    got = vmap(lambda x: rng.choice(x, 4, replace=False), chunk_size=3)(X)
    for i, row in enumerate(got):
        assert set(row.tolist()) <= set(X[i].tolist()) and len(set(row.tolist())) == 4
    P = np.zeros((B, 6))
    P[:, [1, 4]] = 0.5
    got = vmap(lambda p: rng.choice(6, 2, replace=False, p=p))(P)
    assert (np.sort(got, axis=1) == [1, 4]).all()


def test_escaped_batched_parameter_is_refused():
    rng = default_rng(SEED)
    leaked = []
    vmap(lambda x: leaked.append(x) or x, randomness="error")(np.ones(3))
    with pytest.raises(RuntimeError, match="escaped|after the vmap"):
        rng.normal(leaked[0])


# Spawn ---------------------------------------------------------------------------------------------------
def test_spawn_matches_seed_sequence_spawn():
    children = default_rng(SEED).spawn(3)
    want = [default_rng(ss).key for ss in np.random.SeedSequence(SEED).spawn(3)]
    assert [c.key for c in children] == want
    rng = default_rng(SEED)
    first, second = rng.spawn(2), rng.spawn(2)
    assert len({c.key for c in first + second} | {rng.key}) == 5


def test_spawned_generators_are_independent():
    a, b = default_rng(SEED).spawn(2)
    x, y = a.standard_normal(50_000), b.standard_normal(50_000)
    assert abs(np.corrcoef(x, y)[0, 1]) < 5 / np.sqrt(50_000)
    assert st.ks_2samp(x, y).pvalue > 1e-4
    assert not np.array_equal(a.random(10), default_rng(SEED).random(10))


def test_spawn_inside_chunked_vmap_gives_every_chunk_the_same_children():
    def run(chunk_size):
        rng = default_rng(SEED)

        def f(x):
            (child,) = rng.spawn(1)
            return x + child.normal(size=2) + rng.random()

        return vmap(f, chunk_size=chunk_size)(np.zeros((B, 2))), rng.spawn(1)[0].key

    ref = run(None)
    for cs in (1, 4, B + 1):
        got = run(cs)
        assert np.array_equal(got[0], ref[0]) and got[1] == ref[1]
    child = default_rng(SEED).spawn(1)[0]
    np.testing.assert_allclose(ref[0] - default_rng(SEED).random(B)[:, None], child.normal(size=(B, 2)), rtol=1e-12, atol=1e-12)


# Threads -----------------------------------------------------------------------------------------------------
def test_threads_with_their_own_generators_and_levels():
    results = {}

    def work(i):
        rng = default_rng(i)
        results[i] = vmap(lambda x: x + rng.normal(size=3), chunk_size=3)(np.zeros((10, 3)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert np.array_equal(results[i], default_rng(i).normal(size=(10, 3)))


# Statistics (fixed seed; thresholds far from flaky at these sizes) ----------------------------------------
P_MIN = 1e-4


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ks_uniform_normal_exponential(dtype):
    rng = default_rng(SEED)
    n = 200_000
    u = vmap(lambda x: rng.random(100, dtype=dtype))(np.zeros(n // 100)).reshape(-1)
    z = vmap(lambda x: rng.standard_normal(100, dtype=dtype))(np.zeros(n // 100)).reshape(-1)
    e = vmap(lambda x: rng.standard_exponential(100, dtype=dtype))(np.zeros(n // 100)).reshape(-1)
    assert u.min() >= 0 and u.max() < 1
    assert st.kstest(u, "uniform").pvalue > P_MIN
    assert st.kstest(z, "norm").pvalue > P_MIN
    assert st.kstest(e, "expon").pvalue > P_MIN
    assert st.kstest(rng.normal(3.0, 2.0, n), "norm", args=(3.0, 2.0)).pvalue > P_MIN
    assert st.kstest(rng.uniform(-2.0, 5.0, n), "uniform", args=(-2.0, 7.0)).pvalue > P_MIN


def test_normal_tail_beyond_the_ziggurat_base():
    z = default_rng(SEED).standard_normal(2_000_000)
    r = 3.6541528853610088  # values beyond it come from the tail algorithm
    expected = 2 * st.norm.sf(r) * z.size
    assert abs((np.abs(z) > r).sum() - expected) < 5 * np.sqrt(expected)
    assert st.kstest(np.abs(z[np.abs(z) > r]), lambda t: 1 - st.norm.sf(t) / st.norm.sf(r)).pvalue > P_MIN
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and abs(z.var() - 1) < 5 * np.sqrt(2 / z.size)


def test_exponential_tail_beyond_the_ziggurat_base():
    e = default_rng(SEED).standard_exponential(4_000_000)
    r = 7.69711747013104972
    expected = np.exp(-r) * e.size
    assert abs((e > r).sum() - expected) < 5 * np.sqrt(expected)
    assert st.kstest(e[e > r] - r, "expon").pvalue > P_MIN
    assert st.kstest(e[:200_000], "expon").pvalue > P_MIN


def _moments_ok(x, mean, var):
    n = x.size
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / n), (x.mean(), mean)
    assert abs(x.var() / var - 1) < 0.05, (x.var(), var)


@pytest.mark.parametrize("lam", [0.5, 4.0, 9.99, 10.0, 37.5, 1e4])
def test_poisson_moments(lam):
    rng = default_rng(SEED)
    x = vmap(lambda _: rng.poisson(lam, 1000))(np.zeros(100))
    _moments_ok(x, lam, lam)
    if lam < 50:
        k = np.arange(int(lam * 3 + 10))
        counts = np.bincount(x.reshape(-1), minlength=k.size)[: k.size]
        expected = st.poisson.pmf(k, lam) * x.size
        keep = expected > 20
        assert st.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue > P_MIN


@pytest.mark.parametrize("n, p", [(10, 0.3), (100, 0.2), (100, 0.9), (1000, 0.5), (10**6, 0.01), (50, 1.0), (0, 0.5)])
def test_binomial_moments(n, p):
    rng = default_rng(SEED)
    x = vmap(lambda _: rng.binomial(n, p, 1000))(np.zeros(100))
    assert x.min() >= 0 and x.max() <= n
    if p in (0.0, 1.0) or n == 0:
        assert (x == n * p).all()
        return
    _moments_ok(x, n * p, n * p * (1 - p))
    if n <= 1000:
        k = np.arange(n + 1)
        counts = np.bincount(x.reshape(-1), minlength=n + 1)
        expected = st.binom.pmf(k, n, p) * x.size
        keep = expected > 20
        assert st.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue > P_MIN


@pytest.mark.parametrize("shape", [0.1, 0.5, 1.0, 2.5, 100.0])
def test_gamma_distribution(shape):
    x = default_rng(SEED).gamma(shape, 2.0, 100_000)
    assert st.kstest(x, "gamma", args=(shape, 0, 2.0)).pvalue > P_MIN


@pytest.mark.parametrize("a, b", [(0.3, 0.7), (0.5, 0.5), (2.0, 5.0), (1.0, 1.0), (30.0, 0.8)])
def test_beta_distribution(a, b):
    x = default_rng(SEED).beta(a, b, 100_000)
    assert st.kstest(x, "beta", args=(a, b)).pvalue > P_MIN


def test_choice_frequencies():
    rng = default_rng(SEED)
    p = np.array([0.05, 0.15, 0.3, 0.5])
    x = vmap(lambda _: rng.choice(4, 100, p=p))(np.zeros(1000))
    assert st.chisquare(np.bincount(x.reshape(-1), minlength=4), p * x.size).pvalue > P_MIN
    # weighted without replacement: the first pick follows p, as in successive sampling
    s = vmap(lambda _: rng.choice(4, 2, replace=False, p=p))(np.zeros(40_000))
    assert st.chisquare(np.bincount(s[:, 0], minlength=4), p * s.shape[0]).pvalue > P_MIN
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(4) if i != j) for j in range(4)])
    assert st.chisquare(np.bincount(s[:, 1], minlength=4), second * s.shape[0]).pvalue > P_MIN


def test_permutations_are_uniform():
    rng = default_rng(SEED)
    P = vmap(lambda _: rng.permutation(4))(np.zeros(48_000))
    codes = P @ (4 ** np.arange(4))
    counts = np.unique(codes, return_counts=True)[1]
    assert counts.size == 24 and st.chisquare(counts).pvalue > P_MIN
    S = vmap(lambda _: rng.choice(5, 2, replace=False))(np.zeros(40_000))
    counts = np.unique(S[:, 0] * 5 + S[:, 1], return_counts=True)[1]
    assert counts.size == 20 and st.chisquare(counts).pvalue > P_MIN


@pytest.mark.parametrize("name", ["standard_normal", "random", "poisson", "integers", "binomial_large", "gamma"])
def test_no_correlation_between_neighbouring_examples(name):
    draw = DRAWS[name]
    rng = default_rng(SEED)
    x = vmap(lambda _: draw(rng, 200).astype(np.float64))(np.zeros(2000))  # [2000, 200]
    x = (x - x.mean()) / x.std()
    # neighbouring examples, value by value
    r = np.mean(x[1:] * x[:-1])
    assert abs(r) < 5 / np.sqrt(x[1:].size)
    # each pair of neighbours on its own: the correlations look like independent noise
    rows = np.array([np.corrcoef(x[i], x[i + 1])[0, 1] for i in range(0, 1999, 7)])
    assert st.kstest(rows * np.sqrt(199), "norm").pvalue > P_MIN
    # one value per example: the sequence along the batch has no lag-1 correlation
    y = vmap(lambda _: draw(rng, None) if name != "integers" else rng.integers(0, 1000))(np.zeros(100_000)).astype(np.float64)
    y = (y - y.mean()) / y.std()
    assert abs(np.mean(y[1:] * y[:-1])) < 5 / np.sqrt(y.size)


def test_no_correlation_between_calls_and_generators():
    rng = default_rng(SEED)
    x, y = rng.standard_normal(100_000), rng.standard_normal(100_000)
    assert abs(np.corrcoef(x, y)[0, 1]) < 5 / np.sqrt(x.size)
    z = default_rng(SEED + 1).standard_normal(100_000)
    assert abs(np.corrcoef(x, z)[0, 1]) < 5 / np.sqrt(x.size)


# Docs -----------------------------------------------------------------------------------------------------------
def _docstring_tests():
    modules = [vmaprt.random, vmaprt.random._generator]  # the package's docstring, and the Generator's
    tests = [t for m in modules for t in doctest.DocTestFinder().find(m, m.__name__) if t.examples]
    return sorted(tests, key=lambda t: t.name)


@pytest.mark.parametrize("test", _docstring_tests(), ids=lambda t: t.name)
def test_docstring_examples(test):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_random_is_public():
    assert "random" in vmaprt.__all__ and vmaprt.random.default_rng is default_rng
