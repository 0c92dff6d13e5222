"""Stage `e2e`: joint fine-tuning of G_S and G_A (docs/design.md 1.3).

G_S's softmax S_t feeds G_A, so the appearance losses flow back into G_S. G_S also keeps a semantic cycle
(S_s -> S_t -> S_s, cross-entropy to S_s) and its adversarial loss (ParsingDiscriminator on [S_t, p_t];
real = the source's one-hot map with the source pose). Image and face discriminators as in `appearance`.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ... import parsing as P
from ..common import load_net, models_module, set_requires_grad
from ..config import E2EConfig
from .appearance import AppearanceStage


class E2EStage(AppearanceStage):
    name = "e2e"
    config_cls = E2EConfig
    exported = ("G_S", "G_A")
    export_names = {"G_S": "semantic_generator", "G_A": "appearance_generator"}

    def build_generators(self) -> None:
        c: E2EConfig = self.cfg
        M = models_module()
        g_s = load_net("SemanticGenerator", c.semantic_weights, c, "semantic_weights")
        g_a = load_net("AppearanceGenerator", c.appearance_weights, c, "appearance_weights")
        d_par = M.ParsingDiscriminator(M.DiscriminatorConfig.preset(c.model_preset, canvas=tuple(c.canvas)))
        self.models = {"G_S": g_s, "G_A": g_a, "D_parsing": d_par}
        self.optimizers = {"G": torch.optim.Adam([{"params": list(g_a.parameters()), "lr": c.lr},
                                                  {"params": list(g_s.parameters()), "lr": c.semantic_lr}],
                                                 betas=(c.beta1, c.beta2), weight_decay=c.weight_decay),
                           "D_parsing": self.adam(d_par.parameters(), c.d_lr)}
        self.clip_params = {"G": list(g_a.parameters()) + list(g_s.parameters()),
                            "D_parsing": list(d_par.parameters())}

    def target_parsing(self, b: dict[str, Any], raw: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        G_S = self.raw["G_S"] if raw else self.models["G_S"]
        logits = G_S(b["S_s"], b["p_s"], b["p_t"], src_kps=b["kps"], tgt_kps=b["k_t"]).float()  # (B, 10, H, W)
        return logits.softmax(1), logits

    def micro_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        c: E2EConfig = self.cfg
        b = self.prepare_batch(batch)
        s_t, _ = self.target_parsing(b)  # soft, with grad into G_S
        terms, out = self.generator_losses(b, s_t)
        # semantic cycle: S_t (soft) in the target pose back to the source pose, CE to S_s
        back = self.models["G_S"](s_t, b["p_t"], b["p_s"], src_kps=b["k_t"], tgt_kps=b["kps"]).float()
        terms["cycle_ce"] = F.cross_entropy(back, b["parsing"])
        D_par = self.raw["D_parsing"]
        set_requires_grad(D_par, False)
        terms["g_parsing_adv"] = ((D_par(s_t, b["p_t"]).float() - 1) ** 2).mean()
        set_requires_grad(D_par, True)
        self.backward(self.weighted(terms) + c.cycle_weight * terms["cycle_ce"]
                      + c.parsing_adv_weight * terms["g_parsing_adv"])
        d = self.discriminator_losses(b, out)
        o = self.models["D_parsing"](torch.cat([b["S_s"].to(s_t.dtype), s_t.detach()]),
                                     torch.cat([b["p_s"], b["p_t"]])).float()
        o_real, o_fake = o.chunk(2)
        d["d_parsing"] = 0.5 * (((o_real - 1) ** 2).mean() + (o_fake**2).mean())
        self.backward(c.adv_weight * (d["d_image"] + d["d_parsing"]) + c.face_weight * d["d_face"])
        return {k: v.detach() for k, v in {**terms, **d}.items()}

    def generate(self, b: dict[str, Any]):
        G = self.raw["G_A"]
        s_t, _ = self.target_parsing(b, raw=True)
        i_t = G(b["image"], b["S_s"], b["p_s"], s_t, b["p_t"], b["kps"], b["k_t"], alpha=self.alpha())
        i_c = G(i_t, s_t, b["p_t"], b["S_s"], b["p_s"], b["k_t"], b["kps"], alpha=self.alpha())
        return s_t, i_t, i_c

    def data_description(self) -> str:
        c: E2EConfig = self.cfg
        return (super().data_description() + f"; joint fine-tuning from {c.semantic_weights} and "
                f"{c.appearance_weights}, G_S lr {c.semantic_lr}, semantic cycle CE x{c.cycle_weight}, "
                f"parsing adversarial x{c.parsing_adv_weight}")


STAGE = E2EStage
