"""Named errors whose messages say what happened and what to do next."""

from __future__ import annotations


class RagError(Exception):
    """Base of every error the library raises on purpose; the CLI prints these without a traceback."""


class ConfigError(RagError):
    """The config file, an env override or a ``--set`` value is wrong."""


class CorpusError(RagError):
    """The corpus folder is missing, empty, or holds nothing readable."""


class IndexError_(RagError):  # noqa: N801 - trailing underscore: don't shadow the builtin
    """The persisted index is missing, corrupt, or disagrees with its metadata."""


class StaleIndexError(IndexError_):
    """The index was built from other sources or settings than the current ones."""


class ModelNotFoundError(RagError):
    """A model package is not installed or its files are missing."""


class GenerationError(RagError):
    """The language model failed while answering."""


class InvalidQuestionError(RagError, ValueError):
    """The question is empty, too long, or not text."""


class BusyError(RagError):
    """Too many questions are waiting; the caller should try again shortly."""


class EvalInputError(RagError):
    """An evaluation question file is missing or has a malformed line."""
