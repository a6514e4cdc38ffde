"""``python -m vmaprt``, the README's first command, as a user in a terminal meets it."""

import os
import subprocess
import sys

import pytest

from vmaprt.__main__ import WORKLOADS


def run_cli(tmp_path, *args, **kwargs):
    """Run ``python -m vmaprt`` from a folder with no source tree in it; show stderr on failure."""
    env = {**os.environ, "COLUMNS": "80", "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-m", "vmaprt", *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, encoding="utf-8", **kwargs)
    assert result.returncode == 0, f"python -m vmaprt {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("args", [("--quick",), ("--help",)], ids=["table", "help"])
def test_fits_80_columns(tmp_path, args):
    lines = run_cli(tmp_path, *args).splitlines()
    too_wide = [line for line in lines if len(line) > 80]
    assert lines and not too_wide, f"lines wider than 80 columns: {too_wide}"


def test_table_says_what_each_column_is(tmp_path):
    out = run_cli(tmp_path, "--quick")
    header = next(line for line in out.splitlines() if line.startswith("workload"))
    for column in header.replace("vs numpy", "vs_numpy").replace("vs loop", "vs_loop").split()[1:]:
        name = column.replace("_", " ")
        assert f"  {name:<12}" in out, f"the legend does not explain the column {name!r}"
    assert "\u00b5s" in out and " us " not in out
    assert all(w.name in out for w in WORKLOADS)


def test_help_says_what_each_workload_computes(tmp_path):
    out = run_cli(tmp_path, "--help")
    for w in WORKLOADS:
        assert f"{w.name}  " in out and w.computes in out, w.name


def test_closed_pipe_exits_without_a_traceback(tmp_path):
    # `python -m vmaprt --quick | head -2`: the reader closes the pipe after two lines.
    child = subprocess.Popen([sys.executable, "-m", "vmaprt", "--quick"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.readline()
    child.stdout.close()
    stderr = child.communicate(timeout=120)[1].decode()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert child.returncode in (0, 1), (child.returncode, stderr)


def test_ascii_terminal_gets_us(tmp_path):
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    result = subprocess.run([sys.executable, "-m", "vmaprt", "--quick"], cwd=tmp_path, env=env,
                            capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    assert b" us " in result.stdout or b"ns " in result.stdout


def test_an_unwritable_json_path_fails_before_measuring(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vmaprt", "--quick", "--json", str(tmp_path / "no" / "x.json")],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "cannot write there" in result.stderr, result.stderr
    assert "demo" not in result.stdout  # nothing was measured
