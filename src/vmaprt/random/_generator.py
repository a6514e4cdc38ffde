"""The vmaprt.random Generator: NumPy's methods on Philox streams that vmap batches."""

from __future__ import annotations

import functools
import math
import operator
from typing import TYPE_CHECKING

import numpy as np

from .. import _core, _levels
from .._batched import BatchedArray, assign
from ._layout import Layout
from ._params import (
    _cast_param,
    _check,
    _check_axis,
    _check_out,
    _finish,
    _float_dtype,
    _float_param,
    _integer_bounds,
    _is_int,
    _levels_of,
    _param_shape,
    _scalar,
    _scalar_bounds,
    _shape,
    _size_of,
    _take,
    _values,
)
from ._state import CallState, set_counters

if TYPE_CHECKING:
    from .._typing import Draw, DTypeLike, Param, Seed, Size

# Kinds of the kernels in vmaprt/_philox.pxi, by the names it gives them.
_UNIFORM, _NORMAL, _EXPONENTIAL, _RUN_INTEGERS = (
    _core.RUN_KINDS[k] for k in ("uniform", "normal", "exponential", "integers"))  # + 1 for float32
_INTEGERS, _POISSON, _BINOMIAL, _GAMMA, _BETA = (
    _core.ELEMENT_KINDS[k] for k in ("integers", "poisson", "binomial", "gamma", "beta"))
_PERMUTATION, _SAMPLE, _ROW_UNIFORM = (_core.ROW_KINDS[k] for k in ("permutation", "sample", "uniform"))

# NumPy's bound (np.random.Generator.poisson): larger lam overflow int64.
_POISSON_LAM_MAX = np.iinfo(np.int64).max - np.sqrt(np.iinfo(np.int64).max) * 10


def default_rng(seed: Seed | Generator = None) -> Generator:
    """A :class:`Generator` seeded like ``numpy.random.default_rng``.

    Parameters
    ----------
    seed : None, int, sequence of ints, numpy.random.SeedSequence or Generator
        Entropy for a ``SeedSequence`` (None takes fresh entropy from the OS).
        A vmaprt ``Generator`` is returned unchanged.

    Returns
    -------
    Generator
        Its Philox key is ``SeedSequence(seed).generate_state(2, np.uint64)``,
        the key ``np.random.Philox(seed)`` uses; the streams differ from
        ``numpy.random.default_rng(seed)``, which is PCG64.

    Examples
    --------
    >>> import numpy as np, vmaprt
    >>> rng = vmaprt.random.default_rng(42)
    >>> x = rng.random(3)                                     # -> [3]
    >>> np.array_equal(x, np.random.Generator(np.random.Philox(42)).random(3))
    True
    """
    if isinstance(seed, Generator):
        return seed
    if isinstance(seed, (np.random.Generator, np.random.BitGenerator)):
        raise TypeError(
            f"vmaprt.random.default_rng: got a NumPy {type(seed).__name__}, whose state "
            f"cannot be carried over to vmaprt's counter-based streams; pass an int "
            f"seed or a numpy.random.SeedSequence instead"
        )
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return Generator(ss)


class Generator:
    """Random draws on a counter-based Philox4x64-10 stream, batched by vmap.

    Create one with :func:`default_rng`.  The methods take NumPy's arguments
    (``size``, ``dtype``, ``out``) and every parameter may be a batched array
    inside vmap.  Each call of a method is one draw: it advances the counter
    ``calls`` by one, however many values it makes, and its value at flat
    position ``p`` depends only on the seed, the counter and ``p``.

    A generator is not thread-safe (nor is NumPy's): give each thread its
    own, e.g. with :meth:`spawn`.

    Parameters
    ----------
    seed_seq : numpy.random.SeedSequence
        Gives the Philox key.

    Examples
    --------
    >>> import numpy as np, vmaprt
    >>> rng = vmaprt.random.default_rng(7)
    >>> shared = vmaprt.vmap(lambda x: x + rng.random(), randomness="same")
    >>> out = shared(np.zeros(3))                             # [3] -> [3]
    >>> bool(np.all(out == out[0]))
    True
    >>> rng.calls                                             # one draw so far
    1
    """

    __slots__ = ("_seed_seq", "_k0", "_k1", "_calls", "_spawned")

    def __init__(self, seed_seq):
        if not isinstance(seed_seq, np.random.SeedSequence):
            raise TypeError(
                f"vmaprt.random.Generator expects a numpy.random.SeedSequence, got "
                f"{type(seed_seq).__name__}; create generators with "
                f"vmaprt.random.default_rng(seed)"
            )
        key = seed_seq.generate_state(2, np.uint64)
        self._seed_seq = seed_seq
        self._k0, self._k1 = int(key[0]), int(key[1])
        self._calls = 0
        self._spawned = seed_seq.n_children_spawned

    # State ---------------------------------------------------------------------
    @property
    def key(self) -> int:
        """The Philox key, ``k0 + (k1 << 64)`` as ``np.random.Philox(key=...)`` takes it."""
        return self._k0 | (self._k1 << 64)

    @property
    def calls(self) -> int:
        """How many draws this generator has made: the ``k`` of the next draw."""
        return self._calls

    @property
    def seed_seq(self) -> np.random.SeedSequence:
        """The ``numpy.random.SeedSequence`` the key comes from."""
        return self._seed_seq

    def __repr__(self):
        return f"vmaprt.random.Generator(key={self.key:#x}, calls={self._calls})"

    def __reduce__(self):
        return _restore, (self._seed_seq, self._calls, self._spawned)

    def spawn(self, n_children: int) -> list[Generator]:
        """``n_children`` independent generators, as ``numpy.random.Generator.spawn``.

        Child ``i`` is seeded with ``SeedSequence(entropy, spawn_key=spawn_key + (j,))``
        where ``j`` counts this generator's children so far, as
        ``SeedSequence.spawn`` does (the parent's SeedSequence is not modified).
        Under chunked vmap every chunk gets the same children.

        Examples
        --------
        >>> import vmaprt
        >>> a, b = vmaprt.random.default_rng(0).spawn(2)
        >>> a.key != b.key
        True
        """
        if not _is_int(n_children) or n_children < 0:
            raise ValueError(f"spawn: n_children must be a non-negative int, got {n_children!r}")
        for level in _levels.current_levels():
            self._sync(level)
        start = self._spawned
        self._spawned += int(n_children)
        ss = self._seed_seq
        return [
            Generator(np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (start + i,), pool_size=ss.pool_size))
            for i in range(int(n_children))
        ]

    # The draw: modes, counters, positions -------------------------------------------
    def _sync(self, level):
        # Note [chunking and randomness]
        if level.rng_state is None:  # the level's first draw; a chunked call gave it a shared one
            level.rng_state = CallState()
        level.rng_state.sync(self, level)

    def _modes(self, name):
        """The active levels, refusing a draw under randomness='error'."""
        levels = _levels.current_levels()
        for level in levels:
            if level.randomness == "error":
                raise RuntimeError(
                    f"vmap: vmaprt.random.Generator.{name} was called inside a vmap with "
                    f"randomness='error' (the default), which refuses random draws because "
                    f"it cannot know whether the examples should share them. Pass "
                    f"randomness='different' to vmaprt.vmap for an independent draw per "
                    f"example, or randomness='same' for one draw shared by the batch"
                )
        return levels

    def _next(self, levels):
        """The call number ``k`` of this draw (Note [chunking and randomness])."""
        for level in levels:
            self._sync(level)
        k = self._calls
        self._calls = k + 1
        return k

    def _begin(self, name):
        levels = self._modes(name)
        return levels, self._next(levels)

    def _runs(self, kind, levels, k, shape, dtype, batched=()):
        """A fixed-cost draw (uniform, normal, exponential) of per-example ``shape``."""
        lay = Layout(levels, shape, batched)
        out = np.empty(lay.physical_shape, dtype)
        kind += dtype == np.float32
        _core.random_runs(kind, self._k0, self._k1, k, lay.bases, lay.run_len, out.reshape(-1))
        return lay, out

    def _fixed(self, name, kind, size, dtype, out):
        """random / standard_normal / standard_exponential, with ``out=``."""
        dtype = _float_dtype(dtype, name)
        size = _check_out(out, size, dtype)
        shape = _shape(size)
        levels, k = self._begin(name)
        lay, values = self._runs(kind, levels, k, shape, dtype)
        return _finish(lay.wrap(values), size, out, float)

    def _elements(self, kind, levels, k, shape, params, out_dtype, lay=None):
        """A draw of ``kind`` with per-element parameters ``params``: ``[(value, dtype)]``."""
        if lay is None:
            lay = Layout(levels, shape, _levels_of(p for p, _ in params))
        flat = [lay.flat_param(p, dt) for p, dt in params]
        out = np.empty(lay.physical_shape, out_dtype)
        _core.random_elements(kind, self._k0, self._k1, k, lay.bases, lay.run_len, out.reshape(-1), *flat)
        return lay.wrap(out)

    def _integers(self, lay, k, low, span):
        """Physical uint64 values ``low + [0, span]`` (two's complement) at the layout's positions."""
        out = np.empty(lay.physical_shape, np.uint64)
        if low.size == 1 and span.size == 1:
            a, b = int(low.reshape(-1)[0]), int(span.reshape(-1)[0])
            _core.random_runs(_RUN_INTEGERS, self._k0, self._k1, k, lay.bases, lay.run_len, out.reshape(-1), a, b)
        else:
            flat = [lay.flat_param(low, np.uint64), lay.flat_param(span, np.uint64)]
            _core.random_elements(_INTEGERS, self._k0, self._k1, k, lay.bases, lay.run_len, out.reshape(-1), *flat)
        return out

    def _row_draws(self, kind, levels, k, n, m, row_shape, batched=()):
        """Joint draws, one row of ``row_shape`` per example (Note [positions of a batched draw])."""
        lay = Layout(levels, (), batched)
        width = m if kind == _SAMPLE else n
        out = np.empty(lay.physical_shape + (width,), np.float64 if kind == _ROW_UNIFORM else np.int64)
        _core.random_rows(kind, self._k0, self._k1, k, lay.bases, lay.run_len, n, m, out.reshape(-1))
        return lay, out.reshape(lay.physical_shape + tuple(row_shape))

    # Uniform ------------------------------------------------------------------------
    def random(self, size: Size = None, dtype: DTypeLike = np.float64, out: Draw = None) -> Draw:
        """Uniform floats in [0, 1), as ``numpy.random.Generator.random``.

        Value ``p`` is ``(w >> 11) * 2**-53`` for word ``p`` of the call's main
        stream (float32: the top 24 bits of the low, then the high half of word
        ``p // 2``), NumPy's conversions, so the first call of
        ``default_rng(seed)`` equals ``np.random.Generator(np.random.Philox(seed))``.

        Parameters
        ----------
        size : int or tuple of ints, optional
            Output shape (per example inside vmap).  None gives one value.
        dtype : {np.float64, np.float32}, optional
        out : ndarray or BatchedArray, optional
            Where to write the result; its shape is the size.

        Returns
        -------
        float or ndarray or BatchedArray

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> u = vmaprt.vmap(lambda x: rng.random(2), randomness="different")(np.zeros(5))
        >>> u.shape                                           # [5] -> [5, 2]
        (5, 2)
        >>> np.array_equal(u, vmaprt.random.default_rng(0).random((5, 2)))
        True
        """
        return self._fixed("random", _UNIFORM, size, dtype, out)

    def uniform(self, low: Param = 0.0, high: Param = 1.0, size: Size = None) -> Draw:
        """Uniform floats in [low, high): ``low + (high - low) * random()``, as NumPy.

        ``low`` and ``high`` may be batched.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(1)
        >>> lows = np.array([0.0, 10.0, 20.0])
        >>> x = vmaprt.vmap(lambda lo: rng.uniform(lo, lo + 1), randomness="different")(lows)
        >>> bool(np.all((lows <= x) & (x < lows + 1)))         # [3] -> [3]
        True
        """
        low, high = _float_param(low), _float_param(high)
        span = np.subtract(high, low)
        if not np.all(np.isfinite(_values(span))):
            raise OverflowError("high - low range exceeds valid bounds")
        shape = _param_shape(size, low, high)
        levels, k = self._begin("uniform")
        lay, values = self._runs(_UNIFORM, levels, k, shape, np.float64)
        return _scalar(np.add(low, np.multiply(span, lay.wrap(values))), size)

    # Normal and exponential -------------------------------------------------------------
    def standard_normal(self, size: Size = None, dtype: DTypeLike = np.float64, out: Draw = None) -> Draw:
        """Standard normal values, as ``numpy.random.Generator.standard_normal``.

        A 256-layer ziggurat reads one word per value (99.3% of values); a
        rejection continues in the value's sub-stream.  float32 values are the
        float64 values rounded.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(3)
        >>> draw = lambda x: rng.standard_normal(4)
        >>> z = vmaprt.vmap(draw, randomness="different", chunk_size=2)(np.zeros(5))  # [5] -> [5, 4]
        >>> np.array_equal(z, vmaprt.random.default_rng(3).standard_normal((5, 4)))
        True
        """
        return self._fixed("standard_normal", _NORMAL, size, dtype, out)

    def normal(self, loc: Param = 0.0, scale: Param = 1.0, size: Size = None) -> Draw:
        """Normal values: ``loc + scale * standard_normal()``, as NumPy.  ``loc`` and
        ``scale`` may be batched.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> X = np.arange(6.0).reshape(2, 3)
        >>> noisy = lambda x: x + rng.normal(size=3)
        >>> out = vmaprt.vmap(noisy, randomness="different")(X)         # [2, 3] -> [2, 3]
        >>> np.array_equal(out, X + vmaprt.random.default_rng(0).normal(size=(2, 3)))
        True
        """
        loc, scale = _float_param(loc), _float_param(scale)
        _check(scale, lambda v: v < 0, "scale < 0")
        shape = _param_shape(size, loc, scale)
        levels, k = self._begin("normal")
        lay, values = self._runs(_NORMAL, levels, k, shape, np.float64)
        return _scalar(np.add(loc, np.multiply(scale, lay.wrap(values))), size)

    def standard_exponential(
        self, size: Size = None, dtype: DTypeLike = np.float64, method: str = "zig", out: Draw = None
    ) -> Draw:
        """Exponential values with scale 1, as ``numpy.random.Generator.standard_exponential``.

        A 256-layer ziggurat reads one word per value (98.9% of values); a
        rejection continues in the value's sub-stream.  ``method='inv'`` is
        accepted for compatibility and gives the same values.

        Examples
        --------
        >>> import vmaprt
        >>> e = vmaprt.random.default_rng(0).standard_exponential(1000)
        >>> bool(e.min() >= 0), bool(0.8 < e.mean() < 1.2)
        (True, True)
        """
        if method not in ("zig", "inv"):
            raise ValueError(f"standard_exponential: method must be 'zig' or 'inv', got {method!r}")
        return self._fixed("standard_exponential", _EXPONENTIAL, size, dtype, out)

    def exponential(self, scale: Param = 1.0, size: Size = None) -> Draw:
        """Exponential values: ``scale * standard_exponential()``.  ``scale`` may be batched."""
        scale = _float_param(scale)
        _check(scale, lambda v: v < 0, "scale < 0")
        shape = _param_shape(size, scale)
        levels, k = self._begin("exponential")
        lay, values = self._runs(_EXPONENTIAL, levels, k, shape, np.float64)
        return _scalar(np.multiply(scale, lay.wrap(values)), size)

    # Gamma and beta ---------------------------------------------------------------------
    def standard_gamma(self, shape: Param, size: Size = None, dtype: DTypeLike = np.float64, out: Draw = None) -> Draw:
        """Gamma values with scale 1 (Marsaglia-Tsang, and Ahrens-Dieter GS for
        ``shape < 1``), each from its position's sub-stream.  ``shape`` may be batched."""
        dtype = _float_dtype(dtype, "standard_gamma")
        shape = _float_param(shape)
        _check(shape, lambda v: v < 0, "shape < 0")
        size = _check_out(out, size, dtype)
        per_example = _param_shape(size, shape)
        levels, k = self._begin("standard_gamma")
        res = self._elements(_GAMMA, levels, k, per_example, [(shape, np.float64)], np.float64)
        if dtype == np.float32:
            res = res.astype(np.float32)
        return _finish(res, size, out, float)

    def gamma(self, shape: Param, scale: Param = 1.0, size: Size = None) -> Draw:
        """Gamma values: ``scale * standard_gamma(shape)``.  Both may be batched.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> shapes = np.array([0.5, 2.0, 50.0])
        >>> g = vmaprt.vmap(lambda a: rng.gamma(a, size=4000).mean(), randomness="different")(shapes)
        >>> np.allclose(g, shapes, rtol=0.1)                  # [3] -> [3]
        True
        """
        shape, scale = _float_param(shape), _float_param(scale)
        _check(shape, lambda v: v < 0, "shape < 0")
        _check(scale, lambda v: v < 0, "scale < 0")
        per_example = _param_shape(size, shape, scale)
        levels, k = self._begin("gamma")
        res = self._elements(_GAMMA, levels, k, per_example, [(shape, np.float64)], np.float64)
        return _scalar(np.multiply(scale, res), size)

    def beta(self, a: Param, b: Param, size: Size = None) -> Draw:
        """Beta values (Johnk's method when ``a, b <= 1``, else a ratio of gammas),
        each from its position's sub-stream.  ``a`` and ``b`` may be batched."""
        a, b = _float_param(a), _float_param(b)
        _check(a, lambda v: v <= 0, "a <= 0")
        _check(b, lambda v: v <= 0, "b <= 0")
        shape = _param_shape(size, a, b)
        levels, k = self._begin("beta")
        res = self._elements(_BETA, levels, k, shape, [(a, np.float64), (b, np.float64)], np.float64)
        return _scalar(res, size)

    # Discrete ---------------------------------------------------------------------------
    def poisson(self, lam: Param = 1.0, size: Size = None) -> Draw:
        """Poisson counts (NumPy's methods: products of uniforms for ``lam < 10``,
        PTRS above), each from its position's sub-stream.  ``lam`` may be batched.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> lams = np.array([1.0, 30.0])
        >>> mean_count = lambda lam: rng.poisson(lam, size=5000).mean()
        >>> n = vmaprt.vmap(mean_count, randomness="different")(lams)   # [2] -> [2]
        >>> np.allclose(n, lams, rtol=0.05)
        True
        """
        lam = _float_param(lam)
        _check(lam, lambda v: ~(v >= 0), "lam < 0 or lam is NaN")
        _check(lam, lambda v: v > _POISSON_LAM_MAX, "lam value too large")
        shape = _param_shape(size, lam)
        levels, k = self._begin("poisson")
        res = self._elements(_POISSON, levels, k, shape, [(lam, np.float64)], np.int64)
        return _scalar(res, size, int)

    def binomial(self, n: Param, p: Param, size: Size = None) -> Draw:
        """Binomial counts: inversion for ``n * min(p, 1 - p) <= 30``, else BTRS
        (Hormann's transformed rejection), each from its position's sub-stream.
        ``n`` and ``p`` may be batched."""
        n = _cast_param(n, np.int64)
        p = _float_param(p)
        _check(n, lambda v: v < 0, "n < 0")
        _check(p, lambda v: ~((v >= 0) & (v <= 1)), "p < 0, p > 1 or p is NaN")
        shape = _param_shape(size, n, p)
        levels, k = self._begin("binomial")
        res = self._elements(_BINOMIAL, levels, k, shape, [(n, np.int64), (p, np.float64)], np.int64)
        return _scalar(res, size, int)

    def integers(
        self, low: Param, high: Param | None = None, size: Size = None, dtype: DTypeLike = np.int64,
        endpoint: bool = False,
    ) -> Draw:
        """Uniform integers in [low, high) (or [low, high] with ``endpoint=True``),
        as ``numpy.random.Generator.integers``, for every integer dtype and bool.

        Value ``p`` maps word ``p`` of the main stream to the range by Lemire's
        multiply-shift; the rare rejection continues in the value's sub-stream.
        ``low`` and ``high`` may be batched.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> highs = np.array([2, 10, 1000])
        >>> r = vmaprt.vmap(lambda h: rng.integers(h, size=6), randomness="different")(highs)
        >>> bool(np.all((r >= 0) & (r < highs[:, None])))     # [3] -> [3, 6]
        True
        """
        dtype = np.dtype(dtype)
        if dtype.kind not in "iub":
            raise TypeError(f"Unsupported dtype {dtype!r} for integers")
        if high is None:
            low, high = 0, low
        shape = _param_shape(size, low, high)
        levels = self._modes("integers")
        lay = Layout(levels, shape, _levels_of((low, high)))
        if _is_int(low) and _is_int(high):
            lo, span = _scalar_bounds(int(low), int(high), dtype, endpoint)
        else:
            lo, span = _integer_bounds(lay.lift(low, len(shape)), lay.lift(high, len(shape)), dtype, endpoint)
        k = self._next(levels)
        out = self._integers(lay, k, lo, span)
        res = lay.wrap(out.view(dtype) if dtype.itemsize == 8 else out.astype(dtype))
        if size is None and type(res) is not BatchedArray and np.ndim(res) == 0:
            return res[()]
        return res

    # Choice and permutations -------------------------------------------------------------
    def choice(
        self, a: Param, size: Size = None, replace: bool = True, p: Param | None = None, axis: int = 0,
        shuffle: bool = True,
    ) -> Draw:
        """A random sample from ``a`` (an int ``n`` for ``range(n)``, or an array,
        along ``axis``), as ``numpy.random.Generator.choice``.

        With replacement the values are independent, at their positions (``p``:
        a uniform at each position through the cumulative weights).  Without
        replacement the whole sample of ``size`` values is one joint draw per
        example, from the example's sub-stream: under 'different' every
        example gets its own sample (Note [positions of a batched draw]).
        Weighted samples without replacement use Efraimidis-Spirakis keys
        ``log(u) / p``, which give the distribution of NumPy's successive draws.
        ``a`` and ``p`` may be batched.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> pick = vmaprt.vmap(lambda x: rng.choice(x, 3, replace=False), randomness="different")
        >>> S = pick(np.arange(40).reshape(4, 10))             # [4, 10] -> [4, 3]
        >>> [len(set(row)) for row in S.tolist()]
        [3, 3, 3, 3]
        """
        if type(a) is BatchedArray and a.ndim == 0:
            if not replace or p is not None:
                raise RuntimeError(
                    "vmap: choice(a) with a batched integer a is only supported with "
                    "replace=True and p=None (it is integers(0, a)); for a sample "
                    "without replacement pass a fixed population size"
                )
            return self.integers(0, a, size=size)
        if isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)):
            n, array = int(a), None
            if n < 0 or (n == 0 and _size_of(size) > 0):
                raise ValueError("a must be a positive integer unless no samples are taken")
        else:
            array = a if type(a) is BatchedArray else np.asarray(a)
            if array.ndim == 0:
                raise ValueError("a must be a sequence or an integer, not a 0-d array")
            axis = operator.index(axis)
            if not -array.ndim <= axis < array.ndim:
                raise np.exceptions.AxisError(axis, array.ndim)
            axis %= array.ndim
            n = array.shape[axis]
            if n == 0 and _size_of(size) > 0:
                raise ValueError("a cannot be empty unless no samples are taken")
        shape = _shape(size)
        m = math.prod(shape)
        if p is not None:
            p = _float_param(p)
            if p.ndim != 1:
                raise ValueError("p must be 1-dimensional")
            if p.shape[0] != n:
                raise ValueError("a and p must have same size")
            if np.any(~(_values(p) >= 0)):
                raise ValueError("probabilities are not non-negative")
            total = _values(np.sum(p, axis=-1))
            if total.size and not np.allclose(total, 1.0, rtol=0, atol=np.sqrt(np.finfo(np.float64).eps)):
                raise ValueError("probabilities do not sum to 1")
        if not replace:
            if m > n:
                raise ValueError("Cannot take a larger sample than population when replace is False")
            if p is not None and m and np.any(_values(np.sum(p > 0, axis=-1)) < m):
                raise ValueError("Fewer non-zero entries in p than size")
        levels, k = self._begin("choice")
        if replace and p is None:
            lay = Layout(levels, shape, ())
            span = np.array([max(n - 1, 0)], np.uint64)
            idx = lay.wrap(self._integers(lay, k, np.zeros(1, np.uint64), span).view(np.int64))
        elif replace:
            idx = self._weighted(levels, k, shape, p)
        elif p is None:
            lay, rows = self._row_draws(_SAMPLE, levels, k, n, m, shape)
            if not shuffle:
                rows = np.sort(rows.reshape(rows.shape[: rows.ndim - len(shape)] + (m,)), axis=-1).reshape(rows.shape)
            idx = lay.wrap(rows)
        else:
            idx = self._weighted_sample(levels, k, shape, n, m, p, shuffle)
        if array is None:
            return int(idx) if size is None and type(idx) is not BatchedArray else idx
        res = _take(array, idx, axis)
        if size is None and type(res) is not BatchedArray and np.ndim(res) == 0:
            return res[()]
        return res

    def _weighted(self, levels, k, shape, p):
        """Indices with replacement: the uniform at each position through the cdf of ``p``."""
        lay, u = self._runs(_UNIFORM, levels, k, shape, np.float64, _levels_of([p]))
        cdf = np.cumsum(lay.lift(p), axis=-1)
        cdf /= cdf[..., -1:]
        if cdf.ndim == 1:
            idx = np.searchsorted(cdf, u, side="right")
        else:
            cdf = np.ascontiguousarray(np.broadcast_to(cdf, lay.physical_shape[: lay.nlevels] + cdf.shape[-1:]))
            n_rows = math.prod(lay.physical_shape[: lay.nlevels])
            idx = _core.searchsorted_rows(cdf.reshape(n_rows, -1), u.reshape(n_rows, -1)).reshape(u.shape)
        return lay.wrap(idx.astype(np.int64, copy=False))

    def _weighted_sample(self, levels, k, shape, n, m, p, shuffle):
        """Indices without replacement, by the largest Efraimidis-Spirakis keys log(u) / p."""
        lay, u = self._row_draws(_ROW_UNIFORM, levels, k, n, 0, (n,), _levels_of([p]))
        with np.errstate(divide="ignore", invalid="ignore"):
            keys = np.log(u) / lay.lift(p)
        keys = np.where(np.isnan(keys), -np.inf, keys)
        order = np.argsort(-keys, axis=-1, kind="stable")[..., :m]
        if not shuffle:
            order = np.sort(order, axis=-1)
        return lay.wrap(order.reshape(order.shape[:-1] + shape))

    def permutation(self, x: Param, axis: int = 0) -> Draw:
        """A permuted ``range(x)`` (int ``x``) or a permuted copy of the array ``x``
        along ``axis``, as ``numpy.random.Generator.permutation``.

        The permutation is one joint draw per example (Fisher-Yates on the
        example's sub-stream), so under 'different' every example is permuted
        its own way, and under 'same' all the same way.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> rows = np.tile(np.arange(5), (3, 1))
        >>> P = vmaprt.vmap(rng.permutation, randomness="different")(rows)   # [3, 5] -> [3, 5]
        >>> np.sort(P, axis=1).tolist()
        [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]
        """
        if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
            if x < 0:
                raise ValueError(f"permutation: x must be non-negative, got {x}")
            levels, k = self._begin("permutation")
            lay, rows = self._row_draws(_PERMUTATION, levels, k, int(x), 0, (int(x),))
            return lay.wrap(rows)
        x = x if type(x) is BatchedArray else np.asarray(x)
        axis = _check_axis(x, axis)
        idx = self._permutation_indices("permutation", x.shape[axis])
        return _take(x, idx, axis)

    def shuffle(self, x: Draw, axis: int = 0) -> None:
        """Shuffle ``x`` in place along ``axis``, as ``numpy.random.Generator.shuffle``.

        ``x`` may be a BatchedArray: each example is shuffled (its own way
        under 'different').  An array that is the same for every example
        cannot be shuffled differently per example: that is a RuntimeError.

        Examples
        --------
        >>> import numpy as np, vmaprt
        >>> rng = vmaprt.random.default_rng(0)
        >>> def f(x):
        ...     x = x.copy()
        ...     rng.shuffle(x)
        ...     return x
        >>> S = vmaprt.vmap(f, randomness="different")(np.tile(np.arange(4.0), (2, 1)))
        >>> np.sort(S, axis=1).tolist()                         # [2, 4] -> [2, 4]
        [[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]]
        """
        if isinstance(x, list):
            idx = self._permutation_indices("shuffle", len(x))
            if type(idx) is BatchedArray:
                raise RuntimeError(
                    "vmap: shuffle of a Python list under randomness='different' would "
                    "need a different list per example; shuffle an array created with "
                    "np.zeros_like(x) or x.copy() instead"
                )
            x[:] = [x[i] for i in idx.tolist()]
            return None
        if not isinstance(x, (np.ndarray, BatchedArray)):
            raise TypeError(f"shuffle expects an ndarray, a BatchedArray or a list, got {type(x).__name__}")
        axis = _check_axis(x, axis)
        idx = self._permutation_indices("shuffle", x.shape[axis])
        assign(x, _take(x, idx, axis), "same_kind", "the shuffled array")
        return None

    def _permutation_indices(self, name, n):
        levels, k = self._begin(name)
        lay, rows = self._row_draws(_PERMUTATION, levels, k, n, 0, (n,))
        return lay.wrap(rows)


def _vmap_errors(method):
    """Prefix an argument error with ``vmap: vmaprt.random.<name>:`` (as every vmaprt
    error starts), keeping its type and NumPy's wording after the prefix."""

    @functools.wraps(method)
    def checked(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (TypeError, ValueError, OverflowError) as e:
            message = str(e)
            if message.startswith("vmap"):
                raise
            message = f"vmap: vmaprt.random.{method.__qualname__}: {message}"
            try:
                error = type(e)(message)
            except TypeError:  # an exception type with another signature, e.g. AxisError
                error = ValueError(message)
            raise error from None

    return checked


for _name in [
    "spawn", "random", "uniform", "standard_normal", "normal", "standard_exponential",
    "exponential", "standard_gamma", "gamma", "beta", "poisson", "binomial", "integers",
    "choice", "permutation", "shuffle",
]:  # fmt: skip
    setattr(Generator, _name, _vmap_errors(getattr(Generator, _name)))
default_rng = _vmap_errors(default_rng)


def _restore(seed_seq, calls, spawned):
    rng = Generator(seed_seq)
    set_counters(rng, (calls, spawned))
    return rng
