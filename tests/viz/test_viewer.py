"""The interactive viewer: its meshes face by face, the figure's frames, slider and legend, the `view`
command, and the page opened in headless Chromium (no console errors; the slider and the legend change the
picture)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dynamiccity.data.classes import COMMON_CLASSES, ROAD, VEHICLE
from dynamiccity.viz.viewer import class_mesh, exposed_faces, scene_figure, write_viewer
from tests.conftest import cli
from tests.viz.chromium import Browser, ensure_chromium


def test_a_voxel_has_six_faces_and_a_bar_merges_its_rows():
    labels = np.zeros((4, 3, 2), np.uint8)
    labels[1, 1, 0] = VEHICLE
    mesh = class_mesh(labels, VEHICLE)
    assert mesh.faces.shape == (12, 3) and mesh.vertices.dtype == np.uint8
    assert set(map(tuple, mesh.vertices.tolist())) == {
        (x, y, z) for x in (1, 2) for y in (1, 2) for z in (0, 1)
    }
    labels[:3, 1, 0] = VEHICLE  # a bar of three along x: four long sides merged, two ends
    assert class_mesh(labels, VEHICLE).faces.shape == (12, 3)
    labels[:, :, 0] = ROAD  # a road under a vehicle: the faces they share border no free space
    labels[1, 1, 1] = VEHICLE
    road, car = class_mesh(labels, ROAD), class_mesh(labels, VEHICLE)
    assert car.faces.shape == (10, 3)  # five faces, the bottom one rests on the road
    top = exposed_faces(labels != 0, axis=2, sign=1)
    assert not top[1, 1, 0] and top[0, 0, 0]
    assert class_mesh(labels, 5).faces.shape == (0, 3) and len(road.faces) > 0


def test_the_figure_has_a_frame_per_step_a_trace_per_class_and_a_slider():
    labels = np.zeros((3, 8, 8, 2), np.uint8)
    labels[:, :, :, 0] = ROAD
    for t in range(3):
        labels[t, t, 2, 1] = VEHICLE  # moves along x
    figure = scene_figure(labels, (0.8, 0.8, 0.4), COMMON_CLASSES, "moving")
    assert len(figure.frames) == 3 and [tr.name for tr in figure.data] == ["road", "vehicle"]
    assert [step.label for step in figure.layout.sliders[0].steps] == ["0", "1", "2"]
    cars = [np.asarray(frame.data[1].x) for frame in figure.frames]
    assert [int(x.min()) for x in cars] == [0, 1, 2]
    with pytest.raises(ValueError, match="class id 22 is outside the common class set"):
        scene_figure(labels + 12, (1, 1, 1))
    with pytest.raises(ValueError, match=r"name it \.html"):
        write_viewer(labels, "scene.png", (1, 1, 1))


def test_view_writes_one_self_contained_page(tmp_path, capsys):
    from dynamiccity.synthtown.dataset import synthesize

    synthesize(tmp_path / "town", scenes=1, frames=4, grid=(16, 16, 4), seed=0)
    code = cli("view", tmp_path / "town" / "scene_0000", "--out", tmp_path / "scene.html", "--frames", "0:3")
    assert code is None or code == 0
    assert "wrote" in capsys.readouterr().out
    html = (tmp_path / "scene.html").read_text()
    assert "plotly" in html.lower() and '<script src="http' not in html and html.count('"name":"2"') >= 1


@pytest.fixture(scope="module")
def chromium():
    path = ensure_chromium()
    if path is None:
        pytest.skip("no Chromium: `chromium` is not installed and apt-get could not install it")
    return path


def test_the_page_renders_and_the_slider_and_legend_change_it(chromium, tmp_path):
    from dynamiccity.synthtown.dataset import synthesize

    synthesize(tmp_path / "town", scenes=1, frames=8, grid=(32, 32, 8), seed=3)
    labels = np.load(tmp_path / "town" / "scene_0000" / "labels.npy")
    labels[:, :, :, 1:] = np.where(labels[:, :, :, 1:] == VEHICLE, 0, labels[:, :, :, 1:])
    labels[:, 4:8, 4:8, 1:3] = 0
    for t in range(8):  # a vehicle that crosses the scene, so that frames differ plainly
        labels[t, 4 * t : 4 * t + 4, 4:8, 1:3] = VEHICLE
    write_viewer(labels, tmp_path / "scene.html", (0.8, 0.8, 0.8), title="test")
    browser = Browser(chromium)
    try:
        browser.open(tmp_path / "scene.html")
        browser.wait_for("document.querySelector('#scene .gl-container canvas') !== null", 120)
        time.sleep(2)
        first = browser.screenshot()
        rail = browser.evaluate(
            "(() => { const r = document.querySelector('#scene .slider-rail-rect').getBoundingClientRect();"
            " return [r.left, r.top, r.width, r.height]; })()"
        )
        browser.click(rail[0] + 0.95 * rail[2], rail[1] + rail[3] / 2)  # drag the slider to the last frame
        browser.wait_for("document.getElementById('scene').layout.sliders[0].active === 7", 30)
        time.sleep(2)
        last = browser.screenshot()
        legend = browser.evaluate(
            "(() => { const items = [...document.querySelectorAll('#scene .legend .traces')];"
            " const road = items.find(e => e.textContent.trim() === 'road');"
            " const r = road.getBoundingClientRect(); return [r.left + 20, r.top + r.height / 2]; })()"
        )
        browser.click(*legend)  # hide the road
        browser.wait_for("document.getElementById('scene').data.some(d => d.visible === 'legendonly')", 30)
        time.sleep(2)
        hidden = browser.screenshot()
    finally:
        browser.close()
    assert browser.errors == []
    assert first.std() > 10  # something is drawn
    changed = lambda a, b: (np.abs(a.astype(int) - b.astype(int)).sum(-1) > 30).mean()  # noqa: E731
    assert changed(first, last) > 0.002, changed(first, last)
    assert changed(last, hidden) > 0.01, changed(last, hidden)
