from __future__ import annotations

import pytest

from rag.config import Config, load_config, parse_set
from rag.errors import ConfigError


def test_layers_apply_in_order_file_then_env_then_set(tmp_path):
    f = tmp_path / "rag.toml"
    f.write_text('[retrieve]\ntop_k = 7\nhybrid = false\n[server]\nport = 9000\n')
    env = {"RAG_RETRIEVE__TOP_K": "5", "RAG_WIDGET__ALLOWED_ORIGINS": "https://wiki.example.com, http://b.test"}
    cfg = load_config(f, parse_set(["retrieve.top_k=3"]), environ=env)
    assert cfg.retrieve.top_k == 3  # --set beats env beats file
    assert cfg.retrieve.hybrid is False  # from the file
    assert cfg.server.port == 9000
    assert cfg.widget.allowed_origins == ("https://wiki.example.com", "http://b.test")


def test_unknown_key_and_bad_value_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="retrieve.topk"):
        load_config(None, [("retrieve.topk", "3")], environ={})
    with pytest.raises(ConfigError, match="retrieve.top_k = 'many'"):
        load_config(None, [("retrieve.top_k", "many")], environ={})
    with pytest.raises(ConfigError, match="expected section.key=value"):
        parse_set(["top_k"])


def test_a_setting_a_release_replaced_says_what_to_use_instead(tmp_path):
    old = tmp_path / "rag.toml"
    old.write_text("[reader]\npolarity_confidence = 0.25\n")
    with pytest.raises(ConfigError, match=r"polarity_confidence' is no longer a setting: .*reader\.yes_min"):
        load_config(old, environ={})


def test_missing_or_invalid_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[retrieve\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, environ={})


def test_toml_dump_round_trips():
    import tomllib

    cfg = Config().replace(**{"retrieve.top_k": 9, "widget.examples": ["a?", "b?"]})
    data = tomllib.loads(cfg.to_toml())
    assert data["retrieve"]["top_k"] == 9
    assert data["widget"]["examples"] == ["a?", "b?"]
