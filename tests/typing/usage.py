"""A typed user script: mypy --strict must accept it (tests/test_typing.py)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

import vmaprt
from vmaprt import vmap


class Params(NamedTuple):
    w: npt.NDArray[np.float64]
    b: float


def model(params: Params, x: Any) -> Any:
    return np.tanh(x @ params.w + params.b)


def run() -> npt.NDArray[np.float64]:
    params = Params(np.ones((3, 2)), 0.5)
    batched = vmap(model, in_dims=(None, 0), out_dims=0, chunk_size=4)
    out: npt.NDArray[np.float64] = batched(params, np.ones((8, 3)))
    nested = vmap(vmap(np.dot), in_dims=1, randomness="same")
    nested(np.ones((2, 3, 4)), np.ones((2, 3, 4)))
    vmap(np.sum, in_dims=({"a": 0, "b": None},), axis_size=None)

    rng = vmaprt.random.default_rng(0)
    noisy = vmap(lambda v: v + rng.normal(0.0, 1.0, size=3), randomness="different")
    noisy(np.zeros((5, 3)))
    children: list[vmaprt.random.Generator] = rng.spawn(2)
    k: int = children[0].calls + rng.key
    draws = [rng.integers(0, 10, size=(2, 2)), rng.choice(5, 3, replace=False), rng.permutation(4)]

    def trapezoid(y: npt.NDArray[np.float64]) -> float:
        return float(np.trapezoid(y))

    area = vmaprt.per_example(trapezoid)
    total: float = area(np.ones(4))  # the wrapper keeps the signature of what it wraps

    @vmaprt.register_batch_rule(area)
    def _area_rule(args: list[Any], bdims: list[int | None]) -> tuple[Any, int | None]:
        return np.trapezoid(args[0], axis=-1), 0

    _, rule_bdim = _area_rule([np.ones((2, 4))], [0])  # the decorator keeps the rule's type
    known: bool = vmaprt.has_batch_rule(np.sum)
    leaves, spec = vmaprt.tree.flatten({"a": 1, "b": (2, 3)})
    tree = vmaprt.tree.unflatten(spec, [x * 2 for x in leaves])
    vmaprt.tree.map(lambda leaf: leaf, tree)
    threads: int = vmaprt.get_num_threads()
    vmaprt.set_num_threads(threads)
    previous: int = vmaprt.set_cache_limit(1 << 20)
    del k, draws, known, previous, total, rule_bdim
    return out
