"""Stage `appearance`: AppearanceGenerator (G_A) with frozen G_S and PoseEstimator, unpaired (docs/design.md 1.2).

Per micro-batch: source I_s (parsing S_s, pose p_s) and a random target pose p_t (keypoints of another training
image); S_t = G_S(S_s, p_s, p_t) (frozen); I_t = G_A(I_s, S_s, p_s, S_t, p_t); cycle I_c = G_A(I_t, S_t, p_t, S_s, p_s).
Generator losses: LSGAN PatchDiscriminator on [I_t, S_t] + FaceDiscriminator on face crops of I_t, pose
consistency ||Pose(I_t) - p_t||^2 (frozen estimator), content ||F(I_c) - F(I_s)||^2 and semantic-aware style
(I_t vs I_s on S_t/S_s, I_c vs I_t on S_s/S_t); and, outside the paper, a pixel L1 |I_c - I_s| (cycle_l1_weight,
0 in the `paper` preset) that lets the short CPU runs converge. Discriminators: one DDP forward each on [real; fake].
"""
from __future__ import annotations

from typing import Any

import torch

from ... import losses as L
from ... import parsing as P
from ..common import (all_keypoints, flip_batch, freeze, heatmaps, load_net, models_module, parsing_rgb,
                      person_folders, set_requires_grad, skeleton_rgb, to_uint8)
from ..config import AppearanceConfig
from ..loop import Stage


def masked_lsgan_g(out: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """LSGAN generator loss averaged over the samples where ok (B,) (0 with a graph when none)."""
    per = ((out.float() - 1) ** 2).flatten(1).mean(1)  # (B,)
    return (per * ok).sum() / ok.sum().clamp(min=1)


def masked_lsgan_d(real: torch.Tensor, fake: torch.Tensor, ok_real: torch.Tensor, ok_fake: torch.Tensor
                   ) -> torch.Tensor:
    r = ((real.float() - 1) ** 2).flatten(1).mean(1)
    f = (fake.float() ** 2).flatten(1).mean(1)
    return 0.5 * ((r * ok_real).sum() / ok_real.sum().clamp(min=1) + (f * ok_fake).sum() / ok_fake.sum().clamp(min=1))


class AppearanceStage(Stage):
    name = "appearance"
    config_cls = AppearanceConfig
    exported = ("G_A",)
    export_names = {"G_A": "appearance_generator"}
    train_semantic = False

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        c: AppearanceConfig = self.cfg
        M = models_module()
        self.train_set = person_folders(c, c.datasets, require_parsing=not c.parser_weights)
        self.bank = all_keypoints(self.train_set)  # (N, 18, 2) target poses
        self.frozen: dict[str, torch.nn.Module] = {}
        self.frozen["pose"] = freeze(load_net("PoseEstimator", c.pose_weights, c, "pose_weights")).to(self.device)
        self.gain = float(self.frozen["pose"].config.heatmap_gain)
        self.frozen["perceptual"] = freeze(M.PerceptualNet(c.perceptual)).to(self.device)
        if c.parser_weights:
            self.frozen["parser"] = freeze(load_net("HumanParser", c.parser_weights, c, "parser_weights")).to(self.device)
        dcfg = M.DiscriminatorConfig.preset(c.model_preset, canvas=tuple(c.canvas))
        self.face_size = dcfg.face_size
        d_img, d_face = M.PatchDiscriminator(dcfg), M.FaceDiscriminator(dcfg)
        self.build_generators()
        self.models.update({"D_image": d_img, "D_face": d_face})
        self.optimizers.update({"D": self.adam(list(d_img.parameters()) + list(d_face.parameters()), c.d_lr)})
        self.clip_params.update({"D": list(d_img.parameters()) + list(d_face.parameters())})

    def build_generators(self) -> None:
        c: AppearanceConfig = self.cfg
        g_s = load_net("SemanticGenerator", c.semantic_weights, c, "semantic_weights")
        self.frozen["G_S"] = freeze(g_s).to(self.device)
        M = models_module()
        g_a = M.AppearanceGenerator(M.AppearanceGeneratorConfig.preset(c.model_preset, canvas=tuple(c.canvas)))
        self.models = {"G_A": g_a}
        self.optimizers = {"G_A": self.adam(g_a.parameters())}
        self.clip_params = {"G_A": list(g_a.parameters())}

    # ------------------------------------------------------------------ pieces
    def alpha(self) -> float:
        f = self.cfg.fade_steps
        return 1.0 if not f else min(1.0, (self.step + 1) / f)

    def prepare_batch(self, batch: dict[str, Any], sample: bool = False) -> dict[str, Any]:
        """Flip, draw the target pose, one-hot S_s and heatmaps. Uses the (step-seeded) global RNG."""
        c, dev = self.cfg, self.device
        n = batch["image"].shape[0]
        if not sample:
            batch = flip_batch(batch, torch.rand(n) < 0.5)
        if sample:
            g = torch.Generator().manual_seed(0)
            j = torch.randint(len(self.bank), (n,), generator=g)
        else:
            j = torch.randint(len(self.bank), (n,))
        k_t = self.bank[j].to(dev)
        b = dict(batch)
        par = b["parsing"]
        if "parser" in self.frozen and bool((par < 0).any()):  # predict the parsing where there is none
            with torch.no_grad():
                pred = self.frozen["parser"](b["image"]).argmax(1)
            par = torch.where((par < 0).all(-1).all(-1)[:, None, None], pred, par)
        b["parsing"] = par.clamp(min=0)
        b["S_s"] = P.one_hot(b["parsing"]).to(dev)  # (B, 10, H, W)
        b["p_s"] = heatmaps(b["kps"], c.canvas)
        b["k_t"], b["p_t"] = k_t, heatmaps(k_t, c.canvas)
        return b

    def target_parsing(self, b: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """S_t (B, 10, H, W) from the frozen G_S (no grad); second value: logits when G_S trains (e2e)."""
        with torch.no_grad():
            logits = self.frozen["G_S"](b["S_s"], b["p_s"], b["p_t"], src_kps=b["kps"], tgt_kps=b["k_t"]).float()
        if self.cfg.hard_target_parsing:
            return P.one_hot(logits.argmax(1)).to(logits.dtype), None
        return logits.softmax(1), None

    def generator_losses(self, b: dict[str, Any], s_t: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict]:
        """Every G_A loss term (unweighted) and the tensors the D step and samples need."""
        c: AppearanceConfig = self.cfg
        G = self.models["G_A"]
        a = self.alpha()
        i_s, s_s, p_s, p_t = b["image"], b["S_s"], b["p_s"], b["p_t"]
        i_t = G(i_s, s_s, p_s, s_t, p_t, b["kps"], b["k_t"], alpha=a)  # (B, 3, H, W)
        i_c = G(i_t, s_t, p_t, s_s, p_s, b["k_t"], b["kps"], alpha=a)  # cycle back to the source pose
        D_img, D_face = self.raw["D_image"], self.raw["D_face"]
        set_requires_grad(D_img, False)
        set_requires_grad(D_face, False)
        M = models_module()
        crops_t, ok_t = M.face_crops(i_t, b["k_t"], self.face_size)
        terms = {
            "g_adv": ((D_img(i_t, s_t).float() - 1) ** 2).mean(),
            "g_face": masked_lsgan_g(D_face(crops_t), ok_t.float()),
            "pose": L.pose_consistency(self.frozen["pose"](i_t).float(), p_t * self.gain),
        }
        per = self.frozen["perceptual"]
        with torch.no_grad():
            f_s = [f.float() for f in per(i_s)]
        f_t = [f.float() for f in per(i_t)]
        f_c = [f.float() for f in per(i_c)]
        terms["content"] = L.content_loss(f_c, f_s)
        terms["cycle_l1"] = (i_c.float() - i_s.float()).abs().mean()
        terms["style"] = L.style_loss(f_t, s_t, f_s, s_s) + L.style_loss(f_c, s_s, [f.detach() for f in f_t], s_t)
        set_requires_grad(D_img, True)
        set_requires_grad(D_face, True)
        return terms, {"i_t": i_t, "i_c": i_c, "s_t": s_t, "crops_t": crops_t, "ok_t": ok_t}

    def weighted(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        c: AppearanceConfig = self.cfg
        return (c.adv_weight * terms["g_adv"] + c.face_weight * terms["g_face"] + c.pose_weight * terms["pose"]
                + c.content_weight * terms["content"] + c.style_weight * terms["style"]
                + c.cycle_l1_weight * terms["cycle_l1"])

    def discriminator_losses(self, b: dict[str, Any], out: dict) -> dict[str, torch.Tensor]:
        M = models_module()
        i_t, s_t = out["i_t"].detach(), out["s_t"].detach()
        o = self.models["D_image"](torch.cat([b["image"], i_t]), torch.cat([b["S_s"].to(s_t.dtype), s_t])).float()
        o_real, o_fake = o.chunk(2)
        d_img = 0.5 * (((o_real - 1) ** 2).mean() + (o_fake**2).mean())
        crops_s, ok_s = M.face_crops(b["image"], b["kps"], self.face_size)
        of = self.models["D_face"](torch.cat([crops_s, out["crops_t"].detach()]))
        of_real, of_fake = of.chunk(2)
        d_face = masked_lsgan_d(of_real, of_fake, ok_s.float(), out["ok_t"].float())
        return {"d_image": d_img, "d_face": d_face}

    # ------------------------------------------------------------------ loop hooks
    def micro_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        b = self.prepare_batch(batch)
        s_t, _ = self.target_parsing(b)
        terms, out = self.generator_losses(b, s_t)
        self.backward(self.weighted(terms))
        d = self.discriminator_losses(b, out)
        self.backward(self.cfg.adv_weight * d["d_image"] + self.cfg.face_weight * d["d_face"])
        return {k: v.detach() for k, v in {**terms, **d}.items()}

    def generate(self, b: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(S_t, I_t, I_c) with the current networks (eval, no grad) for sample grids."""
        G = self.raw["G_A"]
        s_t, _ = self.target_parsing(b)
        i_t = G(b["image"], b["S_s"], b["p_s"], s_t, b["p_t"], b["kps"], b["k_t"], alpha=self.alpha())
        i_c = G(i_t, s_t, b["p_t"], b["S_s"], b["p_s"], b["k_t"], b["kps"], alpha=self.alpha())
        return s_t, i_t, i_c

    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        b = self.prepare_batch(batch, sample=True)
        s_t, i_t, i_c = self.generate(b)
        size = tuple(self.cfg.canvas)
        return [("source", to_uint8(b["image"])), ("src parsing", parsing_rgb(b["parsing"])),
                ("target pose", skeleton_rgb(b["k_t"], size)), ("pred parsing", parsing_rgb(s_t.argmax(1))),
                ("output", to_uint8(i_t)), ("cycle", to_uint8(i_c))]

    def data_description(self) -> str:
        c: AppearanceConfig = self.cfg
        return (f"{c.datasets} ({len(self.train_set)} images with parsing), unpaired: random target poses from the "
                f"same set; G_S from {c.semantic_weights}, pose estimator from {c.pose_weights}, perceptual "
                f"{c.perceptual}; weights adv {c.adv_weight}, face {c.face_weight}, pose {c.pose_weight}, "
                f"content {c.content_weight}, style {c.style_weight}, cycle L1 {c.cycle_l1_weight}")


STAGE = AppearanceStage
