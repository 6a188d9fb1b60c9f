"""Local language models behind one small protocol: llama.cpp, transformers, and a deterministic fake.

The LM only phrases and rewrites; facts and citations are checked against the article
afterwards (see ``rag.cite``), so a backend just has to stream text for chat messages.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import GenerationError, ModelNotFoundError
from .models import resolve_model_path

log = logging.getLogger(__name__)

ChatMessages = list[dict[str, str]]


@runtime_checkable
class Generator(Protocol):
    name: str

    def stream(self, messages: ChatMessages, max_new_tokens: int = 64, stop: Sequence[str] = ()) -> Iterator[str]:
        """Yield pieces of the assistant's reply to ``messages`` (greedy decoding)."""
        ...


class LlamaCppGenerator:
    """A GGUF model through llama.cpp: loads in under a second and reuses the KV cache of a shared prefix."""

    def __init__(self, model: str, threads: int = 2, n_ctx: int = 2048) -> None:
        path = resolve_model_path(model)
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelNotFoundError(
                "The llama.cpp backend needs llama-cpp-python. Run: pip install llama-cpp-python "
                "(or set generate.backend = \"transformers\")."
            ) from exc
        try:
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False, seed=0)
        except (ValueError, RuntimeError) as exc:
            raise ModelNotFoundError(f"Could not load the language model {path}: {exc}") from exc
        self.name = f"{model} (llama.cpp)"
        self._lock = threading.Lock()  # one llama context: one generation at a time

    def stream(self, messages: ChatMessages, max_new_tokens: int = 64, stop: Sequence[str] = ()) -> Iterator[str]:
        with self._lock:
            try:
                chunks = self._llm.create_chat_completion(
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=max_new_tokens,
                    temperature=0.0,
                    stream=True,
                    stop=list(stop) or None,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
                    if piece:
                        yield piece
            except (RuntimeError, ValueError) as exc:
                raise GenerationError(f"The language model failed: {exc}") from exc


class TransformersGenerator:
    """The same GGUF weights through ``transformers``; the dequantized model is cached after the first load."""

    def __init__(self, model: str, threads: int = 2, cache_dir: str | Path = "~/.cache/rag-models") -> None:
        path = resolve_model_path(model)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        digest = hashlib.sha256(f"{path}:{path.stat().st_size}".encode()).hexdigest()[:12]
        cached = Path(cache_dir).expanduser() / f"{Path(model).stem}-{digest}"
        try:
            if (cached / "config.json").exists():
                self._tok = AutoTokenizer.from_pretrained(cached)
                self._model = AutoModelForCausalLM.from_pretrained(cached, torch_dtype=torch.float32)
            else:
                log.info("Converting %s for transformers (once; cached in %s)", path.name, cached)
                self._tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
                self._model = AutoModelForCausalLM.from_pretrained(
                    path.parent, gguf_file=path.name, torch_dtype=torch.float32
                )
                tmp = cached.with_name(cached.name + ".tmp")
                self._model.save_pretrained(tmp)
                self._tok.save_pretrained(tmp)
                tmp.rename(cached)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"Could not load the language model {path} with transformers: {exc}") from exc
        self._model.eval()
        self.name = f"{model} (transformers)"
        self._lock = threading.Lock()

    def stream(self, messages: ChatMessages, max_new_tokens: int = 64, stop: Sequence[str] = ()) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        inputs = self._tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(self._tok, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, streamer=streamer)
            except BaseException as exc:  # surfaced to the caller below
                errors.append(exc)
                streamer.end()

        with self._lock:
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            text = ""
            for piece in streamer:
                text += piece
                if any(s in text for s in stop):
                    break
                yield piece
            thread.join()
        if errors:
            raise GenerationError(f"The language model failed: {errors[0]}") from errors[0]


_PASSAGE = re.compile(r"\[(\d+)\]\s*(?:\([^)]*\)\s*)?(.+?)(?=\n\[\d+\]|\n*</passages>|\Z)", re.S)


class FakeGenerator:
    """Copies the first sentence of passage [1] and cites it: deterministic, instant, for logic tests."""

    def __init__(self, reply: str | None = None) -> None:
        self.name = "fake-generator"
        self.reply = reply
        self.calls: list[ChatMessages] = []

    def stream(self, messages: ChatMessages, max_new_tokens: int = 64, stop: Sequence[str] = ()) -> Iterator[str]:
        self.calls.append(messages)
        if self.reply is not None:
            text = self.reply
        else:
            match = _PASSAGE.search(messages[-1]["content"])
            first = re.split(r"(?<=[.!?])\s", match.group(2).strip())[0] if match else "I don't know."
            text = f"{first} [1]"
        for word in re.findall(r"\S+\s*", text):
            yield word


def load_generator(backend: str, model: str, threads: int = 2, cache_dir: str = "~/.cache/rag-models") -> Generator | None:
    """The configured backend; ``none`` means answers are purely extractive."""
    if backend == "none":
        return None
    if backend == "fake":
        return FakeGenerator()
    if backend == "llama.cpp":
        return LlamaCppGenerator(model, threads=threads)
    if backend == "transformers":
        return TransformersGenerator(model, threads=threads, cache_dir=cache_dir)
    raise ModelNotFoundError(f"Unknown generate.backend {backend!r}: use llama.cpp, transformers or none.")
