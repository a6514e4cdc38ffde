"""valgrind memcheck over the compiled kernels, on small inputs of every layout.

``python .ci/memcheck.py`` runs this file's ``exercise()`` under valgrind and
fails if any memcheck error has a frame of ``vmaprt._core`` among its top four:
CPython and the BLAS library report errors of their own under valgrind, which
are not ours to fix.
"""

import os
import re
import subprocess
import sys
import tempfile


def exercise():
    import numpy as np

    import vmaprt
    from vmaprt import _core

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 7, 5))
    for bd, a, b in [(0, x, y), (1, x.T, y.T), (0, x[::-1], y[:, ::-1]), (0, x[::2], np.broadcast_to(y[0], (4, 5)))]:
        _core.batched_dot(a, bd, b, bd)
    m = rng.standard_normal((6, 3, 3))
    _core.batched_matmul(m, 0, m[0], None)
    _core.batched_matmul(np.moveaxis(m, 0, 2), 2, m[:, ::-1], 0)
    g, h = rng.standard_normal((5, 6, 7)), rng.standard_normal((5, 7, 4))
    _core.batched_gemm(g, 0, h, 0)
    _core.batched_gemm(g[:, ::-1], 0, h[0], None)
    _core.batched_gemm(np.asfortranarray(g), 0, h.transpose(0, 2, 1).copy().transpose(0, 2, 1), 0)
    for name in _core.REDUCTIONS:
        _core.batched_reduce(name, x, 0)
        _core.batched_reduce(name, x.T[::-1], 1)
    _core.batched_logsumexp(x, 0)
    _core.batched_softmax(x.T, 1)
    _core.batched_binary("maximum", x, 0, y[0], None)
    _core.batched_unary("tanh", x[::-1], 0)
    for name in _core.ROWSCALAR:  # one number per example: reversed batch, strided numbers, both orders
        _core.batched_rowscalar(name, x[:4][::-1], y[::2, :1]), _core.batched_rowscalar(name, x, y[:, 3:4], True)
    big = rng.standard_normal((5, 1000))  # over FLAT_MIN_SIZE, and rows long enough for the AVX2 max
    big[0, :3] = [40.0, np.nan, -1e6]  # the libm fix-up path of a block
    for name in _core.SIMD_UNARY:
        _core.unary_flat(name, big), _core.unary_flat(name, np.asfortranarray(big[:, :900]))
    _core.batched_logsumexp(big, 0), _core.batched_softmax(big[:, ::-1], 0)
    _core.batched_colsum(big, 1), _core.batched_colsum(big[::2], 1, True)
    _core.batched_reduce("max", big[:, :997], 0), _core.batched_reduce("min", big, 0)  # AVX2 rows, with a tail
    _core.batched_reduce("sum", big[:, :997], 0), _core.batched_reduce("mean", big[::-1], 0)  # four rows per call + one
    _core.batched_dot(big[:, 3:], 0, big[:, :997], 0)  # the AVX2 dot, with a tail
    wide = rng.standard_normal((40, 1000))  # 320 KB temporaries: through the buffer cache (vmaprt/_cache.h)
    for _ in range(3):
        vmaprt.vmap(lambda r: np.sin(r) * np.exp(-r * r) + 0.5 * r)(wide)
    previous = vmaprt.set_cache_limit(700_000)  # room for two blocks: the oldest go first
    vmaprt.vmap(lambda r: (r - r.mean()) / r.std() + (r * 2 - 1) * (r + 3))(wide)
    vmaprt.set_cache_limit(0), vmaprt.set_cache_limit(previous)
    gen = vmaprt.random.default_rng(1)
    gen.normal(size=(4, 5)), gen.integers(0, 10, size=9), gen.poisson(3.0, size=5)
    gen.binomial(50, 0.3, size=4), gen.gamma(2.0, size=4), gen.permutation(7)
    vmaprt.vmap(lambda r: r + gen.normal(size=5), randomness="different", chunk_size=3)(x)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "memcheck.log")
        env = dict(os.environ, PYTHONMALLOC="malloc", OMP_NUM_THREADS="1")
        cmd = ["valgrind", "--tool=memcheck", "--leak-check=no", "--num-callers=20",
               f"--log-file={log}", sys.executable, __file__, "exercise"]
        run = subprocess.run(cmd, env=env)
        if run.returncode != 0:
            sys.exit(f"the exercise failed under valgrind (exit {run.returncode})")
        text = open(log).read()
    kinds = r"(Invalid (read|write|free)|Use of uninitialised|Conditional jump|Syscall param|Mismatched free|Source and destination overlap)"
    blocks = [b for b in re.split(r"==\d+== \n", text) if re.search(r"==\d+== " + kinds, b)]
    ours = []
    for block in blocks:
        frames = [line for line in block.splitlines() if re.search(r"==\d+==\s+(at|by) 0x", line)][:4]
        if any("_core" in f or "__pyx_" in f for f in frames):
            ours.append(block)
    print(f"memcheck: {len(blocks)} error contexts in all, {len(ours)} in vmaprt._core")
    for block in ours:
        print(block)
    sys.exit(1 if ours else 0)


if __name__ == "__main__":
    exercise() if sys.argv[1:] == ["exercise"] else main()
