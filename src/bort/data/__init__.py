"""Data shipped with bort: a small public-domain corpus and a GLUE task sample, for the quickstart."""

from pathlib import Path

CORPUS_DIR = Path(__file__).with_name("corpus")
SST2_SAMPLE_DIR = Path(__file__).with_name("glue") / "SST-2"
