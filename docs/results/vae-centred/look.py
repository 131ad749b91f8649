"""Frames 0 and 7 of one window: the real window beside VAE reconstructions of it (same camera), one PNG.
    python look.py OUT.png WINDOW REAL NAME=RECON_DIR ...
RECON_DIR: a `dynamiccity reconstruct` output of REAL (windows side by side, in the same order)."""

import sys

import numpy as np
from PIL import Image

from dynamiccity.data import open_dataset
from dynamiccity.viz import render_3d, tile_images

out, index, real = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sets = [("real", real)] + [tuple(item.split("=", 1)) for item in sys.argv[4:]]
windows = [(name, open_dataset(path, "synthtown", frames=8, stride=8)[index]) for name, path in sets]
images = [render_3d(w.labels[t]) for t in (0, 7) for _, w in windows]
captions = [f"{name}, frame {t}" for t in (0, 7) for name, _ in windows]
Image.fromarray(np.asarray(tile_images(images, len(windows), captions))).save(out)
