"""The one loaded pipeline behind every page and API call, with errors turned into chat-sized messages.

The full UI, the widget and the ``/ask`` endpoint all go through :class:`ChatService`, so they share one set of
models and one server-wide limit on running and waiting answers; nothing here imports gradio.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rag.errors import BusyError, GenerationError, InvalidQuestionError, RagError
from rag.schema import Answer, Document, StreamEvent

log = logging.getLogger(__name__)

BUSY_MESSAGE = "The queue is full: the assistant is busy answering other questions. Please try again in a moment."


class PipelineLike(Protocol):
    """What the UI needs from ``rag.answer.Pipeline`` (a fake with these methods works in tests)."""

    def stream(self, question: str, history: Sequence[dict[str, str]] | None = None) -> Iterator[StreamEvent]: ...

    def ask(self, question: str, history: Sequence[dict[str, str]] | None = None) -> Answer: ...

    def document(self, source: str) -> Document: ...

    def info(self) -> dict[str, Any]: ...

    def validate_question(self, question: str) -> str | None: ...


class UserFacingError(Exception):
    """A failure whose message can be shown to the user as is (no internals, no traceback)."""


def friendly_message(exc: BaseException) -> str:
    """Map an exception to what the user should read, and log it once: expected refusals as one line,
    model failures with their detail, unexpected errors with their traceback."""
    if isinstance(exc, InvalidQuestionError):
        log.info("Question refused: %s", exc)
        return str(exc) or "Please type a question."
    if isinstance(exc, BusyError):
        log.info("Question refused: busy")
        return BUSY_MESSAGE
    if isinstance(exc, GenerationError):
        log.warning("The language model failed: %s", exc)
        return "The language model failed while answering. Please try again, or rephrase the question."
    if isinstance(exc, RagError):
        log.warning("Answer failed: %s", exc)
        return str(exc)
    log.exception("Unexpected error while answering", exc_info=exc)
    return "Something went wrong while answering. Please try again."


@dataclass
class Turn:
    """One question and its outcome in a browser session's conversation."""

    question: str
    answer: Answer | None = None
    error: str = ""
    partial: str = ""  # answer text streamed so far, while ``answer`` is still None


@dataclass
class ChatService:
    """Shares one pipeline between pages and API, with one server-wide limit: ``concurrency`` answers run at once
    and ``max_queue`` more wait; any further question is refused as busy straight away."""

    pipeline: PipelineLike
    concurrency: int = 2
    max_history_turns: int = 6
    max_queue: int = 16
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)
    _admitted: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(max(1, self.concurrency))

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """One answer's place: waits for a free slot, or raises BusyError when every place is taken."""
        with self._lock:
            if self._admitted >= max(1, self.concurrency) + max(0, self.max_queue):
                raise BusyError("every answer slot and queue place is taken")
            self._admitted += 1
        try:
            with self._slots:
                yield
        finally:
            with self._lock:
                self._admitted -= 1

    def info(self) -> dict[str, Any]:
        return self.pipeline.info()

    def document(self, source: str) -> Document | None:
        """The document a citation points into (its ``text`` is what citation offsets index), or None if unknown."""
        try:
            return self.pipeline.document(source)
        except KeyError:
            log.warning("Cited document %r is not in the corpus", source)
            return None

    def history(self, turns: Sequence[Turn]) -> list[dict[str, str]]:
        """The conversation as plain-text messages; failed turns are left out, only recent ones kept."""
        done = [t for t in turns if t.answer is not None][-self.max_history_turns :]
        messages: list[dict[str, str]] = []
        for t in done:
            assert t.answer is not None
            messages += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer.answer}]
        return messages

    def stream(self, question: str, history: Sequence[dict[str, str]] = ()) -> Iterator[StreamEvent]:
        """Stream one answer; every failure surfaces as :class:`UserFacingError` with a friendly message."""
        try:
            self.pipeline.validate_question(question)
            with self._turn():
                yield from self.pipeline.stream(question, history=list(history))
        except Exception as exc:  # noqa: BLE001 - everything becomes a chat message, never a traceback
            raise UserFacingError(friendly_message(exc)) from exc

    def ask(self, question: str, history: Sequence[dict[str, str]] = ()) -> Answer:
        try:
            self.pipeline.validate_question(question)
            with self._turn():
                return self.pipeline.ask(question, history=list(history))
        except Exception as exc:  # noqa: BLE001
            raise UserFacingError(friendly_message(exc)) from exc


def parse_history(history: Any) -> list[dict[str, str]]:
    """Accept the ``/ask`` history as a list of ``{role, content}`` dicts (or a JSON string of one)."""
    import json

    if history in (None, "", []):
        return []
    if isinstance(history, str):
        try:
            history = json.loads(history)
        except json.JSONDecodeError as exc:
            raise UserFacingError(f"history must be a JSON list of {{role, content}} messages ({exc.msg}).") from None
    if not isinstance(history, list):
        raise UserFacingError("history must be a list of {role, content} messages.")
    messages = []
    for i, m in enumerate(history):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or not isinstance(m.get("content"), str):
            raise UserFacingError(f"history[{i}] must be {{\"role\": \"user\"|\"assistant\", \"content\": str}}.")
        messages.append({"role": m["role"], "content": m["content"]})
    return messages
