import math

import pytest

from bort.architecture import Arch, Vocab
from bort.architecture.build import build_roberta
from bort.training.optim import build_optimizer, lr_factor, param_groups


def test_no_decay_on_biases_and_layernorm():
    model = build_roberta(Arch(1, 2, 8, 12), Vocab(30, 20, 1), head="mlm")
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n.lower().replace("_", "") for n, p in model.named_parameters()}
    assert all(names[id(p)].endswith("bias") or "layernorm" in names[id(p)] for p in no_decay["params"])
    assert all(names[id(p)].endswith("weight") and "layernorm" not in names[id(p)] for p in decay["params"])
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.01, 0.0)
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_schedules():
    assert lr_factor(5, "noam", 10, 100) == pytest.approx(0.5)
    assert lr_factor(10, "noam", 10, 100) == pytest.approx(1.0)
    assert lr_factor(40, "noam", 10, 100) == pytest.approx(math.sqrt(10 / 40))
    assert lr_factor(55, "linear", 10, 100) == pytest.approx(0.5)
    assert lr_factor(100, "linear", 10, 100) == 0.0
    assert lr_factor(70, "constant", 10, 100) == 1.0


def test_scheduler_follows_the_factor():
    model = build_roberta(Arch(1, 2, 8, 12), Vocab(30, 20, 1), head="mlm")
    optimizer, scheduler = build_optimizer(model, 1e-3, 0.01, "noam", 4, 20)
    seen = []
    for _ in range(8):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([1e-3 * lr_factor(s, "noam", 4, 20) for s in range(1, 9)])
