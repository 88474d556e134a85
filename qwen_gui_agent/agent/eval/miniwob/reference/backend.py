"""The reference policy as a model backend: the agent loop asks it like any model and gets a dialect answer.

One backend per episode (it reads that episode's page). Each request: the newest image of the
conversation is the screenshot the agent sent, already sized to the model frame; the solver looks
at the page as it is now and returns a move; the move is written in the frame of that image. A
solver that finds the page not as it expects ends the episode with ``finished`` (failure) and says
why in the answer's thought. With ``misses``, the first pointing moves land on blank page (misses.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from .....tools.dialects.base import Dialect
from .....tools.messages import Message
from ....backends.base import BackendError, Completion, ModelBackend, Usage
from ....export.rows import DELIBERATE_MISS
from ..browser import BrowserError
from ..view import TaskArea
from .answers import frame_of, to_action, write_answer
from .misses import Misses
from .moves import Move, PolicyGaveUp, finished
from .page import Page

log = logging.getLogger(__name__)

REFERENCE_MODEL = "miniwob-reference"


class ReferenceBackend(ModelBackend):
    name = "reference"

    def __init__(
        self,
        solve: Callable[[Page], Move],
        page: Page,
        area: TaskArea,
        dialect: Dialect,
        misses: Misses | None = None,
    ) -> None:
        self._solve = solve
        self._page = page
        self._area = area
        self._dialect = dialect
        self._misses = misses
        self.moves: list[Move] = []  # what it decided, in order (tests read them)

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        started = time.perf_counter()
        images = [image for message in messages for image in message.images()]
        if not images:
            raise BackendError(
                "the reference policy was asked without a screenshot",
                hint="it answers agent steps, which always carry one",
            )
        image_size = images[-1].size
        frame = frame_of(self._dialect, image_size)
        noted = dict(self._page.memory)
        missed = False
        try:
            move = next_move(self._solve, self._page)
            if self._misses is not None and self._misses.due(move):
                # A miss changes nothing on the page: forget what the solver noted as done (a list opened).
                self._page.forget_notes_since(noted)
                move = self._misses.apply(move, self._page)
                missed = True
        except BrowserError as error:  # the page cannot be read: infrastructure, not a policy mistake
            raise BackendError(str(error), hint="the task's Chromium window stopped answering") from None
        except PolicyGaveUp as error:
            log.info("reference policy: %s", error)
            move = finished(f"the reference policy gives up: {error}", success=False)
        try:
            action = to_action(move, self._area, image_size, frame)
        except PolicyGaveUp as error:
            move = finished(f"the reference policy gives up: {error}", success=False)
            action = to_action(move, self._area, image_size, frame)
        self.moves.append(move)
        text = write_answer(self._dialect, action, move.thought, frame)
        elapsed = (time.perf_counter() - started) * 1000
        return Completion(
            text=text,
            usage=Usage(),
            timings={"total": round(elapsed, 2)},
            model=REFERENCE_MODEL,
            serving={DELIBERATE_MISS: True} if missed else {},  # `agent export` keeps the step as history only
        )


def next_move(solve: Callable[[Page], Move], page: Page) -> Move:
    """The solver's move, or ``finished`` (failure) saying why it could not choose one."""
    try:
        return solve(page)
    except PolicyGaveUp as error:
        log.info("reference policy: %s", error)
        return finished(f"the reference policy gives up: {error}", success=False)
