"""predict() for the detector and the re-identification model, from the exported .pth alone.

Both smoke models are exported after a few training steps (untrained: the detector's boxes
are noise, the reid distances small), with their run and data folders deleted afterwards.
What is checked is what a user relies on: boxes in the frame's own pixels and MOT files
that read back, rankings under SoccerNet's per-action protocol with the trained distance,
and embeddings in a file. Correctness is checked against the generators' truth where it is
cheap: the detector's post-processing, fed the true boxes in place of the network's output,
must give back the generator's own det.txt; the reid rankings must reproduce the validation
metrics recorded in the export, computed by training's own code on the same crops.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from colab_utils.config import load_config
from colab_utils.inference.api import load_predictor, predict
from colab_utils.models.detr import source as detr_source
from colab_utils.models.detr.frames import CLASSES
from colab_utils.models.detr.mot import read_mot_clip
from colab_utils.models.reid import source as reid_source
from colab_utils.models.reid.files import parse_crop_name
from colab_utils.models.reid.synthetic.dataset import REID_TASK
from colab_utils.pipeline import prepare_data, train
from colab_utils.portable import export, load_portable

MOT_COLUMNS = ["frame", "id", "left", "top", "width", "height", "score", "x", "y", "z"]
SMOKE = {
    "detr": [
        "data.synthetic.clips.train=2",  # one trained on, one held out to choose the weights
        "data.frames_per_clip.train=2",
        "data.frames_per_clip.valid=1",
        "train.max_steps=1",
    ],
    "reid": [
        "data.synthetic_actions.train=6",
        "data.synthetic_actions.valid=4",
        "train.batch_size=8",
        "train.max_steps=12",  # distances apart enough that float noise cannot swap two ranks
    ],
}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Training and prediction on one core: the machine's other core stays free."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Both models exported from smoke runs, the detector's test clip (MOT layout) and the reid
    validation split (query/ + gallery/) copied as the user's files; everything else deleted."""
    root = tmp_path_factory.mktemp("predict_detection")
    weights = {}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COLAB_UTILS_DRIVE", str(root / "drive"))
        env.setenv("COLAB_UTILS_DATA", str(root / "data"))
        env.delenv("COLAB_RELEASE_TAG", raising=False)
        for model, overrides in SMOKE.items():
            cfg = load_config(
                model, "smoke", ["data.num_workers=0", "logging.progress=false", *overrides], verbose=False
            )
            prepare_data(cfg)
            train(cfg)
            weights[model] = Path(shutil.copy(export(cfg, download=False), root / f"{model}.pth"))
            if model == "detr":
                detr_source.prepare(cfg, ["test"])  # the test split waits for the end: not prepared yet
                (clip,) = detr_source.split_clips(cfg, "test")
                clip_dir = Path(shutil.copytree(clip.folder, root / clip.name))
            else:
                split = reid_source.source_root(cfg) / REID_TASK / "valid"
                crops = Path(shutil.copytree(split, root / "valid"))
    shutil.rmtree(root / "drive")
    shutil.rmtree(root / "data")
    return {"weights": weights, "clip": clip_dir, "crops": crops}


def read_det(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, header=None, names=MOT_COLUMNS)


# ----------------------------------------------------------------- detr


def test_detr_boxes_are_in_the_pixels_of_frames_of_any_size(exported, tmp_path):
    frames = tmp_path / "my_frames"
    frames.mkdir()
    first = cv2.imread(str(exported["clip"] / "img1" / "000001.jpg"))
    height, width = first.shape[:2]
    cv2.imwrite(str(frames / "a.png"), first)
    # each pixel repeated 2x2: resized back to the input size, the network sees the very same image
    cv2.imwrite(
        str(frames / "a_2x.png"), cv2.resize(first, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    )
    cv2.imwrite(str(frames / "phone.png"), cv2.resize(first, (300, 400)))  # portrait, another size
    (frames / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")

    prediction = predict(exported["weights"]["detr"], frames, model="detr", threshold=0.0)
    one, two, phone = prediction
    assert [r.name for r in prediction] == ["a", "a_2x", "phone"]
    assert [name for name, _ in prediction.inputs.skipped] == [str(frames / "broken.png")]
    for result, (w, h) in zip(
        prediction, [(width, height), (2 * width, 2 * height), (300, 400)], strict=True
    ):
        assert len(result.boxes) > 0 and result.boxes.shape[1] == 4
        assert (result.boxes >= 0).all() and (result.boxes[:, [0, 2]] <= w).all()
        assert (result.boxes[:, [1, 3]] <= h).all()
        assert (result.boxes[:, 2:] >= result.boxes[:, :2]).all()
        assert set(result.labels.tolist()) <= set(range(len(CLASSES)))
        assert (np.diff(result.scores) <= 0).all()  # best first
    assert np.allclose(two.boxes, 2 * one.boxes, rtol=1e-5, atol=1e-3)
    assert np.array_equal(two.labels, one.labels) and np.allclose(two.scores, one.scores)
    counts = ", ".join(f"{n} {c}" for c, n in ((c, one.counts()[c]) for c in CLASSES) if n)
    assert f"a: {len(one.boxes)} detections ({counts})" in prediction.summary()

    # the threshold decides what is kept: exactly the detections scoring at least that much
    cut = float(np.median(one.scores))
    strict = predict(exported["weights"]["detr"], frames / "a.png", threshold=cut)[0]
    assert np.allclose(strict.boxes, one.boxes[one.scores >= cut])

    paths = prediction.save(tmp_path / "out")
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in paths)
    assert names == ["a.png", "a_2x.png", "my_frames/det/det.txt", "phone.png", "results.json"]
    det = read_det(tmp_path / "out" / "my_frames" / "det" / "det.txt")
    assert (det["id"] == -1).all() and (det[["x", "y", "z"]] == -1).all().all()
    assert det["frame"].value_counts().sort_index().tolist() == [len(r.boxes) for r in prediction]
    second = det[det["frame"] == 2][["left", "top", "width", "height"]].to_numpy()
    xywh = np.column_stack([two.boxes[:, :2], two.boxes[:, 2:] - two.boxes[:, :2]])
    assert np.allclose(second, xywh, atol=0.006)  # written to 1/100 px
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    box = saved["results"][1]["detections"][0]
    assert box["class"] == CLASSES[two.labels[0]] and np.allclose(box["bbox"], xywh[0])
    assert saved["results"][2]["frame_size"] == [300, 400]
    legend = [t.get_text() for t in phone.figure().axes[0].get_legend().get_texts()]
    assert legend[:4] == list(CLASSES) and "truth" not in legend


def test_detr_video_frames_keep_their_place_in_the_mot_file(exported, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    images = sorted((exported["clip"] / "img1").glob("*.jpg"))
    height, width = cv2.imread(str(images[0])).shape[:2]
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (width, height))
    for image in images:
        writer.write(cv2.imread(str(image)))
    writer.release()

    options = {"every": 3, "threshold": 0.0, "progress": False, "smooth": 0.5}
    prediction = predict(exported["weights"]["detr"], video, **options)
    assert "smooth=0.5 left out: it averages calibration cameras; detr has none." in capsys.readouterr().out
    assert prediction.frames == 3 and prediction.decoded == len(images)
    prediction.save(tmp_path / "out")
    records = (tmp_path / "out" / "frames.jsonl").read_text().splitlines()
    assert [json.loads(line)["name"] for line in records] == ["clip_000000", "clip_000003", "clip_000006"]
    det = read_det(tmp_path / "out" / "clip" / "det" / "det.txt")
    assert sorted(set(det["frame"])) == [1, 4, 7]  # MOT counts a video's frames from 1
    boxes = sum(len(json.loads(line)["detections"]) for line in records)
    assert len(det) == boxes > 0
    annotated = cv2.VideoCapture(str(tmp_path / "out" / "clip_detr.mp4"))
    drawn = []
    while (frame := annotated.read())[0]:
        drawn.append(frame[1])
    assert len(drawn) == 3 and drawn[0].shape == (height, width, 3)
    assert np.abs(drawn[0].astype(int) - cv2.imread(str(images[0])).astype(int)).max() > 100  # boxes drawn


class TrueBoxes(nn.Module):
    """Stands in for the network: for each frame in turn, the generator's boxes as deformable DETR's
    output (one query per box, a confident logit for its class; the other queries empty)."""

    def __init__(self, frames: list[tuple[np.ndarray, np.ndarray]], size: tuple[int, int]) -> None:
        super().__init__()
        queries = max(len(labels) for _, labels in frames) + 4
        self.logits = torch.full((len(frames), queries, len(CLASSES)), -12.0)
        self.boxes = torch.full((len(frames), queries, 4), 0.5)
        scale = np.array(size * 2, dtype=np.float64)
        for i, (xyxy, labels) in enumerate(frames):
            relative = xyxy / scale
            centre, extent = (relative[:, :2] + relative[:, 2:]) / 2, relative[:, 2:] - relative[:, :2]
            self.boxes[i, : len(labels)] = torch.from_numpy(np.hstack([centre, extent]))
            self.logits[i, np.arange(len(labels)), torch.from_numpy(labels)] = 12.0
        self.seen = 0

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = slice(self.seen, self.seen + len(images))
        self.seen += len(images)
        return {"logits": self.logits[batch], "pred_boxes": self.boxes[batch]}


def test_detr_post_processing_gives_back_the_generators_det_file(exported, tmp_path):
    clip = read_mot_clip(exported["clip"])
    width, height = clip.info.width, clip.info.height
    truth = []
    for number in sorted(clip.frames):
        found = clip.frames[number]
        roles = clip.roles(number)
        keep = np.array([role in CLASSES for role in roles])
        xyxy = np.hstack([found.boxes[:, :2], found.boxes[:, :2] + found.boxes[:, 2:]])[keep]
        xyxy = np.clip(xyxy, 0, [width, height, width, height])  # as training's targets
        truth.append((xyxy, np.array([CLASSES.index(r) for r in roles if r in CLASSES])))
    predictor = load_predictor(exported["weights"]["detr"], batch_size=3)
    predictor.model.nn_module = TrueBoxes(truth, (width, height))

    prediction = predictor.predict(exported["clip"] / "img1")
    for result, (xyxy, labels) in zip(prediction, truth, strict=True):
        order = np.lexsort(xyxy.T[::-1])
        found = np.lexsort(result.boxes.round(2).T[::-1])  # float32 boxes: ties must stay ties
        assert np.allclose(result.boxes[found], xyxy[order], atol=1e-3)
        assert np.array_equal(result.labels[found], labels[order])
    prediction.save(tmp_path / "out")

    ours = read_det(tmp_path / "out" / exported["clip"].name / "det" / "det.txt")  # <clip>/img1 read
    theirs = read_det(exported["clip"] / "det" / "det.txt")  # all roles are classes in synthetic clips
    assert len(ours) == len(theirs) and (ours["score"] > 0.99).all() and (ours["id"] == -1).all()
    assert np.allclose(frame_boxes(ours, width, height), frame_boxes(theirs, width, height), atol=0.006)


def frame_boxes(det: pd.DataFrame, width: int, height: int) -> np.ndarray:
    """(frame, x0, y0, x1, y1) of a MOT det file's boxes clipped to the frame, in a fixed order."""
    left_top = det[["left", "top"]].to_numpy()
    corners = np.hstack([left_top, left_top + det[["width", "height"]].to_numpy()])
    rows = np.column_stack([det["frame"], np.clip(corners, 0, [width, height, width, height])])
    return rows[np.lexsort(rows.round(2).T[::-1])]


# ----------------------------------------------------------------- reid


def average_precision(same: list[bool]) -> float:
    hits = np.flatnonzero(same) + 1
    return float(np.mean(np.arange(1, len(hits) + 1) / hits))


def test_reid_ranks_soccernet_crops_within_their_action_as_validation_did(exported, tmp_path):
    split = exported["crops"]
    gallery = [parse_crop_name(p.name) for p in (split / "gallery").rglob("*.png")]
    queries = sorted((split / "query").rglob("*.png"))
    prediction = predict(exported["weights"]["reid"], split, model="reid", top=100)
    assert "SoccerNet layout" in prediction.summary() and "its own action only" in prediction.summary()
    assert len(prediction) == len(queries)
    for result in prediction:
        action = parse_crop_name(result.source).action_idx
        assert {parse_crop_name(m.crop.source).action_idx for m in result.matches} == {action}
        assert result.candidates == len(result.matches) == sum(g.action_idx == action for g in gallery)
        assert np.all(np.diff([m.distance for m in result.matches]) >= 0)

    # training's validation ranked the same crops with the same weights: its metrics come back
    metrics = load_portable(exported["weights"]["reid"])["meta"]["metrics"]
    same = [[m.same_person for m in result.matches] for result in prediction]
    gap = min(np.diff([m.distance for m in r.matches]).min() for r in prediction)
    print(f"\nreid: {len(same)} queries; smallest distance between neighbours in a ranking {gap:.1e}")
    assert np.mean([s[0] for s in same]) == pytest.approx(metrics["val_rank1"], abs=1e-6)
    assert np.mean([any(s[:5]) for s in same]) == pytest.approx(metrics["val_rank5"], abs=1e-6)
    assert np.mean([average_precision(s) for s in same]) == pytest.approx(metrics["val_map"], abs=1e-5)

    prediction = predict(exported["weights"]["reid"], split, top=2)  # pictures of 2 matches: quick to save
    paths = prediction.save(tmp_path / "out")
    assert {p.name for p in paths} == {f"{r.name}.png" for r in prediction} | {
        "results.json",
        "rankings.csv",
        "embeddings.npy",
        "crops.csv",
    }
    rankings = pd.read_csv(tmp_path / "out" / "rankings.csv")
    assert list(rankings.columns) == ["query", "rank", "gallery", "distance", "same_person"]
    assert len(rankings) == 2 * len(queries)
    assert rankings.groupby("query")["rank"].min().eq(1).all()
    embeddings = np.load(tmp_path / "out" / "embeddings.npy")
    crops = pd.read_csv(tmp_path / "out" / "crops.csv")
    assert embeddings.shape == (len(queries) + len(gallery), 128) and embeddings.dtype == np.float32
    assert crops["set"].value_counts().to_dict() == {"query": len(queries), "gallery": len(gallery)}
    assert crops["row"].tolist() == list(range(len(embeddings)))


def test_reid_finds_a_querys_own_crop_first_and_ranks_other_names_against_the_whole_gallery(
    exported, tmp_path
):
    split = exported["crops"]
    query = sorted((split / "query").rglob("*.png"))[0]
    gallery_files = sorted((split / "gallery").rglob("*.png"))
    gallery = tmp_path / "gallery"
    gallery.mkdir()
    for path in gallery_files:
        shutil.copy(path, gallery)
    shutil.copy(query, gallery)  # the query itself hides in the gallery
    (gallery / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    weights = exported["weights"]["reid"]

    result = predict(weights, {"query": [query], "gallery": gallery}, top=3)
    (own, *_), action = result[0].matches, parse_crop_name(query.name).action_idx
    assert own.crop.source == str(gallery / query.name) and own.distance == pytest.approx(0.0, abs=1e-5)
    assert own.same_person is True and result[0].action == action
    assert [what for what, _ in result.inputs.skipped] == [str(gallery / "broken.png")]

    # the same crops under names of the user's own: no action known, the whole gallery counts
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for i, path in enumerate([*gallery_files, query]):
        shutil.copy(path, renamed / f"crop_{i:03d}.png")
    whole = predict(weights, {"query": query, "gallery": renamed}, top=3)
    assert "whole gallery" in whole.summary()
    nearest = whole[0].matches[0]
    assert (
        whole[0].candidates == len(gallery_files) + 1
        and nearest.crop.name == f"crop_{len(gallery_files):03d}"
    )
    assert nearest.distance == pytest.approx(0.0, abs=1e-5) and nearest.same_person is None
    assert "identities unknown" in whole[0].figure().texts[0].get_text()

    # crops alone: each is ranked against all the others, never against itself
    alone = predict(weights, renamed, top=5, max_frames=6)
    assert "Each crop is ranked against all the others" in alone.summary()
    assert "Stopped at max_frames=6" in alone.summary() and len(alone) == 6
    assert all(r.candidates == 5 and r.name not in {m.crop.name for m in r.matches} for r in alone)
    alone.save(tmp_path / "alone")
    assert np.load(tmp_path / "alone" / "embeddings.npy").shape == (6, 128)


def test_reid_says_what_it_accepts(exported, tmp_path):
    weights = exported["weights"]["reid"]
    predictor = load_predictor(weights)
    rows = load_portable(weights)["state_dict"]["classifier.weight"].shape[0]
    assert predictor.model.get_nn_module().classifier.out_features == rows  # from the weights, no data
    empty = tmp_path / "empty"
    empty.mkdir()
    query = next((exported["crops"] / "query").rglob("*.png"))
    with pytest.raises(ValueError, match=r"keys 'query' and 'gallery', not \['gallery', 'queries'\]"):
        predictor.predict({"queries": query, "gallery": empty})
    with pytest.raises(ValueError, match=r"The gallery set holds no crop\. Give a folder holding query/"):
        predictor.predict({"query": query, "gallery": empty})
    with pytest.raises(FileNotFoundError, match=r"does not exist\. Give a folder holding query/"):
        predictor.predict(tmp_path / "nowhere")
    (empty / "broken.png").write_bytes(b"not a png")
    with pytest.raises(
        ValueError,
        match=r"No readable crop in the gallery set\. Give a folder.*\n.*broken\.png: not an image",
    ):
        predictor.predict({"query": query, "gallery": empty})
