"""Language models behind one small protocol: llama.cpp, transformers, an OpenAI-compatible server, and a fake.

The LM only phrases, rewrites and judges; facts and citations are checked against the article
afterwards (see ``rag.cite``), so a backend has to stream text for chat messages and say how
likely its reply starts with "Yes" (``p_yes``, for using the LM as a yes/no support judge).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ConfigError, GenerationError, ModelNotFoundError
from .models import resolve_model_path

if TYPE_CHECKING:
    import httpx

    from .config import Config

log = logging.getLogger(__name__)

ChatMessages = list[dict[str, str]]

# How many first-token alternatives p_yes reads. "Yes"/"No" are near the top for any judging prompt;
# 20 leaves room for their variants (" Yes", "yes", "YES") and is the most OpenAI's API returns.
JUDGE_TOP_LOGPROBS = 20


@runtime_checkable
class Generator(Protocol):
    name: str

    def stream(self, messages: ChatMessages, max_new_tokens: int = 64, stop: Sequence[str] = ()) -> Iterator[str]:
        """Yield pieces of the assistant's reply to ``messages`` (greedy decoding)."""
        ...

    def p_yes(self, messages: ChatMessages) -> float:
        """P(the assistant's reply starts with "Yes") / (P("Yes") + P("No")), from the first token."""
        ...


def p_yes_from_top(top: Mapping[str, float]) -> float:
    """Yes share of the first token's top log-probabilities; 0.5 (no opinion) when neither word is among them."""
    yes = sum(math.exp(lp) for token, lp in top.items() if token.strip().lower() == "yes")
    no = sum(math.exp(lp) for token, lp in top.items() if token.strip().lower() == "no")
    if yes + no == 0.0:
        log.info("The judge's first token was neither Yes nor No (top: %s)", ", ".join(list(top)[:5]))
        return 0.5
    return yes / (yes + no)


class LlamaCppGenerator:
    """A GGUF model through llama.cpp: loads in under a second and reuses the KV cache of a shared prefix."""

    def __init__(self, model: str, threads: int = 2, n_ctx: int = 4096, cache_dir: str | Path | None = None) -> None:
        path = resolve_model_path(model, cache_dir)
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise ModelNotFoundError(
                "The llama.cpp backend needs llama-cpp-python. Run: pip install llama-cpp-python "
                "(or set generate.backend = \"transformers\")."
            ) from exc
        try:
            self._llm = Llama(
                model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False, seed=0
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelNotFoundError(f"Could not load the language model {path}: {exc}") from exc
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelNotFoundError(f"{path} has no chat template; use an instruction-tuned GGUF with one.")
        # The same formatter create_chat_completion uses, so p_yes sees exactly the prompt stream() sends.
        self._chat_format = Jinja2ChatFormatter(
            template=template, eos_token=self._token_text(self._llm.token_eos()),
            bos_token=self._token_text(self._llm.token_bos()),
        )
        self.name = f"{model} (llama.cpp)"
        self._lock = threading.Lock()  # one llama context: one generation at a time

    def _token_text(self, token: int) -> str:
        return self._llm.detokenize([token], special=True).decode("utf-8", "replace") if token != -1 else ""

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

    def prompt_tokens(self, messages: ChatMessages) -> list[int]:
        """The chat-templated prompt, ending where the assistant's reply starts."""
        rendered = self._chat_format(messages=messages)
        return self._llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)

    def p_yes(self, messages: ChatMessages) -> float:
        import numpy as np
        from llama_cpp import llama_get_logits_ith

        tokens = self.prompt_tokens(messages)
        with self._lock:
            try:
                # Decode the templated prompt as generation does (reusing a cached prefix) and read the logits
                # of its last position. Same numbers as create_completion(logprobs=...), which needs
                # logits_all=True: the output layer on every prompt token (~15-20 % slower prompts, for
                # every call) and a log-softmax over all of them (~1 s for 500 tokens of Qwen's vocabulary).
                steps = self._llm.generate(tokens, temp=0.0, reset=True)
                next(steps)
                row = np.ctypeslib.as_array(llama_get_logits_ith(self._llm.ctx, -1), shape=(self._llm.n_vocab(),))
                logits = row.astype(np.float64)
                steps.close()
            except (RuntimeError, ValueError) as exc:
                raise GenerationError(f"The language model failed: {exc}") from exc
        logprobs = logits - logits.max()
        logprobs -= np.log(np.exp(logprobs).sum())
        top = np.argpartition(logprobs, -JUDGE_TOP_LOGPROBS)[-JUDGE_TOP_LOGPROBS:]
        return p_yes_from_top({self._token_text(int(i)): float(logprobs[i]) for i in top})


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

    def p_yes(self, messages: ChatMessages) -> float:
        import torch

        inputs = self._tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        with self._lock, torch.inference_mode():
            logits = self._model(**inputs).logits[0, -1]
        top = torch.topk(torch.log_softmax(logits.float(), dim=-1), JUDGE_TOP_LOGPROBS)
        return p_yes_from_top({self._tok.decode([int(i)]): float(lp) for lp, i in zip(top.values, top.indices)})


_PASSAGE = re.compile(r"\[(\d+)\]\s*(?:\([^)]*\)\s*)?(.+?)(?=\n\[\d+\]|\n*</passages>|\Z)", re.S)


_CLAIM = re.compile(r"^\s*(?:statement|claim|answer|question)\s*:\s*(.+)$", re.I | re.M)


class FakeGenerator:
    """Copies the first sentence of passage [1] and cites it: deterministic, instant, for logic tests."""

    def __init__(self, reply: str | None = None, yes: float | None = None) -> None:
        self.name = "fake-generator"
        self.reply = reply
        self.yes = yes  # a fixed p_yes; None: word overlap of the claim with the passage
        self.calls: list[ChatMessages] = []
        self.judged: list[ChatMessages] = []

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

    def p_yes(self, messages: ChatMessages) -> float:
        """Share of the claim's words found in the rest of the prompt; the claim is the last labelled line."""
        self.judged.append(messages)
        if self.yes is not None:
            return self.yes
        text = messages[-1]["content"]
        labelled = _CLAIM.findall(text)
        claim = labelled[-1] if labelled else text.strip().splitlines()[-1]
        context = text.replace(claim, " ").lower()
        words = [w for w in re.findall(r"[a-z0-9][a-z0-9,.]*[a-z0-9]|[a-z0-9]", claim.lower()) if len(w) > 2 or w.isdigit()]
        if not words:
            return 0.5
        found = sum(1 for w in words if re.search(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", context))
        return round(0.05 + 0.9 * found / len(words), 4)


# Worth another try: the server is restarting, overloaded or rate-limiting. Anything else is a real answer.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class OpenAIGenerator:
    """Any server that speaks the OpenAI chat API: llama.cpp's llama-server, llama-cpp-python's server, vLLM,
    Ollama, LM Studio, or OpenAI itself.

    Every call is bounded by ``timeout_s`` in all (retries included), so a slow or dead server costs
    at most that before ``GenerationError``, and the caller falls back to the extractive answer.
    """

    def __init__(
        self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", timeout_s: float = 20.0,
        retries: int = 2, backoff_s: float = 0.5,
    ) -> None:
        import httpx

        if not base_url.strip():
            raise ConfigError(
                'generate.backend = "openai" needs generate.base_url, the server\'s API root '
                "(e.g. http://127.0.0.1:8080/v1)."
            )
        self.base_url = base_url.strip().rstrip("/")
        self.model = model
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        headers = {"Authorization": f"Bearer {key}"} if key else {}  # local servers need none
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self.name = f"{model} (openai: {self.base_url})"

    @contextmanager
    def _post(self, path: str, payload: dict[str, Any], deadline: float) -> Iterator[httpx.Response]:
        """POST with bounded retries on connection errors and 5xx/429; yields the open (streaming) response."""
        import httpx

        url, problem = f"{self.base_url}{path}", ""
        for attempt in range(self.retries + 1):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                request = self._client.build_request("POST", path, json=payload, timeout=httpx.Timeout(left))
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout_s:g} s"
                break  # the time is spent: another try would overrun it
            except httpx.TransportError as exc:
                problem = f"cannot connect ({exc or type(exc).__name__})"
            else:
                if response.status_code < 400:
                    try:
                        yield response
                    finally:
                        response.close()
                    return
                problem = f"HTTP {response.status_code}: {_error_text(response)}"
                response.close()
                if response.status_code not in RETRY_STATUSES:
                    raise GenerationError(f"The LM server at {url} refused the request ({problem}).")
            if attempt < self.retries:
                time.sleep(min(self.backoff_s * 2**attempt, max(0.0, deadline - time.monotonic())))
        raise GenerationError(
            f"The LM server at {url} failed: {problem or f'no answer within {self.timeout_s:g} s'} "
            f"(tried {attempt + 1} time(s)). Start the server, fix generate.base_url, "
            'or set generate.backend = "llama.cpp".'
        )

    def stream(self, messages: ChatMessages, max_new_tokens: int = 64, stop: Sequence[str] = ()) -> Iterator[str]:
        import httpx

        payload: dict[str, Any] = {
            "model": self.model, "messages": messages, "max_tokens": max_new_tokens, "temperature": 0.0,
            "stream": True,
        }
        if stop:
            payload["stop"] = list(stop)[:4]  # OpenAI accepts at most four
        deadline = time.monotonic() + self.timeout_s
        with self._post("/chat/completions", payload, deadline) as response:
            try:
                for line in response.iter_lines():  # server-sent events: "data: {json}" ... "data: [DONE]"
                    if time.monotonic() > deadline:
                        raise GenerationError(f"The LM server at {self.base_url} took over {self.timeout_s:g} s.")
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    piece = _delta_text(json.loads(data))
                    if piece:
                        yield piece
            except httpx.HTTPError as exc:
                raise GenerationError(f"The LM server at {self.base_url} broke off the reply: {exc}") from exc
            except (json.JSONDecodeError, AttributeError) as exc:
                raise GenerationError(f"The LM server at {self.base_url} sent a malformed event: {exc}") from exc

    def p_yes(self, messages: ChatMessages) -> float:
        """Through the chat API's ``logprobs``/``top_logprobs``, so the server applies its own chat template.

        llama-cpp-python's server returns exactly the in-process values; llama.cpp's llama-server, vLLM and
        OpenAI document them too. A server that returns none raises ``NotImplementedError``.
        """
        payload = {
            "model": self.model, "messages": messages, "max_tokens": 1, "temperature": 0.0,
            "logprobs": True, "top_logprobs": JUDGE_TOP_LOGPROBS,
        }
        with self._post("/chat/completions", payload, time.monotonic() + self.timeout_s) as response:
            try:
                body = json.loads(response.read())
            except (json.JSONDecodeError, ValueError) as exc:
                raise GenerationError(f"The LM server at {self.base_url} sent malformed JSON: {exc}") from exc
        try:
            first = body["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            top = {str(t["token"]): float(t["logprob"]) for t in first}
        except (KeyError, IndexError, TypeError, ValueError):
            top = {}
        if not top:
            raise NotImplementedError(
                f"The LM server at {self.base_url} returns no top_logprobs on /chat/completions, "
                "so it cannot be used as a yes/no judge."
            )
        return p_yes_from_top(top)


def _delta_text(event: dict[str, Any]) -> str:
    if "error" in event:
        raise GenerationError(f"The LM server reported an error: {event['error']}")
    choices = event.get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or "" if choices else ""


def _error_text(response: httpx.Response) -> str:
    """The server's own error message, short."""
    try:
        body = json.loads(response.read())
        message = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(message, dict):
            message = message.get("message", message)
        return str(message)[:300]
    except Exception:  # any body at all is better than none
        return response.reason_phrase or "error"


BACKENDS = ("llama.cpp", "transformers", "openai", "none")


def load_generator(
    backend: str,
    model: str,
    threads: int = 2,
    cache_dir: str = "~/.cache/rag-models",
    *,
    n_ctx: int = 4096,
    base_url: str = "",
    api_key_env: str = "OPENAI_API_KEY",
    timeout_s: float = 20.0,
    retries: int = 2,
) -> Generator | None:
    """The configured backend; ``none`` means answers are purely extractive."""
    if backend == "none":
        return None
    if backend == "fake":
        return FakeGenerator()
    if backend == "llama.cpp":
        return LlamaCppGenerator(model, threads=threads, n_ctx=n_ctx, cache_dir=cache_dir)
    if backend == "transformers":
        return TransformersGenerator(model, threads=threads, cache_dir=cache_dir)
    if backend == "openai":
        return OpenAIGenerator(base_url, model, api_key_env=api_key_env, timeout_s=timeout_s, retries=retries)
    raise ModelNotFoundError(f"Unknown generate.backend {backend!r}: use {', '.join(BACKENDS)}.")


def load_generator_from_config(config: Config) -> Generator | None:
    """``load_generator`` with every ``[generate]`` setting and the model cache folder."""
    g = config.generate
    return load_generator(
        g.backend, g.model, g.threads, config.paths.model_cache_dir, n_ctx=g.n_ctx, base_url=g.base_url,
        api_key_env=g.api_key_env, timeout_s=g.timeout_s, retries=g.retries,
    )
