"""Every bad input gets one line on stderr naming what is wrong, exit status 2, and leaves nothing behind.

One row per case: the command line (``{name}`` stands for a prepared input below), a fragment the
single stderr line must contain. Each case runs in-process through ``bort``'s own ``main`` and is
checked for three things: the exit status is 2, stderr is exactly one line containing the fragment,
and no file or folder was created or changed anywhere under the prepared inputs or the output path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bort.cli.main import main

PT = ["--seq-len", "32", "--max-steps", "5", "--batch-size", "4"]  # pretraining small enough to reach its checks
SEARCH = ["--space", "{space}", "--seq-len", "32", "--latency", "flops", "--steps", "2", "--batch-size", "4"]
FT = ["--task", "glue/RTE", "--data", "{rte}", "--epochs", "1", "--max-train-examples", "8", "--max-len", "32"]
EX = ["--seq-len", "32", "--batch-size", "2", "--calibration-batches", "2"]
BENCH = ["--lengths", "16", "--rounds", "1", "--max-rounds", "1", "--warmup-runs", "0", "--block-ms", "1",
         "--fast-paths", "none"]

CASES = [
    # ---------------------------------------------------------------- arch
    ("arch-three-numbers", ["arch", "4,8,1024"], "expected four positive integers"),
    ("arch-not-numbers", ["arch", "x,8,1024,768"], "expected four positive integers"),
    ("arch-heads-divide-hidden", ["arch", "4,7,1024,768"], "divisible"),
    ("arch-zero-depth", ["arch", "0,8,1024,768"], "depth must be a positive integer"),
    ("arch-negative-vocab", ["arch", "4,8,1024,768", "--vocab", "-5"], "--vocab must be at least 1"),
    ("arch-like-missing", ["arch", "4,8,1024,768", "--like", "{missing}"], "does not exist"),
    ("arch-like-not-json", ["arch", "4,8,1024,768", "--like", "{not_json}"], "config.json"),
    # ---------------------------------------------------------------- search
    ("search-teacher-missing", ["search", "--teacher", "{missing}", "--corpus", "{text}", "--out", "{out}", *SEARCH],
     "does not exist"),
    ("search-teacher-encoder-only", ["search", "--teacher", "{encoder}", "--corpus", "{text}", "--out", "{out}",
                                     *SEARCH], "not a masked LM"),
    ("search-teacher-truncated", ["search", "--teacher", "{truncated}", "--corpus", "{text}", "--out", "{out}",
                                  *SEARCH], "model.safetensors"),
    ("search-teacher-config-not-json", ["search", "--teacher", "{not_json}", "--corpus", "{text}", "--out", "{out}",
                                        *SEARCH], "config.json"),
    ("search-corpus-missing", ["search", "--teacher", "{mlm}", "--corpus", "{missing}", "--out", "{out}", *SEARCH],
     "missing"),
    ("search-corpus-empty", ["search", "--teacher", "{mlm}", "--corpus", "{empty}", "--out", "{out}", *SEARCH],
     "empty"),
    ("search-corpus-binary", ["search", "--teacher", "{mlm}", "--corpus", "{binary}", "--out", "{out}", *SEARCH],
     "not a text file"),
    ("search-out-is-a-file", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{a_file}", *SEARCH],
     "is a file"),
    ("search-out-uncreatable", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{locked}/s",
                                *SEARCH], "cannot be created"),
    ("search-seq-len-beyond-positions", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}",
                                         *SEARCH, "--seq-len", "4096"], "usable positions"),
    ("search-epsilon-zero", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}", *SEARCH,
                             "--epsilon", "0"], "--epsilon must be at least 1"),
    ("search-steps-zero", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}", *SEARCH,
                           "--steps", "0"], "--steps must be at least 1"),
    ("search-space-file-missing", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}", *SEARCH,
                                   "--space", "{missing}.yaml"], "missing.yaml"),
    ("search-space-no-valid-tuple", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}",
                                     *SEARCH, "--space", "{invalid_space}"], "no valid architecture"),
    ("search-init-extract-candidate-beyond-teacher", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out",
                                                      "{out}", *SEARCH, "--init", "extract"], "FFN neurons"),
    ("search-workers-zero", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}", *SEARCH,
                             "--workers", "0"], "--workers must be at least 1"),
    ("search-resume-is-gone", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{empty_dir}", *SEARCH,
                               "--resume"], "unrecognized arguments: --resume"),  # a re-run continues by itself
    ("search-bad-flag", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}", "--nonsense"],
     "unrecognized arguments"),
    # ---------------------------------------------------------------- extract
    ("extract-teacher-missing", ["extract", "--teacher", "{missing}", "--arch", "1,2,32,64", "--corpus", "{text}",
                                 "--out", "{out}", *EX], "does not exist"),
    ("extract-teacher-truncated", ["extract", "--teacher", "{truncated}", "--arch", "1,2,32,64", "--corpus", "{text}",
                                   "--out", "{out}", *EX], "model.safetensors"),
    ("extract-deeper-than-teacher", ["extract", "--teacher", "{mlm}", "--arch", "2,2,32,64", "--corpus", "{text}",
                                     "--out", "{out}", *EX], "asks for 2 layers, the teacher has 1"),
    ("extract-more-heads-than-teacher", ["extract", "--teacher", "{mlm}", "--arch", "1,4,32,64", "--corpus", "{text}",
                                         "--out", "{out}", *EX], "attention heads"),
    ("extract-wider-than-teacher", ["extract", "--teacher", "{mlm}", "--arch", "1,2,64,64", "--corpus", "{text}",
                                    "--out", "{out}", *EX], "hidden channels"),
    ("extract-more-neurons-than-teacher", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,128", "--corpus",
                                           "{text}", "--out", "{out}", *EX], "FFN neurons"),
    ("extract-corpus-too-small", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--corpus", "{text}",
                                  "--out", "{out}", *EX, "--calibration-batches", "100000"],
     "too small for calibration"),
    ("extract-corpus-empty", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--corpus", "{empty}",
                              "--out", "{out}", *EX], "empty"),
    ("extract-out-is-a-file", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--corpus", "{text}",
                               "--out", "{a_file}", *EX], "is a file"),
    ("extract-taylor-without-mlm-head", ["extract", "--teacher", "{encoder}", "--arch", "1,2,32,32", "--corpus",
                                         "{text}", "--out", "{out}", *EX, "--importance", "taylor"],
     "needs a masked-LM teacher"),
    ("extract-cache-inside-out", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--corpus", "{text}",
                                  "--out", "{out}", *EX, "--cache-dir", "{out}/cache"], "overwrite its own input"),
    ("extract-scores-of-another-teacher", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--out", "{out}",
                                           *EX, "--scores", "{scores}"], "scores a teacher"),
    ("extract-scores-not-json", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--out", "{out}", *EX,
                                 "--scores", "{text}"], "not saved importance scores"),
    ("extract-teacher-with-a-task-head", ["extract", "--teacher", "{classifier}", "--arch", "1,2,32,32", "--corpus",
                                          "{text}", "--out", "{out}", *EX], "bare encoder or a masked LM"),
    ("extract-no-shape", ["extract", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}", *EX], "--arch"),
    ("extract-seq-len-beyond-positions", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--corpus", "{text}",
                                          "--out", "{out}", *EX, "--seq-len", "4096"], "usable positions"),
    # ---------------------------------------------------------------- pretrain
    ("pretrain-init-vocab-differs", ["pretrain", "--teacher", "{mlm}", "--init", "{small_vocab}", "--corpus",
                                     "{text}", "--out", "{out}", *PT], "differs from the teacher's"),
    ("pretrain-kd-without-teacher", ["pretrain", "--arch", "1,2,32,64", "--corpus", "{text}", "--out", "{out}", *PT],
     "--teacher"),
    ("pretrain-teacher-encoder-only", ["pretrain", "--teacher", "{encoder}", "--arch", "1,2,32,64", "--corpus",
                                       "{text}", "--out", "{out}", *PT], "not a masked LM"),
    ("pretrain-teacher-truncated", ["pretrain", "--teacher", "{truncated}", "--arch", "1,2,32,64", "--corpus",
                                    "{text}", "--out", "{out}", *PT], "model.safetensors"),
    ("pretrain-arch-heads", ["pretrain", "--mode", "mlm", "--arch", "1,3,32,64", "--corpus", "{text}", "--out",
                             "{out}", *PT], "divisible"),
    ("pretrain-no-arch", ["pretrain", "--mode", "mlm", "--corpus", "{text}", "--out", "{out}", *PT], "--arch"),
    ("pretrain-corpus-missing", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{missing}", "--out",
                                 "{out}", *PT], "missing"),
    ("pretrain-corpus-empty", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{empty}", "--out",
                               "{out}", *PT], "empty"),
    ("pretrain-corpus-binary", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{binary}", "--out",
                                "{out}", *PT], "not a text file"),
    ("pretrain-out-is-a-file", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}", "--out",
                                "{a_file}", *PT], "is a file"),
    ("pretrain-out-uncreatable", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}", "--out",
                                  "{locked}/p", *PT], "cannot be created"),
    ("pretrain-seq-len-beyond-positions", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}",
                                           "--out", "{out}", *PT, "--seq-len", "4096"], "usable positions"),
    ("pretrain-batch-zero", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}", "--out",
                             "{out}", *PT, "--batch-size", "0"], "--batch-size must be at least 1"),
    ("pretrain-max-steps-zero", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}", "--out",
                                 "{out}", *PT, "--max-steps", "0"], "--max-steps must be at least 1"),
    ("pretrain-lr-zero", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}", "--out", "{out}",
                          *PT, "--lr", "0"], "--lr must be greater than 0"),
    ("pretrain-grad-accum-indivisible", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}",
                                         "--out", "{out}", *PT, "--grad-accum", "3"], "divisible"),
    ("pretrain-config-missing", ["pretrain", "--mode", "mlm", "--config", "{missing}/config.json", "--corpus",
                                 "{text}", "--out", "{out}", *PT], "does not exist"),
    ("pretrain-config-not-json", ["pretrain", "--mode", "mlm", "--config", "{not_json}/config.json", "--corpus",
                                  "{text}", "--out", "{out}", *PT], "config.json"),
    ("pretrain-tokenizer-missing", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--tokenizer", "{missing}",
                                    "--corpus", "{text}", "--out", "{out}", *PT], "missing"),
    ("pretrain-resume-is-gone", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}", "--out",
                                 "{empty_dir}", *PT, "--resume"], "unrecognized arguments: --resume"),
    ("pretrain-bad-mode", ["pretrain", "--mode", "bogus"], "invalid choice"),
    # ---------------------------------------------------------------- finetune
    ("finetune-model-missing", ["finetune", "--model", "{missing}", "--out", "{out}", *FT], "does not exist"),
    ("finetune-model-truncated", ["finetune", "--model", "{truncated}", "--out", "{out}", *FT], "model.safetensors"),
    ("finetune-config-not-json", ["finetune", "--model", "{not_json}", "--out", "{out}", *FT], "config.json"),
    ("finetune-unknown-task", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--task", "glue/NOPE"],
     "glue/NOPE"),
    ("finetune-data-missing", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--data", "{missing}"],
     "missing"),
    ("finetune-data-of-another-task", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--task",
                                       "superglue/CB"], "train.jsonl"),
    ("finetune-max-len-beyond-positions", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--max-len",
                                           "4096"], "usable positions"),
    ("finetune-max-train-examples-zero", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT,
                                          "--max-train-examples", "0"], "--max-train-examples must be at least 1"),
    ("finetune-epochs-zero", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--epochs", "0"],
     "--epochs must be at least 1"),
    ("finetune-lr-negative", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--lr", "-1"],
     "--lr must be greater than 0"),
    ("finetune-small-vocab", ["finetune", "--model", "{small_vocab}", "--out", "{out}", *FT], "vocabulary"),
    ("finetune-diagnostic-task", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--task", "superglue/AX-b"],
     "diagnostic"),
    ("finetune-out-is-a-file", ["finetune", "--model", "{mlm}", "--out", "{a_file}", *FT], "is a file"),
    ("finetune-out-uncreatable", ["finetune", "--model", "{mlm}", "--out", "{locked}/f", *FT], "cannot be created"),
    ("finetune-teacher-missing", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher", "{missing}"],
     "does not exist"),
    ("finetune-teacher-without-a-head", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher", "{mlm}"],
     "has no classification head"),
    ("finetune-teacher-other-vocabulary", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher",
                                           "{small_vocab}"], "its embedding has 1000 rows"),
    ("finetune-augment-negative", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher", "{classifier}",
                                   "--augment", "-1"], "--augment must be at least 0"),
    ("finetune-augment-not-an-integer", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher",
                                         "{classifier}", "--augment", "1.5"], "--augment"),
    ("finetune-augment-without-teacher", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--augment", "2"],
     "needs --teacher"),
    ("finetune-alpha-above-one", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher", "{classifier}",
                                  "--alpha", "1.5"], "expected at most 1"),
    ("finetune-out-is-the-teacher", ["finetune", "--model", "{mlm}", "--out", "{classifier}", *FT, "--teacher",
                                     "{classifier}", "--restart"], "--teacher"),
    ("finetune-teacher-is-a-file", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher", "{a_file}"],
     "is not a directory"),
    ("finetune-augment-phi-without-masked-lm", ["finetune", "--model", "{encoder}", "--out", "{out}", *FT,
                                                "--teacher", "{classifier}", "--augment", "1"], "no masked-LM head"),
    ("finetune-alpha-without-teacher", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--alpha", "0.5"],
     "applies with --teacher"),
    ("finetune-unlabeled-a-directory", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--teacher",
                                        "{classifier}", "--unlabeled", "{empty_dir}"], "is a directory"),
    ("finetune-resume-is-gone", ["finetune", "--model", "{mlm}", "--out", "{empty_dir}", *FT, "--resume"],
     "unrecognized arguments: --resume"),
    # ---------------------------------------------------------------- evaluate
    ("evaluate-model-missing", ["evaluate", "--model", "{missing}", "--task", "glue/RTE", "--data", "{rte}"],
     "does not exist"),
    ("evaluate-model-truncated", ["evaluate", "--model", "{truncated_classifier}", "--task", "glue/RTE", "--data",
                                  "{rte}"], "model.safetensors"),
    ("evaluate-no-classification-head", ["evaluate", "--model", "{mlm}", "--task", "glue/RTE", "--data", "{rte}"],
     "no classification head"),
    ("evaluate-batch-zero", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data", "{rte}",
                             "--batch-size", "0"], "--batch-size must be at least 1"),
    ("evaluate-unknown-task", ["evaluate", "--model", "{classifier}", "--task", "glue/NOPE", "--data", "{rte}"],
     "glue/NOPE"),
    ("evaluate-data-missing", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data", "{missing}"],
     "missing"),
    ("evaluate-no-task", ["evaluate", "--model", "{classifier}", "--data", "{rte}"], "--task"),
    ("evaluate-submission-uncreatable", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data",
                                         "{rte}", "--submission", "{locked}/sub"], "cannot be created"),
    ("evaluate-submission-is-a-file", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data", "{rte}",
                                       "--submission", "{a_file}"], "is a file"),
    ("evaluate-out-uncreatable", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data", "{rte}",
                                  "--out", "{locked}/m.json"], "cannot be created"),
    ("evaluate-out-is-a-directory", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data", "{rte}",
                                     "--out", "{empty_dir}"], "is a directory"),
    ("evaluate-max-len-beyond-positions", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data",
                                           "{rte}", "--max-len", "4096"], "usable positions"),
    ("evaluate-bad-split", ["evaluate", "--split", "valid"], "invalid choice"),
    ("evaluate-out-inside-the-model", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data", "{rte}",
                                       "--out", "{classifier}/m.json"], "lies inside the model directory"),
    ("finetune-phi-without-augment", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--phi", "word-swap"],
     "without --augment nothing reads it"),
    # ---------------------------------------------------------------- benchmark files a reader cannot read
    ("finetune-glue-file-utf16", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT[:2], "--data", "{rte_utf16}",
                                  *FT[4:]], "is UTF-16 text"),
    ("finetune-glue-column-twice", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT[:2], "--data",
                                    "{rte_repeated_column}", *FT[4:]], "names column 'label' twice"),
    ("evaluate-glue-file-utf16", ["evaluate", "--model", "{classifier}", "--task", "glue/RTE", "--data",
                                  "{rte_utf16}"], "is UTF-16 text"),
    # ---------------------------------------------------------------- bench
    ("bench-heads-divide-hidden", ["bench", "--models", "4,7,1024,768", "--out", "{out}", *BENCH], "divisible"),
    ("bench-unknown-model", ["bench", "--models", "gpt-9", "--out", "{out}", *BENCH], "gpt-9"),
    ("bench-length-zero", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--lengths", "0"],
     "--lengths"),
    ("bench-length-beyond-positions", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--lengths",
                                       "4096"], "usable positions"),
    ("bench-rounds-zero", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--rounds", "0"],
     "--rounds must be at least 1"),
    ("bench-batch-zero", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--batch", "2,0"],
     "--batch"),
    ("bench-unknown-fast-path", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--fast-paths", "turbo"],
     "turbo"),
    ("bench-out-is-a-file", ["bench", "--models", "1,2,32,64", "--out", "{a_file}", *BENCH], "is a file"),
    ("bench-out-uncreatable", ["bench", "--models", "1,2,32,64", "--out", "{locked}/b", *BENCH], "cannot be created"),
    ("bench-onnx-missing", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--onnx", "{missing}.onnx"],
     "missing.onnx"),
    ("bench-onnx-of-another-model", ["bench", "--models", "2,2,64,128", "--subject", "2,2,64,128", "--out", "{out}",
                                     *BENCH, "--onnx", "{tiny_onnx}"], "its output is 32 wide"),
    ("bench-onnx-not-onnx", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--onnx", "{a_file}"],
     "a_file"),
    # ---------------------------------------------------------------- nan and inf, to options with and without bounds
    ("pretrain-hidden-weight-inf", ["pretrain", "--teacher", "{mlm}", "--arch", "1,2,32,64", "--corpus", "{text}",
                                    "--out", "{out}", *PT, "--hidden-weight", "inf"],
     "--hidden-weight must be a finite number"),
    ("pretrain-lr-nan", ["pretrain", "--mode", "mlm", "--arch", "1,2,32,64", "--corpus", "{text}", "--out", "{out}",
                         *PT, "--lr", "nan"], "--lr must be a finite number"),
    ("search-temperature-nan", ["search", "--teacher", "{mlm}", "--corpus", "{text}", "--out", "{out}", *SEARCH,
                                "--temperature", "nan"], "--temperature must be a finite number"),
    ("extract-mask-prob-inf", ["extract", "--teacher", "{mlm}", "--arch", "1,2,32,32", "--corpus", "{text}", "--out",
                               "{out}", *EX, "--mask-prob", "inf"], "--mask-prob must be a finite number"),
    ("finetune-lr-inf", ["finetune", "--model", "{mlm}", "--out", "{out}", *FT, "--lr", "inf"],
     "--lr must be a finite number"),
    ("agora-min-socrates-nan", ["finetune", "--method", "agora", "--model", "{mlm}", "--socrates", "{classifier}",
                                "--out", "{out}", *FT, "--min-socrates", "nan"],
     "--min-socrates must be a finite number"),
    ("bench-target-inf", ["bench", "--models", "1,2,32,64", "--out", "{out}", *BENCH, "--target", "inf"],
     "--target must be a finite number"),
    ("export-min-cosine-nan", ["export", "{mlm}", "--auto", "--min-cosine", "nan", "--out", "{out}"],
     "--min-cosine must be a finite number"),
    # ---------------------------------------------------------------- export
    ("export-no-mode", ["export", "{mlm}", "--out", "{out}"], "exactly one of --onnx, --auto, --path"),
    ("export-auto-and-path", ["export", "{mlm}", "--auto", "--path", "eager", "--out", "{out}"], "--auto and --path"),
    ("export-unknown-path", ["export", "{mlm}", "--path", "turbo", "--out", "{out}"], "turbo"),
    ("export-unknown-candidate", ["export", "{mlm}", "--auto", "--candidates", "eager,turbo", "--out", "{out}"],
     "turbo"),
    ("export-int8-with-auto", ["export", "{mlm}", "--auto", "--int8", "--out", "{out}"], "--int8"),
    ("export-task-without-data", ["export", "{classifier}", "--auto", "--task", "glue/SST-2", "--out", "{out}"],
     "--task and --data"),
    ("export-task-on-a-bare-encoder", ["export", "{encoder}", "--path", "eager", "--task", "glue/SST-2", "--data",
                                       "{rte}", "--out", "{out}"], "no task head"),
    ("export-auto-out-not-empty", ["export", "{mlm}", "--auto", "--out", "{root}"], "not empty"),
    ("export-seq-len-beyond-positions", ["export", "{encoder}", "--auto", "--seq-len", "5000", "--out", "{out}"],
     "usable positions"),
    ("export-candidates-with-path", ["export", "{encoder}", "--path", "eager", "--candidates", "bf16", "--out",
                                     "{out}"], "--candidates goes with --auto"),
    ("export-max-seconds-nan", ["export", "{mlm}", "--auto", "--max-seconds", "nan", "--out", "{out}"],
     "--max-seconds"),
    ("export-model-missing", ["export", "{missing}", "--onnx", "--out", "{out}.onnx"], "does not exist"),
    ("export-model-truncated", ["export", "{truncated}", "--onnx", "--out", "{out}.onnx"], "model.safetensors"),
    ("export-opset-too-old", ["export", "{mlm}", "--onnx", "--out", "{out}.onnx", "--opset", "3"], "--opset"),
    ("export-out-is-a-directory", ["export", "{mlm}", "--onnx", "--out", "{empty_dir}"], "is a directory"),
    ("export-out-uncreatable", ["export", "{mlm}", "--onnx", "--out", "{locked}/m.onnx"], "cannot be created"),
    ("export-onnx-no-tokenizer", ["export", "{no_tokenizer}", "--onnx", "--out", "{out}.onnx"], "no tokenizer"),
    ("export-auto-no-tokenizer", ["export", "{no_tokenizer}", "--auto", "--out", "{out}"], "no tokenizer"),
    ("export-path-no-tokenizer", ["export", "{no_tokenizer}", "--path", "eager", "--out", "{out}"], "no tokenizer"),
    ("export-min-cosine-above-one", ["export", "{mlm}", "--onnx", "--out", "{out}.onnx", "--min-cosine", "1.5"],
     "--min-cosine"),
    # ---------------------------------------------------------------- quickstart
    ("quickstart-out-is-a-file", ["quickstart", "--out", "{a_file}"], "is a file"),
    ("quickstart-out-uncreatable", ["quickstart", "--out", "{locked}/q"], "cannot be created"),
    ("quickstart-steps-zero", ["quickstart", "--out", "{out}", "--teacher-steps", "0"],
     "--teacher-steps must be at least 1"),
    ("unknown-command", ["distil"], "invalid choice"),
]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` with its size and modification time."""
    return {str(p): (p.stat().st_size if p.is_file() else -1, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_there_are_at_least_sixty_cases_over_every_command():
    assert len(CASES) >= 60
    assert len({name for name, _, _ in CASES}) == len(CASES)
    commands = {argv[0] for _, argv, _ in CASES}
    assert {"arch", "search", "extract", "pretrain", "finetune", "evaluate", "bench", "export",
            "quickstart"} <= commands


@pytest.mark.parametrize("argv, fragment", [pytest.param(a, f, id=n) for n, a, f in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(argv, fragment, prepared_inputs, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = prepared_inputs
    values = {**inputs, "out": str(tmp_path / "out")}
    args = [a.format(**values) for a in argv]
    before_inputs, before_here = snapshot(Path(inputs["root"])), snapshot(tmp_path)
    try:
        status = main(args)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, f"exit {status}; stderr: {err[-1500:]}"
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{err[-1500:]}"
    assert fragment in lines[0], lines[0]
    assert snapshot(Path(inputs["root"])) == before_inputs, "the inputs' folders changed"
    assert snapshot(tmp_path) == before_here, f"left behind: {sorted(set(snapshot(tmp_path)) - set(before_here))}"
