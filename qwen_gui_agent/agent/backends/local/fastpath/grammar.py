"""Token-level constraint of one answer to a dialect's action format, with xgrammar.

``AnswerGrammar`` compiles the grammars of agent/backends/grammar/rules.py for one tokenizer
(xgrammar caches each compiled grammar by its text); ``Constraint`` follows one answer:
which tokens may come next (as an additive bias: 0 allowed, -inf not), and which tokens the
grammar forces from here. Forced text is what xgrammar calls the jump-forward string: the
longest text every valid continuation starts with. It is tokenized as the tokenizer would
and each token is checked against the grammar before it is used, so the answer stays inside
the grammar even where the tokenizer splits differently from the model's habits.

xgrammar is imported lazily (the ``grammar`` extra); a missing install is a typed error.
"""

from __future__ import annotations

import logging
from typing import Any

from ...base import BackendUnavailable
from ...grammar.rules import GrammarSpec, ebnf

log = logging.getLogger(__name__)


class GrammarUnavailable(BackendUnavailable):
    """Constrained decoding was asked for but xgrammar is not installed."""


def _import_xgrammar() -> Any:
    try:
        import xgrammar
    except ImportError as error:
        raise GrammarUnavailable(
            f"constrained decoding (--grammar) needs xgrammar: {error}",
            hint="pip install 'xgrammar>=0.1.19' (the project's 'grammar' extra), or run without --grammar",
        ) from error
    return xgrammar


class AnswerGrammar:
    """Compiled answer grammars for one tokenizer; ``constraint(spec)`` starts one answer."""

    def __init__(self, tokenizer: Any, vocab_size: int) -> None:
        xgr = _import_xgrammar()
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self._compiler = xgr.GrammarCompiler(info, max_threads=4, cache_enabled=True)
        # No answer grammar needs a special token (the answer ends when the grammar closes), and
        # xgrammar may read one as its literal text ("<|im_start|>" inside free text): never allow them.
        self.banned = tuple(sorted(set(tokenizer.all_special_ids)))

    def constraint(self, spec: GrammarSpec) -> Constraint:
        return Constraint(
            self._compiler.compile_grammar(ebnf(spec)), self.tokenizer, self.vocab_size, self.banned, spec.closers()
        )


class Constraint:
    """One answer's position in the grammar."""

    def __init__(
        self,
        compiled: Any,
        tokenizer: Any,
        vocab_size: int,
        banned: tuple[int, ...] = (),
        closers: tuple[str, ...] = (),
    ) -> None:
        xgr = _import_xgrammar()
        self.banned = list(banned)
        self.closers = closers
        self._matcher = xgr.GrammarMatcher(compiled, terminate_without_stop_token=True)
        self._tokenizer = tokenizer
        self._bitmask = xgr.allocate_token_bitmask(1, vocab_size)
        self._bias_helpers: tuple[Any, Any] | None = None  # (bit shifts, banned ids) on the bias's device

    @property
    def done(self) -> bool:
        """The answer is complete: the grammar allows nothing more."""
        return bool(self._matcher.is_terminated())

    def accept(self, token: int) -> None:
        if not self._matcher.accept_token(token):
            # Only tokens the mask allowed are chosen, so this is a bug, not a model mistake.
            raise RuntimeError(f"token {token} ({self._tokenizer.decode([token])!r}) is outside the answer grammar")

    def forced(self, limit: int) -> list[int]:
        """Tokens the grammar forces from here (at most ``limit``), already accepted."""
        text = self._matcher.find_jump_forward_string()
        if not text or limit <= 0:
            return []
        tokens = []
        for token in self._tokenizer.encode(text, add_special_tokens=False)[:limit]:
            if not self._matcher.accept_token(token):
                log.debug("forced text %r: token %d is not allowed there; decoding from it", text, token)
                break
            tokens.append(token)
        return tokens

    def close(self) -> list[int]:
        """Tokens of the first closer that completes the answer from here, accepted; [] if none does.

        For an answer about to run out of tokens inside free text: it ends the text and the call.
        """
        for text in self.closers:
            trial = self._matcher.fork()
            if not (trial.accept_string(text) and trial.is_terminated()):
                continue
            tokens = self._tokenizer.encode(text, add_special_tokens=False)
            trial = self._matcher.fork()
            if all(trial.accept_token(token) for token in tokens) and trial.is_terminated():
                for token in tokens:
                    self._matcher.accept_token(token)
                return tokens
        return []

    def allowed_bias(self, out: Any) -> None:
        """Write the next token's bias into ``out`` (float32, vocab-long): 0 where allowed, -inf elsewhere."""
        import torch

        self._matcher.fill_next_token_bitmask(self._bitmask)
        if self._bias_helpers is None or self._bias_helpers[0].device != out.device:
            # Made once per answer, not per token: each torch.tensor(..., device=cuda) is a host-to-GPU copy.
            banned = torch.tensor(self.banned, device=out.device) if self.banned else None
            self._bias_helpers = torch.arange(32, device=out.device, dtype=torch.int32), banned
        shifts, banned = self._bias_helpers
        words = self._bitmask[0].to(out.device, non_blocking=True)
        # Bit j of word i says whether token 32*i+j is allowed (xgrammar's layout).
        allowed = ((words.unsqueeze(-1) >> shifts) & 1).view(-1)[: out.numel()].bool()
        out.copy_(torch.where(allowed, 0.0, float("-inf")))
        if banned is not None:
            out[banned] = float("-inf")
