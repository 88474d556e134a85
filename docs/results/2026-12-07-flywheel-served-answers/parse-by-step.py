"""Answers that parse, by step index, per task: python3 parse-by-step.py EVAL_FOLDER (an agent eval miniwob --out)."""

import json
import sys
from collections import defaultdict
from pathlib import Path

for task_folder in sorted((Path(sys.argv[1]) / "runs").iterdir()):
    tally: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])  # step -> [parsed, steps]
    for steps in task_folder.glob("*/steps.jsonl"):
        for line in steps.read_text().splitlines():
            step = json.loads(line)
            counts = tally[int(step["index"])]
            counts[1] += 1
            counts[0] += (step.get("error") or {}).get("kind") != "parse"
    print(task_folder.name, " ".join(f"{index}:{ok}/{total}" for index, (ok, total) in sorted(tally.items())))
