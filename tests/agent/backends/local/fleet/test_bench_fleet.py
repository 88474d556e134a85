"""benchmarks/bench_fleet.py's CPU check: on the tiny float32 models every fleet row is plain generate's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_the_fleet_benchmark_runs_on_the_cpu_and_agrees_with_plain_generate(tiny_dir: Path, tmp_path: Path) -> None:
    from benchmarks.bench_fleet import main, table

    out = tmp_path / "fleet.json"
    shapes = tmp_path / "tuned.json"  # the tuner's JSON names the model as the benchmark does: family-size
    shapes.write_text(json.dumps({"configs": {"qwen2.5-given": {"qkv": [32, 128, 4, 5]}}}))
    assert (
        main(
            [
                "--weights",
                str(tiny_dir),
                "--device",
                "cpu",
                "--max-pixels",
                "3136",
                "--new-tokens",
                "8",
                "--batches",
                "1,3",
                "--repeats",
                "1",
                "--products",
                "fused,tuned,cublas",
                "--many-configs",
                str(shapes),
                "--out",
                str(out),
            ]
        )
        == 0
    )

    result = json.loads(out.read_text())["results"][0]
    assert result["single_stream"]["agreement"]["rate"] == 1.0
    assert result["tuned_configs"]["qkv"] == [32, 128, 4, 5]
    for batch, row in result["batches"].items():
        for key in ("fleet", "fleet_tuned", "fleet_cublas"):  # every way (on the CPU the many-row kernels do not apply)
            fleet = row[key]
            assert fleet["agreement"]["rows_identical"] == int(batch) and fleet["agreement"]["rate"] == 1.0
            assert fleet["steps_per_s"] > 0 and fleet["cold_prefix_steps_per_s"] > 0
            assert fleet["many_row_products"] is False
        assert row["plain"]["agreement"]["rate"] == 1.0
    assert "cuBLAS" in table([result]) and "tuned" in table([result])


def test_the_fleet_benchmark_refuses_unknown_products() -> None:
    from benchmarks.bench_fleet import parse_args

    assert parse_args(["--products", "cublas,fused"]).products == ["cublas", "fused"]
    with pytest.raises(SystemExit):
        parse_args(["--products", "cuda"])


def test_tuned_products_need_block_shapes_for_the_model(tiny_dir: Path, tmp_path: Path, capsys) -> None:
    from benchmarks.bench_fleet import main, parse_args

    with pytest.raises(SystemExit):
        parse_args(["--products", "tuned"])  # no --many-configs
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"qwen2.5-given": {"qkv": [48, 128, 4, 5]}}))
    with pytest.raises(SystemExit):
        parse_args(["--products", "tuned", "--many-configs", str(wrong)])
    assert "powers of two" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"configs": {"qwen3-8b": {"qkv": [32, 256, 4, 3]}}}))
    arguments = ["--weights", str(tiny_dir), "--device", "cpu", "--products", "tuned", "--many-configs", str(other)]
    assert main(arguments) == 2  # before any model is loaded
    assert "no block shapes for qwen2.5-given" in capsys.readouterr().err


def test_the_qwen3_fleet_benchmark_with_five_screenshots_agrees_with_plain_generate(
    tiny3_dir: Path, tmp_path: Path
) -> None:
    from benchmarks.bench_fleet import main

    out = tmp_path / "fleet3.json"
    assert (
        main(
            [
                "--weights",
                str(tiny3_dir),
                "--device",
                "cpu",
                "--max-pixels",
                "4096",
                "--new-tokens",
                "6",
                "--batches",
                "2",
                "--repeats",
                "1",
                "--prompt",
                "uitars5",
                "--out",
                str(out),
            ]
        )
        == 0
    )

    result = json.loads(out.read_text())["results"][0]
    assert (result["family"], result["prompt"]) == ("qwen3", "uitars5")
    assert result["single_stream"]["agreement"]["rate"] == 1.0
    fleet = result["batches"]["2"]["fleet"]
    assert fleet["agreement"]["rows_identical"] == 2 and fleet["agreement"]["rate"] == 1.0
