"""Extraction (`bort extract`): the student is the teacher's own sub-network, cut consistently.

Each check compares the extracted student with an independent computation on the teacher: its own
shape reproduces it; dropping layers equals running the teacher with them skipped; dropping heads or
FFN neurons equals the teacher with their output weights zeroed; the parameter count equals
``bort arch``'s; planted important units are the ones kept, whatever the calibration order.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModel, AutoModelForMaskedLM, BertConfig, BertModel

from bort.architecture import Arch, count_params
from bort.architecture.build import build_roberta
from bort.architecture.hf_config import vocab_of
from bort.cli.main import main
from bort.extract.extractor import extract_model, student_from_selection
from bort.extract.importance import measure_importance
from bort.extract.selection import Selection, select

TEACHER = Arch(4, 4, 32, 48)  # head size 8


def teacher_mlm(seed: int = 0):
    """A random RoBERTa masked LM whose LayerNorms and biases are random too (a fresh model's are all 1 or 0,
    which would hide a LayerNorm cut at the wrong channels)."""
    model = build_roberta(TEACHER, head="mlm", seed=seed)
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = 0.0
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.ndim == 1:
                base = 1.0 if name.endswith("LayerNorm.weight") or name.endswith("layer_norm.weight") else 0.0
                parameter.copy_(base + 0.1 * torch.randn(parameter.shape, generator=generator))
    return model.eval()


def batches(n: int = 2, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, 50000, (3, 12), generator=generator)
        mask = torch.ones_like(ids)
        mask[0, 9:] = 0
        ids[0, 9:] = 1
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


def hidden(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model.base_model(**batch).last_hidden_state


def test_the_teachers_own_shape_reproduces_it():
    teacher = teacher_mlm()
    importance = measure_importance(teacher, batches())
    student, selection = extract_model(teacher, importance, TEACHER)
    assert selection.exact
    batch = batches(1, seed=5)[0]
    with torch.no_grad():
        delta = (student(**batch).logits - teacher(**batch).logits).abs().max()
    assert delta <= 1e-5


BERT = BertConfig(vocab_size=300, hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
                  max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def bert_teacher(model_class, seed: int):
    """A random BERT of ``model_class`` ⟨2,3,24,40⟩ with a 300-token vocabulary, and one batch of 2 × 10 tokens."""
    torch.manual_seed(seed)
    teacher = model_class(BERT).eval()
    return teacher, [{"input_ids": torch.randint(5, 300, (2, 10)),
                      "attention_mask": torch.ones(2, 10, dtype=torch.long)}]


def test_a_bert_masked_lm_reproduces_itself():
    from transformers import BertForMaskedLM

    teacher, data = bert_teacher(BertForMaskedLM, seed=1)
    student, _ = extract_model(teacher, measure_importance(teacher, data), Arch(2, 3, 24, 40))
    with torch.no_grad():
        assert (student(**data[0]).logits - teacher(**data[0]).logits).abs().max() <= 1e-5
    smaller, selection = extract_model(teacher, measure_importance(teacher, data), Arch(1, 3, 12, 20))
    assert torch.equal(smaller.cls.predictions.transform.dense.weight,
                       teacher.cls.predictions.transform.dense.weight[selection.channels][:, selection.channels])


def test_a_bert_teacher_with_a_pooler_keeps_its_class_and_shape():
    teacher, data = bert_teacher(BertModel, seed=0)
    student, _ = extract_model(teacher, measure_importance(teacher, data), Arch(2, 3, 24, 40))
    assert type(student) is BertModel and student.pooler is not None
    with torch.no_grad():
        assert (student(**data[0]).pooler_output - teacher(**data[0]).pooler_output).abs().max() <= 1e-5


def skip_layers(teacher, batch, kept: list[int]) -> torch.Tensor:
    """The teacher run by hand with only the ``kept`` layers: an independent reference."""
    base = teacher.base_model
    # the additive mask every layer expects: 0 where a key is real, the dtype's minimum where it is padding
    mask = (1.0 - batch["attention_mask"][:, None, None, :].float()) * torch.finfo(torch.float32).min
    with torch.no_grad():
        states = base.embeddings(input_ids=batch["input_ids"])
        for index in kept:
            states = base.encoder.layer[index](states, attention_mask=mask)
            states = states[0] if isinstance(states, tuple) else states
    return states


def test_dropping_only_layers_equals_skipping_them():
    teacher = teacher_mlm()
    importance = measure_importance(teacher, batches())
    for rule in ("importance", "uniform"):
        student, selection = extract_model(teacher, importance, Arch(2, 4, 32, 48), rule)
        assert len(selection.layers) == 2
        batch = batches(1, seed=7)[0]
        real = batch["attention_mask"] > 0
        reference = skip_layers(teacher, batch, selection.layers)
        assert (hidden(student, batch)[real] - reference[real]).abs().max() <= 1e-5
    assert selection.layers == [0, 2]  # uniform: every second layer of four


def test_dropping_only_heads_equals_zeroing_them():
    """Heads 1 and 3 kept whole in every layer, hidden width and neurons untouched: the cut attention must
    equal the teacher's with heads 0 and 2 silenced (their W_O columns zeroed), as Sheared-LLaMA tests it."""
    teacher = teacher_mlm()
    selection = Selection(layers=[0, 1, 2, 3], heads=[[[1], [3]]] * 4,
                          attention_dims=[list(range(8, 16)) + list(range(24, 32))] * 4,
                          neurons=[list(range(48))] * 4, channels=list(range(32)), head_rule="exact")
    zeroed = teacher_mlm()
    for layer in zeroed.base_model.encoder.layer:
        layer.attention.output.dense.weight.data[:, 0:8] = 0
        layer.attention.output.dense.weight.data[:, 16:24] = 0
    batch = batches(1, seed=3)[0]
    real = batch["attention_mask"] > 0
    student = _student_with_attention_width(teacher, selection, heads=2)
    assert (hidden(student, batch)[real] - hidden(zeroed, batch)[real]).abs().max() <= 1e-5
    assert (hidden(student, batch)[real] - hidden(teacher, batch)[real]).abs().max() > 1e-3  # the heads mattered


def _student_with_attention_width(teacher, selection: Selection, heads: int):
    """The slicer's student when attention is narrower than the residual stream: the teacher's class with
    its heads cut (Q/K/V rows, W_O columns) and everything else whole."""
    from bort.extract.slicing import slice_state_dict

    config = teacher.config.__class__.from_dict(teacher.config.to_dict())
    student = teacher.__class__(config).eval()
    sliced = slice_state_dict(teacher.state_dict(), selection)
    for layer in student.base_model.encoder.layer:  # narrow each attention to the kept heads' width
        attention = layer.attention.self
        width = heads * attention.attention_head_size
        for name in ("query", "key", "value"):
            setattr(attention, name, torch.nn.Linear(32, width))
        layer.attention.output.dense = torch.nn.Linear(width, 32)
        attention.num_attention_heads, attention.all_head_size = heads, width
    student.load_state_dict(sliced, strict=True)
    return student


def test_dropping_only_neurons_equals_zeroing_them():
    teacher = teacher_mlm()
    importance = measure_importance(teacher, batches())
    student, selection = extract_model(teacher, importance, Arch(4, 4, 32, 20))
    zeroed = teacher_mlm()
    for index, layer in enumerate(zeroed.base_model.encoder.layer):
        dropped = sorted(set(range(48)) - set(selection.neurons[index]))
        layer.output.dense.weight.data[:, dropped] = 0
    batch = batches(1, seed=4)[0]
    real = batch["attention_mask"] > 0
    assert (hidden(student, batch)[real] - hidden(zeroed, batch)[real]).abs().max() <= 1e-5


@pytest.mark.parametrize("arch", [Arch(2, 2, 16, 24), Arch(3, 2, 32, 16), Arch(1, 1, 24, 8), Arch(2, 4, 16, 48),
                                  Arch(4, 3, 24, 30), Arch(1, 2, 24, 20), Arch(2, 3, 30, 12)])
def test_every_student_loads_with_from_pretrained_and_has_bort_archs_count(arch, tmp_path):
    teacher = teacher_mlm()
    student, selection = extract_model(teacher, measure_importance(teacher, batches()), arch)
    student.save_pretrained(tmp_path)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path, local_files_only=True, trust_remote_code=False)
    counts = count_params(arch, vocab_of(teacher.config))
    assert sum(p.numel() for p in loaded.parameters()) == counts.total + counts.mlm_head
    assert len(selection.channels) == arch.hidden and all(len(n) == arch.intermediate for n in selection.neurons)
    assert all(len(d) == arch.hidden and len(set(d)) == arch.hidden for d in selection.attention_dims)


def test_head_rules_exact_trimmed_and_regrouped():
    teacher = teacher_mlm()
    importance = measure_importance(teacher, batches())
    assert select(importance, TEACHER, Arch(2, 2, 16, 48)).head_rule == "exact"       # 8 = 8
    assert select(importance, TEACHER, Arch(2, 4, 16, 48)).head_rule == "trimmed"     # 4 < 8
    assert select(importance, TEACHER, Arch(1, 2, 24, 20)).head_rule == "regrouped and trimmed"  # 12 < 2 × 8
    split = select(importance, TEACHER, Arch(2, 3, 30, 12))  # 3 heads of 10 need 6 teacher heads of 8; there are 4
    assert split.head_rule == "split across heads" and all(len(set(d)) == 30 for d in split.attention_dims)
    assert select(importance, TEACHER, Arch(2, 4, 16, 48)).query_scale == pytest.approx(0.5 ** 0.5)
    regrouped = select(importance, TEACHER, Arch(2, 2, 32, 48))                       # 16 = 2 × 8
    assert regrouped.head_rule == "regrouped"
    assert all(len(group) == 2 for layer in regrouped.heads for group in layer)
    # each student head holds both of its teacher heads' dimensions, whole
    for groups, dims in zip(regrouped.heads, regrouped.attention_dims):
        for j, group in enumerate(groups):
            assert dims[16 * j:16 * (j + 1)] == [h * 8 + d for h in group for d in range(8)]


def planted_teacher():
    """A teacher with clear-cut importance: heads 2 of every layer and neurons 0–9 amplified, layer 1 a no-op."""
    teacher = teacher_mlm()
    for index, layer in enumerate(teacher.base_model.encoder.layer):
        layer.attention.output.dense.weight.data[:, 16:24] *= 20
        layer.output.dense.weight.data[:, :10] *= 20
        if index == 1:  # post-LN: LN(LN(x)) = LN(x), so this layer changes (almost) nothing
            layer.attention.output.dense.weight.data.zero_()
            layer.attention.output.dense.bias.data.zero_()
            layer.output.dense.weight.data.zero_()
            layer.output.dense.bias.data.zero_()
            for norm in (layer.attention.output.LayerNorm, layer.output.LayerNorm):
                norm.weight.data.fill_(1.0)
                norm.bias.data.zero_()
    return teacher


@pytest.mark.parametrize("method", ["activation", "taylor"])
def test_planted_important_units_are_kept_whatever_the_calibration_order(method):
    teacher = planted_teacher()
    data = batches(3)
    from bort.mlm.masking import mask_tokens

    generator = torch.Generator().manual_seed(0)
    masks = [mask_tokens(b["input_ids"], b["attention_mask"] == 0, 50264, 50265, generator, 0.3) for b in data]
    kept = []
    for order in ([0, 1, 2], [2, 0, 1]):
        importance = measure_importance(teacher, [data[k] for k in order], method,
                                        [masks[k] for k in order] if method == "taylor" else None)
        kept.append(select(importance, TEACHER, Arch(3, 1, 8, 10)))
    assert kept[0] == kept[1] or method == "taylor" and all(
        getattr(kept[0], name) == getattr(kept[1], name) for name in ("layers", "heads", "neurons"))
    selection = kept[0]
    if method == "activation":  # Taylor scores the no-op layer by removal too, but the gradients carry the rest
        assert 1 not in selection.layers
    assert all(groups == [[2]] for groups in selection.heads)
    assert all(neurons == list(range(10)) for neurons in selection.neurons)


def test_bort_extract_writes_a_directory_from_pretrained_loads(prepared_inputs, tmp_path):
    out = tmp_path / "student"
    status = main(["extract", "--teacher", prepared_inputs["mlm"], "--arch", "1,1,16,32", "--corpus",
                   prepared_inputs["text"], "--out", str(out), "--seq-len", "32", "--batch-size", "2",
                   "--calibration-batches", "2"])
    assert status == 0
    report = json.loads((out / "extraction.json").read_text())
    loaded = AutoModelForMaskedLM.from_pretrained(out, local_files_only=True, trust_remote_code=False)
    counts = count_params(Arch(1, 1, 16, 32), vocab_of(loaded.config))
    assert report["parameters"] == sum(p.numel() for p in loaded.parameters()) == counts.total + counts.mlm_head
    assert report["selection"]["head_rule"] == "exact"  # one head of 16, as the teacher's ⟨1,2,32,64⟩ has
    assert (out / "importance.png").is_file() and (out / "tokenizer.json").is_file()
    assert not (out / "token_cache").exists() and not (tmp_path / "student.partial").exists()
    # the student's weights are the teacher's: its word embeddings are columns of the teacher's
    teacher = AutoModel.from_pretrained(prepared_inputs["mlm"], local_files_only=True)
    channels = report["selection"]["channels"]
    assert torch.equal(loaded.base_model.embeddings.word_embeddings.weight,
                       teacher.embeddings.word_embeddings.weight[:, channels])


def test_bort_extract_rerun_keeps_refuses_a_change_and_restarts_on_request(prepared_inputs, tmp_path, capsys):
    out = tmp_path / "student"
    line = ["extract", "--teacher", prepared_inputs["mlm"], "--arch", "1,1,16,32", "--corpus", prepared_inputs["text"],
            "--out", str(out), "--seq-len", "32", "--batch-size", "2", "--calibration-batches", "2"]
    assert main(line) == 0
    written = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert main(line) == 0  # the same command: the extraction is kept, nothing rewritten
    assert "kept the extraction already in" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == written
    assert main(line + ["--seed", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "settings changed (seed " in err and "extract_config.json" in err \
        and "--restart" in err
    assert main(line + ["--seed", "1", "--restart"]) == 0  # extracted again, with the new settings
    assert json.loads((out / "extract_config.json").read_text())["seed"] == 1
    assert (out / "extraction.json").stat().st_mtime_ns != written["extraction.json"]
    assert not (tmp_path / "student.partial").exists()


def test_a_regrouped_student_is_built_from_whole_teacher_heads():
    """Bort's case in miniature: the teacher's hidden width kept, heads halved and doubled in size."""
    teacher = teacher_mlm()
    selection = select(measure_importance(teacher, batches()), TEACHER, Arch(2, 2, 32, 48))
    student = student_from_selection(teacher, selection, Arch(2, 2, 32, 48))
    layer, source = student.base_model.encoder.layer[0], teacher.base_model.encoder.layer[selection.layers[0]]
    dims = torch.tensor(selection.attention_dims[0])
    # the query rows scaled by √(16/8): each student logit is then the sum of its two teacher heads' logits
    assert torch.allclose(layer.attention.self.query.weight, 2 ** 0.5 * source.attention.self.query.weight[dims])
    assert torch.equal(layer.attention.self.key.weight, source.attention.self.key.weight[dims])
    assert torch.equal(layer.attention.output.dense.weight, source.attention.output.dense.weight[:, dims])
    hidden_states = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        q, k = layer.attention.self.query(hidden_states), layer.attention.self.key(hidden_states)
        tq, tk = source.attention.self.query(hidden_states), source.attention.self.key(hidden_states)
    group = selection.heads[0][0]  # student head 0 = these two teacher heads
    student_logits = q[0, :, :16] @ k[0, :, :16].T / 16 ** 0.5
    teacher_logits = sum(tq[0, :, h * 8:(h + 1) * 8] @ tk[0, :, h * 8:(h + 1) * 8].T / 8 ** 0.5 for h in group)
    assert torch.allclose(student_logits, teacher_logits, atol=1e-5)


def test_a_narrower_student_cuts_every_tensor_at_the_same_kept_channels():
    teacher = teacher_mlm()
    arch = Arch(2, 2, 16, 20)
    student, selection = extract_model(teacher, measure_importance(teacher, batches()), arch)
    c = torch.tensor(selection.channels)
    assert selection.channels != list(range(16))  # a real choice, not the first channels
    t_base, s_base = teacher.base_model, student.base_model
    pairs = [(s_base.embeddings.position_embeddings.weight, t_base.embeddings.position_embeddings.weight[:, c]),
             (s_base.embeddings.LayerNorm.bias, t_base.embeddings.LayerNorm.bias[c]),
             (student.lm_head.dense.weight, teacher.lm_head.dense.weight[c][:, c]),
             (student.lm_head.layer_norm.weight, teacher.lm_head.layer_norm.weight[c]),
             (student.lm_head.bias, teacher.lm_head.bias)]
    for j, t in enumerate(selection.layers):
        s_layer, t_layer = s_base.encoder.layer[j], t_base.encoder.layer[t]
        n, d = torch.tensor(selection.neurons[j]), torch.tensor(selection.attention_dims[j])
        pairs += [(s_layer.output.LayerNorm.weight, t_layer.output.LayerNorm.weight[c]),
                  (s_layer.attention.output.LayerNorm.bias, t_layer.attention.output.LayerNorm.bias[c]),
                  (s_layer.intermediate.dense.weight, t_layer.intermediate.dense.weight[n][:, c]),
                  (s_layer.output.dense.weight, t_layer.output.dense.weight[c][:, n]),
                  (s_layer.attention.self.key.weight, t_layer.attention.self.key.weight[d][:, c]),
                  (s_layer.attention.output.dense.bias, t_layer.attention.output.dense.bias[c])]
    assert all(torch.equal(a, b) for a, b in pairs)
