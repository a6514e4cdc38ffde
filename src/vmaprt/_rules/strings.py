"""The string functions of np.char and np.strings: elementwise over every array argument.

They are not part of the coverage figure of the docs, but each is one line here.
"""

import numpy as np

from .._registry import register_batch_rule
from ._helpers import broadcast_batched, defelementwise, on_one_example

for _f in [np.char.equal, np.char.not_equal, np.char.greater, np.char.greater_equal,
           np.char.less, np.char.less_equal]:  # fmt: skip
    defelementwise(_f, nargs=2)


def _strings(func):
    """An np.strings function, elementwise; NumPy's own cannot size an empty array."""

    def rule(args, bdims, *rest, **kwargs):
        size = next(np.shape(a)[b] for a, b in zip(args, bdims) if b is not None)
        if size == 0:
            return on_one_example(rule, args, bdims, *rest, **kwargs)
        values, bdim = broadcast_batched(args, bdims)
        return func(*values, *rest, **kwargs), bdim

    register_batch_rule(func, rule)


for _name in ["capitalize", "center", "decode", "encode", "expandtabs", "ljust", "lower", "mod",
              "multiply", "partition", "replace", "rjust", "rpartition", "swapcase", "title",
              "translate", "upper", "zfill"]:  # fmt: skip
    _strings(getattr(np.strings, _name))
