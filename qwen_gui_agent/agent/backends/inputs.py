"""What a backend's settings name on disk, checked before anything starts and before anything heavy loads.

A scripted backend's script, the local backend's ``--model`` folder (when it is a path) and its
``--adapter`` folder: a typo in one of them is bad input, said in a moment (exit 2, nothing run or
recorded), not a run that fails after torch, transformers and gigabytes of weights have loaded.
"""

from __future__ import annotations

from . import create_backend
from .base import BackendUnavailable
from .settings import BackendSettings


def check_backend_inputs(settings: BackendSettings) -> None:
    """BackendUnavailable (naming the file and the fix) for a script, model or adapter folder that is not there."""
    match settings.kind:
        case "scripted":
            create_backend(settings).close()  # reads and checks the script; nothing else starts
        case "local":
            from .local.loading import check_local_paths  # imports neither torch nor transformers

            check_local_paths(settings)


def input_flag(settings: BackendSettings, error: BackendUnavailable) -> str:
    """The flag an input error is about, for the one-line message (``--script: ...``)."""
    if settings.kind == "scripted":
        return "--script"
    return "--adapter" if "LoRA adapter" in str(error) else "--model"
