"""Data shipped with bort: a small public-domain corpus for the quickstart."""

from pathlib import Path

CORPUS_DIR = Path(__file__).with_name("corpus")
