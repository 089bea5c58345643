"""Agora's loop (the paper's Algorithm, de Wynter 2020), read top to bottom: :meth:`Agora.setup`, :meth:`Agora.iterate`,
:meth:`Agora.finish`.

    while Θt is not empty (and the budget lasts):
        train Timaeus with every θ in Θt on D, each early-stopped on E; score each on E
        M ← the mistakes on E of the iteration's best model
        X' ← φ(M);  D ← D ∪ {(x', Socrates(x')) : x' ∈ X'}
        sort Θt by score; prune it (or replay the iteration when it did not improve, up to --replay)
    return the best model seen (its θ is the convergent hyperparameter set, CHS)

Everything finished is on disk before the next thing starts: each training's E score and outputs
(``agora_log.jsonl``), Socrates' labels (``socrates_labels.jsonl``), each iteration's new points
(``augmented/iteration-K.jsonl``) and its outcome (``iterations.jsonl``). Re-running the command
after a kill continues where it stopped and ends as an uninterrupted run would; ``--restart`` starts over.

Under ``torchrun`` / ``accelerate launch`` every process runs the loop in step and each training is spread over
all of them (:mod:`bort.finetune.processes`); the main process alone writes the logs, the new points, Socrates'
labels and the kept models, and the others read what it wrote, so that every process holds the same D and Θt.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from bort.agora import diagnose
from bort.tasks import augment as phis
from bort.agora.config import AgoraConfig
from bort.agora.points import new_points
from bort.agora.prune import prune_or_replay
from bort.agora.socrates import Socrates
from bort.agora.theta import load_theta, name
from bort.agora.training import as_records, read_augmented, train_theta
from bort.checkpoint import check_fits, has_masked_lm_head, load_classifier, load_config
from bort.errors import BortError
from bort.finetune.distil import check_same_vocabulary
from bort.finetune.processes import Processes, launched_processes
from bort.tasks.encode import model_outputs
from bort.finetune.holdout import describe, select_and_hold_out
from bort.finetune.plain import training_set
from bort.agora.card import agora_card
from bort.tasks.custom import resolve_task
from bort.tasks.example import Example
from bort.tasks.predict import majority_baseline, predictions, score
from bort.tokenizer import load_tokenizer
from bort.util.executors import run_jobs
from bort.util.io import append_log, read_log, write_json_atomic, write_text_atomic
from bort.util.run_dir import Resume, RunDirectory

CONFIG_FILE = "agora_config.json"
TRAININGS_LOG = "agora_log.jsonl"
ITERATIONS_LOG = "iterations.jsonl"
LABELS = "socrates_labels.jsonl"
PHI_CHECK = "phi_check.json"
DIAGNOSTICS = "diagnostics"  # per iteration: the winner's H score, read by the report alone
PLAIN_BEST = "plain_best"  # iteration 1's winner: the same grid, fine-tuned plainly, selected on E


def agora(cfg: AgoraConfig, show_progress: bool = True) -> dict:
    """Run (or continue) Agora in ``cfg.out``; returns metrics.json's content."""
    run = Agora(cfg, show_progress)
    try:
        run.setup()
        run.iterate()
        return run.finish()
    finally:
        run.run_dir.release()


class Agora:
    def __init__(self, cfg: AgoraConfig, show_progress: bool = True):
        self.cfg, self.out, self.show_progress = cfg, Path(cfg.out), show_progress
        self.run_dir = RunDirectory(self.out, config_file=CONFIG_FILE)

    def say(self, message: str) -> None:
        if self.show_progress and self.processes.main:
            print(f"[agora] {message}", flush=True)

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        cfg, out = self.cfg, self.out
        if launched_processes() > 1 and (cfg.workers > 1 or cfg.ray):
            raise BortError("under torchrun / accelerate launch each of Agora's trainings is spread over the "
                            "processes; --workers and --ray run trainings side by side in one: give one or the other")
        self.processes = Processes(cfg.batch_size)  # one, or several under torchrun / accelerate launch
        # Inputs first, before anything is written.
        self.run_dir.check({"--model": cfg.model, "--socrates": cfg.socrates, "--phi-model": cfg.phi_model,
                            "--teacher": cfg.teacher})
        self.task = task = resolve_task(cfg)
        if task.test_only:
            raise BortError(f"{task.name} is a diagnostic set without training data")
        self.thetas = load_theta(cfg.theta)
        self.by_name = {name(t): t for t in self.thetas}
        train = training_set(task, task.read(Path(cfg.data or ""), "train"), cfg)
        self.e, self.h = select_and_hold_out(task, task.read(Path(cfg.data or ""), "dev"), cfg.holdout_share,
                                             cfg.holdout, cfg.seed)
        if not self.h:
            raise BortError("Agora reads E, so it needs a held-out H to report: --holdout-fraction above 0 (default "
                            "0.5) or --holdout FILE")
        if task.kind == "classification":
            counts = {label: sum(ex.label == i for ex in self.e) for i, label in enumerate(task.labels)}
            thin = {label: n for label, n in counts.items() if n < 2}
            if thin:
                raise BortError(f"E (the dev examples Agora selects on) has fewer than 2 examples of {thin}; Agora "
                                "needs mistakes of every label to learn from: give a larger dev set or a smaller "
                                "--holdout-fraction")
        self.max_len = cfg.max_len or task.max_len
        self.tokenizer = load_tokenizer(cfg.model)
        student_config = load_config(cfg.model)
        check_fits(Path(cfg.model), student_config, self.tokenizer, self.max_len)
        mlm_dir = cfg.phi_model or (cfg.model if has_masked_lm_head(student_config) else None)
        if cfg.phi == "mlm-replace" and mlm_dir is None:
            raise BortError(f"--phi mlm-replace: --model {cfg.model} has no masked-LM head to sample from; give "
                            "--phi-model MLM_DIR, or another --phi (word-dropout, word-swap)")
        self.socrates = Socrates(cfg.socrates, task, self.max_len, out / LABELS)  # labels checked here, by name
        if cfg.soft_labels:  # every training distils from Socrates, token for token
            check_same_vocabulary(self.tokenizer, student_config, cfg.model, cfg.socrates, flag="--socrates")

        # Socrates must know the task: its agreement with E's labels, measured before any training.
        self.say(f"Socrates {cfg.socrates} on E ({len(self.e)} examples) ...")
        self.socrates_e = self.socrates.score(self.e)
        if self.socrates_e < cfg.min_socrates and not cfg.force:
            raise BortError(f"--socrates {cfg.socrates} agrees with only {self.socrates_e:.3f} of E's labels, below "
                            f"--min-socrates {cfg.min_socrates:.3f}: its labels would teach mistakes (--force to run "
                            "anyway)")
        self.phi = phis.make_phi(cfg.phi, cfg.phi_fraction, mlm_dir)
        self.train = train

        # The run directory (--restart deletes the earlier run, now that the inputs are valid): a new run, or the
        # continuation of one with the same configuration.
        main = self.processes.main
        with self.run_dir.open(cfg, restart=cfg.restart, main=main, barrier=self.processes.wait) as state:
            if cfg.restart:
                self.socrates.labels.clear()  # what Socrates read from its label cache, deleted with the run
            if state is Resume.CONTINUING:
                self.say(f"continuing the run in {out}")
            if main:
                self.socrates.cache.touch()
        if main:  # read back by the main process alone, in the report
            self.check_phi()
        self.started = time.perf_counter()

    def check_phi(self) -> None:
        """φ on training examples whose labels are known, labelled by Socrates: the label noise of the new points
        before any is made (phi_check.json; once per run)."""
        path = self.out / PHI_CHECK
        if self.cfg.phi_check and not path.is_file():
            self.say(f"φ check: {self.cfg.phi_check} training examples perturbed and labelled by Socrates ...")
            write_json_atomic(path, diagnose.phi_check(self.task, self.phi, self.socrates, self.train,
                                                       self.cfg.phi_check, self.cfg.seed))

    # ------------------------------------------------------------------ the loop
    def state(self) -> dict:
        """Where the run stands, rebuilt from its logs: D, Θt, the best so far, the replays in a row."""
        d = list(self.train)
        remaining = [name(t) for t in self.thetas]
        best = {"score": -float("inf"), "theta": None, "iteration": 0}
        replays, iterations = 0, read_log(self.out / ITERATIONS_LOG)
        for record in iterations:
            d += read_augmented(self.out / "augmented" / f"iteration-{record['iteration']}.jsonl",
                                self.cfg.soft_labels)
            remaining, best, replays = record["remaining"], record["best"], record["replays_in_a_row"]
        return {"d": d, "remaining": remaining, "best": best, "replays": replays, "iteration": len(iterations)}

    def budget_left(self, iteration: int) -> bool:
        cfg = self.cfg
        if cfg.max_iterations is not None and iteration >= cfg.max_iterations:
            return False
        spent = sum(r["seconds"] for r in read_log(self.out / ITERATIONS_LOG))
        return cfg.max_minutes is None or spent < 60 * cfg.max_minutes

    def iterate(self) -> None:
        state = self.state()
        while state["remaining"] and self.budget_left(state["iteration"]):
            self.one_iteration(state["iteration"] + 1, state)
            state = self.state()

    def one_iteration(self, k: int, state: dict) -> None:
        import numpy as np

        cfg, task, out = self.cfg, self.task, self.out
        t0, cpu0 = time.perf_counter(), time.process_time()
        remaining, d = state["remaining"], state["d"]
        self.say(f"iteration {k}: {len(remaining)} hyperparameter sets on |D| = {len(d)}")

        # 1. Train every θ in Θt on D, each early-stopped on E (finished ones come from the log).
        done = {r["theta"]: r for r in read_log(out / TRAININGS_LOG) if r["iteration"] == k}
        todo = [n for n in remaining if n not in done]
        folder = out / "trainings" / f"iteration-{k}"
        jobs = [(self.job_config(self.by_name[n], folder), as_records(d), as_records(self.e),
                 1 if cfg.workers > 1 or cfg.ray else None) for n in todo]
        if self.processes.world > 1:  # what a killed attempt left, removed before any process enters the trainings
            if self.processes.main:
                for n in todo:
                    shutil.rmtree(folder / self.run_name(n), ignore_errors=True)
            self.processes.wait()
        from tqdm.auto import tqdm

        with tqdm(total=len(remaining), initial=len(done), desc=f"iteration {k}", unit="θ",
                  disable=not (self.show_progress and self.processes.main), dynamic_ncols=True) as bar:
            for index, result in run_jobs(train_theta, jobs, cfg.workers, cfg.ray):
                theta = todo[index]
                shares = diagnose.prediction_shares(task, self.e, np.asarray(result["outputs"]))
                record = {"iteration": k, "theta": theta, **self.by_name[theta],
                          "score": result["metrics"][task.metrics[0]], "metrics": result["metrics"],
                          "best_epoch": result["best_epoch"], "seconds": result["seconds"],
                          "cpu_seconds": result["cpu_seconds"],
                          "train_examples": len(d), "e_prediction_shares": shares,
                          "collapsed": diagnose.collapsed(shares), "outputs": result["outputs"]}
                if self.processes.main:
                    append_log(out / TRAININGS_LOG, record)
                done[theta] = record
                bar.update(1)
                bar.set_postfix(E=f"{record['score']:.3f}")

        # 2. Rank Θt by E score (ties: Θ's own order); keep the best model seen.
        order = {n: i for i, n in enumerate(self.by_name)}
        ranked = sorted(remaining, key=lambda n: (-done[n]["score"], order[n]))
        winner = done[ranked[0]]
        best = state["best"]
        improved = winner["score"] > best["score"]
        if improved:
            best = {"score": winner["score"], "theta": ranked[0], "iteration": k}
        if self.processes.main:
            if improved:
                self.keep(folder / self.run_name(ranked[0]), "best", best)
            if k == 1:  # the first iteration is plain fine-tuning's grid search: its winner is the baseline
                self.keep(folder / self.run_name(ranked[0]), PLAIN_BEST,
                          {"score": winner["score"], "theta": ranked[0], "iteration": 1})
        report_cpu = time.process_time()  # the report's H scoring is not a cost of Agora: left out of cpu_seconds
        with self.processes.main_first():  # every process is past its trainings before the main one deletes them
            winner_h = self.held_out_of_winner(k, folder / self.run_name(ranked[0]))
        report_cpu = time.process_time() - report_cpu
        if self.processes.main:
            shutil.rmtree(folder, ignore_errors=True)

        # 3. The winner's mistakes on E; φ makes new points from them; Socrates labels them; D grows.
        with self.processes.main_first():  # the main process makes and saves them; the others read them
            added = self.augment(k, winner, d)

        # 4. Prune Θt, or replay the iteration when it did not improve (at most --replay times in a row).
        dropped_sets, replays = prune_or_replay([self.by_name[n] for n in ranked], improved, state["replays"],
                                                cfg.prune, cfg.replay)
        dropped = [name(t) for t in dropped_sets]
        kept = [n for n in ranked if n not in dropped]
        outcome = {
            "iteration": k, "ranked": [[n, done[n]["score"]] for n in ranked], "winner": ranked[0],
            "winner_score": winner["score"], "improved": improved, "dropped": dropped, "remaining": kept,
            "best": best, "replays_in_a_row": replays, "mistakes": added["mistakes"], "added": added["added"],
            "d_size": len(d) + added["added"], "seconds": time.perf_counter() - t0,
            # CPU time: every training of the iteration (from the log, wherever and whenever it ran), plus this
            # process's own work (φ, Socrates), without the report's H scoring
            "cpu_seconds": sum(done[n].get("cpu_seconds", 0.0) for n in ranked) + time.process_time() - cpu0
            - (sum(done[n].get("cpu_seconds", 0.0) for n in todo) if cfg.workers == 1 and not cfg.ray else 0.0)
            - report_cpu,
            "diagnostics": {"winner_held_out": winner_h, "winner_prediction_shares": winner.get("e_prediction_shares"),
                            "collapsed": [n for n in ranked if done[n].get("collapsed")],
                            "d_labels": diagnose.label_balance(task, [ex.label for ex in d] + added["kept_labels"])
                            if task.kind == "classification" else None, **added["diagnostics"]}}
        if self.processes.main:
            append_log(out / ITERATIONS_LOG, outcome)
        self.processes.wait()  # the next iteration's state, read from the logs, is the same in every process
        self.say(f"iteration {k}: best E {winner['score']:.4f} ({ranked[0]}){' — new best' if improved else ''}; "
                 f"{added['mistakes']} mistakes → {added['added']} new points; "
                 + (f"replay {replays}" if not dropped else f"dropped {len(dropped)}, {len(kept)} left"))

    def held_out_of_winner(self, k: int, model_dir: Path) -> dict:
        """The iteration winner's H metrics, for the report only (nothing selects on them); saved before its model
        is deleted, so that a rerun after a kill finds them."""
        path = self.out / DIAGNOSTICS / f"iteration-{k}.json"
        if not path.is_file():
            self.require_main(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, score(self.task, self.h, self.outputs_on_h(model_dir)))
        return json.loads(path.read_text())

    def run_name(self, theta: str) -> str:
        return f"theta-{list(self.by_name).index(theta):03d}"

    def job_config(self, theta: dict, folder: Path) -> dict:
        """The plain fine-tuning config of one θ: the plain flags, θ's four values, D and E passed in."""
        plain = self.cfg.plain()
        plain.method, plain.out = "plain", str(folder / self.run_name(name(theta)))
        plain.lr, plain.weight_decay, plain.warmup_ratio, plain.seed = (theta["lr"], theta["weight_decay"],
                                                                        theta["warmup_ratio"], theta["seed"])
        plain.holdout_fraction, plain.holdout, plain.max_train_examples, plain.balance = 0.0, None, None, False
        return plain.to_dict()

    def keep(self, source: Path, name_: str, info: dict) -> None:
        """Move a training's model to ``name_``/ (best/, plain_best/) in one rename, with what it is
        (agora_best.json)."""
        target, staging = self.out / name_, self.out / f"{name_}.partial"
        marker = target / "agora_best.json"
        if marker.is_file():
            placed = json.loads(marker.read_text())
            if (placed["theta"], placed["iteration"]) == (info["theta"], info["iteration"]):
                return  # a rerun after a kill that came once the model was in place (its source may be half deleted)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("checkpoints", ".lock"))
        write_json_atomic(staging / "agora_best.json", {**info, "hyperparameters": self.by_name[info["theta"]]})
        old = self.out / f"{name_}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    def augment(self, k: int, winner: dict, d: list[Example]) -> dict:
        """New points from the winner's mistakes on E, labelled by Socrates, saved to augmented/iteration-K.jsonl
        (made once: a rerun after a kill reads them)."""
        import numpy as np

        path = self.out / "augmented" / f"iteration-{k}.jsonl"
        if not path.is_file():
            self.require_main(path)
        return new_points(path, self.cfg, self.task, self.phi, self.socrates, self.train, self.e,
                          np.asarray(winner["outputs"]), d, k)

    def require_main(self, path: Path) -> None:
        """Only the main process makes what every process reads; another that does not find it after the barrier
        is on a file system the main process does not write to."""
        if not self.processes.main:
            raise BortError(f"{path}, written by the main process, is not visible to process {self.processes.rank}: "
                            "under torchrun / accelerate launch the run directory must be on a file system every "
                            "process shares")

    # ------------------------------------------------------------------ finish
    def outputs_on_h(self, model_dir: Path):
        return model_outputs(load_classifier(model_dir), self.tokenizer, self.h, self.max_len)

    def score_on_h(self, model_dir: Path, predictions_file: Path) -> dict:
        """A model's H metrics; its prediction for each H example written to ``predictions_file``."""
        outputs = self.outputs_on_h(model_dir)
        lines = [json.dumps({"uid": ex.uid, "label": ex.label, "prediction": p, "output": o.tolist()})
                 for ex, p, o in zip(self.h, predictions(self.task, self.h, outputs), outputs)]
        write_text_atomic(predictions_file, "".join(line + "\n" for line in lines))
        return score(self.task, self.h, outputs)

    def finish(self) -> dict:
        from bort.agora.report import write_outputs

        cfg, task, out = self.cfg, self.task, self.out
        iterations = read_log(out / ITERATIONS_LOG)
        trainings = read_log(out / TRAININGS_LOG)
        if not iterations:
            raise BortError(f"Agora finished no iteration in {out} (--max-minutes too small?)")
        if not self.processes.main:  # the main process scores H and writes the outputs; the others read them
            self.processes.wait()
            return json.loads((out / "metrics.json").read_text())
        best = iterations[-1]["best"]
        held = self.score_on_h(out / "best", out / "held_out_predictions.jsonl")
        socrates_h = score(task, self.h, self.socrates.outputs(self.h))
        plain = json.loads((out / PLAIN_BEST / "agora_best.json").read_text())
        plain_h = self.score_on_h(out / PLAIN_BEST, out / "plain_held_out_predictions.jsonl")
        result = {
            "task": task.name, "method": "agora", "chs": {"name": best["theta"], **self.by_name[best["theta"]]},
            "best_iteration": best["iteration"], "e_score": best["score"], "e_metric": task.metrics[0],
            **describe(cfg.holdout_share, cfg.holdout, self.e, self.h),
            "held_out_examples": len(self.h), "held_out_metrics": held,
            "held_out_majority_baseline": majority_baseline(task, self.train, self.h),
            "plain_grid": {"theta": plain["theta"], "e_score": plain["score"], "held_out_metrics": plain_h,
                           "trainings": len(iterations[0]["ranked"]),
                           "training_seconds": sum(r["seconds"] for r in trainings if r["iteration"] == 1),
                           "training_cpu_seconds": sum(r.get("cpu_seconds", 0.0) for r in trainings
                                                       if r["iteration"] == 1)},
            "socrates": {"model": cfg.socrates, "e_agreement": self.socrates_e, "held_out_metrics": socrates_h},
            "iterations": len(iterations), "trainings": len(trainings),
            "theta_left": len(iterations[-1]["remaining"]), "train_examples": len(self.train),
            "augmented_examples": iterations[-1]["d_size"] - len(self.train),
            "training_seconds": sum(r["seconds"] for r in trainings),
            "training_cpu_seconds": sum(r.get("cpu_seconds", 0.0) for r in trainings),
            "phi_check": json.loads((out / PHI_CHECK).read_text()) if (out / PHI_CHECK).is_file() else None,
            "seconds": sum(r["seconds"] for r in iterations),
            "cpu_seconds": sum(r.get("cpu_seconds", 0.0) for r in iterations),
        }
        write_outputs(out, result, iterations, self.by_name)
        if (out / "trainings").is_dir() and not any((out / "trainings").iterdir()):
            (out / "trainings").rmdir()
        write_json_atomic(out / "metrics.json", result)
        for folder, which in (("best", "agora"), (PLAIN_BEST, "plain")):  # each kept model's README.md
            agora_card(out / folder, cfg, task, result, which,
                       json.loads((out / folder / "agora_best.json").read_text()))
        self.processes.wait()
        return result
