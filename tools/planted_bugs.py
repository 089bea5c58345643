"""Plant known bugs one at a time and check that the test suite catches each of them.

Each entry is a small edit of the source that a real bug could make (a sign, an index, a forgotten
mask); the tests named beside it must fail while it is in place. The source is restored after
each run, whatever happens. Run from the repository root:

    .venv/bin/python tools/planted_bugs.py            # every bug
    .venv/bin/python tools/planted_bugs.py masking    # the bugs whose name contains "masking"
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "bort"


@dataclass(frozen=True)
class Bug:
    name: str
    file: str  # under src/bort
    old: str
    new: str
    tests: tuple[str, ...]  # pytest node ids or files that must fail


BUGS = (
    # The pipeline's task-aware extraction.
    Bug("pipeline task_extract: the student starts from the corpus student, not from the cut", "pipeline/stages.py",
        'model_dir = folder / "extract"', "pass",
        ("tests/test_pipeline.py::test_task_extract_cuts_each_students_shape_out_of_its_tasks_fine_tuned_teacher",)),
    Bug("pipeline task_extract: the cut scored on the pretrained teacher", "pipeline/stages.py",
        "teacher=tuned_teacher,\n                    task=", "teacher=str(cfg.teacher),\n                    task=",
        ("tests/test_pipeline.py::test_task_extract_cuts_each_students_shape_out_of_its_tasks_fine_tuned_teacher",)),
    # The search's budget and its task surrogate.
    Bug("search budget: candidates outside the budget trained", "search/runner.py",
        "if latency_phase.key(a) not in finished and fits(verdicts[latency_phase.key(a)][0])]",
        "if latency_phase.key(a) not in finished]",
        ("tests/test_search_budget.py::test_a_budget_trains_what_fits_ranks_it_by_error_and_a_new_budget_trains_only_"
         "newcomers",)),
    Bug("search budget: candidates within the budget ranked by W, not by ê", "search/report.py",
        "key=budget_sort_key)", "key=lambda r: (-r[\"W\"], r[\"p\"]))",
        ("tests/test_search_budget.py::test_a_budget_trains_what_fits_ranks_it_by_error_and_a_new_budget_trains_only_"
         "newcomers",)),
    Bug("search budget: a straddling latency counted out", "search/budget.py",
        "(STRADDLES, why + \" (its 95% interval holds the budget's edge)\") if some_of_it_fits",
        "(OUT, why) if some_of_it_fits",
        ("tests/test_search_budget.py::test_a_candidate_is_judged_on_its_interval",)),
    Bug("task surrogate: ê on the training batches, not the held-out ones", "search/task_surrogate.py",
        'zip(cache["val"], cache["val_logits"])', 'zip(cache["train"], cache["train_logits"])',
        ("tests/test_search_budget.py::test_the_task_surrogate_is_the_distillation_loss_after_s_steps_computed_by_hand",)),
    # Your own data all the way: readers, the pipeline's whole-file check, test files, exports, evaluate's outputs.
    Bug("readers: a GLUE file decoded without the shared UTF-8 check", "tasks/io.py",
        "    text = read_utf8(require_file(path))\n    reader = csv.reader",
        "    text = require_file(path).read_bytes().decode(\"utf-8\", errors=\"replace\")\n    reader = csv.reader",
        ("tests/test_tasks_readers.py::test_every_benchmark_reader_refuses_a_file_that_is_not_utf8",)),
    Bug("readers: a header naming a column twice accepted", "util/data_files.py",
        "        if name in seen:\n", "        if name in seen and False:\n",
        ("tests/test_tasks_readers.py::test_a_repeated_column_or_key_is_refused_naming_it",)),
    Bug("pipeline: the file not checked whole before its first folder", "pipeline/runner.py",
        "    preflight(stages, out, cfg.source)", "    pass",
        ("tests/test_pipeline.py::test_a_bad_pipeline_file_is_one_line_and_writes_nothing",)),
    Bug("export: a model directory without its tokenizer exported", "inference/auto_export.py",
        "    require_tokenizer(cfg.model_dir)  #", "    pass  #",
        ("tests/test_bad_input.py::test_bad_input_is_one_line_exit_2_and_leaves_nothing[export-auto-no-tokenizer]",)),
    Bug("evaluate: the metrics written into the model directory it reads", "finetune/evaluate.py",
        "    return Path(f\"eval-{model}-", "    return Path(cfg.model) / Path(f\"eval-{model}-",
        ("tests/test_custom_task.py::test_evaluate_writes_only_where_it_says_never_into_the_model",)),
    Bug("finetune: a labelled test file predicted but never scored", "finetune/test_split.py",
        "    if labelled:\n", "    if False:\n",
        ("tests/test_custom_task.py::test_a_labelled_test_file_is_predicted_and_scored_beside_dev",)),
    Bug("pipeline report: the teacher's test score taken from the student's run", "pipeline/report.py",
        '        scores["teacher"] = ((teacher or {})',
        '        scores["teacher"] = scores["student"] or ((teacher or {})',
        ("tests/test_pipeline.py::test_the_report_states_the_student_against_the_teacher",)),
    Bug("run directory: a run with changed settings continued", "util/run_dir.py",
        "        if not changed:\n            return Resume.CONTINUING",
        "        if True:\n            return Resume.CONTINUING",
        ("tests/test_run_dir.py",)),
    Bug("custom task: classes in the training file's order, not sorted", "tasks/custom.py",
        "labels = sorted({_label_text(v) for v in values}, key=_class_order)",
        "labels = list(dict.fromkeys(_label_text(v) for v in values))", ("tests/test_custom_task.py",)),
    Bug("custom task: the pair's second text dropped", "tasks/custom.py",
        "            pair = _text(record[opts.text_pair_column], path, row, opts.text_pair_column) \\\n",
        "            pair = None and _text(record[opts.text_pair_column], path, row, opts.text_pair_column) \\\n",
        ("tests/test_custom_task.py",)),
    Bug("config: nan accepted by an option without bounds", "config.py",
        "if isinstance(number, float) and not math.isfinite(number):",
        "if isinstance(number, float) and not math.isfinite(number) and (low is not None or above is not None):",
        ("tests/test_config.py",)),
    Bug("pipeline: a stage whose settings changed is reused", "pipeline/runner.py",
        "    if changed:\n        return \"run\"", "    if changed and False:\n        return \"run\"",
        ("tests/test_pipeline.py",)),
    Bug("pipeline: the stages after a restarted one are reused", "pipeline/runner.py",
        "restarted = restarted or action != \"reuse\"", "restarted = False",
        ("tests/test_pipeline.py",)),
    Bug("pipeline: an edited input file goes unnoticed", "pipeline/runner.py",
        "if record.get(\"inputs\") != input_marks(stage):", "if False:",
        ("tests/test_pipeline.py",)),
    Bug("metrics: MultiRC EM with question groups shifted by one", "tasks/metrics.py",
        "for g, y, p in zip(groups, gold, pred):",
        "for g, y, p in zip(list(groups[1:]) + list(groups[:1]), gold, pred):",
        ("tests/test_metrics.py", "tests/test_predict.py")),
    Bug("predict: MultiRC submission labels flipped", "tasks/predict.py",
        '"label": int(p)}', '"label": int(1 - p)}', ("tests/test_predict.py",)),
    Bug("predict: STS-B predictions not clipped to [0, 5]", "tasks/predict.py",
        'f"{min(5.0, max(0.0, p)):.3f}"', 'f"{p:.3f}"', ("tests/test_predict.py",)),
    Bug("race: answer letters shifted by one", "tasks/race.py",
        '"letter": LETTERS[k]}', '"letter": LETTERS[(k + 1) % 4]}', ("tests/test_predict.py",)),
    Bug("metrics: gender parity grouped by pair_id", "tasks/metrics.py",
        "return float(np.mean([pred[k] == pred[k + 1] for k in range(0, len(pred), 2)]))", "return 1.0",
        ("tests/test_metrics.py",)),
    Bug("masking: random replacements drawn from the special tokens only", "mlm/masking.py",
        "random_ids = torch.randint(0, vocab_size, shape, generator=generator)",
        "random_ids = torch.randint(0, 4, shape, generator=generator)", ("tests/test_masking.py",)),
    Bug("evaluation: validation accuracy with argmin", "mlm/evaluation.py",
        "correct += int((logits.argmax(-1) == targets).sum())", "correct += int((logits.argmin(-1) == targets).sum())",
        ("tests/test_evaluation.py",)),
    Bug("losses: KD over every position, padding included", "mlm/losses.py",
        "return masked, (attention_mask > 0) if (distilling and kd_all_positions) else masked",
        "return masked, torch.ones_like(masked) if (distilling and kd_all_positions) else masked",
        ("tests/test_losses.py",)),
    Bug("trainer: DDP gradient synchronisation off", "pretrain/trainer.py",
        "sync = accelerator.no_sync(self.model) if k < cfg.grad_accum - 1 else contextlib.nullcontext()",
        "sync = accelerator.no_sync(self.model)", ("tests/test_pretrain.py::test_two_processes_agree_with_one",)),
    Bug("agora: --soft-labels leaves Socrates' argmax on the new points", "agora/training.py",
        'label=None if soft_labels else r["label"])', 'label=r["label"])',
        ("tests/test_agora.py::test_soft_labels_distil_every_training_from_socrates_and_leave_the_new_points_unlabelled",)),
    Bug("task KD: the projection not restored when a run continues", "finetune/plain.py",
        "rank=self.processes.rank, extra=self.extra)", "rank=self.processes.rank)",
        ("tests/test_task_distil_intermediate.py::test_a_stopped_run_continues_to_the_weights_of_an_uninterrupted_one",)),
    Bug("task KD: the hidden-state term without its weight γ", "finetune/intermediate.py",
        "total = total + self.terms.hidden_weight * hidden_state_loss(", "total = total + hidden_state_loss(",
        ("tests/test_task_distil_intermediate.py::test_the_batch_loss_adds_the_hand_computed_hidden_and_relation_terms",)),
    Bug("candidate: soft cross-entropy's sign flipped", "distill/losses.py",
        "return -(target * F.log_softmax(", "return (target * F.log_softmax(",
        ("tests/test_search.py::test_soft_cross_entropy_against_numpy",
         "tests/test_search.py::test_candidate_training_moves_towards_the_teacher")),
    Bug("runner: p(T) taken as encoder-only parameters", "search/runner.py",
        "p_teacher = count_params(arch_of(teacher_config), vocab).total",
        "p_teacher = count_params(arch_of(teacher_config), vocab).effective",
        ("tests/test_search.py::test_search_writes_every_report_and_w_recomputes",)),
    Bug("latency phase: min recorded instead of median", "search/latency_phase.py",
        '"value": latency.median, "low"', '"value": latency.low, "low"',
        ("tests/test_search.py::test_search_writes_every_report_and_w_recomputes",)),
    Bug("report: Pareto flags inverted", "search/report.py",
        'rows = sorted(({**r, "pareto": f} for r, f in zip(scored, flags))',
        'rows = sorted(({**r, "pareto": not f} for r, f in zip(scored, flags))',
        ("tests/test_search.py::test_search_writes_every_report_and_w_recomputes",)),
    Bug("encode: outputs written in length-sorted order", "tasks/encode.py",
        "out[rows] = model(**batch)", "out[start:start + len(rows)] = model(**batch)",
        ("tests/test_finetune.py::test_model_outputs_follow_the_examples_order",)),
    Bug("onnx: the exported model ignores attention_mask", "inference/onnx_runtime.py",
        "return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)[0]",
        "return self.model(input_ids=input_ids, attention_mask=torch.ones_like(attention_mask), return_dict=True)[0]",
        ("tests/test_inference.py::test_onnx_honours_the_attention_mask",)),
    Bug("export: parity compares the reference with itself", "inference/export.py",
        "check = parity(reference, onnx_runtime.ort_run(session, inputs))", "check = parity(reference, reference)",
        ("tests/test_cli.py::test_export_int8_with_parity",)),
    Bug("latency: the model fed 4 tokens whatever the protocol says", "measure/latency.py",
        "inputs = fixed_input(config.vocab_size, protocol)",
        "inputs = fixed_input(config.vocab_size, LatencyProtocol(batch_size=protocol.batch_size, seq_len=4))",
        ("tests/test_latency.py::test_model_latency_feeds_the_protocols_shape",)),
    Bug("latency: min_seconds ignored", "measure/latency.py",
        "while len(samples) < protocol.repeats or (timed < protocol.min_seconds "
        "and len(samples) < protocol.max_repeats):",
        "while len(samples) < protocol.repeats:", ("tests/test_latency.py::test_min_seconds_extends_fast_runs",)),
    # Reliability: what a kill, a second run or a resume must not break.
    Bug("run directory: the lock not taken", "util/run_dir.py",
        "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "pass",
        ("tests/test_reliability.py::test_a_second_run_on_the_same_directory_is_refused_until_the_first_ends",)),
    Bug("logs: a torn last line not repaired", "util/io.py",
        "f.truncate(data.rfind(b\"\\n\") + 1)", "pass",
        ("tests/test_reliability.py::test_append_log_repairs_a_torn_last_line",)),
    Bug("fine-tuning: the RNG not restored on resume", "training/train_state.py",
        "        set_rng_state(torch.load(rng_file, weights_only=True))\n", "",
        ("tests/test_reliability.py::test_finetune_killed_and_resumed_ends_as_an_uninterrupted_run",)),
    Bug("run directory: a failed setup leaves its files", "util/run_dir.py",
        "            self.abandon()\n", "",
        ("tests/test_bad_input.py",
         "tests/test_reliability.py::test_a_search_that_failed_on_its_input_does_not_block_the_corrected_rerun")),
    Bug("search: latencies from another device mixed in", "search/latency_phase.py",
        "if differs and not cfg.latency_remeasure:", "if False:",
        ("tests/test_reliability.py::test_search_refuses_latencies_from_another_device_unless_told_to_remeasure",)),
    Bug("search: the ranking keeps the latencies saved before --latency-remeasure", "search/runner.py",
        '        record["latency"] = latencies[name]["value"]\n', "",
        ("tests/test_reliability.py::test_search_refuses_latencies_from_another_device_unless_told_to_remeasure",)),
    Bug("agora: pruning drops the last set instead of the run from the first", "agora/prune.py",
        "    return ranked[:best]", "    return ranked[-1:]", ("tests/test_agora.py",)),
    Bug("agora: the right answers taken for the mistakes", "agora/loop.py",
        "    return prediction != example.label", "    return prediction == example.label", ("tests/test_agora.py",)),
    Bug("agora: the held-out score computed on E", "agora/loop.py",
        "outputs = self.outputs_on_h(model_dir)\n        lines",
        "outputs = model_outputs(load_classifier(model_dir), self.tokenizer, self.e, self.max_len)\n        lines",
        ("tests/test_agora.py",)),
    Bug("agora: Socrates' columns taken by index, not by label name", "finetune/distil.py",
        "return out if self.order is None else out[:, self.order]", "return out", ("tests/test_agora.py",)),
    Bug("task KD: the teacher's term without τ²", "finetune/distil.py",
        "soft = temperature ** 2 * (log_p_teacher.exp()", "soft = (log_p_teacher.exp()",
        ("tests/test_task_distil.py",)),
    Bug("task KD: a copy without gold label weighed as if it had one (α instead of 1)", "finetune/distil.py",
        "torch.ones_like(\n        has_gold, dtype=torch.float)",
        "torch.full_like(\n        has_gold, alpha, dtype=torch.float)",
        ("tests/test_task_distil.py",)),
    Bug("task KD: the teacher's outputs computed again for inputs it already labelled", "finetune/distil.py",
        "todo = list({key: ex for key, ex in zip(keys, examples) if key not in self.known}.items())",
        "todo = list({key: ex for key, ex in zip(keys, examples)}.items())", ("tests/test_task_distil.py",)),
    Bug("task KD: teacher-labelled copies given the gold label 0", "finetune/plain.py",
        "self.has_gold = torch.tensor([ex.label is not None for ex in inputs])",
        "self.has_gold = torch.ones(len(inputs), dtype=torch.bool)", ("tests/test_task_distil.py",)),
    Bug("fine-tuning: a process's loss not weighed by its share of the global batch", "finetune/processes.py",
        "return mine, len(mine) / len(rows) * self.world", "return mine, 1.0",
        ("tests/test_finetune_distributed.py",)),
    Bug("fine-tuning: the size rule ignores depth", "finetune/defaults.py",
        "return (BASE_HIDDEN / hidden) * math.sqrt(BASE_DEPTH / depth)", "return BASE_HIDDEN / hidden",
        ("tests/test_finetune_defaults.py",)),
    Bug("task-aware extraction: Taylor scores from the activations alone", "extract/importance.py",
        "            return (tensor * tensor.grad).detach()", "            return tensor.detach()",
        ("tests/test_extract_task.py",)),
    Bug("agora: a resumed iteration retrains what it had finished", "agora/loop.py",
        'done = {r["theta"]: r for r in read_log(out / TRAININGS_LOG) if r["iteration"] == k}', "done = {}",
        ("tests/test_agora.py",)),
    Bug("agora: the E/H split leaks a question across both sets", "finetune/holdout.py",
        'units[ex.group if task.kind in ("choice", "multirc") else index].append(index)',
        "units[index].append(index)", ("tests/test_agora.py",)),
    Bug("paired: A and B scored on different resamples (the pairing lost)", "tasks/paired.py",
        "- score_rows(metric, gold[rows], b[rows])",
        "- score_rows(metric, gold[rows[::-1]], b[rows[::-1]])", ("tests/test_agora_diagnose.py",)),
    Bug("agora: --min-confidence ignored", "agora/loop.py",
        'r["confidence"] >= cfg.min_confidence]', 'r["confidence"] >= 0]', ("tests/test_agora_diagnose.py",)),
    Bug("agora: label proportions from the new points instead of the training set", "agora/loop.py",
        "share = {i: sum(ex.label == i for ex in self.train) / len(self.train) for i in range(task.num_labels)}",
        "share = {i: sum(r['label'] == i for r in records) / len(records) for i in range(task.num_labels)}",
        ("tests/test_agora_diagnose.py",)),
    Bug("finetune: --head linear leaves the dense layer trainable", "checkpoint.py",
        "    dense.requires_grad_(False)\n", "", ("tests/test_finetune.py",)),
    Bug("ratio: the ratio of the medians instead of the median of per-round ratios", "measure/ratio.py",
        "return median_interval([a / b for a, b in zip(numerator, denominator)], **kwargs)",
        "return median_interval([statistics.median(numerator) / statistics.median(denominator)], **kwargs)",
        ("tests/test_interleaved.py",)),
    Bug("interleaved: every round in the same order", "measure/interleaved.py",
        "shift = r % len(names)", "shift = 0", ("tests/test_interleaved.py",)),
    Bug("interleaved: a block timed by its first run only", "measure/interleaved.py",
        "result.rounds_ms[name].append(_time_block(forwards[name], runs[name], sync))",
        "result.rounds_ms[name].append(_time_block(forwards[name], 1, sync))", ("tests/test_interleaved.py",)),
    Bug("load: our own CPU time counted as another process's", "measure/load.py",
        "others = max(0.0, (jiffies[0] - busy0) - (_own_cpu_seconds() - own0)) / wall",
        "others = max(0.0, jiffies[0] - busy0) / wall", ("tests/test_interleaved.py",)),
    Bug("search latency: a candidate's î its own median, not its ratio to T times î(T)", "search/latency_phase.py",
        "latency = ratio.scaled(teacher_record[\"value\"])", "latency = rounds.latency(key(arch))",
        ("tests/test_search.py::test_search_writes_every_report_and_w_recomputes",)),
    Bug("search report: latency intervals never tie", "search/report.py",
        "return x is not None and y is not None and x[0] <= y[1] and y[0] <= x[1]",
        "return x is not None and y is not None and x[0] <= y[1] and y[0] >= x[1]",
        ("tests/test_search_scoring.py",)),
    Bug("bench: throughput ignores the batch size", "inference/bench.py",
        '"sequences_per_second": {"median": 1e3 * batch / latency.median',
        '"sequences_per_second": {"median": 1e3 / latency.median',
        ("tests/test_cli.py::test_bench_small_run_writes_json_table_and_chart",)),
    Bug("extract: W_O's input columns in another order than Q/K/V's rows (regrouped heads mismatched)",
        "extract/slicing.py",
        "return _take(tensor, channels, dims) if rest.endswith(\"weight\") else _take(tensor, channels)",
        "return _take(tensor, channels, sorted(dims)) if rest.endswith(\"weight\") else _take(tensor, channels)",
        ("tests/test_extract.py",)),
    Bug("extract: the layers' LayerNorms keep the teacher's first channels, not the kept ones", "extract/slicing.py",
        "        return _take(tensor, channels)\n    return None",
        "        return _take(tensor, list(range(len(channels))))\n    return None", ("tests/test_extract.py",)),
    Bug("extract: the least important heads kept", "extract/selection.py",
        "order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))",
        "order = sorted(range(len(scores)), key=lambda i: (float(scores[i]), i))", ("tests/test_extract.py",)),
    Bug("extract: layer scores with the layer kept, not skipped", "extract/importance.py",
        "base_model.encoder.layer = torch.nn.ModuleList(m for i, m in enumerate(layers) if i != skipped)",
        "base_model.encoder.layer = torch.nn.ModuleList(m for i, m in enumerate(layers))", ("tests/test_extract.py",)),
    Bug("intermediate: hidden MSE against the teacher layer before the mapped one", "distill/intermediate.py",
        "teacher_states[t + 1][real].float()", "teacher_states[t][real].float()", ("tests/test_intermediate.py",)),
    Bug("intermediate: relations without the key padding mask", "distill/intermediate.py",
        "scores = scores.masked_fill(~key_mask[:, None, None, :], torch.finfo(scores.dtype).min)", "",
        ("tests/test_intermediate.py",)),
    Bug("search: --init extract ignored (candidates start from random weights)", "search/candidate.py",
        "        lm.load_state_dict(initial_state, strict=True)", "        pass", ("tests/test_search.py",)),
    Bug("choice: parity ignored when choosing a path", "inference/choice.py",
        "eligible = [c for c in candidates if c.refusal(min_cosine, max_points_lost) is None]",
        "eligible = [c for c in candidates if not c.skipped]", ("tests/test_cpu_paths.py",)),
    Bug("choice: ties go to the faster path", "inference/choice.py",
        "        if ratio.contains(1.0):", "        if False:", ("tests/test_cpu_paths.py",)),
    Bug("smooth: the weight columns not multiplied by the scale", "inference/smooth.py",
        "            linear.weight.mul_(scale)  # column j of (out, in) times s_j", "            pass",
        ("tests/test_cpu_paths.py",)),
    Bug("bench: achieved GOP/s from the subject's FLOPs for every row", "inference/bench.py",
        'arch = Arch(*(row.get("arch") or rows[subject]["arch"]))', 'arch = Arch(*rows[subject]["arch"])',
        ("tests/test_cli.py::test_bench_small_run_writes_json_table_and_chart",)),
)


def run(bug: Bug) -> tuple[bool, float]:
    """Plant ``bug``, run its tests, restore the file; True when the tests failed (the bug was caught)."""
    path = SRC / bug.file
    original = path.read_text(encoding="utf-8")
    if original.count(bug.old) != 1:
        raise SystemExit(f"{bug.name}: expected the text to plant over exactly once in {path}, "
                         f"found it {original.count(bug.old)} times: {bug.old!r}")
    started = time.perf_counter()
    try:
        path.write_text(original.replace(bug.old, bug.new), encoding="utf-8")
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *bug.tests],
                                cwd=REPO, capture_output=True, text=True)
    finally:
        path.write_text(original, encoding="utf-8")
    if result.returncode not in (0, 1):  # 1: tests failed; anything else (a missing file, no tests) proves nothing
        raise SystemExit(f"{bug.name}: pytest exited {result.returncode}, not a test failure:\n{result.stdout[-2000:]}")
    return result.returncode == 1, time.perf_counter() - started


def main() -> int:
    wanted = [b for b in BUGS if not sys.argv[1:] or any(w in b.name for w in sys.argv[1:])]
    caught = 0
    for bug in wanted:
        ok, seconds = run(bug)
        caught += ok
        print(f"{'caught  ' if ok else 'SURVIVED'} {seconds:5.1f} s  {bug.name}", flush=True)
    print(f"\n{caught} of {len(wanted)} planted bugs caught")
    return 0 if caught == len(wanted) else 1


if __name__ == "__main__":
    sys.exit(main())
