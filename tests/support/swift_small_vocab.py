"""ms-swift's ``qwen2_5_vl`` template for a Qwen2.5-VL whose special tokens are not at the real ids.

ms-swift's Qwen2-VL template hard-codes ``<|image_pad|>`` as 151655 and ``<|video_pad|>`` as
151656, the real vocabulary's ids. A model with a small vocabulary (tests/support/small_qwen.py)
has them elsewhere; this template is the stock one with the two ids read from the model's own
processor, and nothing else changed. Load it into ``swift sft`` with
``--custom_register_path tests/support/swift_small_vocab.py --template qwen2_5_vl_small_vocab``.
"""

from __future__ import annotations

from swift.template import register_template
from swift.template.constant import MLLMTemplateType
from swift.template.templates.qwen import Qwen2_5VLTemplate, QwenTemplateMeta

TEMPLATE = "qwen2_5_vl_small_vocab"


class SmallVocabQwen2_5VLTemplate(Qwen2_5VLTemplate):
    def init_processor(self, processor) -> None:
        super().init_processor(processor)
        if processor is None:
            return
        tokenizer = getattr(processor, "tokenizer", processor)
        self.image_token_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
        self.video_token_id = tokenizer.convert_tokens_to_ids("<|video_pad|>")


assert MLLMTemplateType.qwen2_5_vl == "qwen2_5_vl"  # the stock template this one copies
register_template(QwenTemplateMeta(TEMPLATE, template_cls=SmallVocabQwen2_5VLTemplate), exist_ok=True)
