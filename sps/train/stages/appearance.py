"""Stage `appearance`: AppearanceGenerator (G_A) with frozen G_S and PoseEstimator, unpaired (docs/design.md 1.2).

Per micro-batch: a source person (I_s, S_s, p_s) and a random target pose p_t (keypoints of another training
image). Through `SPSModel`: S_t = transform(source, p_t) (frozen G_S; soft or hard as `model.target_parsing`
says), I_t = render(source, target), cycle I_c = render(target with I_t, source).
Generator terms: LSGAN PatchDiscriminator on [I_t, S_t] + FaceDiscriminator on face crops of I_t, pose
consistency ||Pose(I_t) - p_t||^2 (frozen estimator), content ||F(I_c) - F(I_s)||^2 and semantic-aware style
(I_t vs I_s on S_t/S_s, I_c vs I_t on S_s/S_t); and, outside the paper, a pixel L1 |I_c - I_s| (`loss.cycle_l1`,
0 in the `paper` preset) that lets the short CPU runs converge, and a per-region colour term (`loss.colour`: the
mean colour of each label in I_t vs I_s, and in I_c vs I_s; the feature losses let G_A drift to a magenta cast).
With `composite` (flow-composited G_A): total variation of the residual flow and a BCE of the blend mask to its
prior (the warped-label agreement), and the mean mask per label group logged (how much is copied, not painted).
Discriminators: one DDP forward each on [real; fake].
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from ... import losses as L
from ...models import AppearanceGenerator, AppearanceOutput, Person, SemanticOutput, SPSModel, face_crops
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
    appearance: AppearanceOutput  # G_A's details for I_t (the composite's mask and flow)
    faces: torch.Tensor | None = None  # face crops of I_t (B, 3, s, s)
    faces_ok: torch.Tensor | None = None  # (B,) bool: a face was found


# Target labels whose mean blend mask is logged (how much of each is copied from the source rather than painted).
MASK_GROUPS = {"head": (1, 2), "clothes": (3, 4, 5), "limbs": (6, 7, 8, 9)}


def mask_terms(app: AppearanceOutput, target_parsing: torch.Tensor) -> dict[str, torch.Tensor]:
    """flow_tv, mask_prior (BCE of the mask to its agreement prior, on the visible source) and the mean mask per
    label group (metrics); zeros when G_A does not composite."""
    zero = app.image.new_zeros(())
    if app.mask is None:
        return {"flow_tv": zero, "mask_prior": zero, **{f"mask_{g}": zero for g in MASK_GROUPS}}
    vis = app.visible.detach()
    bce = torch.nn.functional.binary_cross_entropy(app.mask.clamp(1e-4, 1 - 1e-4), app.agree.detach() * vis,
                                                   reduction="none")
    terms = {"flow_tv": L.tv_loss(app.flow), "mask_prior": (bce * vis).sum() / vis.sum().clamp(min=1)}
    for g, labels in MASK_GROUPS.items():
        region = target_parsing[:, list(labels)].sum(1, keepdim=True).detach()
        terms[f"mask_{g}"] = ((app.mask * region).sum() / region.sum().clamp(min=1)).detach()
    return terms


class AppearanceStage(Stage):
    name = "appearance"
    config_cls = AppearanceConfig
    exported = ("G_A",)
    export_names = {"G_A": "appearance_generator"}
    generator_terms = {"g_adv": "adv", "g_face": "face", "pose": "pose", "content": "content", "style": "style",
                       "cycle_l1": "cycle_l1", "colour": "colour", "flow_tv": "flow_tv", "mask_prior": "mask_prior",
                       **{f"mask_{g}": None for g in MASK_GROUPS}}
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
        self.train_net("G_A", self.appearance_net(c.weights.appearance))

    def appearance_net(self, path: str) -> AppearanceGenerator:
        """G_A to train: from ``path`` (or fresh of the preset when ""), reconfigured to the run's ``composite`` and
        ``use_parsing`` (a plain G_A gets a fresh flow/mask head)."""
        c: AppearanceConfig = self.cfg
        net = load_net("AppearanceGenerator", path, c, "weights.appearance") if path else new_net("AppearanceGenerator", c)
        if c.composite != net.config.composite or c.use_parsing != net.config.use_parsing:
            net = AppearanceGenerator.reconfigured(net, composite=c.composite, use_parsing=c.use_parsing)
        return net

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
        app = model.render(src, sem.target, a, details=True)
        target = dataclasses.replace(sem.target, image=app.image)  # I_t (B, 3, H, W)
        return Generated(src, target, model.render(target, src, a), sem, app)

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
            # region mean colours: I_t's regions vs I_s's, and the cycle's (aligned with I_s, so a cast shows alone)
            terms["colour"] = (L.colour_loss(i_t, gen.target.parsing, i_s, src.parsing)
                               + L.colour_loss(i_c, src.parsing, i_s, src.parsing))
            terms.update(mask_terms(gen.appearance, gen.target.parsing))
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
                ("cycle", to_uint8(gen.cycle))] + self.composite_samples(gen.appearance)

    @staticmethod
    def composite_samples(app: AppearanceOutput) -> list[tuple[str, Any]]:
        """The composite's pieces: generated image, warped source, blend mask (white = copied)."""
        if app.mask is None:
            return []
        return [("generated", to_uint8(app.generated)), ("warped", to_uint8(app.warped)),
                ("mask", to_uint8(app.mask.expand(-1, 3, -1, -1) * 2 - 1))]

    def data_description(self) -> str:
        c: AppearanceConfig = self.cfg
        w = c.weights
        return (f"{', '.join(c.data.datasets)} ({len(self.train_set)} images with parsing), unpaired: random target "
                f"poses from the same set; G_S from {w.semantic} ({c.model.target_parsing} target parsing), pose "
                f"estimator from {w.pose}, perceptual {c.perceptual}")


STAGE = AppearanceStage
