"""The features a generation asks beyond sampling, and the one place that decides which a task takes."""

from __future__ import annotations

import pytest

from dynamiccity.generation.features import TASKS, Features, Repaint, Steering

LAYOUT = Features(steering=Steering(layout=0.03))
CONTEXT = Features(steering=Steering(context=0.03))


@pytest.mark.parametrize("task", ["edit", "city", "forecast"])
def test_a_layout_steer_steers_new_scenes_only(task):
    LAYOUT.check("generate", world=False, layout=True)
    with pytest.raises(ValueError, match=f"not {TASKS[task].split(' (')[0]}"):
        LAYOUT.check(task, world=True, layout=True)


def test_a_layout_steer_needs_a_layout():
    with pytest.raises(ValueError, match="needs a layout: give --layout or --layout-from"):
        LAYOUT.check("generate", world=True, layout=False)


@pytest.mark.parametrize(
    ("task", "words"), [("generate", "keeps nothing"), ("forecast", "draws ego windows")]
)
def test_a_context_steer_needs_something_kept(task, words):
    CONTEXT.check(task, world=True)  # a world DiT keeps its strips ahead and the world the past saw
    with pytest.raises(ValueError, match=words):
        CONTEXT.check(task, world=False)


@pytest.mark.parametrize("task", ["edit", "city"])
def test_edits_and_cities_take_a_context_steer_in_either_coordinates(task):
    CONTEXT.check(task, world=False)
    CONTEXT.check(task, world=True)


def test_an_unknown_task_is_refused():
    with pytest.raises(ValueError, match="unknown task 'paint'"):
        Features().check("paint", world=False)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Repaint(0), "resample must be >= 1, got 0"),
        (lambda: Steering(layout=-1.0), "must be >= 0"),
        (lambda: Steering(iterations=0), "steer_iterations >= 1"),
    ],
)
def test_bad_requests_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_facts_keep_the_keys_runs_recorded():
    facts = Features(Repaint(2), False, Steering(0.1, 0.2, 4)).facts()
    assert facts == {
        "resample": 2,
        "ahead": False,
        "layout_steer": 0.1,
        "steer_iterations": 4,
        "context_steer": 0.2,
    }
