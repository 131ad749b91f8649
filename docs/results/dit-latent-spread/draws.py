"""The windows `compare_dits.py` drew, beside the encoded windows decoded: frame 0 and frame 7 of the first N of
each set, one row per set, as a PNG.   python draws.py OUT.png N NAME=FILE.npy ..."""

import sys

import numpy as np
from PIL import Image

from dynamiccity.viz import render_3d, tile_images

out, n = sys.argv[1], int(sys.argv[2])
sets = [(name, np.load(path)[:n]) for name, path in (item.split("=", 1) for item in sys.argv[3:])]
rows = []
for t in (0, 7):
    images = [render_3d(w[t]) for _, windows in sets for w in windows]
    captions = [f"{name} {i}, frame {t}" for name, windows in sets for i in range(len(windows))]
    rows.append(np.asarray(tile_images(images, n, captions)))
Image.fromarray(np.concatenate(rows, axis=0)).save(out)
