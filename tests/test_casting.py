"""How each SuperGLUE and RACE record becomes examples: every field of the first records written out by
hand from the official files, and each reader's errors naming the file, line and field."""

import json
from pathlib import Path

import pytest

from bort.errors import BortError
from bort.tasks import get_task
from bort.tasks.example import Example

FIXTURES = Path(__file__).parent / "fixtures"


def fields(ex: Example) -> tuple:
    return ex.uid, ex.text_a, ex.text_b, ex.label, ex.group, ex.meta


def test_copa_two_options_per_question_with_the_prompt():
    dev = get_task("superglue/COPA").read(FIXTURES / "superglue/COPA", "dev")
    assert [fields(ex) for ex in dev[:2]] == [
        (0, "My body cast a shadow over the grass. What was the cause of this?", "The sun was rising.", 1, "0",
         {"option": 0}),
        (0, "My body cast a shadow over the grass. What was the cause of this?", "The grass was cut.", 0, "0",
         {"option": 1}),
    ]
    assert [ex.label for ex in dev] == [1, 0, 1, 0, 0, 1]
    test = get_task("superglue/COPA").read(FIXTURES / "superglue/COPA", "test")
    assert all(ex.label is None for ex in test)
    effect = [ex for ex in get_task("superglue/COPA").read(FIXTURES / "superglue/COPA", "train")
              if "result" in ex.text_a]
    assert effect and all(ex.text_a.endswith(". What happened as a result?") for ex in effect)


def test_record_one_example_per_entity_with_the_query_filled():
    dev = get_task("superglue/ReCoRD").read(FIXTURES / "superglue/ReCoRD", "dev")
    passage = ("The Harry Potter author J.K. Rowling said on Monday that a new book would be out.\n- "
               "Rowling to publish a new book\n- The book comes out in London")
    answers0, answers1 = ["J.K. Rowling", "Rowling"], ["London"]
    entities = ["Harry Potter", "J.K. Rowling", "Rowling", "London"]
    expected = [(0, passage, f"{e} announced the book on Monday.", int(e in answers0), "0",
                 {"entity": e, "answers": answers0})
                for e in entities]
    expected += [(1, passage, f"The book comes out in {e}.", int(e in answers1), "1",
                  {"entity": e, "answers": answers1})
                 for e in entities]
    assert [fields(ex) for ex in dev] == expected
    test = get_task("superglue/ReCoRD").read(FIXTURES / "superglue/ReCoRD", "test")
    assert len(test) == 8 and all(ex.label is None for ex in test)


def test_wic_marks_the_target_word_in_both_sentences():
    dev = get_task("superglue/WiC").read(FIXTURES / "superglue/WiC", "dev")
    assert [fields(ex) for ex in dev] == [
        (0, "Do you want to come over to my *place* later?",
         "A political system with no *place* for the less prominent groups.", 0, None, {}),
        (1, "We *beat* the competition.", "Agassi *beat* Becker in the tennis championship.", 1, None, {}),
    ]


def test_wsc_marks_the_noun_phrase_and_the_pronoun(shared_data):
    dev = get_task("superglue/WSC").read(shared_data / "superglue/WSC", "dev")
    first = dev[0]
    assert first.uid == 0 and first.label == 0 and first.text_b is None and first.group is None
    assert first.text_a == ("Bernard , who had not told the government official that he was less than 21 when he filed "
                            "for a homestead claim, did not consider that he had done anything dishonest. Still, "
                            "[anyone] who knew that he was 19 years old could take his claim away from *him* .")
    assert dev[1].text_a.startswith("[Mr. Moncrieff] visited")  # a two-word span at word 0


@pytest.mark.parametrize("words, index, span, expected", [
    ("the cat sat on the mat", 1, "cat", "the [cat] sat on the mat"),
    ("the cat sat on the mat", 0, "the cat", "[the cat] sat on the mat"),
    ("the cat sat on the mat", 4, "the mat", "the cat sat on [the mat]"),  # the span ends the text
    ("the cat sat on the mat", 3, "the mat", "the cat sat on [the mat]"),  # the index one word early
    ("the cat sat on the mat", 5, "the mat", "the cat sat on [the mat]"),  # one word late
    ("a b c d e f g h i j", 8, "d", "a b c [d] e f g h i j"),  # five words late: found searching backwards
    ("a b c d e f g h i j", 9, "d", "a b c d e f g h i [j]"),  # six words late: too far, the given index
    ("a b c d e f g h i j", 0, "e", "a b c d [e] f g h i j"),  # four words early: found searching forwards
    ("\"The Dog barked", 0, "the dog", "[\"The Dog] barked"),  # case and a leading quote
    ("it fell . Then it rose", 0, "fell.", "it [fell] . Then it rose"),  # trailing punctuation of the span
    ("x \"The Dog barked", 0, "the dog", "x [\"The Dog] barked"),  # a leading quote, one word off
    ("a b c d e f g h i j", 0, "zzz", "[a] b c d e f g h i j"),  # not found: the given index
])
def test_wsc_span_marking(words, index, span, expected, tmp_path):
    record = {"text": words, "target": {"span1_index": index, "span1_text": span, "span2_index": 0,
                                        "span2_text": words.split()[0]}, "idx": 7, "label": True}
    (tmp_path / "val.jsonl").write_text(json.dumps(record) + "\n")
    (ex,) = get_task("superglue/WSC").read(tmp_path, "dev")
    assert ex.text_a.replace("*", "") == expected  # the pronoun's *stars* (word 0 here) aside
    assert ex.text_a.count("*") == 2
    assert ex.label == 1 and ex.uid == 7


@pytest.mark.parametrize("index", [-1, 6])
def test_wsc_span_outside_the_text(index, tmp_path):
    record = {"text": "the cat sat on the mat", "target": {"span1_index": index, "span1_text": "cat", "span2_index": 0,
                                                            "span2_text": "the"}, "idx": 0, "label": False}
    (tmp_path / "val.jsonl").write_text("\n" + json.dumps(record) + "\n")
    with pytest.raises(BortError,
                       match=rf"val.jsonl, line 2: span 'cat' at word {index} is outside the text \(6 words\)"):
        get_task("superglue/WSC").read(tmp_path, "dev")


def test_boolq_question_then_passage(shared_data):
    dev = get_task("superglue/BoolQ").read(shared_data / "superglue/BoolQ", "dev")
    raw = json.loads((shared_data / "superglue/BoolQ/val.jsonl").read_text().splitlines()[0])
    assert fields(dev[0]) == (raw["idx"], raw["question"], raw["passage"], int(raw["label"]), None, {})


def test_pair_tasks_keep_both_segments_and_the_label(shared_data):
    rte = get_task("superglue/RTE").read(shared_data / "superglue/RTE", "dev")
    raw = [json.loads(line) for line in (shared_data / "superglue/RTE/val.jsonl").read_text().splitlines()[:3]]
    names = ["entailment", "not_entailment"]
    assert [fields(ex) for ex in rte[:3]] == [(r["idx"], r["premise"], r["hypothesis"], names.index(r["label"]),
                                               None, {})
                                              for r in raw]
    cb = get_task("superglue/CB").read(FIXTURES / "superglue/CB", "dev")
    assert [ex.label for ex in cb] == [["contradiction", "entailment", "neutral"].index(json.loads(line)["label"])
                                       for line in (FIXTURES / "superglue/CB/val.jsonl").read_text().splitlines()]


def test_multirc_one_example_per_answer(shared_data):
    dev = get_task("superglue/MultiRC").read(shared_data / "superglue/MultiRC", "dev")
    raw = json.loads((shared_data / "superglue/MultiRC/val.jsonl").read_text().splitlines()[0])
    q = raw["passage"]["questions"][0]
    first = dev[0]
    assert first.uid == f"{raw['idx']}-{q['idx']}-0" and first.group == f"{raw['idx']}-{q['idx']}"
    assert first.meta == {"passage": raw["idx"], "question": q["idx"], "answer": q["answers"][0]["idx"]}
    assert first.text_b == f"{q['question']} No" and first.label == 0 and dev[1].label == 1
    assert q["question"] not in first.text_a and "<br>" not in first.text_a and "<b>" not in first.text_a


def test_multirc_truncation_keeps_every_question_and_answer(shared_data):
    """At the task's default length the passage is cut, never the question or the answer (beside the
    passage, longest-first truncation cut the question off in every dev example at 128 tokens)."""
    from bort.tasks.encode import encode
    from bort.tokenizer import load_tokenizer

    raw = [json.loads(line) for line in (shared_data / "superglue/MultiRC/val.jsonl").read_text().splitlines()]
    texts = {(r["idx"], q["idx"], a["idx"]): (q["question"], a["text"])
             for r in raw for q in r["passage"]["questions"] for a in q["answers"]}
    task = get_task("superglue/MultiRC")
    dev = task.read(shared_data / "superglue/MultiRC", "dev")
    tokenizer = load_tokenizer()
    encoded = encode(tokenizer, dev, task.max_len)
    assert task.max_len == 256 and max(len(ids) for ids in encoded["input_ids"]) == task.max_len
    kept = 0
    for ids, ex in zip(encoded["input_ids"], dev):
        question, answer = texts[ex.meta["passage"], ex.meta["question"], ex.meta["answer"]]
        text = " ".join(tokenizer.decode(ids).split())
        kept += " ".join(question.split()) in text and " ".join(answer.split()) in text
    assert kept == len(dev)


def test_race_four_pairs_per_question():
    dev = get_task("race/middle").read(FIXTURES / "RACE", "dev")
    raw = json.loads(sorted((FIXTURES / "RACE/dev/middle").glob("*.txt"))[0].read_text())
    letters = "ABCD"
    for q, (question, options, answer) in enumerate(zip(raw["questions"], raw["options"], raw["answers"])):
        for k, option in enumerate(options):
            ex = dev[4 * q + k]
            text_b = question.replace("_", option) if "_" in question else f"{question} {option}"
            assert fields(ex) == (f"{raw['id']}-{q}", raw["article"], text_b, int(letters[k] == answer),
                                  f"{raw['id']}-{q}", {"option": k, "letter": letters[k]})


RACE_OK = {"article": "A.", "questions": ["Q?"], "options": [["a", "b", "c", "d"]], "answers": ["A"], "id": "x.txt"}


@pytest.mark.parametrize("task, file, content, message", [
    ("superglue/BoolQ", "val.jsonl", {"question": "q", "passage": "p", "idx": 0, "label": "maybe"},
     "val.jsonl, line 2: unknown label 'maybe'; expected one of ['false', 'true']"),
    ("superglue/BoolQ", "val.jsonl", {"question": "q", "idx": 0, "label": True},
     "line 2: missing field(s) ['passage']"),
    ("superglue/RTE", "val.jsonl", {"premise": "p", "idx": 0, "label": "yes"},
     "line 2: missing field(s) ['hypothesis']"),
    ("superglue/RTE", "val.jsonl", {"premise": "p", "hypothesis": "h", "label": "entailment"},
     "line 2: missing field(s) ['idx']"),
    ("superglue/RTE", "val.jsonl", {"premise": "p", "hypothesis": "h", "idx": 0, "label": "yes"},
     "val.jsonl, line 2: unknown label 'yes'"),
    ("superglue/WiC", "val.jsonl", {"word": "w", "sentence1": "a", "sentence2": "b", "start1": 0, "end1": 1, "idx": 0},
     "line 2: missing field(s) ['start2', 'end2']"),
    ("superglue/WiC", "val.jsonl", {"word": "w", "sentence1": "a", "sentence2": "b", "start1": 0, "end1": 1,
                                    "start2": 0, "end2": 1, "idx": 0, "label": "sometimes"},
     "val.jsonl, line 2: unknown label 'sometimes'"),
    ("superglue/WSC", "val.jsonl", {"text": "a b", "idx": 0}, "line 2: missing field(s) ['target']"),
    ("superglue/WSC", "val.jsonl", {"text": "a b", "idx": 0, "label": "no", "target": {
        "span1_index": 0, "span1_text": "a", "span2_index": 1, "span2_text": "b"}},
     "val.jsonl, line 2: unknown label 'no'"),
    ("superglue/COPA", "val.jsonl", {"premise": "p", "choice1": "a", "choice2": "b", "question": "why", "idx": 0},
     "val.jsonl, line 2: field 'question' must be 'cause' or 'effect', got 'why'"),
    ("superglue/COPA", "val.jsonl", {"premise": "p", "choice1": "a", "question": "cause", "idx": 0},
     "line 2: missing field(s) ['choice2']"),
    ("superglue/COPA", "val.jsonl", {"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "idx": 0,
                                     "label": 2}, "val.jsonl, line 2: unknown label 2"),
    ("superglue/ReCoRD", "val.jsonl", {"idx": 0, "passage": {"text": "abc", "entities": []}, "qas": []},
     "val.jsonl, line 2: the passage has no entities"),
    ("superglue/ReCoRD", "val.jsonl", {"idx": 0, "passage": {"text": "abc"}, "qas": []},
     "val.jsonl, line 2: the passage has no entities"),
    ("superglue/ReCoRD", "val.jsonl", {"idx": 0, "passage": {"text": "abc"}}, "line 2: missing field(s) ['qas']"),
    ("superglue/MultiRC", "val.jsonl", {"idx": 0, "passage": {"text": "abc"}},
     "val.jsonl, line 2: field 'passage' must hold 'text' and 'questions'"),
    ("superglue/MultiRC", "val.jsonl", {"passage": {"text": "abc", "questions": []}},
     "line 2: missing field(s) ['idx']"),
])
def test_superglue_reader_errors_name_the_file_line_and_field(task, file, content, message, tmp_path):
    good = {"superglue/BoolQ": {"question": "q", "passage": "p", "idx": 0, "label": True},
            "superglue/RTE": {"premise": "p", "hypothesis": "h", "idx": 0, "label": "entailment"},
            "superglue/WiC": {"word": "w", "sentence1": "a", "sentence2": "b", "start1": 0, "end1": 1, "start2": 0,
                              "end2": 1, "idx": 0, "label": False},
            "superglue/WSC": {"text": "a b", "idx": 0, "label": False,
                              "target": {"span1_index": 0, "span1_text": "a", "span2_index": 1, "span2_text": "b"}},
            "superglue/COPA": {"premise": "p", "choice1": "a", "choice2": "b", "question": "effect", "idx": 0,
                               "label": 1},
            "superglue/ReCoRD": {"idx": 0, "passage": {"text": "abc", "entities": [{"start": 0, "end": 1}]},
                                 "qas": [{"idx": 0, "query": "@placeholder", "answers": [{"text": "ab"}]}]},
            "superglue/MultiRC": {"idx": 0, "passage": {"text": "abc", "questions": [
                {"idx": 0, "question": "q", "answers": [{"idx": 0, "text": "a", "label": 1}]}]}}}[task]
    (tmp_path / file).write_text(json.dumps(good) + "\n" + json.dumps(content) + "\n")
    with pytest.raises(BortError) as error:
        get_task(task).read(tmp_path, "dev")
    assert message in str(error.value) and str(tmp_path / file) in str(error.value)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("answers"), "missing field 'answers'"),
    (lambda r: r.pop("id"), "missing field 'id'"),
    (lambda r: r.update(answers=["E"]), "question 0 needs 4 options and an answer in A-D, got 4 options and 'E'"),
    (lambda r: r.update(options=[["a", "b", "c"]]),
     "question 0 needs 4 options and an answer in A-D, got 3 options and 'A'"),
    (lambda r: r.update(questions=["Q?", "R?"]), "questions, options and answers differ in length"),
])
def test_race_reader_errors(change, message, tmp_path):
    folder = tmp_path / "dev" / "high"
    folder.mkdir(parents=True)
    record = json.loads(json.dumps(RACE_OK))
    change(record)
    (folder / "1.txt").write_text(json.dumps(record))
    with pytest.raises(BortError) as error:
        get_task("race/high").read(tmp_path, "dev")
    assert str(error.value) == f"{folder / '1.txt'}: {message}"


def test_race_reader_missing_folder_files_and_json(tmp_path):
    with pytest.raises(BortError, match=r"dev/middle does not exist \(expected RACE/dev/middle/\*\.txt"):
        get_task("race/middle").read(tmp_path, "dev")
    (tmp_path / "dev" / "middle").mkdir(parents=True)
    (tmp_path / "dev" / "middle" / "notes.md").write_text("x")
    with pytest.raises(BortError, match=r"dev/middle holds no \.txt files"):
        get_task("race/middle").read(tmp_path, "dev")
    (tmp_path / "dev" / "middle" / "1.TXT").write_text("x")  # only lower-case .txt files are articles
    with pytest.raises(BortError, match="holds no .txt files"):
        get_task("race/middle").read(tmp_path, "dev")
    (tmp_path / "dev" / "middle" / "2.txt").write_text('{\n"article": ')
    with pytest.raises(BortError, match=r"2.txt, line 2: not valid JSON"):
        get_task("race/middle").read(tmp_path, "dev")


def test_wsc_pronoun_outside_the_text(tmp_path):
    record = {"text": "the cat sat", "target": {"span1_index": 1, "span1_text": "cat", "span2_index": 3,
                                                 "span2_text": "it"}, "idx": 0, "label": False}
    (tmp_path / "val.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(BortError, match=r"val.jsonl, line 1: span 'it' at word 3 is outside the text \(3 words\)"):
        get_task("superglue/WSC").read(tmp_path, "dev")


LABELLED = {
    "superglue/BoolQ": {"question": "q", "passage": "p", "idx": 0, "label": True},
    "superglue/CB": {"premise": "p", "hypothesis": "h", "idx": 0, "label": "neutral"},
    "superglue/RTE": {"premise": "p", "hypothesis": "h", "idx": 0, "label": "entailment"},
    "superglue/WiC": {"word": "w", "sentence1": "a", "sentence2": "b", "start1": 0, "end1": 1, "start2": 0, "end2": 1,
                      "idx": 0, "label": True},
    "superglue/WSC": {"text": "a b", "idx": 0, "label": True, "target": {"span1_index": 0, "span1_text": "a",
                                                                        "span2_index": 1, "span2_text": "b"}},
    "superglue/COPA": {"premise": "p", "choice1": "a", "choice2": "b", "question": "effect", "idx": 0, "label": 1},
    "superglue/ReCoRD": {"idx": 0, "passage": {"text": "abc", "entities": [{"start": 0, "end": 1}]},
                         "qas": [{"idx": 0, "query": "@placeholder", "answers": [{"text": "ab"}]}]},
    "superglue/MultiRC": {"idx": 0, "passage": {"text": "abc", "questions": [
        {"idx": 0, "question": "q", "answers": [{"idx": 0, "text": "a", "label": 1}]}]}},
}


@pytest.mark.parametrize("task", sorted(LABELLED))
def test_test_splits_are_unlabelled_even_when_the_file_has_labels(task, tmp_path):
    (tmp_path / "test.jsonl").write_text(json.dumps(LABELLED[task]) + "\n")
    (tmp_path / "val.jsonl").write_text(json.dumps(LABELLED[task]) + "\n")
    assert all(ex.label is None for ex in get_task(task).read(tmp_path, "test"))
    assert all(ex.label in (0, 1, 2) for ex in get_task(task).read(tmp_path, "dev"))
    unlabelled = {k: v for k, v in LABELLED[task].items() if k != "label"}
    (tmp_path / "val.jsonl").write_text(json.dumps(unlabelled) + "\n")
    if task not in ("superglue/ReCoRD", "superglue/MultiRC"):  # their labels live in the answers
        assert all(ex.label is None for ex in get_task(task).read(tmp_path, "dev"))


def test_axb_test_split_is_unlabelled(shared_data):
    assert all(ex.label is None for ex in get_task("superglue/AX-b").read(shared_data / "superglue/AX-b", "test"))
    assert {ex.label for ex in get_task("superglue/AX-b").read(shared_data / "superglue/AX-b", "dev")} == {0, 1}


def test_multirc_passage_markup_is_removed(tmp_path):
    record = {"idx": 3, "passage": {"text": "<b>Sent 1: </b>The cat sat.<br><b>Sent 12: </b>It  was\nhappy.<br>",
                                    "questions": [{"idx": 5, "question": "Who sat?", "answers": [
                                        {"idx": 0, "text": "The cat", "label": 1}, {"idx": 1, "text": "A dog"}]}]}}
    (tmp_path / "val.jsonl").write_text(json.dumps(record) + "\n")
    first, second = get_task("superglue/MultiRC").read(tmp_path, "dev")
    assert first.text_a == "The cat sat. It was happy." and first.text_b == "Who sat? The cat" and first.label == 1
    assert second.label is None and second.uid == "3-5-1" and second.group == "3-5"
