"""``bench --learn``: a model trained minutes on a CPU, scored on held-out frames against itself untrained."""

from __future__ import annotations

import json

import pytest

from colab_utils.bench.learning import learning_config


def test_the_learning_config_scores_held_out_frames_with_the_last_weights(folders):
    cfg = learning_config("baller2vec")
    assert cfg.profile == "smoke" and cfg.data.synthetic.minutes == 10.0  # the package's learning overrides
    assert cfg.train.val_every_epochs >= 10**6  # no validation during training: nothing is chosen on it


@pytest.mark.slow
def test_the_command_prints_a_block_and_a_json_line(run_cli):
    result = run_cli("bench", "gnn", "--learn", "data.synthetic.minutes=2.0", "train.epochs=1")
    assert result.returncode == 0, result.stderr
    block, line = result.stdout.strip().split("\n\n")[0].rsplit("\n", 1)
    assert block.startswith("== gnn with data.synthetic.minutes=2.0 train.epochs=1:")
    assert "metric" in block and "untrained    trained" in block and "val_mean_f1" in block
    record = json.loads(line)
    assert record["model"] == "gnn" and record["monitor"] == "val_mean_f1"


@pytest.mark.slow
def test_transfer_starts_the_fine_tuned_run_from_the_source_weights(run_cli):
    result = run_cli("bench", "gnn", "--learn", "--transfer", "data.synthetic.minutes=2.0", "train.epochs=1")
    assert result.returncode == 0, result.stderr
    block, line = result.stdout.strip().split("\n\n")[0].rsplit("\n", 1)
    assert block.startswith("== gnn: trained on data.synthetic.seed=0")
    assert "untrained  source weights  from nothing  fine-tuned" in block
    record = json.loads(line)
    scratch, tuned = record["from_nothing"], record["fine_tuned"]
    assert scratch["steps"] == tuned["steps"] > 0  # equal steps
    assert any("model.init_from=" in setting for setting in tuned["settings"])
    # the fine-tuned run started from trained weights, not from the seed's random network
    assert tuned["untrained"] != scratch["untrained"]


def test_transfer_needs_learn(run_cli):
    result = run_cli("bench", "gnn", "--transfer")
    assert result.returncode == 2 and "add --learn" in result.stderr
