"""Before anything is collected: a torch and torchvision that cannot work together are named in one line.

Test modules import torch and transformers as they load; with a mismatched pair every one of them
fails to collect with a long traceback and no test runs. This says which pair is wrong and what to
install instead (qwen_gui_agent/agent/backends/local/torch_pair.py reads the installed versions; nothing
is imported).
"""

from __future__ import annotations

import pytest

from qwen_gui_agent.agent.backends.local.torch_pair import pair_problem

EXIT_USAGE = 4  # pytest's own code for a session that cannot start as asked


def pytest_configure(config: pytest.Config) -> None:
    problem = pair_problem()
    if problem is not None:
        pytest.exit(f"cannot run the tests: {problem}", returncode=EXIT_USAGE)
