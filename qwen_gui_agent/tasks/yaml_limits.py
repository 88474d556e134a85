"""A YAML loader with limits, so a hostile task file ends in a clear error instead of eating the machine.

PyYAML's safe loader evaluates no code, but it will still expand a 400-byte
"billion laughs" file (aliases of aliases) into an exponential tree for whoever
walks it, recurse once per nesting level until Python's stack runs out, and
read a file of any size. ``BoundedLoader`` composes the node graph while
counting: the nesting depth, the aliases used, and the size of the tree the
document stands for once every alias is expanded (computed bottom-up, so the
count costs one pass over the events, never the expansion itself). An alias
inside its own anchor (a recursive structure) and a key given twice in one
mapping are refused too. Every refusal is a ``yaml.MarkedYAMLError`` that
points at the line and column where the limit was crossed.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode


@dataclass(frozen=True)
class YamlLimits:
    """How big a task file may be. Real task files are a few kilobytes, a few levels deep, with no aliases."""

    max_bytes: int = 256 * 1024
    max_depth: int = 64
    max_aliases: int = 1000
    max_nodes: int = 100_000  # the tree once every alias is expanded


DEFAULT_LIMITS = YamlLimits()


class YamlLimitError(ComposerError):
    """A document past one of the limits (not a YAML mistake: the file is refused on purpose)."""


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents past ``limits`` (see the module's docstring)."""

    def __init__(self, stream: str, limits: YamlLimits = DEFAULT_LIMITS) -> None:
        super().__init__(stream)
        self.limits = limits
        self._depth = 0
        self._aliases = 0
        self._sizes: dict[int, int] = {}  # id of each node composed so far -> its expanded size

    def compose_node(self, parent: Node | None, index: object) -> Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            return self._alias(event)
        collection = isinstance(event, (SequenceStartEvent, MappingStartEvent))
        if collection:
            self._depth += 1
            if self._depth > self.limits.max_depth:
                raise YamlLimitError(
                    None, None, f"nested more than {self.limits.max_depth} levels deep", event.start_mark
                )
        node = super().compose_node(parent, index)
        self._depth -= collection
        self._sizes[id(node)] = size = self._size(node)
        if size > self.limits.max_nodes:
            raise YamlLimitError(
                None,
                None,
                f"stands for more than {self.limits.max_nodes:,} values once its aliases are expanded",
                node.start_mark,
            )
        return node

    def _alias(self, event: AliasEvent) -> Node:
        self._aliases += 1
        if self._aliases > self.limits.max_aliases:
            raise YamlLimitError(None, None, f"more than {self.limits.max_aliases} aliases", event.start_mark)
        node = self.anchors.get(event.anchor)  # registered when its collection starts, sized when it ends
        if node is not None and id(node) not in self._sizes:
            raise YamlLimitError(
                None,
                None,
                f"the alias *{event.anchor} is inside its own anchor (a recursive structure)",
                event.start_mark,
            )
        return super().compose_node(None, None)

    def _size(self, node: Node) -> int:
        if isinstance(node, ScalarNode):
            return 1
        children = [item for pair in node.value for item in pair] if isinstance(node, MappingNode) else node.value
        return 1 + sum(self._sizes.get(id(child), 1) for child in children)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict:
        """A mapping, refusing a key written twice (YAML forbids it; PyYAML would keep the last silently)."""
        seen: dict[object, Node] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node)
                if key in seen:
                    raise ConstructorError(None, None, f"the key {key!r} is given twice", key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def compose_bounded(text: str, limits: YamlLimits = DEFAULT_LIMITS) -> tuple[Node | None, object]:
    """The node tree of ``text`` and the data it stands for; ``yaml.YAMLError`` (with a mark) past a limit."""
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise YamlLimitError(None, None, f"the file is larger than {limits.max_bytes:,} bytes", None)
    loader = BoundedLoader(text, limits)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return root, data
