"""The wheel builds without packaging warnings and carries the tokenizer, the embedded data and the licences."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_carries_tokenizer_data_and_licences(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-w",
                            str(tmp_path / "dist"), "-v"], cwd=source, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    log = (build.stdout + build.stderr).lower()
    assert "deprecat" not in log, [line for line in log.splitlines() if "deprecat" in line][:3]
    (wheel,) = (tmp_path / "dist").glob("bort-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"bort/tokenizer/roberta/tokenizer.json", "bort/tokenizer/roberta/tokenizer_config.json",
                "bort/data/glue/SST-2/train.tsv", "bort/data/glue/SST-2/dev.tsv", "bort/cli/main.py",
                "bort/data/pipelines/quickstart.yaml", "bort/data/pipelines/agora_theta.json",
                *(f"bort/data/custom/qnli-slice/{name}" for name in ("train.csv", "dev.csv", "test.csv", "SOURCES.md")),
                *(f"bort/data/corpus/{p.name}" for p in (REPO / "src/bort/data/corpus").glob("*.txt.gz"))}
    assert expected <= names, sorted(expected - names)
    assert len([n for n in names if n.startswith("bort/data/corpus/") and n.endswith(".txt.gz")]) == 4
    licences = {Path(n).name for n in names if ".dist-info/licenses/" in n}
    assert {"LICENSE", "ATTRIBUTION.txt"} <= licences, licences
    metadata = next(zipfile.ZipFile(wheel).read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in metadata
