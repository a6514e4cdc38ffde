"""The registry's public entry points: register_batch_rule, has_batch_rule."""

import warnings

import numpy as np
import pytest

import vmaprt
from vmaprt import PerformanceWarning, vmap


def test_performance_warning_is_a_user_warning():
    assert issubclass(PerformanceWarning, UserWarning)


def test_has_batch_rule():
    assert vmaprt.has_batch_rule(np.sum) and vmaprt.has_batch_rule(np.add)
    assert not vmaprt.has_batch_rule(np.save) and not vmaprt.has_batch_rule(np.unique)


def test_register_a_rule_for_a_numpy_function():
    fn = np.polyval
    calls = []
    saved = vmaprt._registry.RULES.pop(fn, None)

    def rule(args, bdims, *rest):
        (p, x), (pb, xb) = args, bdims
        calls.append((pb, xb))
        p = np.moveaxis(p, pb, 0)  # [B, deg+1]
        out = np.zeros(np.broadcast_shapes(p.shape[:1], np.shape(x)[:1]) if xb is not None else p.shape[:1])
        for k in range(p.shape[1]):
            out = out * (np.moveaxis(x, xb, 0) if xb is not None else x) + p[:, k]
        return out, 0

    try:
        vmaprt.register_batch_rule(fn, rule, nargs=2)
        p = np.random.default_rng(0).standard_normal((4, 3))
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerformanceWarning)
            got = vmap(np.polyval, in_dims=(0, None))(p, 2.0)
        np.testing.assert_allclose(got, [np.polyval(r, 2.0) for r in p])
        assert calls == [(0, None)] and vmaprt.has_batch_rule(fn)
    finally:
        vmaprt._registry.RULES[fn] = saved


def test_a_rule_that_declines_sends_the_call_per_example():
    fn = np.trapezoid
    saved = vmaprt._registry.RULES[fn]

    def rule(args, bdims, **kwargs):
        raise vmaprt._registry.NoBatchRule

    try:
        vmaprt.register_batch_rule(fn, rule)
        with pytest.warns(PerformanceWarning, match="np.trapezoid"):
            got = vmap(np.trapezoid)(np.ones((3, 4)))
        np.testing.assert_array_equal(got, [3.0, 3.0, 3.0])
    finally:
        vmaprt._registry.RULES[fn] = saved


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: vmaprt.register_batch_rule(3), TypeError, r"^vmap: register_batch_rule expects the function to batch"),
        (lambda: vmaprt.register_batch_rule(np.sum, nargs=1.5), ValueError, r"^vmap: register_batch_rule\(nargs=\.\.\.\)"),
        (lambda: vmaprt.register_batch_rule(np.sum)(None), TypeError, r"^vmap: register_batch_rule\(np.sum\) expects a callable rule"),
        (lambda: vmaprt.per_example(3), TypeError, r"^vmap: per_example expects a callable"),
        (lambda: vmaprt.set_num_threads(0), ValueError, r"^vmap: set_num_threads expects a positive int"),
        (lambda: vmaprt.set_num_threads(True), ValueError, r"^vmap: set_num_threads expects a positive int"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()
