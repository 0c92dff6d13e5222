"""sps networks: pose estimator, human parser, G_S, G_A, discriminators, perceptual features.

Every trainable network is an ``nn.Module`` + ``PyTorchModelHubMixin`` (see ``hub.HubModel``) built from a
config dataclass with presets ``"tiny"``, ``"cpu"`` (default, 128 x 96) and ``"paper"`` (256 x 192).
"""
from .appearance import AppearanceGenerator, AppearanceOutput, DualEncoderGenerator, LocalEnhancer
from .blocks import DeformableSkip, UNet
from .config import (
                     AppearanceGeneratorConfig,
                     DiscriminatorConfig,
                     HumanParserConfig,
                     PoseEstimatorConfig,
                     SemanticGeneratorConfig,
)
from .discriminators import FaceDiscriminator, ParsingDiscriminator, PatchDiscriminator, face_boxes, face_crops
from .hub import HubModel
from .human_parser import HumanParser
from .perceptual import EfficientNetLite0, PerceptualNet
from .pose_estimator import PoseEstimator, decode_heatmaps
from .semantic import SemanticGenerator
from .sps_model import Person, SemanticOutput, SPSModel, SPSModelConfig, SPSOutput, body_region

__all__ = [
                     "AppearanceGenerator",
                     "AppearanceOutput",
                     "AppearanceGeneratorConfig",
                     "DeformableSkip",
                     "DiscriminatorConfig",
                     "DualEncoderGenerator",
                     "EfficientNetLite0",
                     "FaceDiscriminator",
                     "HubModel",
                     "HumanParser",
                     "HumanParserConfig",
                     "LocalEnhancer",
                     "ParsingDiscriminator",
                     "PatchDiscriminator",
                     "PerceptualNet",
                     "PoseEstimator",
                     "PoseEstimatorConfig",
                     "SemanticGenerator",
                     "SemanticGeneratorConfig",
                     "SPSModel",
                     "SPSModelConfig",
                     "SPSOutput",
                     "Person",
                     "SemanticOutput",
                     "body_region",
                     "UNet",
                     "decode_heatmaps",
                     "face_boxes",
                     "face_crops",
]
