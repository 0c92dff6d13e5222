"""The shipped model cards stay in step with the training command line.

Every `python -m sps.train STAGE ...` command quoted in a card (inline code that may wrap over lines, or a line of
a shell block; `accelerate launch` prefixes stripped) must parse with `sps.train.config.resolve`, and every
config YAML block must read back with `from_file` and with `--config`, so a change of the options cannot leave the
cards stale silently. Nothing is trained.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from sps.train import config as C

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
NETWORK_CARDS = [WEIGHTS / n / "README.md"
                 for n in ("pose_estimator", "human_parser", "semantic_generator", "appearance_generator")]
CARDS = [WEIGHTS / "README.md", *NETWORK_CARDS]

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
INLINE = re.compile(r"`([^`]+)`")


def yaml_blocks(text: str) -> list[str]:
    """The fenced ```yaml blocks of a card."""
    return [body for lang, body in FENCE.findall(text) if lang == "yaml"]


def train_argvs(text: str) -> list[list[str]]:
    """[STAGE, option, ...] of every `python -m sps.train` command in a card (inline or in a shell block)."""
    shell = [body for lang, body in FENCE.findall(text) if lang in ("bash", "sh", "shell", "")]
    snippets = INLINE.findall(FENCE.sub("", text))
    snippets += [line for body in shell for line in body.replace("\\\n", " ").splitlines()]
    argvs = []
    for snippet in snippets:
        words = shlex.split(" ".join(snippet.split()), comments=True)
        starts = [i for i in range(len(words) - 1) if words[i] == "-m" and words[i + 1] == "sps.train"]
        if starts and len(words) > starts[0] + 2:  # a bare `python -m sps.train` names no stage
            argvs.append(words[starts[0] + 2:])
    return argvs


def _no_comma_lists(cfg: C.RunConfig) -> None:
    """Old comma strings (`--datasets a,b`) would now parse as one folder named "a,b"."""
    lists = {k: v for k, v in _flat(C.to_dict(cfg)).items() if isinstance(v, list)}
    assert not [k for k, v in lists.items() if any("," in str(x) for x in v)], lists


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and k != "parsing_dirs":
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def test_extraction_finds_the_cards_commands():
    text = ("Run `accelerate launch --multi_gpu -m sps.train appearance\n   --data.datasets a b` and `python -m "
            "sps.train`.\n\n```bash\npython -m sps.train pose \\\n    --steps 3   # short\n```\n```yaml\nstage: pose\n```\n")
    assert train_argvs(text) == [["appearance", "--data.datasets", "a", "b"], ["pose", "--steps", "3"]]
    assert yaml_blocks(text) == ["stage: pose\n"]
    found = {card.parent.name: train_argvs(card.read_text()) for card in NETWORK_CARDS}
    assert all(found.values()), found  # every network card has at least its reproduce command
    assert len(found["semantic_generator"]) == 7 and len(found["pose_estimator"]) == 4


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.parent.name if p.parent != WEIGHTS else "pipeline")
def test_card_commands_and_configs_parse(card: Path, tmp_path: Path):
    text = card.read_text()
    blocks = yaml_blocks(text)
    configs = {}
    for i, block in enumerate(blocks):
        stage = yaml.safe_load(block)["stage"]
        path = tmp_path / f"config{i}.yaml"
        path.write_text(block)
        cfg = C.from_file(stage, path)  # unknown or mistyped options raise
        given, read = _flat(yaml.safe_load(block)), _flat(C.to_dict(cfg))
        assert {k: read.get(k) for k in given if k != "stage"} == {k: v for k, v in given.items() if k != "stage"}
        assert C.resolve(stage, ["--config", str(path)]) == cfg
        _no_comma_lists(cfg)
        configs[stage] = (path, cfg)
    if card in NETWORK_CARDS:
        assert len(blocks) == 1, f"{card}: expected one config block"

    for stage, *argv in train_argvs(text):
        if "config.yaml" in argv:  # "Reproduce with ... --config config.yaml": the card's own block
            assert stage in configs, f"{card}: {stage} command refers to a config block the card lacks"
            path, cfg = configs[stage]
            argv = [str(path) if a == "config.yaml" else a for a in argv]
            assert C.resolve(stage, argv) == cfg
        else:
            _no_comma_lists(C.resolve(stage, argv))  # ValueError names a stale option
