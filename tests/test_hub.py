"""push_to_hub and init_from=hf://, through huggingface_hub's own upload and download code against
the local Hub-like server: the same tensors come back, and the token is never printed."""

from __future__ import annotations

import pytest
import torch
from hub_server import HubServer, hub_environment, run_python
from test_init_from import ARGS, exported_weights

from colab_utils.hub import HubError, push_to_hub
from colab_utils.portable import PORTABLE_FORMAT

TOKEN = "hf_ThisIsTheUsersSecretToken0123456789"
REPO = "someone/toy-weights"

# a notebook's push: the token is a Colab Secret (tests/conftest.py's FakeColab stands in for Colab)
PUSH = """
import sys
from pathlib import Path
sys.path.insert(0, "tests")
from conftest import FakeColab
colab = FakeColab(Path(sys.argv[3]))
colab.secrets["HF_TOKEN"] = sys.argv[4]
sys.modules.update(colab.modules())
import colab_utils
colab_utils.push_to_hub(sys.argv[1], sys.argv[2])
"""

PULL = """
import sys
import torch
from colab_utils.hub import download_portable
from colab_utils.portable import load_portable
path, _ = download_portable(sys.argv[2])
pulled, pushed = load_portable(path)["state_dict"], load_portable(sys.argv[1])["state_dict"]
assert pulled.keys() == pushed.keys()
assert all(torch.equal(pulled[name], pushed[name]) for name in pushed)
print(f"{len(pulled)} tensors equal")
"""


def test_push_to_hub_then_init_from_hf_gives_back_the_same_tensors_and_never_prints_the_token(
    run_cli, folders
):
    weights = exported_weights(run_cli, folders)
    home = folders["tmp"] / "hf_home"
    with HubServer({}, write_token=TOKEN) as hub:
        content = str(folders["tmp"] / "content")
        pushed = run_python(PUSH, hub.endpoint, home, str(weights), REPO, content, TOKEN)
        assert pushed.returncode == 0, pushed.stderr
        assert f"model.init_from=hf://{REPO}" in pushed.stdout
        assert hub.models[REPO]["model.pth"] == weights.read_bytes()
        uploads = [r for r in hub.requests if r.kind in ("create", "preupload", "commit")]
        assert [r.kind for r in uploads] == ["create", "preupload", "commit"]
        assert "unknown" not in hub.kinds()
        assert all(r.token == TOKEN for r in uploads)  # the secret reached the Hub...

        card = hub.models[REPO]["README.md"].decode()
        assert "# toy: someone/toy-weights" in card and "val_accuracy" in card
        assert f"model.init_from=hf://{REPO}" in card and "weights_only=True" in card

        pulled = run_python(PULL, hub.endpoint, home, str(weights), f"hf://{REPO}")
        assert pulled.returncode == 0, pulled.stderr
        assert "4 tensors equal" in pulled.stdout

        started = run_cli(
            *ARGS, "run.name=from-hub", "train.epochs=1", f"model.init_from=hf://{REPO}@main",
            env=hub_environment(hub.endpoint, home),
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert f"loaded 4 of 4 tensors from hf://{REPO}@main (model.pth)" in started.stdout, started.stdout

        url = f"{hub.endpoint}/{REPO}/resolve/main/model.pth"  # the same file by its plain URL
        by_url = run_cli(
            *ARGS, "run.name=from-url", "train.epochs=1", f"model.init_from={url}",
            env={**hub_environment(hub.endpoint, home), "TORCH_HOME": str(folders["tmp"] / "torch")},
        )  # fmt: skip
        assert by_url.returncode == 0, by_url.stderr
        assert f"loaded 4 of 4 tensors from {url}" in by_url.stdout

        wrong = run_python(PUSH, hub.endpoint, home, str(weights), REPO, str(folders["tmp"]), "hf_wrong")
        assert "the Hub refused to write" in wrong.stderr and "HTTP 401" in wrong.stderr
    outputs = [pushed.stdout, pushed.stderr, pulled.stdout, pulled.stderr, started.stdout, started.stderr]
    assert not any(TOKEN in text for text in outputs)  # ...and no output shows it


def test_an_hf_repo_without_weights_or_a_missing_one_is_named(run_cli, folders):
    home = folders["tmp"] / "hf_home"
    with HubServer({}, models={"someone/empty": {"README.md": b"# nothing"}}) as hub:
        env = hub_environment(hub.endpoint, home)
        for source, message in (
            ("hf://someone/empty", "someone/empty has no model.pth"),
            ("hf://someone/nothing", "the Hub has no repository someone/nothing"),
            ("hf://just-a-name", "is not a Hub address"),
        ):
            result = run_cli(*ARGS, "run.name=new", f"model.init_from={source}", env=env)
            assert result.returncode == 2 and message in result.stderr, result.stderr
            assert not (folders["drive"] / "colab_utils" / "toy" / "new").exists()


def test_push_to_hub_refuses_other_files_and_says_where_a_token_goes(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    (tmp_path / "cut.pth").write_bytes(b"PK")
    with pytest.raises(HubError, match=r"cut\.pth is not a portable weights file"):
        push_to_hub(tmp_path / "cut.pth", REPO)
    torch.save({"format": PORTABLE_FORMAT, "model": "toy"}, tmp_path / "toy.pth")
    with pytest.raises(HubError, match="add a Secret named HF_TOKEN"):
        push_to_hub(tmp_path / "toy.pth", REPO)
