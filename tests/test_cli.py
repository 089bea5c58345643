"""The command line as a user meets it: outputs, files, and one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest

from bort.cli.main import main


def run_cli(*args):
    """Run ``bort`` in a subprocess, as a user would; returns (exit code, stdout, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "bort.cli.main", *args], capture_output=True, text=True,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    return proc.returncode, proc.stdout, proc.stderr


def test_arch_json_for_bort(capsys):
    assert main(["arch", "4,8,1024,768", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["arch"] == [4, 8, 1024, 768]
    assert (row["params_embeddings"], row["params_encoder"], row["params_total"], row["params_pooler"],
            row["params_mlm_head"]) == (52_000_768, 23_108_608, 75_109_376, 1_049_600, 1_101_913)
    assert set(row["flops_per_seq"]) == {"128", "512"}


def test_arch_table_lists_the_paper_models(capsys):
    assert main(["arch"]) == 0
    out = capsys.readouterr().out
    for name in ("RoBERTa-large", "BERT-large", "RoBERTa-base", "Bort (released)", "Bort (as printed)",
                 "TinyBERT-4", "BERT-Mini", "BERT-Small", "BERT-of-Theseus"):
        assert name in out
    assert "355.36" in out and "335.14" in out  # RoBERTa-large and BERT-large with pooler


def test_arch_vocab_overrides_and_like(capsys, tiny_roberta_dir):
    main(["arch", "2,2,8,8", "--vocab", "10", "--positions", "5", "--type-vocab", "2", "--json"])
    assert json.loads(capsys.readouterr().out)[0]["params_embeddings"] == (10 + 5 + 2) * 8 + 16
    main(["arch", "2,2,8,8", "--like", str(tiny_roberta_dir), "--json"])
    assert json.loads(capsys.readouterr().out)[0]["vocab"] == [50265, 514, 1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["arch", "4,7,1024,768"], "not divisible"),
        (["arch", "4,8,x,768"], "four positive integers"),
        (["arch", "2,2,8,8", "--like", "/nonexistent/teacher"], "/nonexistent/teacher does not exist"),
        (["export", "/nonexistent/model", "--onnx", "--out", "x.onnx"], "does not exist"),
        (["bench", "--models", "gpt-9", "--out", "{tmp}"], "unknown model"),
        (["bench", "--lengths", "600", "--out", "{tmp}"], "usable positions"),
        (["bench", "--rounds", "0", "--out", "{tmp}"], "rounds"),
        (["bench", "--rounds", "9", "--max-rounds", "3", "--out", "{tmp}"], "--max-rounds 3 is below --rounds 9"),
        (["bench", "--batch", "0", "--out", "{tmp}"], "positive integers"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args, message, tmp_path):
    code, out, err = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2
    assert err.startswith("bort: error:") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_malformed_argument_exits_2(tmp_path):
    code, _, err = run_cli("bench", "--lengths", "a,b", "--out", str(tmp_path))
    assert code == 2 and "comma-separated integers" in err and "Traceback" not in err


def test_help_explains_each_command():
    """Every command has a description and every option a help text that --help prints."""
    import argparse

    from bort.cli.main import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == {"arch", "search", "extract", "pretrain", "finetune", "evaluate", "bench",
                                       "export", "pipeline", "quickstart"}
    for command, sub in subparsers.choices.items():
        assert sub.description and len(sub.description.split()) > 20, command
        text = sub.format_help()
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and action.help.strip(), (command, action.option_strings)
                assert action.option_strings[-1] in text, (command, action.option_strings)
    code, out, _ = run_cli("pretrain", "--help")  # and the console command prints it
    assert code == 0 and "--teacher" in out


def _independent_parity(model_dir, onnx_file):
    """Eager PyTorch vs the written file on the documented check input (2 × 64 fixed tokens)."""
    import torch
    from transformers import AutoModelForMaskedLM

    from bort.inference.onnx_runtime import ort_run, ort_session
    from bort.inference.parity import parity
    from bort.measure.latency import LatencyProtocol, fixed_input

    model = AutoModelForMaskedLM.from_pretrained(model_dir).eval()
    inputs = fixed_input(model.config.vocab_size, LatencyProtocol(batch_size=2, seq_len=64))
    with torch.inference_mode():
        return parity(model(**inputs).logits, ort_run(ort_session(onnx_file), inputs))


def test_export_int8_with_parity(tiny_roberta_dir, tmp_path, capsys):
    import re

    out = tmp_path / "tiny.int8.onnx"
    assert main(["export", str(tiny_roberta_dir), "--onnx", "--int8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == ["tiny", "tiny.int8.onnx"]

    from bort.inference.onnx_runtime import ort_session

    session = ort_session(out)
    assert session.get_outputs()[0].name == "logits"  # the MLM head is exported with the encoder
    assert session.get_outputs()[0].shape[-1] == 50265
    # the printed parity is the file's own, computed again here: int8 is close to eager, not identical
    cosine, max_abs = map(float, re.search(r"cosine ([0-9.]+), max \|Δ\| ([0-9.e+-]+)", printed).groups())
    check = _independent_parity(tiny_roberta_dir, out)
    assert 0.99 < check.cosine < 1.0 and check.max_abs > 0
    assert cosine == pytest.approx(check.cosine, abs=2e-6) and max_abs == pytest.approx(check.max_abs, rel=1e-2)

    # a threshold between the file's parity and perfection refuses it; one just below accepts it
    refused = tmp_path / "refused.onnx"
    assert main(["export", str(tiny_roberta_dir), "--onnx", "--int8", "--min-cosine", str((1 + check.cosine) / 2),
                 "--out", str(refused)]) == 2
    assert "parity check failed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny", "tiny.int8.onnx"]  # nothing half-written
    # nor a folder it created for the file
    assert main(["export", str(tiny_roberta_dir), "--onnx", "--int8", "--min-cosine", str((1 + check.cosine) / 2),
                 "--out", str(tmp_path / "new" / "deeper" / "refused.onnx")]) == 2
    assert not (tmp_path / "new").exists()
    assert main(["export", str(tiny_roberta_dir), "--onnx", "--int8", "--min-cosine", str(check.cosine - 1e-5),
                 "--out", str(refused)]) == 0


def test_export_optimize_int8_writes_a_fused_int8_graph_with_parity(tiny_roberta_dir, tmp_path, capsys):
    from bort.inference.onnx_runtime import fused_operators

    out = tmp_path / "tiny.fast.onnx"
    assert main(["export", str(tiny_roberta_dir), "--onnx", "--int8", "--optimize", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    layers = json.loads((tiny_roberta_dir / "config.json").read_text())["num_hidden_layers"]
    assert fused_operators(out)["QAttention"] == layers and "fused operators" in printed
    check = _independent_parity(tiny_roberta_dir, out)
    assert 0.99 < check.cosine < 1.0  # int8: close to eager, not identical


def test_bench_small_run_writes_json_table_and_chart(tmp_path, capsys):
    import statistics

    args = ["bench", "--models", "2,2,32,64", "1,2,16,32", "--subject", "2,2,32,64", "--lengths", "16,32",
            "--batch", "1,3", "--rounds", "3", "--max-rounds", "4", "--block-ms", "2",
            "--fast-paths", "torch-int8,onnx-fused-int8", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)
    subject = "⟨2,2,32,64⟩"
    assert results["subject"] == subject
    assert list(results["rows"]) == [subject, "⟨1,2,16,32⟩", f"{subject} torch-int8", f"{subject} onnx-fused-int8"]
    assert [(c["batch"], c["seq_len"]) for c in results["cells"]] == [(1, 16), (1, 32), (3, 16), (3, 32)]
    for cell in results["cells"]:
        assert 3 <= cell["rounds"] <= 4
        base = cell["rows"][subject]
        assert base["ratio_to_subject"] == {"median": 1.0, "low": 1.0, "high": 1.0}
        for name, entry in cell["rows"].items():
            # every row ran in the same rounds; its ratio is the median of the per-round ratios, computed here
            assert len(entry["rounds_ms"]) == cell["rounds"]
            per_round = [a / b for a, b in zip(entry["rounds_ms"], base["rounds_ms"])]
            assert entry["ratio_to_subject"]["median"] == pytest.approx(statistics.median(per_round))
            assert entry["median_ms"] == pytest.approx(statistics.median(entry["rounds_ms"]))
            assert entry["low_ms"] <= entry["median_ms"] <= entry["high_ms"]
            assert entry["sequences_per_second"]["median"] == pytest.approx(1e3 * cell["batch"] / entry["median_ms"])
            if results["rows"][name]["kind"] == "fast path":
                assert entry["cosine"] > 0.98
            # the roofline: the row's own FLOPs (Lemma 1, written out here) over its median time, against the
            # peak of its precision
            # fast paths: the subject's
            d, _, h, i = results["rows"][name].get("arch") or results["rows"][subject]["arch"]
            n = cell["seq_len"]
            flops = cell["batch"] * (d * (8 * n * h * h + 4 * n * n * h + 4 * n * h * i + 8 * n * i) + 2 * h * h)
            assert entry["gops"] == pytest.approx(flops / entry["median_ms"] / 1e6)
            assert entry["precision"] == ("int8" if name.endswith("int8") else "fp32")
            assert entry["peak_share"] == pytest.approx(entry["gops"] / cell["peaks"][entry["precision"]]["gops"])
        assert {"fp32", "int8"} <= set(cell["peaks"]) and all(p["gops"] > 0 for p in cell["peaks"].values())
    assert results["setup"]["device"]["torch"]
    assert json.loads((tmp_path / "bench.json").read_text())["subject"] == results["subject"]
    assert (tmp_path / "bench.png").stat().st_size > 10_000
    markdown = (tmp_path / "bench.md").read_text()
    assert "speed-up" in markdown and "95%" in markdown and "sequences / s" in markdown  # the throughput table
    assert "of its peak" in markdown and "instruction set" in markdown  # the roofline


def test_bench_times_an_exported_onnx_file_against_its_model(prepared_inputs, tmp_path, capsys):
    encoder = prepared_inputs["encoder"]  # ⟨1,2,32,64⟩ without a head: the bench times encoders
    onnx_file = tmp_path / "tiny.onnx"
    assert main(["export", encoder, "--onnx", "--out", str(onnx_file)]) == 0
    capsys.readouterr()
    assert main(["bench", "--model", encoder, "--models", "1,2,32,64", "--lengths", "16", "--rounds", "2",
                 "--max-rounds", "3", "--block-ms", "2", "--fast-paths", "none", "--onnx", str(onnx_file),
                 "--out", str(tmp_path / "b"), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["subject"] == "encoder" and results["rows"][str(onnx_file)]["kind"] == "onnx file"
    entry = results["cells"][0]["rows"][str(onnx_file)]
    assert entry["cosine"] > 0.99999 and entry["max_abs"] < 1e-4  # the file is the model's own export


def test_bench_times_a_model_directory_with_its_own_weights_and_vocabulary(prepared_inputs, tmp_path, capsys):
    from transformers import AutoModel

    encoder, small = prepared_inputs["encoder"], prepared_inputs["small_vocab"]  # the second: a 1,000-token vocabulary
    assert main(["bench", "--model", encoder, "--models", small, "--lengths", "16", "--rounds", "2", "--max-rounds",
                 "2", "--block-ms", "2", "--fast-paths", "none", "--out", str(tmp_path / "b"), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    row = results["rows"][small]
    assert row["kind"] == "model" and row["arch"] == [1, 2, 32, 64]
    assert row["params_total"] == sum(p.numel() for p in AutoModel.from_pretrained(small).parameters())
    assert results["cells"][0]["rows"][small]["median_ms"] > 0


def test_bench_refuses_an_unloadable_onnx_file_before_timing(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a graph")
    code, out, err = run_cli("bench", "--onnx", str(bad), "--out", str(tmp_path / "b"))
    assert code == 2 and "ONNX Runtime cannot load" in err and str(bad) in err
    assert len(err.strip().splitlines()) == 1 and "[bench]" not in out + err  # nothing was timed
