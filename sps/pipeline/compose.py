"""Putting the generated person back into the photo.

- ``fill_holes``: background pixels inside the body that the keypoints draw (the neck, the chest of an open
  collar: skin the parser leaves unlabelled, since LIP has no neck label; the limbs' bones) take a person label,
  so that G_A paints skin or clothes there instead of leaving a background-coloured hole.
- ``back_of_head``: a target pose that faces away gets hair where G_S drew a face; ``paint_back_of_head`` then
  gives the whole head the source's hair colour (G_A paints a face-coloured blur there).
- ``person_mask``, ``removed_on_frame`` and ``plate``: the photo with the source person removed (their label map
  plus the body the keypoints draw, dilated) and the strips it was grown by, filled by ``sps.inpaint.fill_scene``.
- ``paste``: the window's generated image over the plate, through the new person's soft mask.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import parsing as P
from .. import pose as K
from ..inpaint import dilate, fill_scene, joined
from ..models.sps_model import body_region
from ..parts import part_masks_torch, person_scale, segment_distance
from .poses import FACE_LABEL, HAIR_LABEL, HEAD_JOINTS, L_SHOULDER, NECK, R_SHOULDER
from .window import Window

NECK_RADIUS = 0.22  # x shoulder width: the neck's half-width
TORSO_SHRINK = 0.15  # the torso core is the shoulder-hip quad shrunk this much towards its centre
FOOT = 0.45  # a foot's length past the ankle, in shin lengths
REMOVE_MARGIN = 0.05  # x canvas height: how far from the drawn body the source's person labels are removed
JOINED_REACH = 0.3  # x canvas height: how far person labels joined to the removed body are followed
CARRY_ON = 0.1  # x window height: how far the removed person is carried on past the window's edges
PASTE_MARGIN = 0.05  # x canvas height: how far from the target body the new person's pixels may reach
ALPHA_LOW, ALPHA_HIGH = 0.15, 0.85  # person probability -> opacity ramp (crisper than the soft G_S edge)
LIMB_CORE = 0.12  # x person scale: how far from a limb's bone the target's pixels must be body
LIMB_BONES = ((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13))  # upper arms, forearms, legs
HEAD_KEEP = (0.5, 0.3, 0.3)  # how much of G_A's own variation (Y, Cb, Cr) the repainted back of the head keeps


def body_core(kps: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) bool masks of the neck (a capsule from the neck joint to the face) and of the torso's core (the
    shoulder-hip quad shrunk by ``TORSO_SHRINK``; hips 1.5 shoulder widths below the shoulders when missing)."""
    kps = K.validate_keypoints(kps)
    vis = K.visible(kps)
    neck = torso = np.zeros(size, bool)
    if not vis[[NECK, R_SHOULDER, L_SHOULDER]].all():
        return neck, torso
    width = max(float(np.linalg.norm(kps[L_SHOULDER] - kps[R_SHOULDER])), 1.0)
    heads = [j for j in HEAD_JOINTS if vis[j]]
    face = kps[heads].mean(0) if heads else kps[NECK] - (0, 0.6 * width)
    neck = segment_distance(size, kps[NECK], face) <= max(NECK_RADIUS * width, 1.0)
    down = np.array([0.0, 1.5 * width], np.float32)
    rh = kps[8] if vis[8] else (kps[11] + kps[R_SHOULDER] - kps[L_SHOULDER] if vis[11] else kps[R_SHOULDER] + down)
    lh = kps[11] if vis[11] else (kps[8] + kps[L_SHOULDER] - kps[R_SHOULDER] if vis[8] else kps[L_SHOULDER] + down)
    quad = np.stack([kps[R_SHOULDER], kps[L_SHOULDER], lh, rh]).astype(np.float64)
    quad = quad + TORSO_SHRINK * (quad.mean(0) - quad)
    yy, xx = np.mgrid[0:size[0], 0:size[1]].astype(np.float64)
    edge = np.roll(quad, -1, 0) - quad
    cross = np.stack([e[0] * (yy - q[1]) - e[1] * (xx - q[0]) for q, e in zip(quad, edge)])  # (4, H, W)
    torso = (cross >= 0).all(0) | (cross <= 0).all(0)
    return neck, torso


def limb_cores(kps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: the pixels within ``LIMB_CORE`` x the person's scale of the bones of the upper arms, forearms,
    thighs and shins whose two joints are seen."""
    kps = K.validate_keypoints(kps)
    vis = K.visible(kps)
    radius = max(LIMB_CORE * person_scale(kps, size), 1.0)
    out = np.zeros(size, bool)
    for a, b in LIMB_BONES:
        if vis[a] and vis[b]:
            out |= segment_distance(size, kps[a], kps[b]) <= radius
    return out


def fill_holes(labels: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """An (H, W) label map with its background pixels inside the body core relabelled: on the neck -> face (skin),
    in the torso and on the limbs' bones (``limb_cores``) -> the nearest person label (grown in from the hole's
    rim). A core with no person label around it (an empty map) stays background.

    G_S leaves a fifth of the shins of a street photo's target pose background (the legs stop at the knee or run
    beside the bone), and G_A then paints a see-through stump; the bones of the target pose say where limbs are."""
    neck, torso = body_core(kps, labels.shape)
    hole = (neck | torso | limb_cores(kps, labels.shape)) & (np.asarray(labels) == 0)
    out = P.grow_labels(labels, hole, min_label=1, max_steps=max(labels.shape))
    out[neck & hole & (out > 0)] = FACE_LABEL
    return out


def fill_probs(probs: torch.Tensor, kps: np.ndarray) -> torch.Tensor:
    """(1, 10, H, W) target probabilities with ``fill_holes`` applied: at a filled pixel, the background's
    probability moves to the fill label."""
    labels = probs.argmax(1)[0].cpu().numpy()
    filled = fill_holes(labels, kps)
    moved = torch.from_numpy(filled != labels).to(probs.device)  # (H, W)
    if not bool(moved.any()):
        return probs
    onehot = F.one_hot(torch.from_numpy(filled).to(probs.device), probs.shape[1]).permute(2, 0, 1)[None]
    gain = (probs[:, :1] * moved).to(probs.dtype)  # (1, 1, H, W) background mass to move
    out = probs + gain * onehot.to(probs.dtype)
    out[:, 0] = out[:, 0] - gain[:, 0]
    return out


def back_of_head(probs: torch.Tensor, kps: np.ndarray) -> torch.Tensor:
    """(1, 10, H, W) target probabilities with the face's probability moved to the hair when the target pose faces
    away (``sps.pose.facing_away``): a back view shows the back of the head. G_S, pre-trained on frontal pseudo pairs,
    draws a face there, and the composite would copy the source's face onto it."""
    if not K.facing_away(np.asarray(kps, np.float32)):
        return probs
    out = probs.clone()
    out[:, HAIR_LABEL] += out[:, FACE_LABEL]
    out[:, FACE_LABEL] = 0
    return out


def back_of_head_map(logits: torch.Tensor | None, labels: np.ndarray, kps: np.ndarray) -> np.ndarray | None:
    """(H, W) canvas map of the head of a target pose that faces away: ``FACE_LABEL`` where G_S's ``logits`` drew a
    face that ``back_of_head`` turned into hair in the target ``labels`` (H, W), ``HAIR_LABEL`` for the rest of the
    hair, 0 elsewhere. None when the pose does not face away, there are no logits (a given parsing) or no face was
    turned."""
    if logits is None or not K.facing_away(np.asarray(kps, np.float32)):
        return None
    hair = np.asarray(labels) == HAIR_LABEL
    turned = hair & (logits.argmax(1)[0].cpu().numpy() == FACE_LABEL)
    if not turned.any():
        return None
    return np.where(turned, FACE_LABEL, np.where(hair, HAIR_LABEL, 0)).astype(np.int64)


def hair_colour(image: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    """Median (Y, Cb, Cr) of the hair pixels of an (H, W, 3) uint8 photo and its (H, W) label map; None with fewer
    than 16 hair pixels."""
    hair = np.asarray(labels) == HAIR_LABEL
    if hair.sum() < 16:
        return None
    ycc = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).convert("YCbCr"), np.float32)
    return np.median(ycc[hair], axis=0)


def paint_back_of_head(image: np.ndarray, head: np.ndarray, colour: np.ndarray | None, soften: int = 1) -> np.ndarray:
    """Give the head of a back view the colour of the source's hair.

    G_A has hardly seen the back of a head: where ``back_of_head`` made the face hair it paints a face-coloured
    blur, greenish or skin-toned. Every pixel of the head (``back_of_head_map`` on the image's grid: the turned
    face and the hair) takes the hair's brightness and colour (``colour``: ``hair_colour`` of the source photo) plus
    ``HEAD_KEEP`` of its own departure from the head's median (its texture, the face's brightness toned down),
    through the head's mask box-blurred by ``soften`` px (a map upscaled from the canvas has stair-stepped edges).
    Returns a new (H, W, 3) uint8 image; the same one without a turned face or a hair colour."""
    face, head_px = head == FACE_LABEL, head > 0
    if colour is None or not face.any():
        return image
    rows, cols = np.flatnonzero(head_px.any(1)), np.flatnonzero(head_px.any(0))
    box = (slice(max(0, rows[0] - soften), rows[-1] + 1 + soften),
           slice(max(0, cols[0] - soften), cols[-1] + 1 + soften))
    mask = head_px[box]
    crop = np.ascontiguousarray(image[box])
    ycc = np.asarray(Image.fromarray(crop).convert("YCbCr"), np.float32)
    own = np.median(ycc[mask], axis=0)
    new = colour + np.asarray(HEAD_KEEP, np.float32) * (ycc - own)  # (h, w, 3)
    rgb = np.asarray(Image.fromarray(new.clip(0, 255).round().astype(np.uint8), "YCbCr").convert("RGB"), np.float32)
    weight = F.avg_pool2d(torch.from_numpy(mask.astype(np.float32))[None, None], 2 * soften + 1, 1, soften,
                          count_include_pad=False)[0, 0].numpy()[..., None]  # (h, w, 1) soft head mask
    out = image.copy()
    out[box] = (crop + weight * (rgb - crop)).round().clip(0, 255).astype(np.uint8)
    return out


def opacity(probs: torch.Tensor, kps: np.ndarray, removed: np.ndarray | None = None) -> torch.Tensor:
    """(1, 10, H, W) target probabilities -> (1, 1, H, W) opacity of the new person in [0, 1]: the person
    probability ramped from ``ALPHA_LOW`` to ``ALPHA_HIGH``, within ``PASTE_MARGIN`` x the canvas height of the
    body the target keypoints draw (G_S's stray blobs farther away stay out of the photo). With ``removed`` (H, W),
    the canvas pixels the source person was taken out of (``person_mask``), G_S's person pixels there that join
    that body come in too: the trousers G_S draws below a close-up's last joint, where the source's went out."""
    person = ((1 - probs[:, :1] - ALPHA_LOW) / (ALPHA_HIGH - ALPHA_LOW)).clamp(0, 1)
    size = tuple(probs.shape[-2:])
    near = body_region(torch.from_numpy(np.asarray(kps, np.float32))[None], size, PASTE_MARGIN)[0].numpy()
    if removed is not None:
        near = joined(near, (person[0, 0].cpu().numpy() > 0.5) & removed, round(JOINED_REACH * size[0]))
    return person * torch.from_numpy(near).to(person)[None, None]


def feet(kps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: a capsule past each ankle along its shin, ``FOOT`` x the shin's length (shoes, which the
    parser often leaves unlabelled and no part mask covers)."""
    kps = K.validate_keypoints(kps)
    vis = K.visible(kps)
    out = np.zeros(size, bool)
    for knee, ankle in ((9, 10), (12, 13)):
        if vis[knee] and vis[ankle]:
            shin = kps[ankle] - kps[knee]
            radius = max(0.3 * float(np.linalg.norm(shin)) * FOOT, 1.0)
            out |= segment_distance(size, kps[ankle], kps[ankle] + FOOT * shin) <= radius
    return out


def person_mask(labels: np.ndarray, kps: np.ndarray, margin: float | None = None, grow: int = 1) -> torch.Tensor:
    """(H, W) float canvas mask of the source person, to be removed from the photo: the body parts the keypoints
    draw and their feet, the person labels within ``margin`` x the canvas height of them (a parser fooled by the
    background labels far more), the body core, and the person labels ``joined`` to all that; dilated by ``grow``
    pixels."""
    k = torch.from_numpy(np.asarray(kps, np.float32))[None]
    near = body_region(k, labels.shape, REMOVE_MARGIN if margin is None else margin)[0].numpy()
    neck, torso = body_core(kps, labels.shape)
    body = part_masks_torch(k, labels.shape)[0].amax(0).numpy() > 0
    mask = (labels > 0) & near | body | neck | torso | feet(kps, labels.shape)
    mask = joined(mask, labels > 0, round(JOINED_REACH * labels.shape[0]))
    return torch.from_numpy(dilate(mask, grow).astype(np.float32))


def to_window(window: Window, canvas_map: torch.Tensor) -> torch.Tensor:
    """(C, H, W) model-canvas map -> (C, h, w) on the window's own pixels (bilinear)."""
    t, l, h, w = window.canvas.content
    crop = canvas_map[:, t:t + h, l:l + w].float()
    return F.interpolate(crop[None], size=(window.height, window.width), mode="bilinear", align_corners=False)[0]


def removed_on_frame(window: Window, canvas_mask: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool frame pixels to remove: the (H', W') canvas mask of the person moved onto the window's pixels,
    and carried straight on past each side of the window, ``CARRY_ON`` x its height at most. A window cut around
    the joints found can end before the person does (the trousers below a close-up's last joint); what of them
    reaches the window's edge goes on too, instead of staying as remains that the fill smears inward."""
    gone = to_window(window, canvas_mask[None].float())[0].numpy() > 0.5  # (h, w)
    out = np.zeros(size, bool)
    (fr, fc), (wr, wc) = window.overlap(size)
    if fr.stop <= fr.start or fc.stop <= fc.start:
        return out
    out[fr, fc] = gone[wr, wc]
    reach = max(1, round(CARRY_ON * window.height))
    top, bottom = max(0, fr.start - reach), min(size[0], fr.stop + reach)
    out[top:fr.start, fc] = out[fr.start, fc]
    out[fr.stop:bottom, fc] = out[fr.stop - 1, fc]
    left, right = max(0, fc.start - reach), min(size[1], fc.stop + reach)
    out[:, left:fc.start] = out[:, fc.start:fc.start + 1]
    out[:, fc.stop:right] = out[:, fc.stop - 1:fc.stop]
    return out


def plate(frame_image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 frame image and (H, W) bool known pixels -> the unknown ones filled: a textured scene mirrored
    in from around the hole, a plain backdrop smoothly (``sps.inpaint.fill_scene``)."""
    return fill_scene(frame_image, known)


def paste(background: np.ndarray, window: Window, canvas_image: torch.Tensor, alpha: torch.Tensor,
          on_window: bool = False) -> np.ndarray:
    """A (3, H, W) model-canvas image in [-1, 1] composited over an (H0, W0, 3) uint8 frame image through a
    (1, H, W) canvas opacity, one channel at a time and only over the box where the opacity is not 0; pixels
    outside it are kept exactly. ``on_window``: the image is already on the window's own pixels (3, h, w)."""
    out = background.copy()
    (fr, fc), (wr, wc) = window.overlap(out.shape[:2])
    a = to_window(window, alpha.detach().cpu().float()).clamp_(0, 1)[0, wr, wc]  # (h', w') over the frame
    rows, cols = np.flatnonzero(a.amax(1).numpy() > 0), np.flatnonzero(a.amax(0).numpy() > 0)
    if rows.size == 0:
        return out
    r, c = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    a = a[r, c]
    box = out[fr, fc][r, c]  # a view into out
    for ch in range(3):
        layer = (canvas_image[ch].detach().cpu().float() if on_window
                 else to_window(window, canvas_image[ch:ch + 1].detach().cpu().float())[0])
        image = layer[wr, wc][r, c].add(1).mul_(127.5)
        under = torch.from_numpy(box[..., ch]).float()
        box[..., ch] = under.add_(a * image.sub_(under)).round_().clamp_(0, 255).to(torch.uint8).numpy()
    return out
