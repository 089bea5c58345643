"""Every task reads its real files (counts from SOURCES.md) or official-format fixtures."""

import re
from pathlib import Path

import pytest

from bort.errors import BortError
from bort.tasks import TASKS, get_task

FIXTURES = Path(__file__).parent / "fixtures"

REAL = [  # task, folder under shared/data, split, count in SOURCES.md
    ("glue/CoLA", "glue/CoLA", {"train": 8551, "dev": 1043, "test": 1063}),
    ("glue/SST-2", "glue/SST-2", {"train": 67349, "dev": 872, "test": 1821}),
    ("glue/MRPC", "glue/MRPC", {"train": 3668, "dev": 408, "test": 1725}),
    ("glue/STS-B", "glue/STS-B", {"train": 5749, "dev": 1500, "test": 1379}),
    ("glue/RTE", "glue/RTE", {"train": 2490, "dev": 277, "test": 3000}),
    ("glue/WNLI", "glue/WNLI", {"train": 635, "dev": 71, "test": 146}),
    ("glue/QNLI", "glue/QNLI", {"dev": 5463, "test": 5463}),
    ("glue/AX", "glue/diagnostic", {"dev": 1104, "test": 1104}),
    ("superglue/BoolQ", "superglue/BoolQ", {"dev": 3270, "test": 3245}),
    ("superglue/MultiRC", "superglue/MultiRC", {"train": 27243, "dev": 4848, "test": 9693}),
    ("superglue/RTE", "superglue/RTE", {"train": 2490, "dev": 277, "test": 3000}),
    ("superglue/WSC", "superglue/WSC", {"train": 554, "dev": 104, "test": 146}),
    ("superglue/AX-b", "superglue/AX-b", {"dev": 1104}),
    ("superglue/AX-g", "superglue/AX-g", {"dev": 356}),
]

FIXTURE = [
    ("glue/MNLI-m", "glue/MNLI", {"train": 10, "dev": 6, "test": 4}),
    ("glue/MNLI-mm", "glue/MNLI", {"dev": 6, "test": 4}),
    ("glue/QQP", "glue/QQP", {"train": 6, "dev": 4, "test": 3}),
    ("glue/QNLI", "glue/QNLI", {"train": 4}),
    ("superglue/BoolQ", "superglue/BoolQ", {"train": 3}),
    ("superglue/CB", "superglue/CB", {"train": 4, "dev": 3, "test": 2}),
    ("superglue/COPA", "superglue/COPA", {"train": 10, "dev": 6, "test": 4}),  # two options per question
    ("superglue/WiC", "superglue/WiC", {"train": 2, "dev": 2, "test": 2}),
    ("superglue/ReCoRD", "superglue/ReCoRD", {"train": 8, "dev": 8, "test": 8}),  # 2 queries × 4 entities
    ("race/middle", "RACE", {"train": 16, "dev": 16, "test": 16}),  # 2 articles × 2 questions × 4 options
    ("race/high", "RACE", {"dev": 16}),
]


@pytest.mark.parametrize("name, folder, counts", REAL)
def test_real_files(name, folder, counts, shared_data):
    task = get_task(name)
    for split, n in counts.items():
        examples = task.read(shared_data / folder, split)
        assert len(examples) == n, (name, split)
        labelled = split != "test"
        assert all((ex.label is not None) == labelled for ex in examples)
        assert all(ex.text_a for ex in examples)


@pytest.mark.parametrize("name, folder, counts", FIXTURE)
def test_fixture_files(name, folder, counts):
    task = get_task(name)
    for split, n in counts.items():
        examples = task.read(FIXTURES / folder, split)
        assert len(examples) == n, (name, split)


def test_every_task_is_covered():
    covered = {name for name, _, _ in REAL + FIXTURE}
    assert covered == set(TASKS)
    assert len({t.split("-m")[0] for t in TASKS}) >= 21


def test_casting_details(shared_data):
    mrpc = get_task("glue/MRPC").read(shared_data / "glue/MRPC", "dev")
    assert mrpc[0].text_b.startswith('"The foodservice')  # quotes are text, not CSV quoting
    mnli = get_task("glue/MNLI-m").read(FIXTURES / "glue/MNLI", "dev")
    assert mnli[0].label == 2 and mnli[0].text_a.startswith("Conceptually")  # neutral
    copa = get_task("superglue/COPA").read(FIXTURES / "superglue/COPA", "dev")
    assert [ex.label for ex in copa[:2]] == [1, 0] and copa[0].group == copa[1].group == "0"
    assert copa[0].text_a.endswith("What was the cause of this?")
    wsc = get_task("superglue/WSC").read(shared_data / "superglue/WSC", "dev")
    assert all("[" in ex.text_a and "*" in ex.text_a for ex in wsc)
    wic = get_task("superglue/WiC").read(FIXTURES / "superglue/WiC", "dev")
    assert "*place*" in wic[0].text_a and "*place*" in wic[0].text_b
    record = get_task("superglue/ReCoRD").read(FIXTURES / "superglue/ReCoRD", "dev")
    assert {ex.meta["entity"] for ex in record if ex.label == 1} == {"J.K. Rowling", "Rowling", "London"}
    race = get_task("race/middle").read(FIXTURES / "RACE", "dev")
    assert race[4].text_b == "At the end of the day Tom felt happy ."  # the option fills the blank
    multirc = get_task("superglue/MultiRC").read(shared_data / "superglue/MultiRC", "dev")
    assert len({ex.group for ex in multirc}) == 953  # questions, as in SOURCES.md
    axg = get_task("superglue/AX-g").read(shared_data / "superglue/AX-g", "dev")
    # minimal pairs are consecutive rows with one hypothesis (gender parity pairs them so)
    assert all(axg[k].text_b == axg[k + 1].text_b and axg[k].text_a != axg[k + 1].text_a for k in range(0, 356, 2))


@pytest.mark.parametrize("content, message", [
    ("index\tsentence1\tsentence2\tlabel\n0\ta\tb\n", "line 2: expected 4 tab-separated fields"),
    ("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n", "line 2: unknown label 'maybe'"),
    ("index\tpremise\thypothesis\tlabel\n0\ta\tb\tentailment\n", "missing column(s) ['sentence1', 'sentence2']"),
    ("", "is empty"),
])
def test_bad_glue_files(tmp_path, content, message):
    (tmp_path / "dev.tsv").write_text(content)
    with pytest.raises(BortError, match=message.replace("(", "\\(").replace(")", "\\)").replace("[", "\\[")):
        get_task("glue/RTE").read(tmp_path, "dev")


def test_bad_superglue_files(tmp_path):
    (tmp_path / "val.jsonl").write_text('{"premise": "a", "hypothesis": "b", "idx": 0, "label": "entailment"}\n'
                                        '{"premise": 1\n')
    with pytest.raises(BortError, match="line 2: not valid JSON"):
        get_task("superglue/CB").read(tmp_path, "dev")
    (tmp_path / "val.jsonl").write_text('{"premise": "a", "idx": 0, "label": "entailment"}\n')
    with pytest.raises(BortError, match=r"line 1: missing field\(s\) \['hypothesis'\]"):
        get_task("superglue/CB").read(tmp_path, "dev")
    with pytest.raises(BortError, match="does not exist"):
        get_task("superglue/CB").read(tmp_path / "nowhere", "dev")


def test_unknown_task_and_aliases():
    assert get_task("glue/MNLI").name == "glue/MNLI-m" and get_task("glue/rte").name == "glue/RTE"
    with pytest.raises(BortError, match="unknown task 'glue/XYZ'"):
        get_task("glue/XYZ")


def _benchmark_file(tmp_path: Path, reader: str, text: str, encoding: str) -> tuple[str, Path]:
    """One benchmark reader's dev file holding ``text`` in ``encoding``: (task name, folder to read)."""
    if reader == "glue":
        (tmp_path / "dev.tsv").write_bytes(text.encode(encoding))
        return "glue/SST-2", tmp_path
    if reader == "superglue":
        (tmp_path / "val.jsonl").write_bytes(text.encode(encoding))
        return "superglue/BoolQ", tmp_path
    (tmp_path / "RACE/dev/high").mkdir(parents=True)
    (tmp_path / "RACE/dev/high/1.txt").write_bytes(text.encode(encoding))
    return "race/high", tmp_path / "RACE"


GOOD_ROW = {"glue": "sentence\tlabel\nnicé film\t1\n",
            "superglue": '{"question": "é?", "passage": "p", "idx": 0, "label": true}\n',
            "race": '{"article": "é", "questions": ["q"], "options": [["a", "b", "c", "d"]], "answers": ["A"], '
                    '"id": "1"}'}


@pytest.mark.parametrize("reader", ["glue", "superglue", "race"])
@pytest.mark.parametrize("encoding, message", [("utf-16", "is UTF-16 text"),
                                               ("latin-1", "is not UTF-8 text (byte 0xe9")])
def test_every_benchmark_reader_refuses_a_file_that_is_not_utf8(tmp_path, reader, encoding, message):
    name, folder = _benchmark_file(tmp_path, reader, GOOD_ROW[reader], encoding)
    with pytest.raises(BortError, match=re.escape(message)) as caught:
        get_task(name).read(folder, "dev")
    assert "\n" not in str(caught.value)
    # The same text in UTF-8 reads: the refusal is about the encoding alone.
    for file in tmp_path.rglob("*.*"):
        file.write_bytes(file.read_bytes().decode(encoding).encode("utf-8"))
    assert len(get_task(name).read(folder, "dev")) >= 1


def test_a_repeated_column_or_key_is_refused_naming_it(tmp_path):
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\tlabel\nfine\t1\t0\n")
    with pytest.raises(BortError, match=re.escape("dev.tsv, line 1: the header names column 'label' twice")):
        get_task("glue/SST-2").read(tmp_path, "dev")
    (tmp_path / "val.jsonl").write_text('{"question": "q", "passage": "p", "idx": 0, "label": true}\n'
                                        '{"question": "q", "passage": "p", "idx": 1, "label": true, "label": false}\n')
    with pytest.raises(BortError, match=re.escape("val.jsonl, line 2: the key 'label' appears twice")):
        get_task("superglue/BoolQ").read(tmp_path, "dev")
    (tmp_path / "RACE/dev/high").mkdir(parents=True)
    (tmp_path / "RACE/dev/high/1.txt").write_text(GOOD_ROW["race"][:-1] + ', "id": "2"}')
    with pytest.raises(BortError, match=re.escape("1.txt: the key 'id' appears twice")):
        get_task("race/high").read(tmp_path / "RACE", "dev")
