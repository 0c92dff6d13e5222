"""SPSPipeline: a person photo and a target pose in, the same person in the new pose out.

The path a photo takes (docs/design.md 2): the photo is placed on the model canvas (``sps.canvas.Canvas``:
resized keeping its aspect ratio, centre-padded white), the human parser and the pose estimator read it,
``SPSModel`` (G_S -> target parsing -> G_A) generates on the canvas, and the outputs go back to the photo's grid.

    pipe = SPSPipeline.from_pretrained("weights")          # a folder, or a Hub repo id through the Hub cache
    res = pipe("person.jpg", target_keypoints)              # or pipe("person.jpg", "other_pose.jpg")
    res.image.save("out.png"); panels = res.as_panels()
"""
from .baselines import WARP_ORDER, background_colour, warp_baseline
from .inputs import Photo
from .pipeline import SPSPipeline
from .result import PipelineResult
from .settings import PIPELINE_FILE, PipelineSettings
from .weights import COMPONENTS, hub_cache_dir, load_networks, resolve_weights

__all__ = ["COMPONENTS", "PIPELINE_FILE", "WARP_ORDER", "Photo", "PipelineResult", "PipelineSettings", "SPSPipeline",
           "background_colour", "hub_cache_dir", "load_networks", "resolve_weights", "warp_baseline"]
