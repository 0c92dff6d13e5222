"""sps.train: every stage runs (tiny presets, real images), DDP with 2 processes keeps ranks identical,
a SIGKILLed run resumes to the same weights as an uninterrupted one, exports load strictly, configs parse."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from sps.train import config as C
from sps.train import train
from sps.train.checkpoint import latest_checkpoint

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SPS_DATA", REPO.parent / "shared" / "data"))
pytestmark = pytest.mark.skipif(not (DATA / "viton" / "train").is_dir(), reason=f"data folder {DATA} absent")
TINY = ["--preset", "tiny", "--threads", "1", "--data.root", str(DATA)]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "true", "PYTHONPATH": str(REPO),
            "SPS_DATA": str(DATA), "HF_HUB_OFFLINE": "1"}


def _launch2(stage: str, args: list[str], timeout: int = 150) -> None:
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
           "-m", "sps.train", stage, *args]
    r = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


@pytest.fixture(scope="module")
def pairs_csv(tmp_path_factory) -> Path:
    """A small pseudo-pair CSV (as sps.search writes) over VITON train images that have parsing maps."""
    names = []
    with open(DATA / "viton" / "train" / "keypoints.csv") as fh:
        for line in fh:
            n = line.split(":")[0].strip()
            if n.endswith(".jpg") and (DATA / "viton" / "train" / "parsing" / (n[:-4] + ".png")).is_file():
                names.append(n)
            if len(names) == 12:
                break
    path = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    rows = ["source,candidate,score,margin"] + [f"{a},{b},0.5,0.1" for a, b in zip(names, names[1:] + names[:1])]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def chain(tmp_path_factory, pairs_csv) -> dict[str, Path]:
    """Every stage, a few steps each, one process, each starting from the previous stages' exports."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for stage, extra in [
        ("pose", ["--augment.zoom", "0.5", "--augment.clutter", "0.5", "--augment.grayscale", "0.5"]),
        ("parser", []),
        ("semantic", ["--data.pairs", str(pairs_csv)]),
        ("appearance", ["--weights.semantic", str(root / "semantic/export/semantic_generator"),
                        "--weights.pose", str(root / "pose/export/pose_estimator")]),
        ("e2e", ["--weights.semantic", str(root / "semantic/export/semantic_generator"),
                 "--weights.appearance", str(root / "appearance/export/appearance_generator"),
                 "--weights.pose", str(root / "pose/export/pose_estimator"), "--steps", "3",
                 "--composite", "true"]),  # the plain G_A gets the flow/mask head
    ]:
        summary = train(stage, [*TINY, "--out", str(root / stage), *extra])
        assert summary["exports"], stage
        out[stage] = root / stage
    return out


EXPORTS = {"pose": ["pose_estimator"], "parser": ["human_parser"], "semantic": ["semantic_generator"],
           "appearance": ["appearance_generator"], "e2e": ["semantic_generator", "appearance_generator"]}
CLASSES = {"pose_estimator": "PoseEstimator", "human_parser": "HumanParser",
           "semantic_generator": "SemanticGenerator", "appearance_generator": "AppearanceGenerator"}


@pytest.mark.parametrize("stage", list(EXPORTS))
def test_stage_runs_logs_samples_and_exports(chain, stage):
    import sps.models as M
    from sps.train.stages import get_stage

    run = chain[stage]
    rows = (run / "log.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:4] == ["step", "time", "samples_per_s", "lr"]
    declared = get_stage(stage)
    assert set(header[4:]) == {*declared.generator_terms, *declared.discriminator_terms}  # every term, by name
    steps = [int(r.split(",")[0]) for r in rows[1:]]
    assert steps == list(range(1, steps[-1] + 1))
    vals = [float(v) for r in rows[1:] for v in r.split(",")[4:]]
    assert all(v == v and abs(v) < 1e6 for v in vals)  # finite
    assert sorted(p.name for p in (run / "samples").glob("step-*.png"))[-1] == f"step-{steps[-1]:06d}.png"
    cfg = C.from_file(stage, run / "config.yaml")
    assert cfg.canvas == (32, 24) and cfg.preset == "tiny"
    assert cfg == C.resolve(stage, ["--config", str(run / "config.yaml")])  # the saved config reads back
    assert latest_checkpoint(run).name == f"ckpt-{steps[-1]:06d}"
    for net in EXPORTS[stage]:
        folder = run / "export" / net
        card = (folder / "README.md").read_text()
        assert f"steps: {steps[-1]}" in card and "## Metrics" in card and "loss: " in card
        model = getattr(M, CLASSES[net]).from_pretrained(folder, strict=True)
        saved = load_file(str(folder / "model.safetensors"))
        for k, v in model.state_dict().items():
            assert torch.equal(v, saved[k].to(v.dtype)), k
    if stage == "e2e":  # trained with --composite from a plain G_A
        assert M.AppearanceGenerator.from_pretrained(run / "export" / "appearance_generator").config.composite
        masks = [float(v) for r in rows[1:] for k, v in zip(header, r.split(",")) if k.startswith("mask_")]
        assert masks and all(0 <= v <= 1 for v in masks)
    metrics = json.loads((run / "metrics.json").read_text())["metrics"]
    if stage == "parser":
        assert "viton/test/mIoU" in metrics and "spt-demo/mIoU" in metrics
        assert 0 <= metrics["spt-demo/mIoU"] <= 1
    if stage == "pose":
        assert all(0 <= metrics[f"{f}/pck@0.1"] <= 1 for f in ("viton/test", "deepfashion", "market"))


def test_plot(chain):
    from sps.train.plot import plot

    png = plot(chain["e2e"])
    assert png.is_file() and png.stat().st_size > 1000


@pytest.mark.parametrize("stage", ["appearance", "e2e"])
def test_two_processes_keep_ranks_identical(chain, tmp_path, stage):
    weights = ["--weights.semantic", str(chain["semantic"] / "export/semantic_generator"),
               "--weights.pose", str(chain["pose"] / "export/pose_estimator")]
    if stage == "e2e":
        weights += ["--weights.appearance", str(chain["appearance"] / "export/appearance_generator"),
                    "--grad_accum", "2"]
    _launch2(stage, [*TINY, "--out", str(tmp_path), "--steps", "3", "--log.sample_every", "0", *weights])
    ranks = [json.loads((tmp_path / "checksums" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]
    assert (tmp_path / "log.csv").read_text().count("\n") == 4  # header + 3 steps, written by rank 0 only


def test_sigkill_after_checkpoint_resumes_bitwise(tmp_path, pairs_csv):
    """semantic (GAN, flips, dropout-free): kill -9 after a checkpoint, resume, compare with a straight run."""
    args = [*TINY, "--data.pairs", str(pairs_csv), "--steps", "8", "--checkpoint.every", "2",
            "--log.sample_every", "0", "--log.every", "1", "--checkpoint.keep", "2"]
    killed = tmp_path / "killed"
    slow = [sys.executable, str(REPO / "tests" / "slow_train.py"), "0.6"]  # 0.6 s per step: time to kill it
    proc = subprocess.Popen([*slow, "semantic", *args, "--out", str(killed)],
                            cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            ck = latest_checkpoint(killed)
            if ck is not None and ck.name in ("ckpt-000002", "ckpt-000004"):
                break
            assert proc.poll() is None, "run ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint appeared")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not (killed / "export").exists()
    resumed_from = latest_checkpoint(killed).name
    train("semantic", [*args, "--out", str(killed), "--resume"])
    straight = tmp_path / "straight"
    train("semantic", [*args, "--out", str(straight)])
    for run in (killed, straight):
        assert (run / "checkpoints" / "latest").read_text().strip() == "ckpt-000008"
    a = load_file(str(killed / "export/semantic_generator/model.safetensors"))
    b = load_file(str(straight / "export/semantic_generator/model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resuming from {resumed_from}"
    log_steps = [int(r.split(",")[0]) for r in (killed / "log.csv").read_text().splitlines()[1:]]
    assert log_steps == list(range(1, 9))


@pytest.fixture(scope="module")
def deepfashion_maps(tmp_path_factory) -> tuple[Path, Path]:
    """Label PNGs (sps labels, drawn from the part masks) for 6 DeepFashion train images, standing in for the
    parser's maps of `python -m sps.predict`, and a pair CSV over them."""
    from PIL import Image

    from sps import pose as K
    from sps.parts import part_masks
    from sps.splits import split_of

    folder = DATA / "deepfashion"
    poses = K.read_keypoints_csv(folder / "keypoints.csv")
    names = [n for n, kps in poses.items() if split_of(n) == "train" and K.visible(kps).sum() >= 14][:6]
    out = tmp_path_factory.mktemp("df_maps")
    for n in names:
        w, h = Image.open(folder / "images" / n).size
        masks = part_masks(poses[n], (h, w)).astype(bool)  # (10, H, W)
        lab = np.zeros((h, w), np.uint8)
        for part, label in ((6, 4), (7, 4), (8, 4), (9, 4), (0, 3), (2, 7), (3, 6), (4, 7), (5, 6), (1, 1)):
            lab[masks[part]] = label
        Image.fromarray(lab, "L").save(out / (Path(n).stem + ".png"))
    pairs = out / "pairs.csv"
    pairs.write_text("source,candidate,score,margin\n" + "".join(
        f"{a},{b},0.5,0.1\n" for a, b in zip(names, names[1:] + names[:1])))
    return out, pairs


def test_semantic_mixes_pair_files_with_predicted_parsing(chain, tmp_path, pairs_csv, deepfashion_maps):
    from sps.train.stages.semantic import SemanticStage

    maps, df_pairs = deepfashion_maps
    init = chain["semantic"] / "export/semantic_generator"
    args = [*TINY, "--data.max_images", "0", "--data.pairs", str(pairs_csv), str(df_pairs),
            "--data.dataset", "viton/train", "deepfashion", "--data.parsing_dirs", f"deepfashion={maps}",
            "--weights.init", str(init), "--data.eval_images", "10"]
    stage = SemanticStage(C.resolve("semantic", args), None)
    stage.build()
    assert stage.pair_counts == {"viton/train": 11, "deepfashion": 5}  # 1 of each held out for the metrics
    assert len(stage.train_set) == 22  # balanced: the 5 DeepFashion pairs repeated to 11
    b = stage.train_set[20]
    assert set(b["tgt_parsing"].unique().tolist()) <= {0, 1, 3, 4, 6, 7}  # read as sps labels from `maps`
    unbalanced = SemanticStage(C.resolve("semantic", [*args, "--data.balance", "false"]), None)
    unbalanced.build()
    assert len(unbalanced.train_set) == 16
    # a second pair file on the same folder (e.g. the view-turn search) keeps its own share, count and metrics
    turn = tmp_path / "turn.csv"
    turn.write_text(df_pairs.read_text())
    twice = SemanticStage(C.resolve("semantic", [*args, "--data.pairs", str(pairs_csv), str(df_pairs), str(turn),
                                                 "--data.dataset", "viton/train", "deepfashion", "deepfashion"]), None)
    twice.build()
    keys = {"viton/train", f"deepfashion/{df_pairs.stem}", "deepfashion/turn"}
    assert twice.pair_counts == dict.fromkeys(keys, 5) | {"viton/train": 11} and set(twice.val_sets) == keys
    assert len(twice.train_set) == 33 and "5 from " + str(turn) in twice.data_description()

    # lr 0: the export is the initial weights, so G_S really started from --init_weights
    summary = train("semantic", [*args, "--out", str(tmp_path), "--optim.lr", "0", "--optim.d_lr", "0"])
    assert "val_mIoU_deepfashion" in summary["metrics"] and "val_mIoU_viton_train" in summary["metrics"]
    a = load_file(str(init / "model.safetensors"))
    b = load_file(str(tmp_path / "export/semantic_generator/model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    card = (tmp_path / "export/semantic_generator/README.md").read_text()
    assert "fine-tuned from" in card and "balanced" in card

    for bad, match in ((["--data.dataset", "viton/train"], "one folder per pair file"),
                       (["--data.parsing_dirs", "market=x"], "not in --data.dataset"),
                       (["--data.parsing_dirs", "deepfashion"], "KEY=VALUE")):
        with pytest.raises(ValueError, match=match):
            SemanticStage(C.resolve("semantic", [*args, *bad]), None).build()


def test_balanced_repeats_the_smaller_parts():
    from torch.utils.data import TensorDataset

    from sps.train.data import balanced

    a, b = TensorDataset(torch.arange(5)), TensorDataset(torch.arange(100, 102))
    mix = balanced([a, b])
    assert len(mix) == 10
    assert [int(mix[i][0]) for i in range(10)] == [0, 1, 2, 3, 4, 100, 101, 100, 101, 100]
    assert balanced([a]) is a


def test_config_resolution(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("stage: parser\nbatch_size: 3\ncanvas: [64, 48]\noptim: {lr: 0.5, beta2: 0.9}\n"
                 "data: {datasets: [viton/train, deepfashion]}\n")
    cfg = C.resolve("parser", ["--config", str(f), "--optim.lr", "0.01", "--resume", "--canvas", "32x24"])
    assert (cfg.batch_size, cfg.optim.lr, cfg.optim.beta2, cfg.resume, cfg.canvas, cfg.out) == (
        3, 0.01, 0.9, True, (32, 24), "runs/parser")
    assert cfg.data.datasets == ("viton/train", "deepfashion") and cfg.optim.beta1 == 0.9  # the parser's default
    assert C.resolve("parser", ["--canvas", "64", "48", "--data.eval_folder"]).data.eval_folder == ()
    sem = C.resolve("semantic", ["--data.pairs", "a.csv", "b.csv", "--data.dataset", "viton/train", "deepfashion",
                                 "--data.parsing_dirs", "deepfashion=maps/df", "--data.balance", "false",
                                 "--model.target_parsing", "hard", "--loss.adv", "0.5", "--batch-size", "4"])
    assert sem.data.pairs == ("a.csv", "b.csv") and sem.data.dataset == ("viton/train", "deepfashion")
    assert sem.data.parsing_dirs == {"deepfashion": "maps/df"} and sem.data.balance is False
    assert (sem.model.target_parsing, sem.loss.adv, sem.batch_size) == ("hard", 0.5, 4)
    paper = C.resolve("appearance", ["--preset", "paper"])
    assert paper.canvas == (256, 192) and paper.preset == "paper" and paper.steps == C.PAPER_STEPS["appearance"]
    assert paper.loss.cycle_l1 == 0 and C.resolve("appearance", []).loss.cycle_l1 == 10
    with pytest.raises(ValueError, match="must be soft"):
        C.resolve("e2e", ["--model.target_parsing", "hard"])
    e2e = C.resolve("e2e", [])
    assert (e2e.loss.parsing_adv, e2e.loss.adv, e2e.optim.semantic_lr, e2e.steps) == (0.1, 1.0, 2e-5, 1000)
    for argv, match in ((["--bogus", "1"], "unrecognized arguments"), (["--steps", "many"], "expected int"),
                        (["--lr", "1"], "unrecognized arguments"), (["--model_preset", "tiny"], "unrecognized"),
                        (["--preset", "huge"], "unknown preset"), (["--canvas", "1", "2", "3"], "expected 2 values"),
                        (["--model.target_parsing", "x"], "unrecognized"),  # pose has no model section
                        (["--data.pairs", "a.csv"], "unrecognized")):
        with pytest.raises(ValueError, match=match):
            C.resolve("pose", argv)
    with pytest.raises(ValueError, match="soft"):
        C.resolve("semantic", ["--model.target_parsing", "x"])
    f.write_text("optim: {lr: 0.1, bogus: 1}\n")
    with pytest.raises(ValueError, match="unknown option 'bogus'"):
        C.resolve("pose", ["--config", str(f)])
    C.save(sem, tmp_path / "out.yaml", "semantic")
    assert C.from_file("semantic", tmp_path / "out.yaml") == sem
    assert C.resolve("semantic", ["--config", str(tmp_path / "out.yaml")]) == sem


def test_cli_help_lists_dotted_options(capsys):
    from sps.train.__main__ import main

    assert main(["e2e", "--help"]) == 0
    out = capsys.readouterr().out
    for opt in ("--optim.semantic_lr", "--data.datasets", "--loss.parsing_adv", "--model.target_parsing",
                "--weights.appearance", "--checkpoint.every", "--log.sample_every"):
        assert opt in out, opt
    assert "(default: 0.1)" in out  # e2e's parsing_adv default
    assert main(["pose", "--steps", "many"]) == 2
    assert "expected int" in capsys.readouterr().err


def test_stages_declare_their_loss_terms():
    from sps.losses import LossWeights
    from sps.train.stages import STAGES, get_stage

    fields = set(LossWeights().to_dict())
    for name in STAGES:
        stage = get_stage(name)
        declared = {**stage.generator_terms, **stage.discriminator_terms}
        assert declared and {w for w in declared.values() if w} <= fields, name
    assert get_stage("semantic").generator_terms["pixel_acc"] is None  # a metric: logged, not weighted
    assert get_stage("e2e").generator_terms["g_parsing_adv"] == "parsing_adv"
    assert get_stage("e2e").discriminator_terms["d_parsing"] == "adv"

    stage = get_stage("semantic")(C.resolve("semantic", ["--loss.parsing_ce", "2", "--loss.adv", "0.5"]), None)
    one = torch.tensor(1.0)
    total = stage.weighted({"ce": one, "g_adv": one * 3, "pixel_acc": one * 100}, stage.generator_terms)
    assert float(total) == 2 * 1 + 0.5 * 3
    with pytest.raises(KeyError, match="not declared"):
        stage.weighted({"ce": one, "g_adv": one, "pixel_acc": one, "extra": one}, stage.generator_terms)
    assert "ce x2 (parsing_ce)" in stage.loss_description()


def test_latest_pointer_ignores_half_written_checkpoints(tmp_path):
    ck = tmp_path / "checkpoints"
    (ck / "ckpt-000002").mkdir(parents=True)
    (ck / "ckpt-000002" / "trainer_state.json").write_text("{}")
    (ck / "ckpt-000004.tmp").mkdir()  # killed mid-save: never used
    assert latest_checkpoint(tmp_path).name == "ckpt-000002"
    (ck / "latest").write_text("ckpt-000004\n")  # pointer to something incomplete: fall back
    assert latest_checkpoint(tmp_path).name == "ckpt-000002"


def test_pairs_whose_candidate_folder_is_missing_are_skipped(tmp_path, pairs_csv, caplog):
    """A pair file may name candidates in a folder this machine lacks (CCP prepared elsewhere): those pairs are
    skipped with a warning, the rest train."""
    from sps.train.stages.semantic import SemanticStage

    rows = pairs_csv.read_text().splitlines()
    lines = ["source,candidate,score,margin,flip,scale,candidate_dataset"]
    lines += [f"{r},0,1.0," for r in rows[1:]]
    lines.append(f"{rows[1].split(',')[0]},0001.jpg,0.5,0.1,0,1.0,runs/no_such_folder")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join(lines) + "\n")
    args = [*TINY, "--data.max_images", "0", "--data.pairs", str(mixed), "--data.eval_images", "0"]
    stage = SemanticStage(C.resolve("semantic", args), None)
    with caplog.at_level("WARNING"):
        stage.build()
    assert stage.pair_counts == {"viton/train": 12} and "runs/no_such_folder is not available" in caplog.text


def test_weight_average_is_the_mean_of_the_snapshots_and_survives_a_resume(tmp_path, pairs_csv):
    """--average.every: the export is the mean of the weights at the snapshot steps (here with G_S as a correction of
    the warped prior and zoomed pairs), and a run stopped and resumed exports the same mean."""
    args = [*TINY, "--data.pairs", str(pairs_csv), "--checkpoint.every", "2", "--checkpoint.keep", "10",
            "--log.sample_every", "0", "--average.every", "2", "--average.start", "2", "--correction", "true",
            "--zoom.source", "0.5", "--zoom.target", "0.5"]
    straight = tmp_path / "straight"
    summary = train("semantic", [*args, "--steps", "6", "--out", str(straight)])
    assert summary["steps"] == 6
    snaps = [load_file(str(straight / "checkpoints" / f"ckpt-{s:06d}" / "model.safetensors")) for s in (2, 4, 6)]
    exported = load_file(str(straight / "export/semantic_generator/model.safetensors"))
    assert "prior_gain" in exported
    for k, v in exported.items():
        if v.is_floating_point():
            torch.testing.assert_close(v, torch.stack([s[k] for s in snaps]).mean(0), rtol=1e-5, atol=1e-6)
    assert not torch.equal(exported["prior_gain"], snaps[-1]["prior_gain"])  # not just the last weights
    card = (straight / "export/semantic_generator/README.md").read_text()
    assert "the mean of 3 snapshots, one every 2 steps from step 2" in card
    stopped = tmp_path / "stopped"
    train("semantic", [*args, "--steps", "4", "--out", str(stopped)])
    train("semantic", [*args, "--steps", "6", "--out", str(stopped), "--resume"])
    again = load_file(str(stopped / "export/semantic_generator/model.safetensors"))
    for k in exported:
        assert torch.equal(again[k], exported[k]), k
