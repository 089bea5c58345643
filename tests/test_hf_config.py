import json

import pytest
from transformers import BertConfig

from bort.architecture import Arch
from bort.architecture.hf_config import arch_of, roberta_config, student_config, vocab_of
from bort.checkpoint import load_config
from bort.errors import BortError


def test_student_keeps_everything_but_the_four_sizes():
    teacher = BertConfig(vocab_size=30522, max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu_new",
                         layer_norm_eps=1e-7, num_hidden_layers=24, num_attention_heads=16, hidden_size=1024,
                         intermediate_size=4096, pad_token_id=0)
    student = student_config(teacher, Arch(4, 8, 512, 768))
    assert arch_of(student) == Arch(4, 8, 512, 768)
    assert vocab_of(student) == vocab_of(teacher)
    assert student.model_type == "bert"
    assert (student.hidden_act, student.layer_norm_eps, student.pad_token_id) == ("gelu_new", 1e-7, 0)
    assert arch_of(teacher) == Arch(24, 16, 1024, 4096)  # the teacher's config is not modified


def test_student_from_roberta_teacher_directory(tmp_path):
    teacher = roberta_config(Arch(24, 16, 1024, 4096))
    teacher.architectures = ["RobertaForMaskedLM"]
    teacher.save_pretrained(tmp_path)
    loaded = load_config(tmp_path)
    student = student_config(loaded, Arch(4, 8, 1024, 768))
    assert (student.vocab_size, student.max_position_embeddings, student.type_vocab_size) == (50265, 514, 1)
    assert student.architectures is None


def test_teacher_directory_errors(tmp_path):
    with pytest.raises(BortError, match="no config.json"):
        load_config(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(BortError, match="not supported"):
        load_config(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "bert", ')
    with pytest.raises(BortError, match=r"cannot load a model configuration from .*config.json: Expecting"):
        load_config(tmp_path)
