"""The benchmark suite runs: ``--quick`` on one small workload, in-process, without
torch or JAX, producing its table, its JSON and its plot.

The suite lives in ``benchmarks/`` next to ``tests/``, outside the installed
package; it is loaded from there by path, so that the repository root never
goes on ``sys.path`` (where the source tree would shadow the installed vmaprt).
"""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def suite():
    if not (BENCHMARKS / "run.py").exists():
        pytest.skip(f"no benchmark suite at {BENCHMARKS}: copy benchmarks/ next to tests/ to run this")
    if "benchmarks" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "benchmarks", BENCHMARKS / "__init__.py", submodule_search_locations=[str(BENCHMARKS)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["benchmarks"] = module
        spec.loader.exec_module(module)
    return importlib.import_module("benchmarks.run")


def test_quick_run_writes_table_json_and_plot(suite, tmp_path, capsys):
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    argv = ["--quick", "--filter", "tiny dot", "--no-torch", "--no-jax", "--repeats", "2",
            "--json", str(out_json)]
    if importlib.util.find_spec("matplotlib") is not None:
        argv += ["--plot", str(out_png)]
    assert suite.main(argv) == 0

    text = capsys.readouterr().out
    assert "Median time per call" in text and "Ratio to the best hand-vectorized NumPy" in text
    assert "geometric mean of vmaprt/numpy over 1 workload:" in text
    header = text.split("Median time per call\n")[1].splitlines()[0]
    assert header.split()[2:] == ["vmaprt", "numpy", "loop", "np.vectorize"]  # no torch, no jax

    data = json.loads(out_json.read_text())
    assert data["meta"]["numpy"] and data["meta"]["vmaprt_threads"] >= 1
    (row,) = data["rows"]
    assert row["workload"].startswith("tiny dot") and not row["errors"]
    assert {"vmaprt", "numpy", "loop", "np.vectorize"} <= set(row["columns"])
    for column in row["columns"].values():
        assert column["seconds"] > 0 and len(column["samples"]) == 2
    assert row["columns"]["numpy"]["ratio"] == 1.0
    assert data["geomean"]["vmaprt"] == pytest.approx(row["columns"]["vmaprt"]["ratio"])
    if "--plot" in argv:
        assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_filter_without_match_lists_the_workloads(suite, capsys):
    assert suite.main(["--quick", "--filter", "no such workload", "--no-torch", "--no-jax"]) == 2
    assert "tiny dot" in capsys.readouterr().err


def test_small_batch_family_runs_and_checks_every_column(suite, tmp_path, capsys):
    small = importlib.import_module("benchmarks.small")
    out_json = tmp_path / "small.json"
    argv = ["--quick", "--filter", "MLP", "--filter", "solve", "--no-torch", "--no-jax", "--repeats", "1",
            "--json", str(out_json)]
    assert small.main(argv) == 0
    text = capsys.readouterr().out
    assert "B = 16:" in text and "B = 64:" in text and "per op: elementwise" in text
    data = json.loads(out_json.read_text())
    assert {r["batch"] for r in data["family"]} == {16, 64}
    assert all({"vmaprt", "numpy", "loop"} <= set(r["seconds"]) and r["ops"] > 0 for r in data["family"])
