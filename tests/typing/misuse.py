"""Calls that the annotations must reject: mypy reports an error on each marked line."""

import numpy as np

import vmaprt
from vmaprt import vmap

vmap(np.sum, randomness="differnt")  # error: randomness is one of three literals
vmap(np.sum, chunk_size="4")  # error: chunk_size is an int or None
vmap(np.sum, 0, 0, "error", 4)  # error: chunk_size is keyword-only
vmaprt.random.default_rng(0).normal(size=3.5)  # error: size is an int or a tuple of ints
vmaprt.set_num_threads("2")  # error: a number of threads
vmaprt.tree.flatten({"a": 1}, 2)  # error: one tree
