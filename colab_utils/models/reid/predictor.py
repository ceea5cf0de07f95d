"""The re-identification model on your crops: each query crop's nearest gallery crops, and the embeddings.

Inputs, any of:

* a folder in SoccerNet's layout, with ``query/`` and ``gallery/`` inside (a reid-2023 split
  such as ``valid/``; crops found in sub-folders at any depth);
* ``{"query": ..., "gallery": ...}``, each a folder, a crop file, an RGB array or a list of them;
* any other crops (a folder, files, arrays): each crop is a query ranked against all the others.

Crops are resized to the trained input size as validation does
(:func:`~colab_utils.models.reid.samples.resize`) and embedded by the network (its
``embedding`` output); distances are the trained ones (``meta["distance"]``, as the metric's
:func:`~colab_utils.models.reid.metrics.pair_distances`). When every crop is named as
SoccerNet names them (:func:`~colab_utils.models.reid.files.parse_crop_name`), a query is ranked
against the gallery crops of its own action only, SoccerNet's protocol (a person's id means
nothing across actions), and only those actions' gallery crops are read; otherwise against the
whole gallery. Labelled names also say whether a match is the same person (framed green or red).

``max_frames`` caps the queries (in the all-against-all case, the crops). :meth:`ReidPrediction.save`
writes ``<query>.png`` (the query and its nearest crops), ``rankings.csv`` (query, rank, gallery
crop, distance, same person when known: the ``top`` nearest of each query), ``embeddings.npy``
(N, embedding size) float32 for your own tracker and ``crops.csv`` saying which crop each row is.

The base :meth:`~colab_utils.inference.base.Predictor.predict` hands ``run`` the frames of one
set; ranking needs both sets and gives the embeddings too, so :meth:`CropRanking.predict` is overridden.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colab_utils.inference.base import Prediction, Predictor, Result, batches
from colab_utils.inference.inputs import IMAGE_SUFFIXES, Frame, read_frames
from colab_utils.models.reid.files import CropName, CropNameError, parse_crop_name
from colab_utils.models.reid.metrics import pair_distances, same_action_pairs
from colab_utils.models.reid.picture import RankedQuery, ranking_picture
from colab_utils.models.reid.samples import resize
from colab_utils.models.reid.task import Reid as ReidTask

ACCEPTED = (
    "a folder holding query/ and gallery/ (SoccerNet's layout), {'query': ..., 'gallery': ...} with "
    f"crop images ({', '.join(IMAGE_SUFFIXES)}), folders of them or RGB uint8 arrays (H, W, 3), "
    "or just crops (each is then ranked against the others)"
)
UNKNOWN = "#7f7f7f"  # the frame of a match whose identity the crop names do not tell


class _ExportedReid(ReidTask):
    """The reid task with its number of training identities taken from the weights (no data here)."""

    def __init__(self, identities: int) -> None:
        self.identities = identities

    def num_classes(self, cfg: Any) -> int:
        return self.identities


@dataclass
class CropInputs:
    """The crops read: queries and gallery (the same list when each crop is ranked against the others),
    whether all are named as SoccerNet names crops (then ranked per action), what was skipped, notes."""

    query: list[Frame]
    gallery: list[Frame]
    layout: str
    per_action: bool
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def against_others(self) -> bool:
        return self.query is self.gallery

    def summary(self) -> str:
        if self.against_others:
            read = f"Read {len(self.query)} crops ({self.layout})."
        else:
            read = f"Read {len(self.query)} query and {len(self.gallery)} gallery crops ({self.layout})."
        if self.per_action:
            protocol = "SoccerNet crop names: each query is ranked against the crops of its own action only."
        elif self.against_others:
            protocol = "Each crop is ranked against all the others."
        else:
            protocol = "Each query is ranked against the whole gallery (the names are not SoccerNet's)."
        lines = [read, protocol, *self.notes]
        if self.skipped:
            lines.append(f"Skipped {len(self.skipped)} unreadable input{'s' * (len(self.skipped) != 1)}:")
            lines += [f"  {what}: {why}" for what, why in self.skipped]
        return "\n".join(lines)


def crop_name(frame: Frame) -> CropName | None:
    """The SoccerNet name of a crop read from a file; None for arrays and other names."""
    try:
        return parse_crop_name(frame.source)
    except CropNameError:
        return None


def _expand(items: Any, notes: list[str]) -> list[Any]:
    """Crop files (folders searched at any depth, sorted) and arrays, from one set's inputs."""
    if isinstance(items, str | Path) or (isinstance(items, np.ndarray) and items.ndim == 3):
        items = [items]
    found: list[Any] = []
    for item in items:
        if isinstance(item, np.ndarray) and item.ndim == 4:
            found += list(item)
            continue
        if not isinstance(item, str | Path):
            found.append(item)
            continue
        path = Path(item).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist. Give {ACCEPTED}.")
        if not path.is_dir():
            found.append(path)
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        crops = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        if len(crops) < len(files):
            notes.append(f"{path}: ignored {len(files) - len(crops)} files that are not images")
        found += crops
    return found


def _names(items: list[Any]) -> list[CropName | None]:
    names = []
    for item in items:
        try:
            names.append(parse_crop_name(str(item)) if isinstance(item, Path) else None)
        except CropNameError:
            names.append(None)
    return names


def _read(items: list[Any], what: str, skipped: list[tuple[str, str]]) -> list[Frame]:
    if not items:
        raise ValueError(f"The {what} set holds no crop. Give {ACCEPTED}.")
    try:
        report = read_frames(items, 1, len(items))
    except ValueError as error:
        message, _, reasons = str(error).partition("\n")
        if message.startswith("No readable frame"):  # every file failed: say why, and what crops can be
            raise ValueError(f"No readable crop in the {what} set. Give {ACCEPTED}.\n{reasons}") from error
        raise ValueError(f"The {what} set: {error}") from error
    skipped += report.skipped
    return report.frames


def read_crops(inputs: Any, max_queries: int) -> CropInputs:
    """The query and gallery crops of ``inputs`` (see the module's docstring for what is accepted)."""
    if max_queries < 1:
        raise ValueError(f"max_frames must be >= 1, not {max_queries}")
    notes: list[str] = []
    if isinstance(inputs, dict):
        if set(inputs) != {"query", "gallery"}:
            raise ValueError(f"A dict of inputs needs the keys 'query' and 'gallery', not {sorted(inputs)}.")
        layout, query, gallery = "query and gallery given", inputs["query"], inputs["gallery"]
    elif isinstance(inputs, str | Path) and all((Path(inputs) / s).is_dir() for s in ("query", "gallery")):
        layout, query, gallery = "SoccerNet layout", Path(inputs) / "query", Path(inputs) / "gallery"
    else:
        layout, query, gallery = "each crop against the others", inputs, None
    query_items = _expand(query, notes)
    if len(query_items) > max_queries:
        notes.append(
            f"Stopped at max_frames={max_queries} queries: {len(query_items) - max_queries} more were not "
            "ranked (raise max_frames)."
        )
        query_items = query_items[:max_queries]
    gallery_items = query_items if gallery is None else _expand(gallery, notes)
    query_names, gallery_names = _names(query_items), _names(gallery_items)
    if gallery is not None and all(n is not None for n in query_names + gallery_names):
        actions = {n.action_idx for n in query_names}
        kept = [item for item, n in zip(gallery_items, gallery_names, strict=True) if n.action_idx in actions]
        if len(kept) < len(gallery_items):
            notes.append(f"Read the gallery crops of the queries' {len(actions)} actions only.")
        gallery_items = kept
    skipped: list[tuple[str, str]] = []
    queries = _read(query_items, "query", skipped)
    crops = queries if gallery is None else _read(gallery_items, "gallery", skipped)
    # decided on the crops read: an unreadable file of another name does not change the protocol
    per_action = all(crop_name(c) is not None for c in [*queries, *crops])
    return CropInputs(queries, crops, layout, per_action, skipped, notes)


@dataclass(frozen=True)
class Match:
    """A gallery crop ranked for a query: which, how far, and whether it is the same person (None:
    the names do not tell)."""

    crop: Frame
    distance: float
    same_person: bool | None


@dataclass
class ReidResult(Result):
    """A query crop and its nearest gallery crops, nearest first, out of ``candidates`` ranked."""

    name: str
    source: str
    image: np.ndarray
    action: int | None
    matches: list[Match]
    candidates: int
    distance: str

    @property
    def found(self) -> bool:
        return bool(self.matches)

    def _scope(self) -> str:
        where = "gallery crops" if self.action is None else f"crops of action {self.action}"
        return f"{self.candidates} {where}"

    def summary(self) -> str:
        if not self.matches:
            where = f"action {self.action}" if self.action is not None else "the gallery"
            return f"{self.name}: no gallery crop in {where} to rank"
        nearest = self.matches[0]
        who = {True: ", same person", False: ", someone else", None: ""}[nearest.same_person]
        return (
            f"{self.name}: nearest {nearest.crop.name} at {self.distance} distance "
            f"{nearest.distance:.3f}{who} (of {self._scope()})"
        )

    def figure(self) -> Any:
        label = "query" if self.action is None else f"query, action {self.action}"
        shown = [(m.crop.image, m.distance, bool(m.same_person)) for m in self.matches]
        known = any(m.same_person is not None for m in self.matches)
        colours = "green = same person, red = someone else" if known else "identities unknown"
        ranked = f"nearest {len(self.matches)} of {self._scope()}, {self.distance} distance"
        title = f"{self.name}\n{ranked}\n{colours}"
        figure = ranking_picture([RankedQuery(self.image, label, shown)], title=title)
        for axis, match in zip(figure.axes[1:], self.matches, strict=False):
            if match.same_person is None:
                for spine in axis.spines.values():
                    spine.set_edgecolor(UNKNOWN)
        return figure

    def save(self, folder: Path) -> list[Path]:
        """``<name>.png``: the query and its nearest crops (rankings and embeddings: the prediction's)."""
        return [self.save_picture(folder)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.name,
            "source": self.source,
            "action": self.action,
            "candidates": self.candidates,
            "distance": self.distance,
            "nearest": [
                {
                    "rank": rank,
                    "gallery": m.crop.name,
                    "source": m.crop.source,
                    "distance": m.distance,
                    "same_person": m.same_person,
                }
                for rank, m in enumerate(self.matches, 1)
            ],
        }


@dataclass
class ReidPrediction(Prediction):
    """The queries' rankings, and every crop's embedding (rows: ``crops``, queries first)."""

    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    crops: list[tuple[str, Frame]] = field(default_factory=list)

    def save(self, folder: str | Path) -> list[Path]:
        """Query pictures and ``results.json``, then ``rankings.csv``, ``embeddings.npy``, ``crops.csv``."""
        folder = Path(folder)
        paths = super().save(folder)
        rankings, embeddings, crops = folder / "rankings.csv", folder / "embeddings.npy", folder / "crops.csv"
        with open(rankings, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["query", "rank", "gallery", "distance", "same_person"])
            for result in self.results:
                for rank, m in enumerate(result.matches, 1):
                    same = "" if m.same_person is None else str(m.same_person).lower()
                    writer.writerow([result.name, rank, m.crop.name, f"{m.distance:.6f}", same])
        np.save(embeddings, self.embeddings)
        with open(crops, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row", "set", "name", "source"])
            writer.writerows(
                [row, subset, crop.name, crop.source] for row, (subset, crop) in enumerate(self.crops)
            )
        print(f"Rankings: {rankings}; embeddings {self.embeddings.shape}: {embeddings} (rows: {crops})")
        return [*paths, rankings, embeddings, crops]


class CropRanking(Predictor):
    """Options: ``top`` (nearest gallery crops kept per query, default 5) and ``batch_size`` (crops per
    forward pass)."""

    task_class = ReidTask

    found_label = "with gallery crops to rank"

    def __init__(
        self, payload: dict[str, Any], device: str | torch.device, top: int = 5, batch_size: int = 64
    ) -> None:
        if top < 1:
            raise ValueError(f"top must be >= 1, not {top}")
        super().__init__(payload, device)
        self.top = int(top)
        self.batch_size = int(batch_size)
        self.distance = str(self.meta["distance"])

    def model_params(self) -> dict[str, Any]:
        """The task's params, with the number of training identities read from the classifier's rows."""
        identities = int(self.payload["state_dict"]["classifier.weight"].shape[0])
        return _ExportedReid(identities).model_params(self.cfg)

    def embed(self, crops: list[Frame]) -> torch.Tensor:
        """(N, embedding size) float32 on the CPU."""
        found = []
        for batch in batches(crops, self.batch_size):
            images = torch.stack(
                [torch.from_numpy(resize(c.image, self.cfg.data.input_size)).permute(2, 0, 1) for c in batch]
            )
            with self.autocast():
                found.append(self.model.predict(images)["embedding"].float().cpu())
        return torch.cat(found)

    def rank(self, crops: CropInputs, query: torch.Tensor, gallery: torch.Tensor) -> list[ReidResult]:
        """Each query's ``top`` nearest gallery crops, among its action's when ``crops.per_action``."""
        query_names = [crop_name(c) for c in crops.query]
        gallery_names = [crop_name(c) for c in crops.gallery]
        if crops.per_action:
            q, g = same_action_pairs(
                np.array([n.action_idx for n in query_names]), np.array([n.action_idx for n in gallery_names])
            )
        else:
            q = np.repeat(np.arange(len(crops.query)), len(crops.gallery))
            g = np.tile(np.arange(len(crops.gallery)), len(crops.query))
        if crops.against_others:
            q, g = q[q != g], g[q != g]
        distances = pair_distances(query, gallery, q, g, self.distance)
        order = np.lexsort((distances, q))
        q, g, distances = q[order], g[order], distances[order]
        starts = np.searchsorted(q, np.arange(len(crops.query) + 1))
        results = []
        for i, crop in enumerate(crops.query):
            mine = slice(starts[i], starts[i + 1])
            name = query_names[i]
            matches = [
                Match(crops.gallery[j], float(d), _same_person(name, gallery_names[j]))
                for j, d in zip(g[mine][: self.top], distances[mine][: self.top], strict=True)
            ]
            action = name.action_idx if crops.per_action else None
            candidates = starts[i + 1] - starts[i]
            results.append(
                ReidResult(
                    crop.name, crop.source, crop.image, action, matches, int(candidates), self.distance
                )
            )
        return results

    def predict(self, inputs: Any, every: int = 1, max_frames: int = 100) -> ReidPrediction:
        """Rank the queries of ``inputs``; ``max_frames`` caps the queries (``every`` is for videos)."""
        crops = read_crops(inputs, max_frames)
        query = self.embed(crops.query)
        gallery = query if crops.against_others else self.embed(crops.gallery)
        results = self.rank(crops, query, gallery)
        if crops.against_others:
            rows, embeddings = [("crop", c) for c in crops.query], query
        else:
            rows = [("query", c) for c in crops.query] + [("gallery", c) for c in crops.gallery]
            embeddings = torch.cat([query, gallery])
        found = (self.found_label, embeddings.numpy(), rows)
        return ReidPrediction(self.payload["model"], self.task, self.meta, results, crops, *found)


def _same_person(query: CropName | None, match: CropName | None) -> bool | None:
    if query is None or match is None or not query.labelled or not match.labelled:
        return None
    return query.identity == match.identity
