"""SPSPipeline: a person photo and a target pose in, the same person in the new pose out.

The path a photo takes (docs/design.md 2): read (downscaled beyond ``settings.max_side``), the person found on the
whole photo (``reading.find``: parser + pose estimator on the model canvas; a missing neck or shoulder inferred,
``poses.infer_upper_body``), the output ``window.Frame`` grown when the target pose leaves the photo, a
canvas-shaped ``window.Window`` around person and pose read again at full detail (``reading.view``), ``SPSModel``
(G_S -> target parsing, holes in the body filled -> G_A; the painted regions of an edit recoloured, ``painted``)
on it, and the result pasted back into the photo over its own background (``compose``; the area the person leaves
filled by ``sps.inpaint``).

    pipe = SPSPipeline.from_pretrained("weights")          # a folder, or a Hub repo id through the Hub cache
    res = pipe("person.jpg", target_keypoints)              # or pipe("person.jpg", "other_pose.jpg")
    res.image.save("out.png"); panels = res.as_panels()
"""
from ..errors import MissingPartsError
from .baselines import background_colour, warp_baseline
from .inputs import Photo
from .painted import SKIN_LABELS, match_painted_colours
from .pipeline import SPSPipeline
from .result import PipelineResult
from .settings import PIPELINE_FILE, PipelineSettings
from .weights import COMPONENTS, hub_cache_dir, load_networks, resolve_weights

__all__ = ["COMPONENTS", "PIPELINE_FILE", "SKIN_LABELS", "MissingPartsError", "Photo", "PipelineResult",
           "PipelineSettings", "SPSPipeline", "background_colour", "hub_cache_dir", "load_networks",
           "match_painted_colours", "resolve_weights", "warp_baseline"]
