"""Settings declared once: a config dataclass field says its type, default, bounds and help, and the
command line, the lab's training form, the studies' recipes and the tests' tiny model derive from it.

    window: int = setting(64, "frames per training window", low=2)

`check(config)` validates every declared field (the config's own `check()` adds rules that span
fields); `add_arguments`, `configs_from_args`, `argv` and `form_fields` turn declarations into flags,
configs, command lines and widgets. A ConfigError names the field; `in_flags`/`in_words` say it as the
CLI or the form does.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from motionlab.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple | Callable[[], tuple] | None = None  # a callable for registries filled at import time
    low_open: bool = False                            # low itself not allowed (lr > 0)
    high_open: bool = False                           # high itself not allowed (dropout < 1)
    parse: Callable[[str], Any] | None = None         # text -> value (channel_mults "1,2,4")
    show: Callable[[Any], str] | None = None          # value -> text, parse's inverse
    cli: bool = True                                  # a flag of motionlab.train
    lab: Any = None                                   # the training form offers it, with this default (None: not offered)
    label: str = ""                                   # the form's label; default: the name in words
    must: str = ""                                    # what the value must be, in words, where bounds say it badly

    def options(self) -> tuple | None:
        return self.choices() if callable(self.choices) else self.choices


def setting(default, help: str = "", **kw):
    """A dataclass field declared as a setting (see Setting for the keywords)."""
    return field(default=default, metadata={"setting": Setting(help, **kw)})


def declared(cls) -> list[tuple[dataclasses.Field, Setting]]:
    return [(f, f.metadata["setting"]) for f in dataclasses.fields(cls) if "setting" in f.metadata]


def is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_one(name: str, kind, v, s: Setting) -> None:
    def bad(why: str):
        raise ConfigError(name, f"must be {s.must or why}, got {v!r}")
    opts = s.options()
    if opts is not None:
        if v not in opts:
            bad(f"one of {', '.join(map(str, opts))}")
        return
    if kind in (int, "int"):
        if not is_int(v):
            bad("an integer")
    elif kind in (float, "float"):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not math.isfinite(v):
            bad("a finite number")
    elif kind in (bool, "bool"):
        if not isinstance(v, bool):
            bad("true or false")
    elif kind in (str, "str"):
        if not isinstance(v, str):
            bad("text")
    if s.low is not None and (v < s.low or (s.low_open and v == s.low)):
        bad(_range(s))
    if s.high is not None and (v > s.high or (s.high_open and v == s.high)):
        bad(_range(s))


def _range(s: Setting) -> str:
    lo = "" if s.low is None else f"{'>' if s.low_open else '>='} {s.low:g}"
    hi = "" if s.high is None else f"{'<' if s.high_open else '<='} {s.high:g}"
    return " and ".join(x for x in (lo, hi) if x)


def check(config) -> None:
    """Every declared field of a config against its declaration."""
    for f, s in declared(type(config)):
        _check_one(f.name, f.type, getattr(config, f.name), s)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def in_flags(e: ConfigError) -> str:
    """A ConfigError as the command line says it: --base-channels must be ..."""
    return f"{_flag(e.field)} {e.detail}" if e.field else str(e)


def in_words(e: ConfigError, labels: dict | None = None) -> str:
    """A ConfigError as a form says it: base channels must be ..."""
    if not e.field:
        return str(e)
    return f"{(labels or {}).get(e.field, e.field.replace('_', ' '))} {e.detail}"


def add_arguments(parser: argparse.ArgumentParser, *classes) -> None:
    """A flag for every declared setting (cli=True) of the config classes; a name two configs share
    (seed) is one flag that sets both."""
    seen = set()
    for cls in classes:
        for f, s in declared(cls):
            if not s.cli or f.name in seen:
                continue
            seen.add(f.name)
            kind, default = f.type, f.default
            if kind in (bool, "bool"):
                parser.add_argument(_flag(f.name), action="store_true", help=s.help)
                continue
            # text a setting parses itself stays text here, so that its error is our one line, not argparse's usage
            conv = str if s.parse else {"int": int, "float": float, int: int, float: float}.get(kind, str)
            shown = s.show(default) if s.show else default
            parser.add_argument(_flag(f.name), type=conv, default=shown, choices=s.options(),
                                help=f"{s.help} (default {shown})" if s.help else None)


def from_args(cls, ns: argparse.Namespace, **extra):
    """A config from parsed flags (its declared cli settings), plus extra fields; ConfigError as flags."""
    kw = {f.name: parse(f.name, getattr(ns, f.name)) for f, s in declared(cls) if s.cli and hasattr(ns, f.name)}
    return cls(**kw, **extra)


def parse(name: str, value):
    """A setting's value from text where it parses text (channel_mults '1,2' -> (1, 2)); others as given."""
    s = SETTINGS.get(name)
    return s.parse(value) if s is not None and s.parse and isinstance(value, str) else value


def argv(**values) -> list[str]:
    """Command-line words for settings by name (True bools as bare flags, False ones left out), in the
    order given: e.g. argv(window=256, stride=5, jitter=True) for motionlab.train."""
    out = []
    for name, v in values.items():
        s = SETTINGS.get(name)
        if s is None:
            raise KeyError(f"{name} is not a declared setting")
        if isinstance(v, bool):
            out += [_flag(name)] if v else []
        else:
            out += [_flag(name), s.show(v) if s.show else (f"{v:g}" if isinstance(v, float) else str(v))]
    return out


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    kind: str             # "int", "float", "bool", "choice", "text"
    default: Any
    setting: Setting


def form_fields(*classes) -> list[FormField]:
    """The settings the lab's training form offers, in declaration order, with the lab's defaults."""
    out, seen = [], set()
    for cls in classes:
        for f, s in declared(cls):
            if s.lab is None or f.name in seen:
                continue
            seen.add(f.name)
            kind = "choice" if s.options() is not None else \
                {"int": "int", "float": "float", "bool": "bool", int: "int", float: "float", bool: "bool"}.get(f.type, "text")
            default = s.show(s.lab) if s.show else s.lab
            out.append(FormField(f.name, s.label or f.name.replace("_", " ").capitalize(), kind, default, s))
    return out


SETTINGS: dict[str, Setting] = {}


def register(cls):
    """Class decorator: makes a config's declarations known to argv() by name."""
    for f, s in declared(cls):
        SETTINGS.setdefault(f.name, s)
    return cls
