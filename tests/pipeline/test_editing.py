"""Inpainting and outpainting end to end with the micro conditional DiT: from the CLI and Python, on every
sampler, with the known part kept and bad masks refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dynamiccity.data import open_dataset
from tests.conftest import cli


def edit(runs, out, *extra, num=1):
    cli("sample", "--dit", runs / "dit", "--vae", runs / "vae", "--num", num, "--out", out, "--steps", "2",
        "--no-gifs", "--device", "cpu", "--data", runs / "town", *extra)  # fmt: skip
    return np.stack([np.load(out / f"sample_{i:04d}" / "labels.npy") for i in range(num)])


def first_window(runs) -> np.ndarray:
    return np.load(runs / "town" / "scene_0000" / "labels.npy")[:4]


def reconstruction(runs):
    """The VAE's reconstruction of scene_0000's first window, (T, X, Y, Z)."""
    import torch

    from dynamiccity.pipeline import load_vae

    vae = load_vae(runs / "vae", device="cpu")
    labels = first_window(runs)
    with torch.no_grad():
        return vae.model.decode(vae.model.encode(torch.from_numpy(labels)[None])).argmax(-1)[0].numpy()


def test_inpainting_a_box_keeps_the_far_side_of_the_window(runs, tmp_path):
    from dynamiccity.editing.edits import EditRequest

    scenes = edit(runs, tmp_path / "box", "--inpaint", "scene_0000", "--mask", "0:4,0:4", "--resample", "2",
                  num=2)  # fmt: skip
    assert scenes.shape == (2, 4, 16, 16, 4)
    facts = json.loads((tmp_path / "box" / "sample.json").read_text())
    assert facts["edit"] == "inpaint" and facts["regenerated_share"] == 16 / 256
    # far from the box the decoded scene is the reconstruction, up to the decoder's normalisations, whose
    # statistics span whole planes and volumes (the kept latent itself is exact: diffusion tests)
    far = scenes[:, :, 10:, 10:] == reconstruction(runs)[None, :, 10:, 10:]
    assert far.mean() >= 0.99
    with pytest.raises(ValueError, match="needs a mask"):
        EditRequest(inpaint="scene_0000")


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp"])
def test_inpainting_works_with_every_sampler_and_a_png_mask(runs, tmp_path, sampler):
    from PIL import Image

    image = np.zeros((32, 32), np.uint8)
    image[:8, :8] = 255  # the BEV's top left: the largest x and y
    Image.fromarray(image).save(tmp_path / "mask.png")
    scenes = edit(runs, tmp_path / sampler, "--inpaint", "scene_0000", "--mask", tmp_path / "mask.png",
                  "--sampler", sampler)  # fmt: skip
    assert (scenes[0, :, :6, :6] == reconstruction(runs)[:, :6, :6]).mean() >= 0.99  # the far corner


@pytest.mark.parametrize(("direction", "shape"), [("+x", (32, 16)), ("-y", (16, 32))])
def test_outpainting_grows_the_scene_beside_the_window(runs, tmp_path, direction, shape):
    scenes = edit(
        runs, tmp_path / "out", "--outpaint", "scene_0000", "--direction", direction, "--times", "2"
    )
    assert scenes.shape == (1, 4, *shape, 4)
    window = first_window(runs)
    kept = scenes[0, :, :16] if direction == "+x" else scenes[0, :, :, 16:]
    np.testing.assert_array_equal(kept, window)
    grid = json.loads((tmp_path / "out" / "dataset.json").read_text())["grid"]
    assert grid == [*shape, 4]


def test_context_steering_brings_the_new_strip_towards_the_kept_scene(runs):
    import torch

    from dynamiccity.diffusion.process import Known
    from dynamiccity.dit.editing import shift
    from dynamiccity.generation.features import Steering
    from dynamiccity.generation.sampling import SampleSpec, edit_steer, keep_map, load_pair, sample_maps
    from dynamiccity.generation.strips import slid

    models = load_pair(runs / "dit", runs / "vae", torch.device("cpu"))
    dit = models[0]
    window = first_window(runs)
    moved, new = shift(dit.model.unroll(_encoded(models, window)), "+x", 1)
    keep = keep_map(dit, new)
    known = Known(dit.model.rollout.roll(moved), keep)
    cell = 16 // dit.model.rollout.sizes[1]  # voxels per latent cell along x
    context, kept = slid(window[None], "+x", cell)
    assert kept[:-cell].all() and not kept[-cell:].any()
    np.testing.assert_array_equal(context[0, :, :-cell], window[:, cell:])
    spec = SampleSpec("ddim", 4)
    # this DiT, trained a few steps, draws maps of size ~100: a large step size
    steer = edit_steer(models, Steering(context=20.0), known, context, kept)
    plain = sample_maps(dit, 1, spec, torch.Generator().manual_seed(0), "cpu", None, known)
    pulled = sample_maps(dit, 1, spec, torch.Generator().manual_seed(0), "cpu", None, known, steer)
    torch.testing.assert_close(pulled * keep, plain * keep)  # the kept latent is the window's, steered or not
    assert not torch.allclose(pulled * (1 - keep), plain * (1 - keep))
    # the micro decoder barely reaches across the seam, so the kept voxels' cross-entropy moves a little
    assert steer.objective(pulled).item() < steer.objective(plain).item()
    assert edit_steer(models, Steering(), known, context, kept) is None


def _encoded(models, labels):
    from dynamiccity.generation.conditioning import encode_map

    return encode_map(models, labels, "cpu")


def test_steered_edits_and_cities_from_the_command_line(runs, tmp_path):
    edit(runs, tmp_path / "in", "--inpaint", "scene_0000", "--mask", "0:8,0:8", "--context-steer", "0.5",
         "--steer-iterations", "1")  # fmt: skip
    facts = json.loads((tmp_path / "in" / "sample.json").read_text())
    assert facts["context_steer"] == 0.5 and facts["steer_iterations"] == 1
    cli("city", "--dit", runs / "dit", "--vae", runs / "vae", "--size", "24", "16", "--frames", "4",
        "--out", tmp_path / "city", "--steps", "2", "--device", "cpu", "--context-steer", "0.5",
        "--no-gifs")  # fmt: skip
    assert json.loads((tmp_path / "city" / "city.json").read_text())["context_steer"] == 0.5


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--inpaint", "scene_0000", "--mask", "0:20,0:4"], "does not lie in the 16 x 16 grid"),
        (["--inpaint", "scene_0000", "--mask", "nothing.png"], "no such mask file"),
        (["--mask", "0:4,0:4"], "a mask was given but no scene to inpaint"),
        (["--outpaint", "scene_0000", "--extend", "8"], "an edit works on one window"),
        (["--outpaint", "scene_0099"], "no scene 'scene_0099'"),
        (["--context-steer", "0.5"], "--context-steer steers edits towards what they keep"),
    ],
)
def test_bad_edits_are_one_line_errors(runs, tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit):
        edit(runs, tmp_path / "out", *extra)
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_eval_forecast_scores_each_future_frame_beside_the_baselines(runs, tmp_path, capsys):
    cli("eval-forecast", "--dit", runs / "dit", "--vae", runs / "vae", "--data", runs / "town", "--steps", "2",
        "--device", "cpu", "--json", tmp_path / "f.json", "--with-trajectory")  # fmt: skip
    result = json.loads((tmp_path / "f.json").read_text())
    # one (past, future) pair of 4 + 4 frames per 10-frame scene, pairs every 4 frames
    assert result["frames"] == 4 and result["windows"] == 3 and result["with_trajectory"]
    for name in ("dit", "dit_observed", "copy_last", "ego_copy_last", "aligned_copy"):
        assert len(result["scores"][name]["miou"]) == 4
    # copy-last's occupancy IoU and mIoU (over the classes but free that the truth holds) per future frame,
    # pooled over the pairs, counted here with numpy alone
    pairs = open_dataset(runs / "town", "synthtown", frames=8, stride=4)
    hits, union = np.zeros(4), np.zeros(4)
    confusion = np.zeros((4, 12, 12), np.int64)  # per future frame: truth x prediction
    for i in range(len(pairs)):
        labels = pairs[i].labels
        last, future = labels[3] != 0, labels[4:] != 0
        hits += (future & last).sum(axis=(1, 2, 3))
        union += (future | last).sum(axis=(1, 2, 3))
        for f in range(4):
            pair = labels[4 + f].astype(np.int64) * 12 + labels[3]
            confusion[f] += np.bincount(pair.ravel(), minlength=144).reshape(12, 12)
    np.testing.assert_allclose(result["scores"]["copy_last"]["iou"], hits / union, rtol=1e-6)
    tp, truth, drawn = np.diagonal(confusion, axis1=1, axis2=2), confusion.sum(2), confusion.sum(1)
    miou = [np.mean([tp[f, c] / (truth[f, c] + drawn[f, c] - tp[f, c]) for c in range(1, 12) if truth[f, c]])
            for f in range(4)]  # fmt: skip
    np.testing.assert_allclose(result["scores"]["copy_last"]["miou"], miou, rtol=1e-6)
    # the voxels the compensated copy does not give: it scores nothing there, by class it is the IoU above
    assert result["scores"]["ego_copy_last"]["changing_miou"] == [0.0] * 4
    road = [tp[f, 6] / (truth[f, 6] + drawn[f, 6] - tp[f, 6]) if truth[f, 6] else None for f in range(4)]
    np.testing.assert_allclose(result["scores"]["copy_last"]["class_iou"]["road"], road, rtol=1e-6)
    with pytest.raises(SystemExit):
        cli("eval-forecast", "--dit", runs / "dit", "--vae", runs / "vae", "--data", runs / "town", "--steps",
            "2", "--device", "cpu", "--context-steer", "0.5")  # fmt: skip
    assert "--context-steer steers the forecast of a DiT of world coordinates" in capsys.readouterr().err


def test_a_city_grows_in_x_y_and_t_around_a_real_first_window(runs, tmp_path):
    cli("city", "--dit", runs / "dit", "--vae", runs / "vae", "--size", "24", "32", "--frames", "10",
        "--out", tmp_path / "city", "--steps", "2", "--device", "cpu", "--data", runs / "town",
        "--condition-scene", "scene_0000", "--command", "forward")  # fmt: skip
    labels = np.load(tmp_path / "city" / "city" / "labels.npy")
    assert labels.shape == (10, 24, 32, 4)
    np.testing.assert_array_equal(labels[:4, :16, :16], first_window(runs))
    facts = json.loads((tmp_path / "city" / "city.json").read_text())
    assert facts["tiles_per_window"] == 2 * 3 and facts["windows"] == 3 and facts["conditions"] == ["command"]
    assert (tmp_path / "city" / "gifs" / "city_bev.gif").is_file()
    with pytest.raises(SystemExit):
        cli("city", "--dit", runs / "dit", "--vae", runs / "vae", "--size", "12", "32", "--frames", "4",
            "--out", tmp_path / "small", "--device", "cpu")  # fmt: skip
