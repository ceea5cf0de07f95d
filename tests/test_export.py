"""The portable weights file: built from best.pth, opened anywhere with torch alone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
from conftest import TESTS
from toy_model.network import ToyNet

from colab_utils.engine.checkpoint import read_checkpoint
from colab_utils.pipeline import train
from colab_utils.portable import PORTABLE_FORMAT, export, load_portable

FAST = ("data.num_workers=0", "logging.progress=false")


def test_exported_weights_run_in_a_fresh_python_without_colab_utils(toy_config, folders, capsys):
    cfg = toy_config(*FAST, f"export.dir={folders['tmp'] / 'downloads'}")
    result = train(cfg)
    path = export(cfg)
    assert path == folders["tmp"] / "downloads" / "toy-default.pth"
    assert f"Exported weights: {path}" in capsys.readouterr().out

    payload = load_portable(path)
    best = read_checkpoint(result.best_path)
    assert payload["format"] == PORTABLE_FORMAT and payload["model"] == "toy"
    assert payload["meta"]["source"] == "best.pth" and payload["meta"]["epoch"] == best["epoch"]
    assert payload["meta"]["metrics"]["val_accuracy"] == best["metrics"]["val_accuracy"]
    assert payload["meta"]["classes"] == ["negative", "positive"]

    inputs = torch.linspace(-2, 2, 5 * 8).reshape(5, 8)
    net = ToyNet(dim=8, hidden=32, dropout=0.2).eval()
    net.load_state_dict(best["model"])
    expected = net(inputs).tolist()

    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["colab_utils"] = None  # make any import of the library fail
        sys.path.insert(0, {str(TESTS)!r})
        import torch
        from toy_model.network import ToyNet
        payload = torch.load({str(path)!r}, map_location="cpu", weights_only=True)
        config = payload["config"]
        net = ToyNet(config["data"]["dim"], config["model"]["hidden"], config["model"]["dropout"])
        net.load_state_dict(payload["state_dict"])
        print(json.dumps(net.eval()(torch.linspace(-2, 2, 40).reshape(5, 8)).tolist()))
        """
    )
    fresh = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout) == expected


def test_half_precision_export_halves_the_weights(toy_config):
    cfg = toy_config(*FAST, "train.epochs=1", "export.half=true")
    train(cfg)
    payload = load_portable(export(cfg, download=False))
    assert all(t.dtype == torch.float16 for t in payload["state_dict"].values() if t.is_floating_point())


def test_in_colab_the_file_goes_to_the_browser(fake_colab, toy_config, monkeypatch, tmp_path):
    monkeypatch.setenv("COLAB_UTILS_DRIVE", str(tmp_path / "drive"))  # skip the mount, keep the fake Colab
    cfg = toy_config(*FAST, "train.epochs=1")
    train(cfg)
    path = export(cfg)
    assert fake_colab.downloads == [str(path)]
    assert path == Path(cfg.run.dir) / "export" / "toy-default.pth"


def test_export_before_training_says_to_train_first(toy_config):
    cfg = toy_config(*FAST)
    try:
        export(cfg)
    except FileNotFoundError as error:
        assert "train the model first" in str(error)
    else:
        raise AssertionError("export without a checkpoint must fail")


def test_in_colab_a_run_all_after_a_finished_run_does_not_download_the_same_file_again(
    fake_colab, toy_config, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("COLAB_UTILS_DRIVE", str(tmp_path / "drive"))
    cfg = toy_config(*FAST, "train.epochs=1")
    train(cfg)
    path = export(cfg)
    assert export(cfg) == path and fake_colab.downloads == [str(path)]  # the second Run all
    assert "already downloaded to your computer with these weights: not sent again" in capsys.readouterr().out
    export(cfg, again=True)
    assert fake_colab.downloads == [str(path)] * 2
    export(toy_config(*FAST, "train.epochs=1", "export.half=true"))  # other weights under the same name
    assert fake_colab.downloads == [str(path)] * 3
    assert load_portable(path)["state_dict"]["layers.0.weight"].dtype == torch.float16
