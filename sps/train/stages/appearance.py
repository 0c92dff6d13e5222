"""Stage `appearance`: AppearanceGenerator (G_A) with frozen G_S and PoseEstimator, unpaired (docs/design.md 1.2).

Per micro-batch: a source person (I_s, S_s, p_s) and a random target pose p_t (keypoints of another training
image). Through `SPSModel`: S_t = transform(source, p_t) (frozen G_S; soft or hard as `model.target_parsing`
says), I_t = render(source, target), cycle I_c = render(target with I_t, source).
Generator terms: LSGAN PatchDiscriminator on [I_t, S_t] + FaceDiscriminator on face crops of I_t, pose
consistency ||Pose(I_t) - p_t||^2 (frozen estimator), content ||F(I_c) - F(I_s)||^2 and semantic-aware style
(I_t vs I_s on S_t/S_s, I_c vs I_t on S_s/S_t); and, outside the paper, a pixel L1 |I_c - I_s| (`loss.cycle_l1`,
0 in the `paper` preset) that lets the short CPU runs converge. Discriminators: one DDP forward each on [real; fake].
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ... import losses as L
from ...models import Person, SemanticOutput, SPSModel, face_crops
from ..config import AppearanceConfig
from ..data import all_keypoints, flip_batch, person_folders
from ..grids import parsing_rgb, skeleton_rgb, to_uint8
from ..nets import freeze, load_net, new_net, no_param_grads
from ..stage import Stage, Terms


@dataclass
class Generated:
    """One pass source -> target -> source: what the losses, the discriminators and the samples need."""

    source: Person  # I_s, S_s (one-hot), p_s
    target: Person  # I_t (G_A's output), S_t (what G_A got from G_S), p_t
    cycle: torch.Tensor  # I_c (B, 3, H, W): I_t rendered back into the source's parsing and pose
    semantic: SemanticOutput  # G_S's answer (logits, probabilities)
    faces: torch.Tensor | None = None  # face crops of I_t (B, 3, s, s)
    faces_ok: torch.Tensor | None = None  # (B,) bool: a face was found


class AppearanceStage(Stage):
    name = "appearance"
    config_cls = AppearanceConfig
    exported = ("G_A",)
    export_names = {"G_A": "appearance_generator"}
    generator_terms = {"g_adv": "adv", "g_face": "face", "pose": "pose", "content": "content", "style": "style",
                       "cycle_l1": "cycle_l1"}
    discriminator_terms = {"d_image": "adv", "d_face": "face"}
    train_semantic = False  # G_S frozen (no grad through transform)

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        c: AppearanceConfig = self.cfg
        from ...models import PerceptualNet

        self.train_set = person_folders(c.data, c.canvas, c.data.datasets, require_parsing=not c.weights.parser,
                                        balance=c.data.balance)
        self.bank = all_keypoints(self.train_set)  # (N, 18, 2) target poses
        self.frozen: dict[str, torch.nn.Module] = {}
        self.frozen["pose"] = freeze(load_net("PoseEstimator", c.weights.pose, c, "weights.pose")).to(self.device)
        self.gain = float(self.frozen["pose"].config.heatmap_gain)
        self.frozen["perceptual"] = freeze(PerceptualNet(c.perceptual)).to(self.device)
        if c.weights.parser:
            parser = load_net("HumanParser", c.weights.parser, c, "weights.parser")
            self.frozen["parser"] = freeze(parser).to(self.device)
        d_img = new_net("PatchDiscriminator", c, "DiscriminatorConfig")
        d_face = new_net("FaceDiscriminator", c, "DiscriminatorConfig")
        self.face_size = d_face.config.face_size
        self.build_generators()
        self.models.update({"D_image": d_img, "D_face": d_face})
        self.optimizers["D"] = self.adam(list(d_img.parameters()) + list(d_face.parameters()), c.optim.d_lr)
        self.clip_params["D"] = list(d_img.parameters()) + list(d_face.parameters())

    def build_generators(self) -> None:
        c: AppearanceConfig = self.cfg
        self.frozen["G_S"] = freeze(load_net("SemanticGenerator", c.weights.semantic, c, "weights.semantic")
                                    ).to(self.device)
        self.train_net("G_A", new_net("AppearanceGenerator", c))

    def prepared(self) -> None:
        self.model = self.sps_model(self.models)  # over the prepared (DDP) modules
        self.eval_model = self.sps_model(self.raw)

    def sps_model(self, nets: dict[str, torch.nn.Module]) -> SPSModel:
        g_s = nets["G_S"] if "G_S" in nets else self.frozen["G_S"]
        return SPSModel(g_s, nets["G_A"], self.cfg.model, canvas=self.cfg.canvas)

    # ------------------------------------------------------------------ pieces
    def alpha(self) -> float:
        f = self.cfg.fade_steps
        return 1.0 if not f else min(1.0, (self.step + 1) / f)

    def draw(self, batch: dict[str, Any], sample: bool = False) -> tuple[Person, torch.Tensor]:
        """(source person, (B, 18, 2) target keypoints): flips and target poses from the step-seeded RNG (fixed
        targets and no flips for `sample`); parsing predicted where an image has none."""
        n = batch["image"].shape[0]
        if not sample:
            batch = flip_batch(batch, torch.rand(n) < self.cfg.data.flip)
        j = torch.randint(len(self.bank), (n,), generator=torch.Generator().manual_seed(0) if sample else None)
        k_t = self.bank[j].to(self.device)
        par = batch["parsing"]  # (B, H, W), -1 = none
        if "parser" in self.frozen and bool((par < 0).any()):
            with torch.no_grad():
                pred = self.frozen["parser"](batch["image"]).argmax(1)
            par = torch.where((par < 0).all(-1).all(-1)[:, None, None], pred, par)
        return self.model.person(batch["image"], par.clamp(min=0), batch["kps"]), k_t

    def generate(self, model: SPSModel, src: Person, k_t: torch.Tensor) -> Generated:
        """G_S (with grad only when it trains), G_A to the target, G_A back to the source."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.train_semantic):
            sem = model.transform(src, k_t)
        a = self.alpha()
        target = dataclasses.replace(sem.target, image=model.render(src, sem.target, a))  # I_t (B, 3, H, W)
        return Generated(src, target, model.render(target, src, a), sem)

    def generator_losses(self, batch: dict[str, Any]) -> tuple[Terms, Generated]:
        src, k_t = self.draw(batch)
        gen = self.generate(self.model, src, k_t)
        i_s, i_t, i_c = src.image, gen.target.image, gen.cycle
        with no_param_grads(self.raw["D_image"]) as D_img, no_param_grads(self.raw["D_face"]) as D_face:
            gen.faces, gen.faces_ok = face_crops(i_t, k_t, self.face_size)
            terms = {
                "g_adv": L.lsgan_g(D_img(i_t, gen.target.parsing)),
                "g_face": L.masked_lsgan_g(D_face(gen.faces), gen.faces_ok),
                "pose": L.pose_consistency(self.frozen["pose"](i_t), gen.target.heatmaps * self.gain),
            }
            per = self.frozen["perceptual"]
            with torch.no_grad():
                f_s = [f.float() for f in per(i_s)]
            f_t = [f.float() for f in per(i_t)]
            f_c = [f.float() for f in per(i_c)]
            terms["content"] = L.content_loss(f_c, f_s)
            terms["cycle_l1"] = L.l1_loss(i_c, i_s)
            terms["style"] = (L.style_loss(f_t, gen.target.parsing, f_s, src.parsing)
                              + L.style_loss(f_c, src.parsing, [f.detach() for f in f_t], gen.target.parsing))
        return terms, gen

    def discriminator_losses(self, gen: Generated) -> Terms:
        src = gen.source
        i_t, s_t = gen.target.image.detach(), gen.target.parsing.detach()
        o = self.models["D_image"](torch.cat([src.image, i_t]), torch.cat([src.parsing.to(s_t.dtype), s_t]))
        crops_s, ok_s = face_crops(src.image, src.keypoints, self.face_size)
        of = self.models["D_face"](torch.cat([crops_s, gen.faces.detach()]))
        of_real, of_fake = of.chunk(2)
        return {"d_image": L.lsgan_d(*o.chunk(2)), "d_face": L.masked_lsgan_d(of_real, of_fake, ok_s, gen.faces_ok)}

    # ------------------------------------------------------------------ loop hooks
    def samples(self, batch: dict[str, Any]) -> list[tuple[str, Any]]:
        src, k_t = self.draw(batch, sample=True)
        gen = self.generate(self.eval_model, src, k_t)
        return [("source", to_uint8(src.image)), ("src parsing", parsing_rgb(src.labels)),
                ("target pose", skeleton_rgb(k_t, tuple(self.cfg.canvas))),
                ("pred parsing", parsing_rgb(gen.target.labels)), ("output", to_uint8(gen.target.image)),
                ("cycle", to_uint8(gen.cycle))]

    def data_description(self) -> str:
        c: AppearanceConfig = self.cfg
        w = c.weights
        return (f"{', '.join(c.data.datasets)} ({len(self.train_set)} images with parsing), unpaired: random target "
                f"poses from the same set; G_S from {w.semantic} ({c.model.target_parsing} target parsing), pose "
                f"estimator from {w.pose}, perceptual {c.perceptual}")


STAGE = AppearanceStage
