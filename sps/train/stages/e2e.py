"""Stage `e2e`: joint fine-tuning of G_S and G_A (docs/design.md 1.3).

G_S's softmax S_t feeds G_A (`model.target_parsing` must be "soft"), so the appearance losses flow back into G_S.
G_S also keeps a semantic cycle (S_s -> S_t -> S_s, cross-entropy to S_s: `loss.semantic_cycle`) and its
adversarial term (ParsingDiscriminator on [S_t, p_t]: `loss.parsing_adv`; real = the source's one-hot map with the
source pose; the discriminator's own loss is weighted by `loss.adv`). Image and face discriminators as in
`appearance`.
"""
from __future__ import annotations

from typing import Any

import torch

from ... import losses as L
from ..config import E2EConfig
from ..nets import load_net, new_net, no_param_grads
from ..stage import Terms
from .appearance import AppearanceStage, Generated


class E2EStage(AppearanceStage):
    name = "e2e"
    config_cls = E2EConfig
    exported = ("G_S", "G_A")
    export_names = {"G_S": "semantic_generator", "G_A": "appearance_generator"}
    generator_terms = {**AppearanceStage.generator_terms, "cycle_ce": "semantic_cycle",
                       "g_parsing_adv": "parsing_adv"}
    discriminator_terms = {**AppearanceStage.discriminator_terms, "d_parsing": "adv"}
    train_semantic = True

    def build_generators(self) -> None:
        c: E2EConfig = self.cfg
        o = c.optim
        g_s = load_net("SemanticGenerator", c.weights.semantic, c, "weights.semantic")
        g_a = self.appearance_net(c.weights.appearance)
        d_par = new_net("ParsingDiscriminator", c, "DiscriminatorConfig")
        self.models = {"G_S": g_s, "G_A": g_a, "D_parsing": d_par}
        self.optimizers = {"G": torch.optim.Adam([{"params": list(g_a.parameters()), "lr": o.lr},
                                                  {"params": list(g_s.parameters()), "lr": o.semantic_lr}],
                                                 betas=(o.beta1, o.beta2), weight_decay=o.weight_decay),
                           "D_parsing": self.adam(d_par.parameters(), o.d_lr)}
        self.clip_params = {"G": list(g_a.parameters()) + list(g_s.parameters()),
                            "D_parsing": list(d_par.parameters())}

    def generator_losses(self, batch: dict[str, Any]) -> tuple[Terms, Generated]:
        terms, gen = super().generator_losses(batch)  # soft S_t, with grad into G_S
        # semantic cycle: S_t (soft) in the target pose back to the source pose, CE to S_s
        back = self.model.transform(gen.target, gen.source.keypoints)
        terms["cycle_ce"] = L.parsing_ce(back.logits, gen.source.labels)
        with no_param_grads(self.raw["D_parsing"]) as D_par:
            terms["g_parsing_adv"] = L.lsgan_g(D_par(gen.target.parsing, gen.target.heatmaps))
        return terms, gen

    def discriminator_losses(self, gen: Generated) -> Terms:
        d = super().discriminator_losses(gen)
        src, s_t = gen.source, gen.target.parsing.detach()
        o = self.models["D_parsing"](torch.cat([src.parsing.to(s_t.dtype), s_t]),
                                     torch.cat([src.heatmaps, gen.target.heatmaps]))
        d["d_parsing"] = L.lsgan_d(*o.chunk(2))
        return d

    def data_description(self) -> str:
        c: E2EConfig = self.cfg
        return (super().data_description() + f"; joint fine-tuning from {c.weights.semantic} and "
                f"{c.weights.appearance}, G_S lr {c.optim.semantic_lr}")


STAGE = E2EStage
