"""Data shipped with bort: a small public-domain corpus, a GLUE task sample, and an example of a user's own task."""

from pathlib import Path

DATA_DIR = Path(__file__).parent
CORPUS_DIR = DATA_DIR / "corpus"
SST2_SAMPLE_DIR = Path(__file__).with_name("glue") / "SST-2"
CUSTOM_TASK_DIR = Path(__file__).with_name("custom") / "qnli-slice"  # CSV files: question, sentence, label
PIPELINES_DIR = DATA_DIR / "pipelines"  # pipeline files: the quickstart's, to copy and edit
