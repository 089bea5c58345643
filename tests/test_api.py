"""The Python API: the documentation's example runs as written (on a tiny teacher), and what it returns is in
memory."""

import json
import re
from pathlib import Path

import bort

EXAMPLE_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"  # the example users copy
SETTINGS = re.compile(r"^teacher, corpus, space, steps = .*$", re.MULTILINE)


def readme_example() -> str:
    """The documented Python example (docs/api.md): the code block that follows its marker."""
    text = EXAMPLE_PAGE.read_text(encoding="utf-8")
    after = text[text.index("<!-- the API example: tests/test_api.py runs it -->"):]
    start = after.index("```python\n") + len("```python\n")
    return after[start:after.index("\n```", start)]


def test_the_readme_example_runs_and_its_results_match_the_runs_files(prepared_inputs, tmp_path, capsys):
    code = readme_example()
    assert len(code.strip().splitlines()) <= 18 and len(SETTINGS.findall(code)) == 1
    space = tmp_path / "space.yaml"
    space.write_text("depths: [1]\nheads: [2]\nhiddens: [32]\nintermediates: [32, 64]\n")
    # The one line a user edits, pointed at the tiny teacher; every other line runs as the page prints it.
    code = SETTINGS.sub(f"teacher, corpus, space, steps = {prepared_inputs['mlm']!r}, [{prepared_inputs['text']!r}], "
                        f"{str(space)!r}, 2", code).replace('"runs/api/', f'"{tmp_path}/')
    scope: dict = {}
    exec(compile(code, "docs/api.md", "exec"), scope)  # noqa: S102 (our own documentation)
    found, student, kd, tuned, test = (scope[k] for k in ("found", "student", "kd", "tuned", "test"))
    assert isinstance(found, bort.api.SearchResult) and isinstance(tuned, bort.api.FinetuneResult)
    best = json.loads((tmp_path / "search" / "best" / "config.json").read_text())
    assert found.best == (best["num_hidden_layers"], best["num_attention_heads"], best["hidden_size"],
                          best["intermediate_size"])
    assert [r["W"] for r in found.ranking] == sorted((r["W"] for r in found.ranking), reverse=True)
    assert student.arch == found.best and student.parameters == json.loads(
        (tmp_path / "student" / "extraction.json").read_text())["parameters"]
    assert kd.step == 2 and kd.finished and 0 <= kd.mlm_accuracy <= 1
    metrics = json.loads((tmp_path / "qnli" / "metrics.json").read_text())
    assert tuned.metrics["accuracy"] == metrics["dev"]["accuracy"] and tuned.model == tmp_path / "qnli"
    # The student learnt the task from the teacher fine-tuned on it: its outputs on every training input, cached.
    assert metrics["teacher"] == str(tmp_path / "teacher") and metrics["alpha"] > 0
    cache = (tmp_path / "qnli" / "teacher_outputs.jsonl").read_text().splitlines()
    cached = [json.loads(line)["key"] for line in cache]
    assert len(cached) == len(set(cached)) == metrics["train_examples"]
    assert test.metrics is None and test.examples == 100 and test.predictions_file.is_file()
    assert str(found.best) in capsys.readouterr().out


def test_bort_search_is_both_the_package_and_the_function():
    import bort.search.config  # noqa: F401 (importing a submodule binds bort.search to the package)

    assert callable(bort.search) and bort.search.config.SearchConfig is bort.SearchConfig
    assert bort.evaluate is bort.api.evaluate and callable(bort.pipeline)
