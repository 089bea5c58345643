"""A real pretrained BERT on five GLUE tasks: all-MiniLM-L6-v2 fine-tuned with `bort finetune`.

Fine-tunes the model that `make real-model` extracts (⟨6,12,384,1536⟩, uncased WordPiece) on RTE,
MRPC, CoLA, STS-B and an SST-2 training subset from ../shared/data/glue, and prints a Markdown table
beside published figures for MiniLM.

    python bench/glue_real.py [runs/models/all-MiniLM-L6-v2] [--epochs 3] [--lr 5e-5] [--sst2-train 8000]

Published dev figures: MiniLM-L12xH384 (12 layers, the model all-MiniLM-L6-v2 keeps every second layer
of), from the microsoft/MiniLM-L12-H384-uncased model card (Wang et al. 2020, "MiniLM: Deep
Self-Attention Distillation for Task-Agnostic Compression of Pre-Trained Transformers"; SST-2, CoLA,
RTE, MRPC accuracy/Matthews/accuracy/F1 on the full training sets). The 6-layer version has no
published GLUE figures; all-MiniLM-L6-v2 was further trained for sentence embeddings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from glue_small import run  # noqa: E402  (the same five tasks and table)

from bort.util.quiet import quiet_libraries  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MINILM_L12 = {"glue/SST-2": "93.0", "glue/CoLA": "58.5", "glue/RTE": "73.3", "glue/MRPC": "89.5 (F1)"}


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=str(REPO / "runs" / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "glue"))
    parser.add_argument("--out", default="runs/glue-real")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--sst2-train", type=int, default=8000)
    parser.add_argument("--max-len", type=int, default=128)
    args = parser.parse_args()
    print(run(args.model, args.data, args.out, args.epochs, args.lr, args.sst2_train, args.max_len, MINILM_L12,
              "MiniLM-L12xH384, published (dev)"))


if __name__ == "__main__":
    main()
