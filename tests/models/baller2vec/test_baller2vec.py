"""baller2vec: the attention mask, tokens, bins, rollout, metrics, the profile, the pipeline, and
beating constant velocity on held-out synthetic matches."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from colab_utils.config import load_config
from colab_utils.models.baller2vec.metrics import forecast_errors
from colab_utils.models.baller2vec.network import Baller2Vec
from colab_utils.models.baller2vec.rollout import constant_velocity, rollout
from colab_utils.models.baller2vec.tokens import BALL_SIDE, DisplacementBins, time_causal_mask
from colab_utils.pipeline import evaluate, prepare_data, train
from colab_utils.portable import export, load_portable
from colab_utils.registry import get_task

MODEL = "baller2vec"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """The smoke config, its task and datasets (three synthetic matches, generated once)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLAB_UTILS_DRIVE", str(tmp_path_factory.mktemp("drive")))
        patch.setenv("COLAB_UTILS_DATA", str(tmp_path_factory.mktemp("data")))
        cfg = load_config(MODEL, "smoke", verbose=False)
        task = get_task(MODEL)
        train_set, valid_set = task.datasets(cfg)
        return cfg, task, train_set, valid_set


def batch_of(dataset, keys) -> dict[str, torch.Tensor]:
    return torch.utils.data.default_collate([dataset[key] for key in keys])


def tiny_net(**changes) -> Baller2Vec:
    params = dict(
        agents=23,
        max_steps=8,
        d_model=16,
        heads=2,
        layers=2,
        feedforward=32,
        dropout=0.0,
        bins={"size": 7, "player_extent_m": 0.4, "ball_extent_m": 3.0, "centre": "velocity"},
        future_horizons=[2],
    )
    torch.manual_seed(0)
    net = Baller2Vec(**{**params, **changes}).eval()
    for head in (net.next_step, net.future):  # random heads, so every output depends on its inputs
        torch.nn.init.normal_(head.weight, std=0.5)
    return net


# ----------------------------------------------------------------- the mask


def test_the_mask_lets_a_token_see_every_agent_up_to_its_own_step_and_nothing_later():
    steps, agents = 4, 3
    blocked = time_causal_mask(steps, agents)
    for i in range(steps * agents):
        for j in range(steps * agents):
            step_i, step_j = divmod(i, agents)[0], divmod(j, agents)[0]
            assert bool(blocked[i, j]) == (step_j > step_i), (i, j)


def test_the_network_attends_across_agents_at_a_step_but_never_to_a_later_step(smoke):
    _, _, train_set, _ = smoke
    inputs = batch_of(train_set, [(0, 0)])
    inputs = {k: v[:, :8] if v.dim() > 2 else v for k, v in inputs.items()}
    present = inputs["present"][0]
    mover = next(a for a in range(present.shape[1]) if present[5, a])
    observer = next(a for a in range(present.shape[1]) if a != mover and present[5, a] and present[6, a])
    net = tiny_net()
    with torch.no_grad():
        before = net(inputs)["logits"]
        later = {**inputs, "positions": inputs["positions"].clone()}
        later["positions"][:, 5, mover] += 2.0  # one agent moves at step 5
        after = net(later)["logits"]
    assert torch.equal(after[:, :5], before[:, :5])  # nothing before step 5 saw it
    assert not torch.allclose(after[:, 5, observer], before[:, 5, observer])  # another agent at step 5 did
    assert not torch.allclose(after[:, 6, observer], before[:, 6, observer])  # and every agent afterwards


# ----------------------------------------------------------------- tokens, bins, rollout


def test_tokens_put_the_ball_last_and_shuffle_players_only_within_their_team(smoke):
    _, _, train_set, valid_set = smoke
    sample, again = train_set[(3, 10)], train_set[(3, 10)]
    assert all(torch.equal(sample[k], again[k]) for k in sample)  # drawn from the sample's generator
    slots = sample["slot"]
    assert slots[-1] == 22 and sorted(slots[:11].tolist()) == list(range(11))
    assert sorted(slots[11:22].tolist()) == list(range(11, 22))
    assert any(not torch.equal(train_set[(e, 10)]["slot"], slots) for e in range(4, 8))
    assert sample["side"][-1] == BALL_SIDE and set(sample["side"][:11].tolist()) | set(
        sample["side"][11:22].tolist()
    ) == {0, 1}
    assert 0 < sample["hidden"].float().mean() < 0.25  # masked-reconstruction tokens
    plain = valid_set[0]
    assert torch.equal(plain["slot"], torch.arange(23)) and not plain["hidden"].any()
    window = valid_set.window(0)
    ball = torch.from_numpy(window.ball[:, :2])
    assert torch.allclose(plain["positions"][:, -1][plain["present"][:, -1]], ball[plain["present"][:, -1]])
    attacking = 0 if window.home_direction > 0 else 1
    assert (plain["side"][:11] == attacking).all()  # side ids: which goal a team attacks, not home/away


def test_bins_put_a_displacement_in_its_cell_and_read_it_back():
    bins = DisplacementBins(size=21, player_extent_m=0.4, ball_extent_m=3.0, centre="velocity")
    extents = bins.extents(3)
    residual = torch.tensor([[[[0.08, -0.12], [0.0, 0.39], [1.2, -5.0]]]])
    cells = bins.cell_of(residual, extents)
    assert cells.tolist() == [[[(10 + 2) * 21 + 10 - 3, 10 * 21 + 20, (10 + 4) * 21 + 0]]]
    logits = torch.full((1, 1, 3, 441), -1e4).scatter(-1, cells[..., None], 0.0)
    centres = bins.expected(logits, extents)
    assert torch.allclose(centres[..., 0, :], residual[..., 0, :], atol=1e-6)
    assert torch.allclose(centres[..., 2, :], torch.tensor([1.2, -3.0]), atol=1e-6)  # clamped to the grid
    with pytest.raises(ValueError, match="odd"):
        DisplacementBins(size=20, player_extent_m=0.4, ball_extent_m=3.0, centre="velocity")


def test_an_untrained_model_forecasts_constant_velocity_and_the_rollout_ignores_the_future(smoke):
    cfg, task, _, valid_set = smoke
    model = task.build_model(cfg, torch.device("cpu"))
    model.eval()
    inputs = batch_of(valid_set, range(4))
    history, steps = int(cfg.data.history), int(cfg.data.future)
    net = model.get_nn_module()
    forecast = rollout(net, inputs, history, steps)
    baseline = constant_velocity(inputs["positions"], inputs["present"], history, steps)
    assert torch.allclose(forecast, baseline, atol=1e-4)  # a flat grid's mean is its centre
    for head in (net.next_step,):
        torch.nn.init.normal_(head.weight, std=0.3)
    changed = {**inputs, "positions": inputs["positions"].clone()}
    changed["positions"][:, history:] += 5.0
    assert torch.equal(rollout(net, inputs, history, steps), rollout(net, changed, history, steps))


def test_forecast_errors_are_ade_and_fde_per_horizon():
    truth = np.zeros((1, 4, 3, 2))
    forecast = truth.copy()
    forecast[0, :, 0, 0] = [1.0, 2.0, 3.0, 4.0]  # player 0 drifts 1 m per step
    forecast[0, :, 2, 1] = 10.0  # the ball is 10 m off
    valid = np.ones((1, 4, 3), bool)
    valid[0, 3, 1] = False  # player 1 lost at step 4
    errors = forecast_errors(forecast, truth, valid, [1, 2, 4, 6])
    assert errors["ade_1"] == pytest.approx(0.5) and errors["fde_1"] == pytest.approx(0.5)
    assert errors["ade_2"] == pytest.approx((1 + 2 + 0 + 0) / 4)
    assert errors["ade_4"] == pytest.approx((1 + 2 + 3 + 4) / 7) and errors["fde_4"] == pytest.approx(4.0)
    assert errors["ball_ade_4"] == pytest.approx(10.0) and "ade_6" not in errors


def test_the_losses_vanish_where_the_answer_is_right(smoke):
    _, task, train_set, _ = smoke
    cfg = smoke[0]
    model = task.build_model(cfg, torch.device("cpu"))
    net = model.get_nn_module()
    inputs = batch_of(train_set, [(0, 1), (0, 2)])
    outputs = net(inputs)
    positions, present = inputs["positions"], inputs["present"]
    perfect = {**outputs, "position": positions.clone()}
    future = torch.zeros_like(outputs["future"])
    for k, horizon in enumerate(net.future_horizons):
        future[:, :-horizon, :, k] = positions[:, horizon:] - positions[:, :-horizon]
    perfect["future"] = future
    residual = positions[:, 1:] - positions[:, :-1] - net.bins.origin(positions, present)[:, :-1]
    cells = net.bins.cell_of(residual, outputs["extents"])
    logits = torch.full_like(outputs["logits"], -30.0)
    logits[:, :-1] = logits[:, :-1].scatter(-1, cells[..., None], 30.0)
    perfect["logits"] = logits
    terms = model.loss.terms(perfect, inputs, net.bins, net.future_horizons)
    assert all(float(value) < 1e-6 for value in terms.values()), terms
    with torch.no_grad():
        untrained = model.loss.terms(net(inputs), inputs, net.bins, net.future_horizons)
    assert float(untrained["next_step"]) == pytest.approx(np.log(net.bins.classes), rel=1e-4)
    assert float(untrained["reconstruction"]) > 1.0 and float(untrained["future"]) > 0.01


# ----------------------------------------------------------------- config, pipeline


def test_t4_profile_reports_what_it_patched(folders, capsys):
    load_config(MODEL, "t4")
    out = capsys.readouterr().out
    for line in (
        "train.batch_size  32 -> 16  (profile t4)",
        "train.accumulate  1 -> 2  (profile t4)",
        "train.amp  bf16 -> fp16  (profile t4)",
    ):
        assert line in out
    cfg = load_config(MODEL, "t4", verbose=False)
    assert cfg.derived.effective_batch_size == 32 and cfg.model.layers == 6 and cfg.model.heads == 8


def test_prepare_train_evaluate_export(folders):
    exported = folders["tmp"] / "exported"
    overrides = ["data.num_workers=0", "data.valid_stride=80", "logging.progress=false", "train.max_steps=3"]
    cfg = load_config(MODEL, "smoke", [*overrides, f"export.dir={exported}"], verbose=False)
    summary = prepare_data(cfg)
    assert (
        "2 training match(es)" in summary
        and "1 held out" in summary
        and "10 observed + 10 forecast" in summary
    )
    assert len(list((folders["data"] / "synthetic").rglob("*_tracking_extrapolated.jsonl"))) == 3
    train(cfg)
    report = evaluate(cfg)
    for horizon in (1, 5, 10):
        for key in (f"ade_{horizon}", f"fde_{horizon}", f"ball_ade_{horizon}"):
            assert f"val_{key}" in report.metrics and f"val_cv_{key}" in report.metrics
    assert "val_ade_25" not in report.metrics  # beyond the 10 forecast steps
    assert report.figure is not None and len(report.figure.axes) == 2
    payload = load_portable(export(cfg))
    assert payload["meta"]["future_steps"] == 10 and payload["meta"]["features"][0] == "x"


@pytest.mark.slow
def test_the_smoke_model_beats_constant_velocity_at_five_frames_on_held_out_matches(folders):
    overrides = [
        "data.stride=5",
        "data.valid_stride=40",
        "data.num_workers=1",
        "train.epochs=3",
        "train.val_every_epochs=3",
        "logging.progress=false",
        "checkpoint.every_steps=null",
    ]
    cfg = load_config(MODEL, "smoke", overrides, verbose=False)
    started = time.perf_counter()
    train(cfg)
    seconds = time.perf_counter() - started
    metrics = evaluate(cfg).metrics
    model, baseline = metrics["val_ade_5"], metrics["val_cv_ade_5"]
    print(
        f"held-out players' ADE at 5 frames: baller2vec {model:.3f} m, constant velocity {baseline:.3f} m; "
        f"at 10: {metrics['val_ade_10']:.3f} vs {metrics['val_cv_ade_10']:.3f} m; ball at 5: "
        f"{metrics['val_ball_ade_5']:.3f} vs {metrics['val_cv_ball_ade_5']:.3f} m ({seconds:.0f} s)"
    )
    assert model < 0.95 * baseline  # an untrained model is exactly the baseline
    assert metrics["val_ade_10"] < metrics["val_cv_ade_10"]
