"""benchmarks/bench_fleet.py's CPU check: on the tiny float32 models every fleet row is plain generate's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_the_fleet_benchmark_runs_on_the_cpu_and_agrees_with_plain_generate(tiny_dir: Path, tmp_path: Path) -> None:
    from benchmarks.bench_fleet import main, table

    out = tmp_path / "fleet.json"
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
                "fused,cublas",
                "--out",
                str(out),
            ]
        )
        == 0
    )

    result = json.loads(out.read_text())["results"][0]
    assert result["single_stream"]["agreement"]["rate"] == 1.0
    for batch, row in result["batches"].items():
        for key in ("fleet", "fleet_cublas"):  # both ways (on the CPU the many-row kernels do not apply)
            fleet = row[key]
            assert fleet["agreement"]["rows_identical"] == int(batch) and fleet["agreement"]["rate"] == 1.0
            assert fleet["steps_per_s"] > 0 and fleet["cold_prefix_steps_per_s"] > 0
            assert fleet["many_row_products"] is False
        assert row["plain"]["agreement"]["rate"] == 1.0
    assert "cuBLAS" in table([result])


def test_the_fleet_benchmark_refuses_unknown_products() -> None:
    from benchmarks.bench_fleet import parse_args

    assert parse_args(["--products", "cublas,fused"]).products == ["cublas", "fused"]
    with pytest.raises(SystemExit):
        parse_args(["--products", "cuda"])


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
