"""mAP and CMC rank-k under SoccerNet's per-action protocol, and the argus metric that reports them.

A query is ranked against the gallery crops of its own action only (SoccerNet's
``eval_soccernetv3``: identities mean nothing across actions), so distances are computed for
same-action pairs only; a crop of another action can never count, however close. A query whose
identity has no gallery crop in its action is skipped, as SoccerNet's dev kit does.

The ranking itself is torchmetrics' (``RetrievalMAP``, ``RetrievalHitRate``: CMC rank-k is the
share of queries with a correct match among their k nearest). torchmetrics 1.9 counts only
scores > 0 as retrieved (``retrieval_average_precision`` zeroes the targets of the others), so
a distance d enters as the score 1 / (1 + d): positive, and in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from argus.engine import State
from argus.metrics import Metric
from torchmetrics.retrieval import RetrievalHitRate, RetrievalMAP

DISTANCES = ("cosine", "euclidean")


def same_action_pairs(
    query_actions: np.ndarray, gallery_actions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(query index, gallery index) of every pair from the same action, without a Q x G matrix."""
    query_actions, gallery_actions = np.asarray(query_actions), np.asarray(gallery_actions)
    order = np.argsort(gallery_actions, kind="stable")
    sorted_actions = gallery_actions[order]
    starts = np.searchsorted(sorted_actions, query_actions, side="left")
    stops = np.searchsorted(sorted_actions, query_actions, side="right")
    counts = stops - starts
    queries = np.repeat(np.arange(len(query_actions)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return queries, order[np.repeat(starts, counts) + offsets]


def rank_pairs(
    distances: np.ndarray,
    queries: np.ndarray,
    gallery: np.ndarray,
    query_ids: np.ndarray,
    gallery_ids: np.ndarray,
    ranks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """mAP, rank-k and the number of scored queries, from the distances of (query, gallery) pairs."""
    relevant = np.asarray(query_ids)[queries] == np.asarray(gallery_ids)[gallery]
    scored = np.unique(queries[relevant])
    if len(scored) == 0:
        return {"map": float("nan"), **{f"rank{k}": float("nan") for k in ranks}, "queries": 0.0}
    keep = np.isin(queries, scored)  # what "skip" would do; also spares torchmetrics the empty queries
    scores = torch.from_numpy(1.0 / (1.0 + np.asarray(distances, dtype=np.float64)[keep]))
    target = torch.from_numpy(relevant[keep])
    indexes = torch.from_numpy(queries[keep].astype(np.int64))
    found = {"map": float(RetrievalMAP(empty_target_action="skip")(scores, target, indexes=indexes))}
    for k in ranks:
        hit_rate = RetrievalHitRate(top_k=int(k), empty_target_action="skip")
        found[f"rank{k}"] = float(hit_rate(scores, target, indexes=indexes))
    found["queries"] = float(len(scored))
    return found


def rank_distance_matrix(
    distances: np.ndarray,
    query_ids: np.ndarray,
    query_actions: np.ndarray,
    gallery_ids: np.ndarray,
    gallery_actions: np.ndarray,
    ranks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """The metrics of a full (Q, G) distance matrix; entries across actions are ignored."""
    queries, gallery = same_action_pairs(query_actions, gallery_actions)
    return rank_pairs(
        np.asarray(distances)[queries, gallery], queries, gallery, query_ids, gallery_ids, ranks
    )


def pair_distances(
    query: torch.Tensor, gallery: torch.Tensor, queries: np.ndarray, pairs_gallery: np.ndarray, kind: str
) -> np.ndarray:
    """Distances of the listed pairs of embeddings (cosine: 1 - cos, in [0, 2]; or Euclidean)."""
    if kind not in DISTANCES:
        raise ValueError(f"eval.distance={kind!r} is not one of {', '.join(DISTANCES)}")
    if kind == "cosine":
        query = torch.nn.functional.normalize(query.float(), dim=1)
        gallery = torch.nn.functional.normalize(gallery.float(), dim=1)
    out = np.empty(len(queries), dtype=np.float64)
    for start in range(0, len(queries), 65536):  # bounded memory on the full validation set
        q = query[torch.from_numpy(queries[start : start + 65536])].float()
        g = gallery[torch.from_numpy(pairs_gallery[start : start + 65536])].float()
        chunk = 1 - (q * g).sum(dim=1) if kind == "cosine" else (q - g).norm(dim=1)
        out[start : start + len(chunk)] = chunk.double().numpy()
    return out


class ReidRanking(Metric):
    """``val_map``, ``val_rank1/5/10`` and ``val_queries`` (queries scored) over the validation crops.

    It keeps the embeddings of the last validation, so the evaluate step can show the
    neighbours behind the numbers (:meth:`neighbours`).
    """

    name = "reid_ranking"
    better = "max"

    def __init__(self, distance: str = "cosine", ranks: Sequence[int] = (1, 5, 10)) -> None:
        super().__init__()
        if distance not in DISTANCES:
            raise ValueError(f"eval.distance={distance!r} is not one of {', '.join(DISTANCES)}")
        self.distance = distance
        self.ranks = tuple(int(k) for k in ranks)
        self.reset()

    def reset(self) -> None:
        self.embeddings: list[torch.Tensor] = []
        self.identities: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.is_query: list[np.ndarray] = []

    def update(self, step_output: dict) -> None:
        prediction, target = step_output["prediction"], step_output["target"]
        self.embeddings.append(prediction["embedding"].detach().float().cpu())
        self.identities.append(target["identity"].cpu().numpy())
        self.actions.append(target["action"].cpu().numpy())
        self.is_query.append(target["query"].cpu().numpy().astype(bool))

    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        is_query = np.concatenate(self.is_query)
        return np.flatnonzero(is_query), np.flatnonzero(~is_query)

    def _pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(distances, query sample, gallery sample) of every same-action pair, by sample index."""
        query, gallery = self._split()
        actions, embeddings = np.concatenate(self.actions), torch.cat(self.embeddings)
        q, g = same_action_pairs(actions[query], actions[gallery])
        distances = pair_distances(embeddings[query], embeddings[gallery], q, g, self.distance)
        return distances, query[q], gallery[g]

    def compute(self) -> dict[str, float]:
        if not self.embeddings:
            raise ValueError("no validation batch was seen")
        query, gallery = self._split()
        if len(query) == 0 or len(gallery) == 0:
            raise ValueError(
                "the validation split needs query and gallery crops (valid/ or test/, not train/)"
            )
        distances, queries, gallery_samples = self._pairs()
        identities = np.concatenate(self.identities)
        return rank_pairs(distances, queries, gallery_samples, identities, identities, self.ranks)

    def neighbours(self, sample: int, k: int) -> list[tuple[int, float, bool]]:
        """The k nearest gallery crops of query ``sample`` in its action: (sample, distance, same person)."""
        distances, queries, gallery = self._pairs()
        mine = np.flatnonzero(queries == sample)
        nearest = mine[np.argsort(distances[mine], kind="stable")[:k]]
        identities = np.concatenate(self.identities)
        return [
            (int(gallery[i]), float(distances[i]), bool(identities[gallery[i]] == identities[sample]))
            for i in nearest
        ]

    def epoch_complete(self, state: State) -> None:
        prefix = f"{state.phase}_" if state.phase else ""
        for key, value in self.compute().items():
            state.metrics[f"{prefix}{key}"] = value
