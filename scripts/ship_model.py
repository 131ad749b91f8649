"""Copy a trained run into the package as a shipped model (`dynamiccity.shipped`), trimmed to what loading
needs: config.yaml, the DiT's latent manifest, and one checkpoint record with only the tensors a model is
loaded from (the VAE's weights; the DiT's EMA weights, or its weights when it kept no EMA). The files keep
their bytes, so their sha256 (by which a DiT checks its VAE) is unchanged. The model card (README.md) is
written by hand beside them.

    python scripts/ship_model.py vae synthtown runs/vae
    python scripts/ship_model.py dit synthtown runs/dit-cond
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from dynamiccity.atomic import write_text
from dynamiccity.data.errors import DataError
from dynamiccity.runs.checkpoints import checkpoint_name
from dynamiccity.runs.dit import RUN_MANIFEST
from dynamiccity.shipped import KINDS, ROOT
from dynamiccity.train.checkpoint import open_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("name")
    parser.add_argument("run")
    args = parser.parse_args()
    run, out = Path(args.run), ROOT / f"{args.kind}-{args.name}"
    ckpt = open_checkpoint(run / "checkpoints", checkpoint_name(run))
    files = ckpt.meta["files"]
    keep = {"ema": files["ema"]} if "ema" in files else {"model": files["model"]}
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    for old in (out / "checkpoints").glob("*"):
        old.unlink()
    for part in keep.values():
        shutil.copyfile(run / "checkpoints" / part["file"], out / "checkpoints" / part["file"])
    write_text(out / "checkpoints" / "best.json", json.dumps({**ckpt.meta, "files": keep}, indent=1) + "\n")
    shutil.copyfile(run / "config.yaml", out / "config.yaml")
    if (run / RUN_MANIFEST).is_file():
        shutil.copyfile(run / RUN_MANIFEST, out / RUN_MANIFEST)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"{out}: {size / 1e6:.1f} MB, step {ckpt.meta['step']}, {', '.join(keep)}")


if __name__ == "__main__":
    try:
        main()
    except (DataError, FileNotFoundError, ValueError) as error:  # bad input: one line, as the CLI says it
        raise SystemExit(f"error: {error}") from None
