"""Running Python code in a child process, for the tests that need a fresh interpreter.

The child starts in an empty temporary folder, so it imports the installed
vmaprt whatever folder pytest runs from, and a failure shows the child's stderr.
"""

import os
import subprocess
import sys
import tempfile


def run_python(code, *, env=None, check=True, cwd=None):
    """Run ``python -c code`` in a neutral folder; a ``CompletedProcess`` with text output."""
    with tempfile.TemporaryDirectory() as neutral:
        result = subprocess.run([sys.executable, "-c", code], cwd=cwd or neutral, capture_output=True,
                                text=True, env=None if env is None else {**os.environ, **env})
    if check and result.returncode != 0:
        raise AssertionError(f"the child process failed (exit {result.returncode}):\n{code}\n"
                             f"--- its stderr ---\n{result.stderr}")
    return result
