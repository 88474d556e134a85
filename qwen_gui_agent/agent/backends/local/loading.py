"""Loading a Qwen-family model for the local backend: which class, where from, onto which device, in which precision.

The class comes from the registry (tools/models.py): the directory's config.json
says which family the weights are (``model_type``), the family names the
transformers class (Qwen2.5-VL, Qwen2-VL, Qwen3-VL, Qwen3.5); a config the
registry does not know loads through ``AutoModelForImageTextToText``.

Every way loading can fail that a user can fix (missing extra, no CUDA, no
weights, too little GPU memory) becomes BackendUnavailable with a hint saying
what to do. torch and transformers are imported inside the functions: this
module imports on a machine without them, and says so only when asked to load.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....tools.models import ModelFamily, match_config, match_model, read_config
from ..base import BackendUnavailable, ModelFilesRefused
from ..settings import BackendSettings

log = logging.getLogger(__name__)

INSTALL_HINT = "install the local extra: pip install -e '.[local]'"
TRAIN_HINT = "install the train extra: pip install -e '.[train]'"
ADAPTER_CONFIG = "adapter_config.json"
SERVER_HINT = "or run the model on a server (vllm serve / sglang) and use --backend openai --base-url URL"


@dataclass(frozen=True)
class Placement:
    """Where the model runs: the torch device for inputs, the dtype, and what from_pretrained gets."""

    device: str  # "cpu", "cuda", "cuda:1"
    dtype_name: str  # "float32", "bfloat16", "float16"
    device_map: str | None  # "auto" spreads over every visible GPU; None keeps the model on the CPU
    attn_implementation: str

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith("cuda")


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # Qwen2_5_VLForConditionalGeneration, Qwen3VLForConditionalGeneration, ...
    processor: Any  # the AutoProcessor (tokenizer + image processor + chat template)
    placement: Placement
    weights: str  # the directory or hub id the weights came from
    load_ms: float
    model_class: str = "Qwen2_5_VLForConditionalGeneration"  # the transformers class that loaded them
    family: str | None = None  # the registry's family (tools/models.py), None for a model it does not know
    fast_path: bool = False  # whether the registry says the CUDA engine (fastpath/, fleet/) serves that family


def import_torch() -> Any:
    """torch, once transformers and a torchvision that loads with it are there; else one line saying what to install."""
    from .torch_pair import pair_problem, torchvision_import_problem

    mismatch = pair_problem()  # read from the installed metadata, before a mismatched import can fail noisily
    if mismatch is not None:
        raise BackendUnavailable(mismatch)
    try:
        import torch
        import transformers  # noqa: F401 - checked here so the error names the extra
    except ImportError as error:
        raise BackendUnavailable(
            f"the local backend needs torch and transformers ({error})", hint=f"{INSTALL_HINT}, {SERVER_HINT}"
        ) from None
    problem = torchvision_import_problem()
    if problem is not None:
        raise BackendUnavailable(problem)
    return torch


def choose_placement(settings: BackendSettings) -> Placement:
    """bf16 on CUDA (fp16 where the GPU has no bf16), float32 on the CPU; flash-attention 2 when installed."""
    torch = import_torch()
    wanted = settings.torch_device
    has_cuda = torch.cuda.is_available()
    if wanted.startswith("cuda") and not has_cuda:
        raise BackendUnavailable(
            f"--torch-device {wanted} was asked for but torch sees no CUDA GPU "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'})",
            hint="check nvidia-smi and CUDA_VISIBLE_DEVICES, install a CUDA build of torch, "
            f"use --torch-device cpu (very slow for 7B), {SERVER_HINT}",
        )
    device = ("cuda" if has_cuda else "cpu") if wanted == "auto" else wanted
    if not device.startswith("cuda"):
        return Placement("cpu", "float32", None, settings.attn_implementation or "sdpa")
    dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    flash = importlib.util.find_spec("flash_attn") is not None
    attention = settings.attn_implementation or ("flash_attention_2" if flash else "sdpa")
    # "cuda" = every visible GPU (accelerate splits the layers); "cuda:N" = that one GPU.
    device_map = "auto" if device == "cuda" else device
    return Placement("cuda:0" if device == "cuda" else device, dtype, device_map, attention)


def check_local_paths(settings: BackendSettings) -> None:
    """The folders ``--model`` (a path) and ``--adapter`` name, checked without torch: a typo is reported at
    once, not after torch, transformers and the weights have loaded."""
    path = _local_weights(settings)
    if path is not None and not (path / "config.json").is_file():
        raise BackendUnavailable(
            f"no model in {path} ({'no config.json there' if path.is_dir() else 'no such directory'})",
            hint="point --model at the directory holding config.json and the *.safetensors files",
        )
    if settings.adapter:
        check_adapter_path(Path(settings.adapter).expanduser())


def check_adapter_path(path: Path) -> None:
    if not (path / ADAPTER_CONFIG).is_file():
        raise BackendUnavailable(
            f"no LoRA adapter in {path} ({'no ' + ADAPTER_CONFIG + ' there' if path.is_dir() else 'no such directory'})",
            hint="point --adapter at a checkpoint folder of `swift sft` (output/vX-.../checkpoint-N); a merged "
            "model directory goes to --model instead",
        )


def locate_weights(settings: BackendSettings) -> str:
    """A local directory holding the weights, downloading them (once) from the hub or ModelScope."""
    name = settings.model
    path = _local_weights(settings)
    if path is not None:
        check_local_paths(settings)
        return str(path)
    if settings.source == "modelscope":
        return _modelscope_download(name)
    return _hub_download(name)


def _local_weights(settings: BackendSettings) -> Path | None:
    """The directory ``--model`` names when it is one (not a hub or ModelScope id)."""
    path = Path(settings.model).expanduser()
    if settings.source == "local" or path.is_dir() or _looks_like_a_path(settings.model):
        return path
    return None


def _looks_like_a_path(name: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else is meant as a directory.
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


# What from_pretrained needs of a Qwen2.5-VL repository (not the original checkpoints or images in the README).
HUB_FILES = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "*.tiktoken"]


def _hub_download(repo_id: str) -> str:
    from huggingface_hub import snapshot_download

    try:  # already in the cache: no network at all (works offline, and starts faster)
        return str(snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=True))
    except (OSError, ValueError):
        log.info("downloading %s from the Hugging Face hub (cached after the first time)", repo_id)
    try:
        return str(snapshot_download(repo_id, allow_patterns=HUB_FILES))
    except (OSError, ValueError) as error:  # offline, no such repo, gated, bad id
        raise BackendUnavailable(
            f"cannot get {repo_id} from the Hugging Face hub: {_first_line(error)}",
            hint="download it where there is network (huggingface-cli download ID --local-dir DIR) and pass "
            f"--model DIR, use --source modelscope (mainland China), {SERVER_HINT}",
        ) from None


def _modelscope_download(model_id: str) -> str:
    try:
        from modelscope import snapshot_download
    except ImportError:
        raise BackendUnavailable(
            "--source modelscope needs the modelscope package", hint="pip install -e '.[modelscope]'"
        ) from None
    log.info("downloading %s from ModelScope (cached after the first time)", model_id)
    try:
        return str(snapshot_download(model_id))
    except (OSError, ValueError, RuntimeError) as error:  # modelscope raises plain errors for network/not found
        raise BackendUnavailable(
            f"ModelScope could not provide {model_id}: {error}",
            hint="check the model id on modelscope.cn and the network, or download it once "
            "(modelscope download --model ID --local_dir DIR) and pass --model DIR --source local",
        ) from None


def load_model(settings: BackendSettings) -> LoadedModel:
    """The model and its processor, loaded once; the caller keeps them for the whole run."""
    check_local_paths(settings)  # before torch: a mistyped folder is said in a moment
    torch = import_torch()
    from transformers import AutoProcessor

    placement = choose_placement(settings)
    weights = locate_weights(settings)
    family = model_family(settings.model, read_config(Path(weights)))
    class_name = family.model_class if family else "AutoModelForImageTextToText"
    model_class = _transformers_class(class_name)
    started = time.perf_counter()
    log.info(
        "loading %s as %s (%s, %s, %s attention)",
        weights,
        class_name,
        placement.device,
        placement.dtype_name,
        placement.attn_implementation,
    )
    try:
        processor = AutoProcessor.from_pretrained(weights, size=pixel_bounds(settings))
        model = model_class.from_pretrained(
            weights,
            dtype=getattr(torch, placement.dtype_name),
            device_map=placement.device_map,
            attn_implementation=placement.attn_implementation,
        )
    except torch.cuda.OutOfMemoryError:
        raise BackendUnavailable(
            f"not enough GPU memory to load {weights} in {placement.dtype_name}",
            hint="use a smaller model (--model 3b), free the GPU, spread over more GPUs (--torch-device cuda), "
            f"{SERVER_HINT}",
        ) from None
    except OSError as error:  # files missing or unreadable in the directory
        raise BackendUnavailable(
            f"cannot load the model in {weights}: {_first_line(error)}",
            hint="the directory is incomplete: download the model again (huggingface-cli download ID "
            f"--local-dir DIR, or --source modelscope) and pass --model DIR, {SERVER_HINT}",
        ) from None
    except ImportError as error:  # e.g. torchvision missing for the processor
        raise BackendUnavailable(f"a dependency of the processor is missing: {error}", hint=INSTALL_HINT) from None
    if settings.adapter:
        model = merge_adapter(model, settings.adapter)
    model.eval()
    return LoadedModel(
        model=model,
        processor=processor,
        placement=placement,
        weights=weights,
        load_ms=(time.perf_counter() - started) * 1000,
        model_class=class_name,
        family=family.name if family else None,
        fast_path=bool(family and family.fast_path),
    )


def model_family(model: str, config: dict[str, object] | None) -> ModelFamily | None:
    """The registry's family for these weights' architecture: the config's family first (a fine-tune's name says its
    answer format, its config says its architecture), then the name's; None for a model the registry does not know
    (it loads through the generic image-text class)."""
    by_config = match_config(config) if config else None
    match = by_config or match_model(model)
    return match.family if match else None


def model_class_name(model: str, config: dict[str, object] | None) -> str:
    """The transformers class for these weights (``model_family``'s), else the generic image-text class."""
    family = model_family(model, config)
    return family.model_class if family else "AutoModelForImageTextToText"


def _transformers_class(name: str) -> Any:
    import transformers

    found = getattr(transformers, name, None)
    if found is None:
        raise BackendUnavailable(
            f"transformers {transformers.__version__} has no {name}, which these weights need",
            hint=f"upgrade transformers (pip install -U transformers), {SERVER_HINT}",
        )
    return found


def merge_adapter(model: Any, adapter: str) -> Any:
    """The model with a LoRA checkpoint (``swift sft``'s output, a peft adapter) merged into its weights.

    Merged, the model is a plain Qwen2_5_VLForConditionalGeneration again: the fast path and the
    grammar-constrained decoding run on it unchanged, and no step pays for the adapter's extra products.
    """
    path = Path(adapter).expanduser()
    check_adapter_path(path)
    try:
        from peft import PeftModel
    except ImportError:
        raise BackendUnavailable("--adapter needs peft", hint=TRAIN_HINT) from None
    started = time.perf_counter()
    try:
        merged = PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    except Exception as error:
        refused = _refused_adapter_file(path, error)
        if refused is not None:
            raise refused from None
        if not isinstance(error, (OSError, ValueError, KeyError, RuntimeError)):
            raise
        # wrong base model, shapes, unreadable files
        raise BackendUnavailable(
            f"cannot apply the adapter in {path} to this model: {_first_line(error)}",
            hint="use the --model the adapter was trained from (its adapter_config.json names it)",
        ) from None
    log.info(
        "merged the LoRA adapter %s into the weights in %.0f ms: the fast path runs on the merged model",
        path,
        (time.perf_counter() - started) * 1000,
    )
    return merged


def _refused_adapter_file(path: Path, error: Exception) -> ModelFilesRefused | None:
    """The clear error for adapter weights that are damaged (a safetensors file cut short) or unsafe (a pickle that
    would run code, which torch refuses to load); None for any other failure."""
    import pickle

    from safetensors import SafetensorError

    fix = (
        "point --adapter at a checkpoint folder written by `swift sft` (output/vX-.../checkpoint-N), or copy "
        "or train it again"
    )
    if isinstance(error, pickle.UnpicklingError):
        return ModelFilesRefused(
            f"the adapter in {path} holds pickled weights that would run code when loaded "
            "(refused: only plain tensors are loaded)",
            hint=fix,
        )
    if isinstance(error, SafetensorError):
        return ModelFilesRefused(
            f"the adapter weights in {path} are damaged or cut short ({_first_line(error)})", hint=fix
        )
    return None


def pixel_bounds(settings: BackendSettings) -> dict[str, int]:
    """The frame bounds as transformers 5 takes them: the image processor's ``size``.

    (``image_processor.min_pixels``/``max_pixels`` are gone in 5.x.) Given at load and again with
    every call, so the checkpoint's own preprocessor_config cannot change the frame.
    """
    return {"shortest_edge": settings.min_pixels, "longest_edge": settings.max_pixels}


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
