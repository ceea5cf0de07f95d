"""calibration-2023 JSON files read as SoccerNet and its sister datasets spell the class names."""

from __future__ import annotations

import json

import pytest

from colab_utils.calibration.annotations import UnknownClassError, read_calibration_annotation
from colab_utils.geometry.pitch import CLASS_NAMES, canonical_class_name


def write_json(path, content: dict) -> None:
    """As the dataset writes it: one JSON object of class -> [{"x", "y"}, ...]."""
    path.write_text(json.dumps(content))


def test_every_spelling_of_the_left_goal_post_is_one_class(tmp_path):
    path = tmp_path / "00000.json"
    write_json(
        path,
        {
            "Goal left post left": [{"x": 0.1, "y": 0.2}],  # gamestate-2024
            "Goal left post left ": [{"x": 0.1, "y": 0.3}],  # calibration-2023
            " Side line  top\t": [{"x": 0.0, "y": 0.5}, {"x": 1.0, "y": 0.4}],
            "Goal unknown ": [{"x": 0.5, "y": 0.5}],
        },
    )
    annotation, ignored = read_calibration_annotation(path)
    assert annotation == {
        "Goal left post left ": [(0.1, 0.2), (0.1, 0.3)],
        "Side line top": [(0.0, 0.5), (1.0, 0.4)],
    }
    assert set(annotation) <= set(CLASS_NAMES)
    assert ignored == {"Goal unknown": 1}


def test_a_frame_with_only_the_spelling_without_the_space_is_kept(tmp_path):
    path = tmp_path / "00001.json"
    write_json(path, {"Goal left post left": [{"x": 0.1, "y": 0.2}, {"x": 0.1, "y": 0.4}]})
    annotation, _ = read_calibration_annotation(path)
    assert annotation == {"Goal left post left ": [(0.1, 0.2), (0.1, 0.4)]}


@pytest.mark.parametrize("name", ["Penalty spot", "Goal left post", "Goalleft post left", ""])
def test_a_truly_unknown_class_is_still_unknown(tmp_path, name):
    assert canonical_class_name(name) is None
    path = tmp_path / "00002.json"
    write_json(path, {name: [{"x": 0.1, "y": 0.2}], "Middle line": []})
    with pytest.raises(UnknownClassError) as raised:
        read_calibration_annotation(path)
    assert raised.value.names == [name]
