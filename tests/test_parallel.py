"""Batch splitting over threads: the same results as one NumPy call, for every rule.

The threshold is lowered so that the small inputs of the rule cases are split,
then the registry-wide cases run again against the loop.
"""

import warnings

import numpy as np
import pytest

import vmaprt
from vmaprt import _parallel

import test_rules
from conftest import assert_matches


@pytest.fixture
def split_everything(monkeypatch):
    monkeypatch.setattr(_parallel, "MIN_WORK", 1)
    old = vmaprt.get_num_threads()
    vmaprt.set_num_threads(3)
    yield
    vmaprt.set_num_threads(old)


@pytest.mark.parametrize("case", test_rules.CASES, ids=repr)
def test_rules_split_over_threads_match_the_loop(split_everything, case):
    test_rules.test_rule_matches_loop(case, "stepped")
    test_rules.test_rule_size_zero(case) if not case.id.startswith("real_if_close") else None


def test_split_is_bit_identical_to_one_call(split_everything, monkeypatch):
    split = []
    original = _parallel.parallel_for
    monkeypatch.setattr(_parallel, "parallel_for", lambda n, work, fn, **kw: split.append(_parallel.pieces(n, work)) or original(n, work, fn, **kw))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 50, 30))
    f = lambda a: (np.arcsinh(a) / np.expm1(-a), np.nansum(a, -1), a.std(0), np.divmod(a, 0.3))  # noqa: E731
    # (nansum: a.sum(-1) runs in the compiled row reduction, which is not split)
    got = vmaprt.vmap(f)(x)
    assert len(split) == 7 and all(p == 3 for p in split)  # every call above was cut in three
    vmaprt.set_num_threads(1)
    want = vmaprt.vmap(f)(x)
    for g, w in zip(got[:3] + got[3], want[:3] + want[3]):
        np.testing.assert_array_equal(g, w)


def test_errors_in_a_piece_reach_the_caller(split_everything):
    calls = []

    def fn(start, stop):
        calls.append((start, stop))
        if start > 0:
            raise ValueError("piece failed")

    with pytest.raises(ValueError, match="piece failed"):
        _parallel.parallel_for(10, 10**6, fn)
    assert sorted(calls) == [(0, 3), (3, 6), (6, 10)]


def test_pool_follows_the_thread_count(split_everything):
    seen = set()
    _parallel.parallel_for(8, 10**6, lambda a, b: seen.add((a, b)))
    assert len(seen) == 3
    vmaprt.set_num_threads(2)
    seen.clear()
    _parallel.parallel_for(8, 10**6, lambda a, b: seen.add((a, b)))
    assert seen == {(0, 4), (4, 8)}
