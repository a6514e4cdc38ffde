"""The batch-rule registry: one dict from a NumPy function (or ufunc) to its rule.

A batch rule is a small pure function ::

    rule(args, bdims, *rest, **params) -> (out, out_bdim)

``args`` are the function's operands (its first ``nargs`` positional
arguments, or all of them when ``nargs`` is None) with every value batched at
the current level replaced by its physical array; ``bdims`` holds, for each
operand, the axis of that array that is the batch (an int), or None for an
operand that is the same for every example.  An operand that is a list or
tuple of arrays (``np.concatenate``'s first argument) arrives as a list of
physical arrays with a list of bdims.  ``rest`` and ``params`` are the
remaining positional and keyword arguments, never batched at this level.
The rule returns the physical result and its batch axis (None when the result
is the same for every example); a tuple or list result takes one bdim for all
of its elements, or a tuple with one per element.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple, Sequence, TypeVar, overload

import numpy as np

__all__ = [
    "PerformanceWarning",
    "NoBatchRule",
    "Mapped",
    "register_batch_rule",
    "has_batch_rule",
    "refuse",
    "RULES",
    "REFUSED",
    "INPLACE",
]


class PerformanceWarning(UserWarning):
    """A NumPy function without a batch rule ran once per example in a Python loop."""


class NoBatchRule(Exception):
    """Raised by a rule for a form of call it does not batch; the call runs per example."""


class Mapped(NamedTuple):
    """A keyword argument batched at the current level, as a rule receives it."""

    value: object
    bdim: int


class Rule:
    """A registered rule, with how many leading positional arguments are operands."""

    __slots__ = ("func", "rule", "nargs", "kw_operands", "_positional")

    def __init__(self, func, rule, nargs, kw_operands=()):
        self.func = func
        self.rule = rule
        self.nargs = nargs
        self.kw_operands = frozenset(kw_operands)
        self._positional = None

    def positional_names(self):
        """Names of the function's parameters that can be passed by position."""
        if self._positional is None:
            try:
                params = list(inspect.signature(self.func).parameters.values())
            except (TypeError, ValueError):
                params = []
            self._positional = tuple(
                p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            )
        return self._positional

    def operand_names(self):
        """Names of the operand parameters, for operands passed by keyword."""
        names = self.positional_names()
        return names if self.nargs is None else names[: self.nargs]

    def parameters_as_keywords(self, args, kwargs):
        """Pass the positional arguments after the operands by keyword
        (``np.histogramdd(x, 5, None, False, w)``), so that a batched one among them
        reaches the rule as a keyword operand; unchanged when they have no names."""
        names = self.positional_names()
        n = self.nargs
        if n is None or len(args) > len(names) or any(name in kwargs for name in names[n : len(args)]):
            return args, kwargs
        return args[:n], {**kwargs, **dict(zip(names[n:], args[n:]))}

    def operands_from_keywords(self, args, kwargs):
        """Move operands given by keyword (``np.clip(x, a_min=lo)``) into ``args``.

        A gap before a keyword operand is filled with that parameter's default.
        """
        names = self.operand_names()
        if not kwargs or not any(name in kwargs for name in names[len(args):]):
            return args, kwargs
        params = inspect.signature(self.func).parameters
        kwargs = dict(kwargs)
        args = list(args)
        last = max(i for i, name in enumerate(names) if name in kwargs)
        for name in names[len(args) : last + 1]:
            args.append(kwargs.pop(name) if name in kwargs else params[name].default)
        return tuple(args), kwargs


COMPOSITE = -1
"""``nargs`` of a rule that is the function's own implementation, called on the
BatchedArrays themselves (see ``defcomposite``)."""

RULES = {}
"""func -> Rule.  Ufuncs that are absent use the generic elementwise/gufunc rule."""

REFUSED = {}
"""func -> why it cannot be batched (its result's shape depends on the data)."""

INPLACE = {}
"""func -> index of the argument it writes into; the fallback checks that target."""

LIKE_ONLY = {
    np.zeros, np.ones, np.empty, np.full, np.array, np.asarray, np.asanyarray,
    np.ascontiguousarray, np.asfortranarray, np.arange, np.eye, np.identity,
    np.tri, np.fromfunction, np.fromiter, np.frombuffer, np.fromstring,
    np.require, np.loadtxt, np.genfromtxt,
}  # fmt: skip
"""Functions that dispatch only through like= (np.zeros(3, like=x)): they create
an array batched as the like= argument is."""

UFUNC_METHODS = {}
"""'__call__' | 'reduce' | 'accumulate' | 'reduceat' | 'outer' | 'at' -> rule(ufunc, args, bdims, **kw)."""

INDEXING = {}
"""'getitem' | 'setitem' -> the rule of x[key] and of x[key] = value (vmaprt._rules.indexing)."""


def register_like_only(func):
    """Dispatch ``func`` through its like= argument only (see ``LIKE_ONLY``)."""
    LIKE_ONLY.add(func)
    return func


def register_ufunc_method(method):
    """Register the rule of the ufunc method ``method``, as a decorator."""

    def register(rule):
        UFUNC_METHODS[method] = rule
        return rule

    return register


def register_indexing(kind, rule):
    """Register the rule of ``x[key]`` (``kind='getitem'``) or ``x[key] = value`` ('setitem')."""
    INDEXING[kind] = rule
    return rule


_R = TypeVar("_R", bound=Callable[..., Any])


@overload
def register_batch_rule(
    func: Callable[..., Any], rule: None = None, *, nargs: int | None = None, kw_operands: Sequence[str] = ()
) -> Callable[[_R], _R]: ...
@overload
def register_batch_rule(
    func: Callable[..., Any], rule: _R, *, nargs: int | None = None, kw_operands: Sequence[str] = ()
) -> _R: ...
def register_batch_rule(
    func: Callable[..., Any],
    rule: Callable[..., Any] | None = None,
    *,
    nargs: int | None = None,
    kw_operands: Sequence[str] = (),
) -> Callable[..., Any]:
    """Register ``rule`` as the batch rule of ``func``.

    Use it as a decorator, ``@register_batch_rule(np.foo)``, or call it with
    the rule.  ``func`` is a NumPy function or ufunc (these dispatch on
    ``BatchedArray`` by themselves), or any callable wrapped with
    :func:`vmaprt.per_example`, whose wrapper consults this registry first.

    Parameters
    ----------
    func : callable
        The function being batched.
    rule : callable, optional
        ``rule(args, bdims, *rest, **params) -> (out, out_bdim)``, a pure
        function of the whole batch.  ``args`` are the operands (the first
        ``nargs`` positional arguments) with each value batched at the current
        level replaced by its physical array, batch axis included; ``bdims``
        gives, per operand, that batch axis (an int), or None for an operand
        that is the same for every example.  ``rest`` and ``params`` are the
        other arguments, never batched at this level.  The rule returns the
        physical result and the axis of it that is the batch (None if the
        result is the same for every example).  Returned as it is, so the
        decorator keeps the rule's name.
    nargs : int, optional
        How many leading positional arguments are operands that may be
        batched.  None (the default) means all positional arguments.  A
        batched value in the other arguments sends the call to the
        per-example fallback instead.
    kw_operands : sequence of str, optional
        Keyword arguments the rule batches itself (such as ``where`` of a
        reduction).  When one is batched it reaches the rule as a named
        tuple with the physical array as ``.value`` and its batch axis as
        ``.bdim``.

    Examples
    --------
    >>> import numpy as np, vmaprt
    >>> def softplus(x):
    ...     return np.log1p(np.exp(x))
    >>> softplus = vmaprt.per_example(softplus)
    >>> @vmaprt.register_batch_rule(softplus)
    ... def _softplus_rule(args, bdims):
    ...     (x,), (bdim,) = args, bdims
    ...     return np.log1p(np.exp(x)), bdim    # elementwise: batch axis unchanged
    >>> vmaprt.vmap(softplus)(np.zeros((2, 3)))   # [2, 3] -> [2, 3]
    array([[0.69314718, 0.69314718, 0.69314718],
           [0.69314718, 0.69314718, 0.69314718]])
    """
    if not callable(func):
        raise TypeError(
            f"vmap: register_batch_rule expects the function to batch, but got "
            f"{type(func).__name__} {func!r}; pass a NumPy function such as np.sum"
        )
    if nargs is not None and (type(nargs) is not int or nargs < COMPOSITE):
        raise ValueError(
            f"vmap: register_batch_rule(nargs=...) expects a non-negative int or None, "
            f"but got {nargs!r}"
        )

    def register(rule):
        if not callable(rule):
            raise TypeError(
                f"vmap: register_batch_rule({_name(func)}) expects a callable rule "
                f"rule(args, bdims, **params) -> (out, out_bdim), but got {rule!r}"
            )
        RULES[func] = Rule(func, rule, nargs, kw_operands)
        REFUSED.pop(func, None)
        return rule

    return register if rule is None else register(rule)


def has_batch_rule(func: Callable[..., Any]) -> bool:
    """Whether ``func`` runs batched under vmap (True) or per example / refused (False).

    Every NumPy ufunc, and so every ``scipy.special`` ufunc, has one; so do the
    creation functions that take ``like=`` (``np.zeros(3, like=x)``).

    >>> import numpy as np, vmaprt
    >>> vmaprt.has_batch_rule(np.sum), vmaprt.has_batch_rule(np.exp)
    (True, True)
    >>> vmaprt.has_batch_rule(np.unique)   # refused: its result's length depends on the values
    False
    """
    return func in RULES or isinstance(func, np.ufunc) or func in LIKE_ONLY


def refuse(func, reason):
    """Mark ``func`` as impossible to batch: calling it under vmap raises RuntimeError."""
    REFUSED[func] = reason
    RULES.pop(func, None)


def _name(func):
    module = getattr(func, "__module__", None) or ""
    name = getattr(func, "__name__", None) or repr(func)
    if module == "numpy" or module.startswith("numpy."):
        public = [p for p in module.split(".")[1:] if not p.startswith("_") and p != "lib"]
        return ".".join(["np", *public, name])
    return name
