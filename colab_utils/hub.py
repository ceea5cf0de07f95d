"""Sharing weights on the Hugging Face Hub: ``push_to_hub`` up, ``model.init_from=hf://...`` down.

A repository holds the portable ``.pth`` as :data:`WEIGHTS_FILE` and a generated model card
(``README.md``). The token comes from the ``HF_TOKEN`` environment variable or Colab Secret and
goes to ``huggingface_hub`` only: no message of this module prints it.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import yaml

from colab_utils import runtime as rt
from colab_utils.errors import InitFromError, UserError
from colab_utils.portable import load_portable

WEIGHTS_FILE = "model.pth"
HUB_PREFIX = "hf://"  # model.init_from=hf://<user>/<repo>[@revision]: weights on the Hugging Face Hub
HUB_VALUE = re.compile(r"^hf://(?P<repo>[\w.-]+/[\w.-]+)(@(?P<revision>[^@\s]+))?$")
TOKEN_ADVICE = (
    "give this runtime a Hugging Face access token with write access (huggingface.co/settings/tokens): in "
    "Colab add a Secret named HF_TOKEN (key icon on the left, allow notebook access), elsewhere set the "
    "HF_TOKEN environment variable"
)


class HubError(UserError, RuntimeError):
    """The Hub refused or could not be reached; the message says what to do."""


def parse_hub_value(value: str) -> tuple[str, str | None]:
    """``hf://<user>/<repo>[@revision]`` -> (repo id, revision or None)."""
    match = HUB_VALUE.match(value)
    if match is None:
        raise InitFromError(
            f"model.init_from={value} is not a Hub address: write {HUB_PREFIX}<user>/<repo> or "
            f"{HUB_PREFIX}<user>/<repo>@<revision> (a branch, tag or commit)."
        )
    return match["repo"], match["revision"]


def download_portable(value: str) -> tuple[Path, str]:
    """The portable ``.pth`` an ``hf://`` value names, downloaded into the Hub cache; (path, where)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id, revision = parse_hub_value(value)
    where = f"{value} ({WEIGHTS_FILE})"
    try:
        path = hf_hub_download(repo_id, WEIGHTS_FILE, revision=revision, token=rt.secret("HF_TOKEN"))
    except GatedRepoError:
        raise InitFromError(
            f"model.init_from={value}: {repo_id} is gated. Accept its terms on huggingface.co/{repo_id}, "
            "then give this runtime your token (a Colab Secret or environment variable named HF_TOKEN)."
        ) from None
    except RepositoryNotFoundError:
        raise InitFromError(
            f"model.init_from={value}: the Hub has no repository {repo_id} this runtime may read. Check the "
            "name; for a private repository give this runtime your token (Colab Secret or variable HF_TOKEN)."
        ) from None
    except RevisionNotFoundError:
        raise InitFromError(f"model.init_from={value}: {repo_id} has no revision {revision}.") from None
    except EntryNotFoundError:
        raise InitFromError(
            f"model.init_from={value}: {repo_id} has no {WEIGHTS_FILE}, so push_to_hub did not make it. "
            "Give the repository colab_utils.push_to_hub uploaded to."
        ) from None
    except (HfHubHTTPError, OSError) as error:
        raise InitFromError(
            f"model.init_from={value}: the download failed ({type(error).__name__}). Check the runtime's "
            "internet connection and run again."
        ) from None
    return Path(path), where


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False).strip()


def model_card(payload: dict[str, Any], repo_id: str) -> str:
    """The repository's README.md: what the weights are, how they were trained, how to load them."""
    from huggingface_hub import ModelCardData

    model, cfg, meta = payload["model"], payload["config"], payload["meta"]
    train = cfg.get("train", {})
    data = {
        k: v for k, v in cfg.get("data", {}).items() if k in ("source", "dataset", "train_split", "val_split")
    }
    recipe = {
        k: train[k]
        for k in ("epochs", "batch_size", "accumulate", "amp", "optimizer", "scheduler")
        if k in train
    }
    metrics = meta.get("metrics") or {}
    metric_rows = "\n".join(f"| {name} | {value:.4f} |" for name, value in metrics.items()) or "| (none) | |"
    card_data = ModelCardData(library_name="pytorch", tags=["colab_utils", model, "football", "soccer"])
    return f"""---
{card_data.to_yaml()}
---

# {model}: {repo_id}

Weights of colab_utils' `{model}` model, exported by the library (format `{payload["format"]}`) and
uploaded with `colab_utils.push_to_hub`.

## Model

```yaml
{_yaml(cfg.get("model", {}))}
```

## Data

```yaml
{_yaml(data)}
```

## Recipe

Profile `{cfg.get("profile")}`, {meta.get("epoch")} epochs, started from
`{cfg.get("model", {}).get("init_from")}` (weights of `{meta.get("source")}`,
library {meta.get("library_version")}).

```yaml
{_yaml(recipe)}
```

## Metrics (validation set)

| metric | value |
|--------|-------|
{metric_rows}

## How to load

With colab_utils (`pip install colab_utils`): fine-tune from these weights with
`model.init_from=hf://{repo_id}`, e.g.

```python
cfg = colab_utils.load_config("{model}", "t4", ["model.init_from=hf://{repo_id}"])
```

or run them on your frames:

```python
from huggingface_hub import hf_hub_download
import colab_utils
prediction = colab_utils.predict(hf_hub_download("{repo_id}", "{WEIGHTS_FILE}"), "my_frames/")
```

Without colab_utils, with PyTorch alone (no code in the file runs: a weights-only load):

```python
import torch
from huggingface_hub import hf_hub_download
payload = torch.load(hf_hub_download("{repo_id}", "{WEIGHTS_FILE}"), weights_only=True)
state_dict = payload["state_dict"]  # the network's tensors by name
config = payload["config"]          # the settings it was trained with
meta = payload["meta"]              # what inference needs: input size, classes, metrics
```
"""


def push_to_hub(weights: str | Path, repo_id: str, private: bool = False) -> str:
    """Upload a portable ``.pth`` (the export step's file) and its model card to ``repo_id``; the URL.

    The token is ``HF_TOKEN`` from the environment or Colab Secrets. Another run starts from the
    upload with ``model.init_from=hf://<repo_id>``.
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    path = Path(weights).expanduser()
    if not path.is_file():
        raise HubError(f"push_to_hub: there is no file {path}. Give the .pth the export step wrote.")
    try:
        payload = load_portable(path)
    except (ValueError, RuntimeError, EOFError, OSError, pickle.UnpicklingError) as error:
        raise HubError(f"push_to_hub: {path.name} is not a portable weights file ({error}).") from None
    token = rt.secret("HF_TOKEN")
    if not token:
        raise HubError(f"push_to_hub needs a Hugging Face token: {TOKEN_ADVICE}; then run again.")
    api = HfApi(token=token)
    card = model_card(payload, repo_id).encode()
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True)
        api.create_commit(
            repo_id,
            [
                CommitOperationAdd(path_in_repo=WEIGHTS_FILE, path_or_fileobj=str(path)),
                CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card),
            ],
            commit_message=f"{payload['model']} weights ({path.name}) from colab_utils",
        )
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            raise HubError(
                f"push_to_hub: the Hub refused to write {repo_id} (HTTP {status}): {TOKEN_ADVICE}, for a "
                "repository under your user name or an organisation you may write to; then run again."
            ) from None
        raise HubError(f"push_to_hub: the upload to {repo_id} failed (HTTP {status}); run again.") from None
    print(
        f"Uploaded {path.name} and its model card to {url}. Start a run from it: model.init_from=hf://{repo_id}"
    )
    return str(url)
