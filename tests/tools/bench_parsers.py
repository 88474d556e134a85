"""Parse-time benchmark of both dialects over the fuzz corpus (not a test: prints numbers).

    python3 tests/tools/bench_parsers.py

The goal (no test asserts it: a loaded machine would fail it): every parse, best of three,
under 5 ms; the lines end with how many were over.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout, for tests.*

from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from tests.tools.dialects.test_dialect_fuzz import ANSWERS, FRAME, adversarial_answers

GOAL_S = 0.005  # per parse, best of three


def _quantile(sorted_seconds: list[float], q: float) -> float:
    return sorted_seconds[min(len(sorted_seconds) - 1, int(q * len(sorted_seconds)))] * 1e6


def main() -> None:
    answers = adversarial_answers(ANSWERS)
    gc.disable()
    for name in ("qwen", "uitars"):
        dialect = get_dialect(name)
        timings, parsed = [], 0
        for answer in answers:
            best = float("inf")
            for _ in range(3):  # best of three: the parser's cost, not the scheduler's
                start = time.perf_counter()
                try:
                    dialect.parse(answer, FRAME)
                    ok = True
                except ActionParseError:
                    ok = False
                best = min(best, time.perf_counter() - start)
            parsed += ok
            timings.append(best)
        timings.sort()
        print(
            f"{name:7s} answers={len(answers)} actions_ok={parsed} errors={len(answers) - parsed} "
            f"median={_quantile(timings, 0.5):.0f}us p99={_quantile(timings, 0.99):.0f}us "
            f"max={timings[-1] * 1e6:.0f}us over_{GOAL_S * 1e3:g}ms={sum(t > GOAL_S for t in timings)}"
        )
    gc.enable()


if __name__ == "__main__":
    main()
