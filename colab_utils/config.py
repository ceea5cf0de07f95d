"""Model configurations: Hydra compose of the engine defaults, a model's YAML, a hardware
profile and the user's overrides, in that order, plus the values derived from them.

``configs/<model>.yaml`` holds the model's recipe as its authors trained it and, under
``profiles:``, patches for kinds of hardware (t4, l4, a100, cpu, smoke). Overrides use
Hydra's grammar (``train.batch_size=4``, ``data.input_size=[640,360]``, ``+new.key=1``).
Unknown keys are refused with the nearest valid ones, so a typo never trains silently
with the default.
"""

from __future__ import annotations

import difflib
import importlib.resources
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, OverrideParseException
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from colab_utils import runtime as rt
from colab_utils.errors import UserError
from colab_utils.setting_text import hydra_overrides, show_value
from colab_utils.stepdown_record import STEPDOWN_SOURCE, recorded_stepdown

CONFIG_PATH_ENV = "COLAB_UTILS_CONFIGS"
DEFAULTS_FILE = "defaults.yaml"
PROFILE_GROUP = "_hardware_profile"
# A profile a model does not define falls back along this chain (None: the recipe as is).
PROFILE_FALLBACK = {"a100": None, "l4": "t4"}
SMOKE_PROFILE = "smoke"
SMOKE_SUFFIX = "-smoke"
SMOKE_NOTE = (
    "smoke run: a few steps of a tiny network on synthetic data, to see every step work. Its metrics "
    "are expected to be about 0 (it has not learned yet). It is kept in its own run folder, {dir}, "
    "so a real run named {name!r} starts afresh."
)


class ConfigError(UserError, ValueError):
    """A configuration request that cannot be satisfied; the message says what to do."""


def config_dirs(config_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for ``<model>.yaml``: the argument, $COLAB_UTILS_CONFIGS, the packaged ones."""
    dirs = [Path(config_dir)] if config_dir else []
    dirs += [Path(p) for p in os.environ.get(CONFIG_PATH_ENV, "").split(os.pathsep) if p]
    dirs.append(Path(str(importlib.resources.files("colab_utils.configs"))))
    return dirs


def available_models(config_dir: str | Path | None = None) -> list[str]:
    names = {
        p.stem
        for d in config_dirs(config_dir)
        if d.is_dir()
        for p in d.glob("*.yaml")
        if p.name != DEFAULTS_FILE
    }
    return sorted(names)


def _find(filename: str, config_dir: str | Path | None) -> Path | None:
    for folder in config_dirs(config_dir):
        if (folder / filename).is_file():
            return folder / filename
    return None


def _nearest(word: str, choices: Iterable[str], cutoff: float = 0.5) -> list[str]:
    return difflib.get_close_matches(word, list(choices), n=3, cutoff=cutoff)


def flatten(cfg: Mapping | DictConfig, prefix: str = "") -> dict[str, Any]:
    """Leaf values by dotted key (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping | DictConfig):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = OmegaConf.to_container(value) if isinstance(value, ListConfig) else value
    return out


def _unknown_key_message(key: str, valid: Sequence[str], where: str) -> str:
    close = _nearest(key, valid, cutoff=0.8)
    parent = key.rsplit(".", 1)[0] if "." in key else ""
    siblings = sorted(
        k for k in valid if parent and k.startswith(parent + ".") and "." not in k[len(parent) + 1 :]
    )
    text = f"Unknown config key {key!r} in {where}."
    if close:
        text += f" Did you mean {' or '.join(close)}?"
    if siblings:
        text += f" Valid keys under {parent}: {', '.join(s[len(parent) + 1 :] for s in siblings)}."
    return text + " To add a new key on purpose, write +key=value."


def _load_yaml(path: Path) -> DictConfig:
    cfg = OmegaConf.load(path)
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{path} must contain a mapping at the top level")
    return cfg


def read_model_config(model: str, config_dir: str | Path | None = None) -> tuple[DictConfig, dict[str, Any]]:
    """(recipe, profiles): the engine defaults merged with the model's YAML, and its profiles."""
    path = _find(f"{model}.yaml", config_dir)
    if path is None:
        valid = available_models(config_dir)
        close = _nearest(model, valid)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"Unknown model {model!r}.{hint} Available models: {', '.join(valid) or 'none'}.")
    defaults_path = _find(DEFAULTS_FILE, config_dir)
    own = _load_yaml(path)
    profiles = OmegaConf.to_container(own.pop("profiles", None) or OmegaConf.create({}), resolve=False)
    recipe = OmegaConf.merge(_load_yaml(defaults_path), own) if defaults_path else own
    with open_dict(recipe):
        recipe.run.model = model
    return recipe, profiles


def resolve_profile(requested: str, profiles: Mapping[str, Any], detected: str) -> tuple[str, str]:
    """(profile to apply or 'base', a note on how it was chosen); ``detected`` is the hardware's."""
    if requested == "auto":
        wanted = detected
        chosen: str | None = wanted
        while chosen is not None and chosen not in profiles:
            chosen = PROFILE_FALLBACK.get(chosen)
        if chosen is None:
            return "base", f"auto -> {wanted}: no such profile in this model, using its recipe as is"
        return chosen, f"auto -> {chosen}" + ("" if chosen == wanted else f" (for {wanted})")
    if requested == "base":
        return "base", "base (the recipe as is)"
    if requested not in profiles:
        valid = ["auto", "base", *profiles]
        close = _nearest(requested, valid)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ConfigError(f"Unknown profile {requested!r}.{hint} Valid profiles: {', '.join(valid)}.")
    return requested, requested


def _check_profile_keys(name: str, patch: Mapping[str, Any], recipe: DictConfig) -> None:
    valid = flatten(recipe)
    prefixes = {k.rsplit(".", i)[0] for k in valid for i in range(1, k.count(".") + 1)}
    for key in flatten(patch):
        if key not in valid and key not in prefixes:
            raise ConfigError(_unknown_key_message(key, list(valid), f"profile {name!r}"))


def _check_overrides(overrides: Sequence[str], recipe: DictConfig) -> set[str]:
    """Refuse unknown keys and bad syntax; returns the keys the overrides set."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except OverrideParseException as error:
        raise ConfigError(
            f"Could not read the overrides {list(overrides)}: {error}. Write key=value."
        ) from None
    valid = flatten(recipe)
    prefixes = {k.rsplit(".", i)[0] for k in valid for i in range(1, k.count(".") + 1)}
    for override in parsed:
        key = override.key_or_group
        if key == "derived" or key.startswith("derived."):
            raise ConfigError(
                f"{key} is computed from other keys and cannot be set; change data.input_size, "
                "model.pad_multiple or model.heatmap_stride instead."
            )
        if override.is_add() or override.is_force_add():
            continue
        if key not in valid and key not in prefixes:
            raise ConfigError(_unknown_key_message(key, list(valid), "your overrides"))
    return {override.key_or_group for override in parsed}


_WHOLE = "a number with no fractional part"


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return _WHOLE
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    return None


def _fits(want: str | None, got: str | None) -> bool:
    """Whether a value of kind ``got`` may replace one of kind ``want``; a whole number is a number."""
    return not (want and got) or want == got or (want, got) == ("a number", _WHOLE)


def _check_types(recipe: DictConfig, cfg: DictConfig) -> None:
    """Refuse e.g. ``train.batch_size=abc`` or ``=2.5``: plain YAML has no schema, so Hydra would
    accept it and training would fail later with a traceback. A recipe's whole number (a count)
    takes whole numbers only; its decimal number takes either."""
    expected = flatten(recipe)
    for key, value in flatten(cfg).items():
        want, got = _kind(expected.get(key)), _kind(value)
        if not _fits(want, got):
            raise ConfigError(f"{key} must be {want} (the recipe has {expected[key]!r}), got {value!r}.")


def _compose(
    recipe: DictConfig, profile: str, patch: Mapping[str, Any], overrides: Sequence[str]
) -> DictConfig:
    store = ConfigStore.instance()
    defaults: list[Any] = ["_self_"]
    if profile != "base":
        store.store(group=PROFILE_GROUP, name=profile, node=OmegaConf.create(patch), package="_global_")
        defaults.append({PROFILE_GROUP: profile})
    primary = OmegaConf.merge({"defaults": defaults}, recipe)
    store.store(name="_colab_utils_model", node=primary)
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize(version_base=None):
        try:
            return compose(config_name="_colab_utils_model", overrides=list(overrides))
        except ConfigCompositionException as error:
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            raise ConfigError(f"{error}{cause}") from None


def derive(cfg: DictConfig) -> None:
    """Compute every derived value, here and nowhere else.

    ``data.input_size`` is [width, height]. Backbones that need sides divisible by
    ``model.pad_multiple`` get the image padded (bottom/right) to ``padded_size``; heatmaps
    at ``model.heatmap_stride`` cover ``heatmap_size`` (the image) inside
    ``padded_heatmap_size`` (the padded input).
    """
    derived: dict[str, Any] = {
        "effective_batch_size": int(cfg.train.batch_size) * int(cfg.train.accumulate),
    }
    size = cfg.get("data", {}).get("input_size")
    model = cfg.get("model", {})
    if size is not None:
        width, height = (int(v) for v in size)
        multiple = int(model.get("pad_multiple") or 1)
        padded = [math.ceil(width / multiple) * multiple, math.ceil(height / multiple) * multiple]
        derived["padded_size"] = padded
        stride = model.get("heatmap_stride")
        if stride:
            derived["heatmap_size"] = [math.ceil(width / stride), math.ceil(height / stride)]
            derived["padded_heatmap_size"] = [padded[0] // stride, padded[1] // stride]
    with open_dict(cfg):
        cfg.derived = derived


def smoke_run_name(name: str) -> str:
    """A smoke run's name: its own folder, so a later real run of the same name never meets its
    tiny network's checkpoint."""
    return name if name.endswith(SMOKE_SUFFIX) else name + SMOKE_SUFFIX


def _fill_run_paths(cfg: DictConfig, runtime: rt.Runtime, profile: str) -> None:
    with open_dict(cfg):
        if profile == SMOKE_PROFILE:
            cfg.run.name = smoke_run_name(cfg.run.name)
        if not cfg.run.dir:
            cfg.run.dir = str(runtime.drive_root / cfg.run.project / cfg.run.model / cfg.run.name)
        if not cfg.run.data_dir:
            cfg.run.data_dir = str(runtime.data_root)


def patch_report(before: DictConfig, after: DictConfig, sources: Mapping[str, str]) -> list[str]:
    """Human lines for every value that differs, e.g. ``train.batch_size  8 -> 4  (profile t4)``."""
    old, new = flatten(before), flatten(after)
    lines = []
    for key in sorted(set(old) | set(new)):
        if key.startswith("run.") or key == "profile" or old.get(key) == new.get(key):
            continue
        source = "derived" if key.startswith("derived.") else sources.get(key, "")
        lines.append(f"{key}  {show_value(old.get(key, '-'))} -> {show_value(new.get(key, '-'))}  ({source})")
    return lines


def with_overrides(cfg: DictConfig, values: Mapping[str, Any]) -> DictConfig:
    """A resolved ``cfg`` with ``values`` (dotted keys) composed on top the way load_config composes
    overrides (same checks), then derived again, so e.g. heatmap sizes follow a new input size."""
    recipe = OmegaConf.masked_copy(cfg, [key for key in cfg if key != "derived"])
    strings = hydra_overrides(values)
    _check_overrides(strings, recipe)
    new = _compose(recipe, "base", {}, strings)
    _check_types(recipe, new)
    derive(new)
    return new


def load_config(
    model: str,
    profile: str = "auto",
    overrides: Sequence[str] = (),
    runtime: rt.Runtime | None = None,
    config_dir: str | Path | None = None,
    verbose: bool = True,
) -> DictConfig:
    """The resolved configuration of ``model`` for this machine, printed as a patch report."""
    recipe, profiles = read_model_config(model, config_dir)
    runtime = runtime or rt.setup(profile, verbose=False)
    detected = runtime.profile if runtime.profile in rt.PROFILES else rt.choose_profile(runtime.gpu)
    name, how = resolve_profile(profile, profiles, detected)
    patch = profiles.get(name, {})
    if name != "base":
        _check_profile_keys(name, patch, recipe)
    user_keys = _check_overrides(overrides, recipe)

    base = _compose(recipe, "base", {}, [])
    profiled = _compose(recipe, name, patch, [])
    cfg = _compose(recipe, name, patch, overrides)
    _fill_run_paths(cfg, runtime, name)
    # precedence: profile < the run's recorded out-of-memory step-down < the user's overrides
    stepdown = recorded_stepdown(cfg.run.dir, user_keys)
    stepped = profiled
    if stepdown.kept:
        stepped = _compose(recipe, name, patch, stepdown.overrides)
        cfg = _compose(recipe, name, patch, [*stepdown.overrides, *overrides])
        _fill_run_paths(cfg, runtime, name)
    _check_types(recipe, cfg)
    with open_dict(cfg):
        cfg.profile = name
    for c in (base, profiled, stepped, cfg):
        derive(c)

    flat_base, flat_profiled, flat_stepped = flatten(base), flatten(profiled), flatten(stepped)
    sources = {k: f"profile {name}" for k, v in flat_base.items() if flat_profiled.get(k) != v}
    sources.update({k: STEPDOWN_SOURCE for k, v in flat_stepped.items() if flat_profiled.get(k) != v})
    sources.update({k: "your override" for k, v in flatten(cfg).items() if flat_stepped.get(k) != v})
    if verbose:
        lines = patch_report(base, cfg, sources) + stepdown.notes()
        print(f"{model}: profile {how}")
        print("\n".join(f"  {line}" for line in lines) if lines else "  (the recipe as is)")
        if name == SMOKE_PROFILE:
            print(SMOKE_NOTE.format(dir=cfg.run.dir, name=cfg.run.name.removesuffix(SMOKE_SUFFIX)))
    return cfg
