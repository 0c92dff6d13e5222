"""Command line and config files derived from nested config dataclasses.

Every field of a config is an option named by its path: `--steps 10`, `--optim.lr 1e-4`,
`--data.datasets viton/train deepfashion`, `--data.parsing_dirs deepfashion=DIR`, `--canvas 64 48` (or `64x48`),
`--resume` (a bare boolean means true; `--data.balance false`). A YAML/JSON file holds the same options as nested
mappings. `convert` turns command-line strings and file values into the field types, so both read the same way.
Help texts come from each field's ``metadata["help"]`` (see `option`).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def option(default: Any, help: str) -> Any:
    """A dataclass field with a help text; mutable defaults (sections, dicts) are copied per instance."""
    if isinstance(default, (dict, list)) or dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def is_section(tp: Any) -> bool:
    """Whether a field type is a nested config section (a dataclass)."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def options(cfg: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any, str]]:
    """(dotted name, type, current value, help) of every leaf option of `cfg`, sections flattened."""
    hints = _hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if is_section(hints[f.name]):
            yield from options(value, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name, hints[f.name], value, f.metadata.get("help", "")


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------

def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE or s in _FALSE:
        return s in _TRUE
    raise ValueError(f"--{key}: expected a boolean, got {value!r}")


def _items(value: Any) -> list[Any]:
    """A scalar or a sequence as a list (a string is one item)."""
    return [value] if isinstance(value, (str, int, float)) else list(value)


def _pairs(value: Any, key: str) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for item in _items(value):
        name, sep, val = str(item).partition("=")
        if not (sep and name.strip() and val.strip()):
            raise ValueError(f"--{key}: expected KEY=VALUE entries, got {item!r}")
        out[name.strip()] = val.strip()
    return out


def convert(value: Any, tp: Any, key: str) -> Any:
    """Convert a command-line string (list of strings for multi-value options) or a file value to type `tp`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        return _bool(value, key)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or str(value).strip().lower() in ("", "none", "null"):
            return None
        return convert(value, next(a for a in args if a is not type(None)), key)
    if origin is dict:
        return _pairs(value, key)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:  # tuple[T, ...]
        return tuple(convert(v, args[0], key) for v in _items(value) if str(v) != "")
    if origin is tuple:  # fixed length, e.g. canvas (H, W): "32x24", "32,24", ["32", "24"] or [32, 24]
        parts = [p for v in _items(value) for p in str(v).replace("x", ",").replace(" ", ",").split(",") if p]
        if len(parts) != len(args):
            raise ValueError(f"--{key}: expected {len(args)} values, got {value!r}")
        return tuple(convert(p, a, key) for p, a in zip(parts, args))
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    try:
        return tp(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--{key}: expected {getattr(tp, '__name__', tp)}, got {value!r}") from e


def apply(cfg: Any, updates: Mapping[str, Any], where: str) -> Any:
    """A copy of `cfg` with nested `updates` ({field: value or {sub-field: ...}}) converted to the field
    types; unknown names are errors."""
    hints = _hints(type(cfg))
    changes = {}
    for k, v in updates.items():
        if k not in hints:
            known = ", ".join(sorted(hints))
            raise ValueError(f"{where}: unknown option {k!r} in {type(cfg).__name__} (known: {known})")
        if is_section(hints[k]):
            if not isinstance(v, Mapping):
                raise ValueError(f"{where}: {k!r} is a section; expected a mapping, got {v!r}")
            changes[k] = apply(getattr(cfg, k), v, where)
        else:
            changes[k] = convert(v, hints[k], k)
    return dataclasses.replace(cfg, **changes)


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """{"optim.lr": x, "steps": y} -> {"optim": {"lr": x}, "steps": y}."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *path, last = key.split(".")
        node = out
        for p in path:
            node = node.setdefault(p, {})
        node[last] = value
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict of a config (tuples as lists), for YAML/JSON."""
    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))


# ---------------------------------------------------------------------------------------------
# argparse
# ---------------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises ValueError instead of exiting (the callers report the error)."""

    def error(self, message: str) -> typing.NoReturn:
        raise ValueError(message)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return " ".join(map(str, value)) or "(none)"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "(none)"
    return repr(value) if isinstance(value, str) else str(value)


def build_parser(cfg: Any, prog: str, description: str = "", hidden: frozenset[str] = frozenset()
                 ) -> argparse.ArgumentParser:
    """An ArgumentParser with one option per leaf field of `cfg` (defaults shown from `cfg`), plus `--config`.
    Options named in `hidden` are accepted but left out of the help.

    Parsed values are raw strings (lists for multi-value options); `parse` converts them."""
    ap = _Parser(prog=prog, description=description, allow_abbrev=False,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                    help="YAML/JSON file of options (nested like the saved RUN_DIR/config.yaml)")
    for name, tp, value, text in options(cfg):
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        kw: dict[str, Any] = {"default": argparse.SUPPRESS, "dest": name}
        if tp is bool:
            kw.update(nargs="?", const="true", metavar="{true,false}")
        elif origin is dict:
            kw.update(nargs="*", metavar="KEY=VALUE")
        elif origin is tuple:
            kw.update(nargs="*" if args[-1] is Ellipsis else "+", metavar=getattr(args[0], "__name__", "V").upper())
        else:
            kw.update(metavar=getattr(tp, "__name__", "VALUE").upper() if isinstance(tp, type) else "VALUE")
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        kw["help"] = (f"{text} " if text else "") + f"(default: {_show(value)})".replace("%", "%%")
        if name in hidden:
            kw["help"] = argparse.SUPPRESS
        ap.add_argument(*flags, **kw)
    return ap


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[dict[str, Any], str | None]:
    """(nested raw values of the options given, the --config file or None)."""
    given = dict(vars(parser.parse_args(argv)))
    config = given.pop("config", None)
    return nest(given), config
