"""The OpenAI-compatible backend: bounded failures against broken servers, and a real llama-cpp-python server."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from rag.errors import GenerationError
from rag.generate import OpenAIGenerator

HELLO = [{"role": "user", "content": "Say hello."}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScriptedHandler(http.server.BaseHTTPRequestHandler):
    """Replies with the next (status, body) of ``server.script``; records each request body."""

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length", 0))
        self.server.requests.append((self.path, json.loads(self.rfile.read(length)), dict(self.headers)))  # type: ignore[attr-defined]
        status, body = self.server.script.pop(0)  # type: ignore[attr-defined]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream" if body.startswith("data:") else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[http.server.HTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ScriptedHandler)
    server.script, server.requests = [], []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def sse(*pieces: str) -> str:
    events = [{"choices": [{"delta": {"role": "assistant"}}]}] + [{"choices": [{"delta": {"content": p}}]} for p in pieces]
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def url(server: http.server.HTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def test_a_down_server_fails_fast_with_a_clear_error():
    gen = OpenAIGenerator(f"http://127.0.0.1:{free_port()}/v1", "x", timeout_s=5, retries=2, backoff_s=0.1)
    t0 = time.monotonic()
    with pytest.raises(GenerationError, match=r"cannot connect .*tried 3 time\(s\).*generate.backend"):
        list(gen.stream(HELLO))
    assert time.monotonic() - t0 < 5


def test_a_silent_server_costs_at_most_the_timeout():
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        gen = OpenAIGenerator(f"http://127.0.0.1:{listener.getsockname()[1]}/v1", "x", timeout_s=1.5, retries=2)
        t0 = time.monotonic()
        with pytest.raises(GenerationError, match="no answer within 1.5 s"):
            list(gen.stream(HELLO))
        assert time.monotonic() - t0 < 3


def test_streams_server_sent_events_and_sends_the_key(scripted, monkeypatch):
    monkeypatch.setenv("MY_LM_KEY", "sk-test")
    scripted.script.append((200, sse("Japan hosts ", "50,000 troops.")))
    gen = OpenAIGenerator(url(scripted) + "/", "qwen", api_key_env="MY_LM_KEY")
    assert "".join(gen.stream(HELLO, max_new_tokens=12, stop=["\n\n"])) == "Japan hosts 50,000 troops."
    path, body, headers = scripted.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-test"
    assert body | {"messages": None} == {
        "model": "qwen", "messages": None, "max_tokens": 12, "temperature": 0.0, "stream": True, "stop": ["\n\n"]
    }


def test_retries_a_busy_server_but_not_a_refusal(scripted, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    scripted.script += [(503, '{"error": {"message": "loading"}}'), (200, sse("ok"))]
    gen = OpenAIGenerator(url(scripted), "x", backoff_s=0.01)
    assert "".join(gen.stream(HELLO)) == "ok" and len(scripted.requests) == 2
    assert "Authorization" not in scripted.requests[0][2], "no key set: no header"
    scripted.script.append((404, '{"error": {"message": "model x not found"}}'))
    with pytest.raises(GenerationError, match="refused the request .HTTP 404: model x not found"):
        list(gen.stream(HELLO))
    assert len(scripted.requests) == 3


def test_p_yes_reads_top_logprobs_or_says_it_cannot(scripted):
    top = [{"token": "Yes", "logprob": -0.2}, {"token": "No", "logprob": -1.8}, {"token": "The", "logprob": -4.0}]
    reply = {"choices": [{"message": {"content": "Yes"}, "logprobs": {"content": [{"token": "Yes", "logprob": -0.2, "top_logprobs": top}]}}]}
    scripted.script += [(200, json.dumps(reply)), (200, json.dumps({"choices": [{"message": {"content": "Yes"}}]}))]
    gen = OpenAIGenerator(url(scripted), "x")
    assert gen.p_yes(HELLO) == pytest.approx(0.832, abs=1e-3)
    assert scripted.requests[0][1]["top_logprobs"] == 20 and scripted.requests[0][1]["max_tokens"] == 1
    with pytest.raises(NotImplementedError, match="no top_logprobs"):
        gen.p_yes(HELLO)


def test_pipeline_falls_back_to_the_extractive_answer_when_the_server_is_down(make_config):
    from rag.answer import Pipeline
    from rag.embed import FakeEmbedder

    gen = OpenAIGenerator(f"http://127.0.0.1:{free_port()}/v1", "x", timeout_s=3, backoff_s=0.05)
    pipe = Pipeline.load(make_config(), embedder=FakeEmbedder(), generator=gen, progress=False)
    ans = pipe.ask("How many U.S. military personnel does Japan host?")
    assert not ans.abstained and ans.generator == "extractive" and "50,000" in ans.answer and ans.citations


# -- a real server: llama-cpp-python's own, serving the packaged SmolLM2 --------------------------------------------
@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    pytest.importorskip("uvicorn")
    pytest.importorskip("sse_starlette")
    import httpx

    from rag.models import resolve_model_path

    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_model_path("smollm2-135m-instruct")),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2",
    ]
    # A file, not a pipe: the server logs ~200 kB of model metadata at start and would block on a full pipe.
    log_file = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log_file.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ | {"HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log_file.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not become ready within 60 s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_streams_an_answer_from_a_real_llama_cpp_server(llama_server):
    gen = OpenAIGenerator(llama_server, "x", timeout_s=120)  # a busy CI machine is slow: this is no speed test
    pieces = list(gen.stream([{"role": "user", "content": "What is the capital of France?"}], max_new_tokens=16))
    assert len(pieces) > 1 and "".join(pieces).strip(), pieces
    assert 0.0 <= gen.p_yes([{"role": "user", "content": "Is Paris in France? Answer Yes or No."}]) <= 1.0


@pytest.mark.slow
def test_real_pipeline_phrases_through_the_server(llama_server, make_config):
    from rag.answer import Pipeline
    from rag.embed import FakeEmbedder

    pipe = Pipeline.load(make_config(), embedder=FakeEmbedder(), generator=OpenAIGenerator(llama_server, "x"), progress=False)
    ans = pipe.ask("How many U.S. military personnel does Japan host?")
    assert not ans.abstained and "50,000" in ans.answer and ans.citations  # LM text if verified, else extractive
