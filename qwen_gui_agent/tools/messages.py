"""Chat messages as the dialects build them and the backends send them.

A neutral form: text and images in order. Each backend converts it to its own
wire format (OpenAI content parts, the transformers chat template).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PIL import Image

Role = Literal["system", "user", "assistant"]
Part = str | Image.Image


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]

    @classmethod
    def text(cls, role: Role, text: str) -> Message:
        return cls(role=role, parts=(text,))

    def images(self) -> tuple[Image.Image, ...]:
        return tuple(part for part in self.parts if isinstance(part, Image.Image))

    def joined_text(self) -> str:
        return "".join(part for part in self.parts if isinstance(part, str))
