"""Names for the annotations of the public API.

Only type checkers import this module (under ``typing.TYPE_CHECKING``); the
package's modules use ``from __future__ import annotations``, so nothing here
runs when vmaprt is imported.
"""

from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt

# An in_dims or out_dims value: an int or None, or a pytree prefix of them.
Dims = Union[int, None, tuple[Any, ...], list[Any], dict[Any, Any], Any]
Randomness = Literal["error", "different", "same"]

# What a draw returns: an ndarray, a Python number for size=None outside vmap,
# or a BatchedArray under vmap.  Annotated as Any, as NumPy's own results of
# mixed kinds often are, so that arithmetic on it type-checks.
Draw = Any
Size = Union[int, tuple[int, ...], None]
Param = npt.ArrayLike
DTypeLike = npt.DTypeLike
Seed = Union[None, int, "list[int]", np.random.SeedSequence, Any]
