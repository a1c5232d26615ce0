"""Training configuration: dataclasses read from YAML, with unknown keys refused.

A config file has four sections (all optional but ``data.train``)::

    seed: 0                 # initial weights and shuffling (data.split_seed: the split)
    dtype: float32          # or float64
    data:  {train: FILE, test: FILE, valid_fraction: 0.1, ...}
    model: {name: pair, cutoff: 5.0, hidden: [64, 64], ...}   # the rest goes to the model
    train: {epochs: 100, batch_size: 8, lr: 0.003, ...}
    properties: {dipole: {level: structure, reduce: moment}, ...}   # optional heads

``properties`` declares outputs beyond energy, forces and stress (see
:mod:`matml.properties`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matml.errors import ConfigError

__all__ = ["DataConfig", "ModelConfig", "TrainConfig", "RunConfig", "load_config"]


@dataclass
class DataConfig:
    train: str | None = None  # a file, or "mlearn:Si" (training set of the mlearn data)
    test: str | None = None  # a file, or "mlearn:Si" (test set)
    format: str | None = None  # None: guess from the file name/content
    energy_key: str | None = None  # extxyz keys (default REF_energy, ...)
    forces_key: str | None = None
    stress_key: str | None = None
    data_dir: str | None = None  # local copy of the mlearn data
    # elements the model knows besides those of the training data (a test set may
    # hold others: their embeddings stay untrained)
    species: list | None = None
    valid_fraction: float = 0.1
    split_seed: int = 0  # of the validation split; the top-level seed is the weights'
    # stratify the validation split by this key of each structure's info (mlearn's
    # "group": AIMD-NVT, Elastic, Surface, Vacancy); None: a plain random split
    split_by: str | None = None
    # weigh each structure in the loss by (N / (G n_g)) ** balance_power, n_g the
    # structures of its value of this info key, G the number of values (a rare group
    # such as mlearn's 11 surfaces among 241 structures counts more); None: all 1
    balance_by: str | None = None
    balance_power: float = 0.5


@dataclass
class ModelConfig:
    name: str = "pair"
    cutoff: float = 5.0
    e0: Any = "fit"  # "fit" (least squares), or {element: eV}
    options: dict = field(default_factory=dict)  # every other key: the model's own


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 8
    lr: float = 3e-3
    min_lr_ratio: float = 0.01
    warmup_epochs: int = 1
    weight_decay: float = 1e-6
    grad_clip: float = 10.0
    ema_decay: float = 0.99
    patience: int = 50  # epochs without a better validation loss before stopping
    energy_weight: float = 1.0  # on (eV/atom)^2
    forces_weight: float = 1.0  # on (eV/Å)^2
    stress_weight: float = 0.0  # on (eV/Å^3)^2
    max_seconds: float | None = None  # stop (cleanly) after this long
    n_buckets: int = 4
    # data parallel: "auto" (every device present, on every process) or a number
    devices: Any = "auto"
    # a second stage, as MACE's: the last `stage_two_fraction` of the epochs (or of
    # max_seconds, whichever comes first) trains with these loss weights (None: the
    # first stage's); the best model is then chosen among its epochs
    stage_two_fraction: float = 0.0
    stage_two_energy_weight: float | None = None
    stage_two_forces_weight: float | None = None
    stage_two_stress_weight: float | None = None

    def fits(self, term: str) -> bool:
        """Whether any stage's loss weighs ``term`` (energy, forces or stress)."""
        two = getattr(self, f"stage_two_{term}_weight")
        return max(getattr(self, f"{term}_weight"), two or 0.0) > 0


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0
    dtype: str = "float32"
    # several processes (hosts): coordinator "host:port", num_processes, process_id,
    # timeout (s); the environment (MATML_*, SLURM) may give them instead
    distributed: dict = field(default_factory=dict)
    # declared properties beyond energy, forces and stress (matml.properties): the
    # config's mapping as written, and the checked declarations
    properties: dict = field(default_factory=dict)
    declared: tuple = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("declared")
        if not d["properties"]:  # (configs without properties read as before)
            d.pop("properties")
        if d["data"]["species"] is None:  # (likewise for runs made before the key)
            d["data"].pop("species")
        options = d["model"].pop("options")
        d["model"].update(options)
        return d


_SECTIONS = {"data": DataConfig, "train": TrainConfig}


def from_dict(raw: dict, file: str | None = None) -> RunConfig:
    """Build a :class:`RunConfig`, refusing unknown keys with a line naming them."""
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping", file=file)
    top = {"data", "model", "train", "seed", "dtype", "distributed", "properties"}
    for k in raw:
        if k not in top:
            raise ConfigError(
                f"unknown key {k!r}; known: {', '.join(sorted(top))}",
                file=file,
                field=k,
            )
    cfg = RunConfig()
    for section, cls in _SECTIONS.items():
        values = raw.get(section) or {}
        if not isinstance(values, dict):
            raise ConfigError("must be a mapping", file=file, field=section)
        names = {f.name for f in dataclasses.fields(cls)}
        for k in values:
            if k not in names:
                raise ConfigError(
                    f"unknown key {k!r}; known: {', '.join(sorted(names))}",
                    file=file,
                    field=f"{section}.{k}",
                )
        setattr(cfg, section, cls(**_coerce(cls, values, section, file)))
    model = dict(raw.get("model") or {})
    if not isinstance(model, dict):
        raise ConfigError("must be a mapping", file=file, field="model")
    try:
        cutoff = float(model.pop("cutoff", 5.0))
    except (TypeError, ValueError):
        raise ConfigError("must be a number", file=file, field="model.cutoff") from None
    try:
        seed = int(raw.get("seed", 0))
    except (TypeError, ValueError):
        raise ConfigError("must be an integer", file=file, field="seed") from None
    cfg.model = ModelConfig(
        name=model.pop("name", "pair"),
        cutoff=cutoff,
        e0=model.pop("e0", "fit"),
        options=model,
    )
    cfg.seed = seed
    dist = raw.get("distributed") or {}
    if not isinstance(dist, dict):
        raise ConfigError("must be a mapping", file=file, field="distributed")
    cfg.distributed = dict(dist)
    from matml.properties import parse_properties

    raw_props = raw.get("properties") or {}
    try:
        cfg.declared = parse_properties(raw_props)
    except ConfigError as err:
        raise ConfigError(err.message, file=file, field=err.field) from None
    cfg.properties = dict(raw_props)
    cfg.dtype = str(raw.get("dtype", "float32"))
    if cfg.dtype not in ("float32", "float64"):
        raise ConfigError("must be float32 or float64", file=file, field="dtype")
    _check(cfg, file)
    return cfg


_KIND = {float: "a number", int: "an integer", str: "a string"}


def _coerce(cls, values: dict, section: str, file) -> dict:
    """Values converted to the field types (YAML reads ``1e-3`` as a string)."""
    import typing

    hints = typing.get_type_hints(cls)
    out = {}
    for k, v in values.items():
        hint = hints[k]
        args = typing.get_args(hint)
        base = hint if not args else next((a for a in args if a is not type(None)), str)
        if v is None and type(None) in args:
            out[k] = None
            continue
        try:
            if base is float and not isinstance(v, bool):
                out[k] = float(v)
            elif base is int and not isinstance(v, bool):
                if float(v) != int(float(v)):
                    raise ValueError
                out[k] = int(float(v))
            elif base is str:
                out[k] = str(v)
            else:
                out[k] = v
        except (TypeError, ValueError):
            raise ConfigError(
                f"must be {_KIND.get(base, base.__name__)}, not {v!r}",
                file=file,
                field=f"{section}.{k}",
            ) from None
    return out


def _warn_rising_weights(t: TrainConfig, file) -> None:
    """Warn where stage two raises a loss weight more than threefold: Adam's second
    moments remember the smaller gradients for about a thousand steps, so each step
    along that term is as many times larger as the weight rose, a jolt that undoes
    much of stage one (mace on mlearn Li, energy weight 10 then 1000: at the switch the
    training energy error went from 1.8 to 20.5 meV/atom and the force error from
    0.016 to 0.030 eV/Å; 10 then 100: 1.8 to 11.3 and 0.016 to 0.029). The same
    ratio of weights, reached by lowering the others, has no such jolt."""
    import warnings

    for name in ("energy", "forces", "stress"):
        one = float(getattr(t, f"{name}_weight"))
        two = getattr(t, f"stage_two_{name}_weight")
        # (a term off in stage one has no ratio to keep: nothing to advise)
        if two is not None and one > 0 and float(two) > 3 * one:
            where = f"{file}: " if file else ""
            warnings.warn(
                f"{where}train.stage_two_{name}_weight {two:g} is over 3x "
                f"train.{name}_weight ({one:g}): raising a weight mid-run jolts "
                "Adam's steps along it; for the same ratio lower the other "
                "stage-two weights instead",
                UserWarning,
                stacklevel=4,
            )


def _check(cfg: RunConfig, file) -> None:
    t = cfg.train
    for name in ("epochs", "batch_size"):
        if int(getattr(t, name)) < 1:
            raise ConfigError("must be at least 1", file=file, field=f"train.{name}")
    for name in ("lr", "energy_weight", "forces_weight", "stress_weight"):
        if float(getattr(t, name)) < 0:
            raise ConfigError("must not be negative", file=file, field=f"train.{name}")
    for name in ("energy", "forces", "stress"):
        w = getattr(t, f"stage_two_{name}_weight")
        if w is not None and float(w) < 0:
            raise ConfigError(
                "must not be negative",
                file=file,
                field=f"train.stage_two_{name}_weight",
            )
    if not 0 <= t.stage_two_fraction < 1:
        raise ConfigError(
            "must be in [0, 1)", file=file, field="train.stage_two_fraction"
        )
    if t.stage_two_fraction > 0:
        _warn_rising_weights(t, file)
    if not 0 <= cfg.data.valid_fraction < 1:
        raise ConfigError("must be in [0, 1)", file=file, field="data.valid_fraction")
    if not 0 <= cfg.data.balance_power <= 1:
        raise ConfigError("must be in [0, 1]", file=file, field="data.balance_power")
    sp = cfg.data.species
    if sp is not None and (
        isinstance(sp, str) or not all(isinstance(x, str) for x in sp)
    ):
        raise ConfigError(
            f"must be a list of element symbols, not {sp!r}",
            file=file,
            field="data.species",
        )
    if cfg.model.cutoff <= 0:
        raise ConfigError("must be positive", file=file, field="model.cutoff")
    if t.devices != "auto":
        try:
            ok = int(t.devices) == float(t.devices) and int(t.devices) >= 1
        except (TypeError, ValueError):
            ok = False
        if not ok or isinstance(t.devices, bool):
            raise ConfigError(
                f"must be 'auto' or a number of devices >= 1, not {t.devices!r}",
                file=file,
                field="train.devices",
            )
        t.devices = int(t.devices)
    if not 0 <= t.ema_decay < 1:
        raise ConfigError("must be in [0, 1)", file=file, field="train.ema_decay")
    _check_model(cfg.model, file)


def _check_model(model: ModelConfig, file) -> None:
    """The model must be registered and take every key given for it."""
    from matml.models import MODELS, model_options

    if model.name not in MODELS:
        raise ConfigError(
            f"unknown model {model.name!r}; choose one of {', '.join(MODELS)}",
            file=file,
            field="model.name",
        )
    known = model_options(model.name)
    if "seed" in model.options:
        raise ConfigError(
            "the weights' seed is the top-level key 'seed', not a model option",
            file=file,
            field="model.seed",
        )
    for k in model.options:
        if k not in known:
            raise ConfigError(
                f"unknown key {k!r} for model {model.name!r}; known: "
                + ", ".join(sorted(known | {"name", "cutoff", "e0"})),
                file=file,
                field=f"model.{k}",
            )


def load_config(path) -> RunConfig:
    """Read a YAML config file."""
    import yaml

    path = Path(path)
    if path.is_dir():
        raise ConfigError("is a folder, not a config file", file=path)
    if not path.is_file():
        raise ConfigError("no such config file", file=path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"not valid YAML{where}", file=path) from None
    try:
        return from_dict(raw, file=str(path))
    except TypeError as err:
        raise ConfigError(str(err), file=path) from None
