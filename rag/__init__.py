"""A local, grounded question-answering library: answers come with exact cited spans of the source."""

from .config import Config, load_config
from .errors import RagError
from .schema import Answer, Citation, Passage, TextDelta

__all__ = ["Answer", "Citation", "Config", "Passage", "RagError", "TextDelta", "load_config"]
__version__ = "0.1.0"
