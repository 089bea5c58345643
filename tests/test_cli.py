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
        (["arch", "2,2,8,8", "--like", "/nonexistent/teacher"], "no config.json"),
        (["export", "/nonexistent/model", "--onnx", "--out", "x.onnx"], "does not exist"),
        (["bench", "--models", "gpt-9", "--out", "{tmp}"], "unknown model"),
        (["bench", "--lengths", "600", "--out", "{tmp}"], "out of range"),
        (["bench", "--repeats", "0", "--out", "{tmp}"], "repeats"),
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
    for command in ("arch", "search", "pretrain", "finetune", "evaluate", "bench", "export", "quickstart"):
        code, out, _ = run_cli(command, "--help")
        assert code == 0 and len(out) > 300


def test_export_int8_with_parity(tiny_roberta_dir, tmp_path, capsys):
    out = tmp_path / "tiny.int8.onnx"
    assert main(["export", str(tiny_roberta_dir), "--onnx", "--int8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "parity with PyTorch" in printed and "cosine" in printed
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == ["tiny", "tiny.int8.onnx"]

    from bort.inference.onnx_runtime import ort_session

    session = ort_session(out)
    assert session.get_outputs()[0].name == "logits"  # the MLM head is exported with the encoder
    assert session.get_outputs()[0].shape[-1] == 50265


def test_export_refuses_below_min_cosine(tiny_roberta_dir, tmp_path):
    code, _, err = run_cli("export", str(tiny_roberta_dir), "--onnx", "--int8", "--min-cosine", "1.1",
                           "--out", str(tmp_path / "m.onnx"))
    assert code == 2 and "parity check failed" in err
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # nothing half-written beside the model


def test_bench_small_run_writes_json_table_and_chart(tmp_path, capsys):
    args = ["bench", "--models", "2,2,32,64", "1,2,16,32", "--subject", "2,2,32,64", "--lengths", "16,32",
            "--repeats", "2", "--min-seconds", "0", "--fast-paths", "torch-int8,onnx-int8", "--out", str(tmp_path),
            "--json"]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["subject"] == "⟨2,2,32,64⟩"
    assert set(results["models"]) == {"⟨2,2,32,64⟩", "⟨1,2,16,32⟩"}
    subject = results["models"]["⟨2,2,32,64⟩"]
    assert subject["ratio_to_subject"] == {"16": 1.0, "32": 1.0}
    other = results["models"]["⟨1,2,16,32⟩"]
    assert other["ratio_to_subject"]["16"] == pytest.approx(
        other["latency"]["16"]["median_ms"] / subject["latency"]["16"]["median_ms"])
    for path in ("torch-int8", "onnx-int8"):
        for n in ("16", "32"):
            entry = results["fast_paths"][path][n]
            assert entry["speedup"] == pytest.approx(subject["latency"][n]["median_ms"] / entry["median_ms"])
            assert entry["cosine"] > 0.98
    assert results["setup"]["device"]["torch"]
    assert json.loads((tmp_path / "bench.json").read_text())["subject"] == results["subject"]
    assert (tmp_path / "bench.png").stat().st_size > 10_000
    assert "speed-up" in (tmp_path / "bench.md").read_text()


def test_bench_times_an_exported_onnx_file(tiny_roberta_dir, tmp_path, capsys):
    onnx_file = tmp_path / "tiny.onnx"
    assert main(["export", str(tiny_roberta_dir), "--onnx", "--out", str(onnx_file)]) == 0
    capsys.readouterr()
    assert main(["bench", "--models", "2,4,32,48", "--subject", "2,4,32,48", "--lengths", "16", "--repeats", "2",
                 "--min-seconds", "0", "--fast-paths", "none", "--onnx", str(onnx_file), "--out", str(tmp_path / "b"),
                 "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    entry = results["onnx_files"][str(onnx_file)]["16"]
    eager = results["models"]["⟨2,4,32,48⟩"]["latency"]["16"]["median_ms"]
    assert entry["speedup"] == pytest.approx(eager / entry["median_ms"])


def test_bench_refuses_an_unloadable_onnx_file_before_timing(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a graph")
    code, out, err = run_cli("bench", "--onnx", str(bad), "--out", str(tmp_path / "b"))
    assert code == 2 and "ONNX Runtime cannot load" in err and str(bad) in err
    assert len(err.strip().splitlines()) == 1 and "[bench]" not in out + err  # nothing was timed
