"""Plain fine-tuning: AdamW, linear warm-up and decay, clipping, early stopping on the dev metric."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from bort.checkpoint import check_model_dir, save_model_dir
from bort.errors import BortError
from bort.finetune.config import FinetuneConfig
from bort.finetune.encode import collate, encode, model_outputs
from bort.pretrain.optim import build_optimizer
from bort.tasks import get_task
from bort.tasks.example import Example
from bort.tasks.predict import majority_baseline, predictions, score
from bort.util.io import write_json_atomic, write_text_atomic


def load_for_task(model_dir: str, task, dropout: float):
    """An HF sequence classifier from any local encoder checkpoint, with the task's label count."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    path = check_model_dir(model_dir)
    config = AutoConfig.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    config.num_labels = task.num_labels
    config.problem_type = "regression" if task.kind == "regression" else "single_label_classification"
    if task.labels and task.kind == "classification":
        config.id2label = dict(enumerate(task.labels))
        config.label2id = {v: k for k, v in config.id2label.items()}
    config.hidden_dropout_prob = dropout
    config.classifier_dropout = dropout
    config.architectures = None
    try:
        return AutoModelForSequenceClassification.from_pretrained(str(path), config=config, local_files_only=True,
                                                                  use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise BortError(f"cannot load {path} for sequence classification: {str(exc).splitlines()[0]}")


def _head_modules(model) -> list[torch.nn.Module]:
    head = getattr(model, "classifier", None)
    return [m for m in head.modules() if isinstance(m, torch.nn.Linear)] if head is not None else []


def balance(examples: list[Example], seed: int) -> list[Example]:
    """Drop negatives at random until the two labels are equally frequent (binary-cast tasks)."""
    pos = [e for e in examples if e.label == 1]
    neg = [e for e in examples if e.label == 0]
    rng = random.Random(seed)
    keep = set(map(id, rng.sample(neg, min(len(neg), len(pos)))))
    return [e for e in examples if e.label == 1 or id(e) in keep]


def finetune(cfg: FinetuneConfig, show_progress: bool = True) -> dict:
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer

    task = get_task(cfg.task)
    if task.test_only:
        raise BortError(f"{task.name} is a diagnostic set without training data; fine-tune {task.scored_by} and "
                        f"evaluate {task.name} with that model")
    data_dir = Path(cfg.data)
    train = task.read(data_dir, "train")
    dev = task.read(data_dir, "dev")
    if cfg.balance and task.kind in ("choice", "multirc"):
        train = balance(train, cfg.seed)
    if cfg.max_train_examples and len(train) > cfg.max_train_examples:
        train = random.Random(cfg.seed).sample(train, cfg.max_train_examples)

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(check_model_dir(cfg.model)), local_files_only=True)
    model = load_for_task(cfg.model, task, cfg.dropout)
    if cfg.head_init is not None:
        for layer in _head_modules(model):
            torch.nn.init.uniform_(layer.weight, -cfg.head_init, cfg.head_init)
            torch.nn.init.zeros_(layer.bias)

    enc_train = encode(tokenizer, train, cfg.max_len)
    enc_dev = encode(tokenizer, dev, cfg.max_len)
    labels = torch.tensor([ex.label for ex in train], dtype=torch.float if task.kind == "regression" else torch.long)
    steps_per_epoch = -(-len(train) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    optimizer, scheduler = build_optimizer(model, cfg.lr, cfg.weight_decay, "linear",
                                           max(1, round(cfg.warmup * total)), total)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "finetune_config.json", cfg.to_dict())
    primary = task.metrics[0]
    best, best_epoch, history, stale = -float("inf"), 0, [], 0
    generator = torch.Generator().manual_seed(cfg.seed)
    started = time.perf_counter()
    bar = tqdm(total=total, desc=f"fine-tuning {task.name}", unit="step", disable=not show_progress, dynamic_ncols=True)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        for start in range(0, len(order), cfg.batch_size):
            rows = order[start:start + cfg.batch_size]
            batch = collate(enc_train, rows, tokenizer.pad_token_id)
            loss = model(**batch, labels=labels[rows]).loss
            if not torch.isfinite(loss):
                raise BortError(f"the loss became {float(loss)} in epoch {epoch}; lower --lr")
            loss.backward()
            if cfg.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}", **({f"dev_{primary}": f"{best:.3f}"} if history else {}))
        outputs = model_outputs(model, tokenizer, dev, cfg.max_len, encoded=enc_dev)
        metrics = score(task, dev, outputs)
        history.append({"epoch": epoch, **metrics, "seconds": time.perf_counter() - started})
        if metrics[primary] > best:
            best, best_epoch, stale = metrics[primary], epoch, 0
            _save(model, tokenizer, out, task, dev, outputs)
        else:
            stale += 1
        bar.set_postfix(**{f"dev_{primary}": f"{metrics[primary]:.3f}", "best": f"{best:.3f}"})
        if stale >= cfg.patience:
            break
    bar.close()
    result = {
        "task": task.name, "best_epoch": best_epoch, "dev": history[best_epoch - 1], "history": history,
        "majority_baseline": majority_baseline(task, train, dev), "train_examples": len(train),
        "dev_examples": len(dev), "seconds": time.perf_counter() - started,
    }
    write_json_atomic(out / "metrics.json", result)
    return result


def _save(model, tokenizer, out: Path, task, dev: list[Example], outputs: np.ndarray) -> None:
    """The best model so far as an HF directory and its dev predictions."""
    save_model_dir(model, tokenizer, out)
    pred = predictions(task, dev, outputs)
    lines = [json.dumps({"uid": ex.uid, "label": ex.label, "prediction": p, "output": o.tolist()})
             for ex, p, o in zip(dev, pred, outputs)]
    write_text_atomic(out / "dev_predictions.jsonl", "\n".join(lines) + "\n")
