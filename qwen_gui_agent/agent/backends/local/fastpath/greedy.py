"""Greedy decoding as ``generate`` does it: the options it honours, and the one greedy choice every runner makes.

The single stream (decode.py, grammar_decode.py) and the fleet (fleet/runner.py) both choose their
tokens with ``choose``: repetition penalty first (divide positive, multiply negative scores of
tokens already in the sequence), then end tokens held back while fewer than ``min_new_tokens``
were chosen, then an optional bias (an answer grammar's -inf outside it; zeros change no score),
then the first largest score, as transformers' processors and argmax do. Anything else
(sampling, beams, n-gram bans) is refused with ``FastPathUnsupported`` and the caller keeps
plain ``generate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ...base import BackendError


class FastPathUnsupported(BackendError):
    """The request asks for something the fast path does not do; use plain ``generate``."""


@dataclass(frozen=True)
class GreedyOptions:
    """What greedy decoding needs from a generation config."""

    eos_token_ids: tuple[int, ...] = ()
    repetition_penalty: float = 1.0
    min_new_tokens: int = 0


_UNSUPPORTED_WHEN_SET = (
    "no_repeat_ngram_size",
    "bad_words_ids",
    "suppress_tokens",
    "begin_suppress_tokens",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "sequence_bias",
    "encoder_repetition_penalty",
)


def greedy_options(generation_config: Any, *, min_new_tokens: int = 0, **overrides: Any) -> GreedyOptions:
    """The greedy options ``generate`` would use with this config (and ``overrides``), or FastPathUnsupported."""

    def setting(name: str, default: Any = None) -> Any:
        return overrides.get(name, getattr(generation_config, name, default))

    if setting("do_sample", False) and (setting("temperature", 1.0) or 0) > 0:
        raise FastPathUnsupported("sampling was asked for; the fast path decodes greedily")
    if (setting("num_beams", 1) or 1) != 1:
        raise FastPathUnsupported("beam search was asked for; the fast path decodes greedily")
    for name in _UNSUPPORTED_WHEN_SET:
        value = setting(name)
        if value not in (None, 0, 1.0, [], ()) or (name == "encoder_repetition_penalty" and value not in (None, 1.0)):
            raise FastPathUnsupported(f"generation option {name}={value!r} is not supported by the fast path")
    eos = setting("eos_token_id")
    eos_ids = () if eos is None else (eos,) if isinstance(eos, int) else tuple(int(i) for i in eos)
    return GreedyOptions(
        eos_token_ids=eos_ids,
        repetition_penalty=float(setting("repetition_penalty", 1.0) or 1.0),
        min_new_tokens=max(min_new_tokens, int(setting("min_new_tokens", 0) or 0)),
    )


def end_penalty(options: GreedyOptions, vocab: int, device: torch.device) -> torch.Tensor:
    """(vocab,) float32: -inf on the end tokens, 0 elsewhere (added to the scores while they are held back)."""
    penalty = torch.zeros(vocab, dtype=torch.float32, device=device)
    if options.eos_token_ids:
        penalty[list(options.eos_token_ids)] = float("-inf")
    return penalty


def choose(
    logits: torch.Tensor,
    seen: torch.Tensor,
    generated: torch.Tensor,
    min_new: torch.Tensor,
    repetition: torch.Tensor | float,
    eos_penalty: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """generate's greedy choice for each row: (rows, vocab) float32 logits -> (rows,) token ids.

    ``seen`` (rows, vocab) marks each row's tokens so far, ``generated`` and ``min_new`` are (rows,),
    ``repetition`` the penalty (a tensor where a CUDA graph must read it), ``eos_penalty`` and ``bias``
    (vocab,). A penalty of 1 and a zero bias change no score, so rows without them choose as without.
    """
    penalized = torch.where(logits < 0, logits * repetition, logits / repetition)
    logits = torch.where(seen, penalized, logits)
    held = (generated < min_new).view(-1, 1)
    logits = torch.where(held, logits + eos_penalty, logits)
    if bias is not None:
        logits = logits + bias
    return torch.argmax(logits, dim=-1)
