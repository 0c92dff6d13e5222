"""Pose geometry for photos of real people: a missing neck or shoulder inferred, a target pose placed on the person,
the box a pose fills, and the body parts a target pose needs from the photo.

All poses are (18, 2) xy arrays on one pixel grid (-1 = missing), as in ``sps.pose``.
"""
from __future__ import annotations

import numpy as np

from .. import pose as K
from ..errors import TooFewKeypointsError

NECK, R_SHOULDER, L_SHOULDER = 1, 2, 5
REQUIRED = K.REQUIRED_JOINTS  # neck and both shoulders: what the part transforms need
HEAD_JOINTS = (0, 14, 15, 16, 17)  # nose, eyes, ears
HIP_JOINTS = (8, 11)
UPPER_BODY = HEAD_JOINTS + (1, 2, 3, 5, 6)  # head, neck, shoulders, elbows
LEG_JOINTS = (9, 10, 12, 13)  # knees and ankles
ANKLES = (10, 13)
LEG_CHAINS = ((8, 9, 10), (11, 12, 13))  # hip, knee, ankle: right side, left side
FACE_LABEL = 1
HAIR_LABEL = 2
LOWER_BODY_LABELS = (4, 5, 8, 9)  # pants, skirt, legs (sps.parsing.LABELS)
# Pants, skirt and legs among the person pixels: from 0.1 a photo shows legs (portraits: < 0.01; held-out CCP: the
# street photos the pose estimator finds no hip on, 0.27 to 0.43, with the parser trained on CCP).
LOWER_BODY_SHARE = 0.1
ROOM_FOR_LEGS = 2.2  # shoulder widths below the neck: a photo reaching that far shows the thighs (waist at ~1.5)

# A frontal standing pose, neck at the origin, shoulder width 1, y down: the medians of VITON train and DeepFashion
# poses seen from the front (the person's right shoulder on the image's left), made left/right symmetric; legs from
# DeepFashion's full-body poses; arms hanging.
TEMPLATE = np.array([
    (0.0, -0.57), (0.0, 0.0), (-0.5, 0.0), (-0.6, 0.82), (-0.62, 1.55), (0.5, 0.0), (0.6, 0.82), (0.62, 1.55),
    (-0.31, 1.5), (-0.33, 2.9), (-0.3, 4.3), (0.31, 1.5), (0.33, 2.9), (0.3, 4.3),
    (-0.11, -0.68), (0.11, -0.68), (-0.24, -0.62), (0.24, -0.62),
], np.float32)
# The same pose seen from the back: left and right joints trade places.
TEMPLATE_BACK = TEMPLATE[list(K.FLIP_PERMUTATION)]
FACE_CENTRE = np.array([0.0, -0.64], np.float32)  # where the face label's centroid sits on the template
# How much a joint says about where the neck and shoulders are: head and torso are rigid, hands and feet are not.
FIT_WEIGHT = np.array([1, 2, 2, .3, .1, 2, .3, .1, 1, .2, .1, 1, .2, .1, 1, 1, 1, 1], np.float32)


def fit_template(kps: np.ndarray, face_centre: np.ndarray | None = None) -> np.ndarray | None:
    """The template pose scaled and moved onto the visible joints (weighted least squares, front or back view,
    whichever fits better): (18, 2), or None with fewer than two distinct anchors or no upper body among them
    (head, neck, shoulders, elbows: hips and legs alone say nothing of where the shoulders are).

    ``face_centre``: the (x, y) centroid of the face label, an extra anchor used when no head joint is visible.
    """
    vis = K.visible(kps)
    idx = np.flatnonzero(vis)
    pts, wts = kps[idx], FIT_WEIGHT[idx]
    use_face = face_centre is not None and not vis[list(HEAD_JOINTS)].any()
    if use_face:
        pts, wts = np.vstack([pts, np.asarray(face_centre, np.float32)[None]]), np.append(wts, 1.0)
    if not (use_face or vis[list(UPPER_BODY)].any()):
        return None
    best: tuple[float, np.ndarray] | None = None
    for tpl in (TEMPLATE, TEMPLATE_BACK):
        anchors = np.vstack([tpl[idx], FACE_CENTRE[None]]) if use_face else tpl[idx]
        tm, pm = np.average(anchors, 0, wts), np.average(pts, 0, wts)
        dt, dp = anchors - tm, pts - pm
        den = float((wts * (dt ** 2).sum(1)).sum())
        if den < 1e-6:
            continue
        s = float((wts * (dt * dp).sum(1)).sum()) / den
        if s <= 1e-3:
            continue
        err = float((wts * ((s * dt - dp) ** 2).sum(1)).sum())
        if best is None or err < best[0]:
            best = (err, (s * (tpl - tm) + pm).astype(np.float32))
    return None if best is None else best[1]


def infer_upper_body(kps: np.ndarray, face_centre: np.ndarray | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    """Fill a missing neck and shoulders, the joints the part transforms need, from the other joints.

    The neck is the midpoint of the shoulders (COCO's definition); a lone shoulder is mirrored through the neck;
    otherwise the template (``fit_template``, with the face label's centroid as an extra anchor) gives what is
    missing, anchored on the neck or shoulder that is there. Inferred points are clamped to x, y >= 0.

    Returns:
        the completed (18, 2) pose and the indices of the inferred joints (nothing is inferred when fewer than two
        anchors are visible: the caller refuses).
    """
    out = K.validate_keypoints(kps)
    vis = K.visible(out)
    if vis[list(REQUIRED)].all():
        return out, ()
    lone = R_SHOULDER if vis[R_SHOULDER] else L_SHOULDER
    other = L_SHOULDER if lone == R_SHOULDER else R_SHOULDER
    if not vis[NECK] and vis[R_SHOULDER] and vis[L_SHOULDER]:
        out[NECK] = (out[R_SHOULDER] + out[L_SHOULDER]) / 2
    elif vis[NECK] and vis[lone]:
        out[other] = 2 * out[NECK] - out[lone]
    else:
        fit = fit_template(out, face_centre)
        if fit is None:
            return out, ()
        if vis[NECK]:  # no shoulder: the template's, on the neck
            out[[R_SHOULDER, L_SHOULDER]] = out[NECK] + fit[[R_SHOULDER, L_SHOULDER]] - fit[NECK]
        elif vis[lone]:  # one shoulder, no neck: the neck beside it, the other shoulder mirrored
            out[NECK] = out[lone] + fit[NECK] - fit[lone]
            out[other] = 2 * out[NECK] - out[lone]
        else:
            out[[NECK, R_SHOULDER, L_SHOULDER]] = fit[[NECK, R_SHOULDER, L_SHOULDER]]
    inferred = tuple(j for j in (NECK, R_SHOULDER, L_SHOULDER) if not vis[j])
    out[list(inferred)] = np.maximum(out[list(inferred)], 0)
    return out, inferred


def names(joints: tuple[int, ...] | list[int]) -> tuple[str, ...]:
    """Joint indices -> COCO-18 names."""
    return tuple(K.KEYPOINT_NAMES[j] for j in joints)


def _length(pose: np.ndarray, a: int, group: tuple[int, ...]) -> float:
    """Distance in a loose pose from joint ``a`` to the mean of the visible joints of ``group`` (0 if missing)."""
    vis = np.isfinite(pose).all(1)
    g = [j for j in group if vis[j]]
    return float(np.linalg.norm(pose[g].mean(0) - pose[a])) if vis[a] and g else 0.0


def loose(kps: np.ndarray) -> np.ndarray:
    """(18, 2) pose with -1 for missing -> float64 copy with NaN for missing, so that joints may move to negative
    coordinates (above or left of a photo) without being taken for missing."""
    kps = K.validate_keypoints(kps).astype(np.float64)
    kps[~K.visible(kps)] = np.nan
    return kps


def strict(pose: np.ndarray) -> np.ndarray:
    """Inverse of ``loose``: NaN -> -1 (visible joints must lie at x, y >= 0 by then), float32."""
    out = np.nan_to_num(np.asarray(pose, np.float64), nan=K.MISSING).astype(np.float32)
    return K.validate_keypoints(out)


def _scale(pose: np.ndarray) -> float:
    """``sps.pose.pose_scale`` of a loose pose (it only depends on distances)."""
    return K.pose_scale(strict(pose - np.nanmin(pose, 0))) if np.isfinite(pose).any() else 0.0


def place_on_person(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The target pose scaled to the source person and moved onto them (necks together): the person keeps their
    place and size in the photo. The scale is the median of the length ratios both poses show among neck-ankles,
    neck-hips, neck-nose and shoulder width (one misplaced joint does not throw it). Returns a loose pose (NaN
    missing; it may leave the photo)."""
    K.check_required_joints(source, "source pose")
    K.check_required_joints(target, "target pose")
    src, tgt = loose(source), loose(target)
    ratios = []
    for a, group in ((NECK, ANKLES), (NECK, HIP_JOINTS), (NECK, (0,)), (R_SHOULDER, (L_SHOULDER,))):
        ls, lt = _length(src, a, group), _length(tgt, a, group)
        if ls > 1e-3 and lt > 1e-3:
            ratios.append(ls / lt)
    return (tgt - tgt[NECK]) * float(np.median(ratios)) + src[NECK]


def complete_legs(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """The hips, knees and ankles a loose target pose lacks, taken from the source person (both poses on one grid,
    the target already placed on the person by ``place_on_person``): a missing joint is its parent's target
    position plus the source's bone to it (neck -> hip -> knee -> ankle, per side). A waist-up preset asked of a
    full-body photo then stands on the person's own legs instead of leaving them out (and the photo's background
    smudged where they were). Joints the source lacks too stay missing. Returns a new loose pose."""
    out, src = np.array(target, np.float64), loose(source)
    for chain in LEG_CHAINS:
        parent = NECK
        for j in chain:
            known = np.isfinite(out[parent]).all() and np.isfinite(src[[parent, j]]).all()
            if not np.isfinite(out[j]).all() and known:
                out[j] = out[parent] + src[j] - src[parent]
            parent = j
    return out


def keep_framing(target: np.ndarray, source: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A loose target pose placed on the person (``place_on_person``, ``complete_legs``) without the joints that
    the (H, W) = ``size`` photo does not show and the pose puts outside it (a waist-up preset's hips below a
    portrait, knees below a photo cut at the thighs, a raised hand above a tight crop): the person is re-posed
    within the photo's framing instead of the photo being grown to hold parts nobody has seen. The neck and
    shoulders are always kept (the pose needs them; the neck is the person's own)."""
    src = loose(source)
    out = np.array(target, np.float64)
    h, w = size
    for j in range(len(out)):
        if j in REQUIRED or np.isfinite(src[j]).all() or not np.isfinite(out[j]).all():
            continue
        x, y = out[j]
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            out[j] = np.nan
    return out


def pose_box(pose: np.ndarray, head: float = 0.45, side: float = 0.2, foot: float = 0.15) -> np.ndarray:
    """(x0, y0, x1, y1) of the body a loose pose draws: its joints, plus ``head`` x the person's scale above the
    highest head joint (the crown; above the neck when no head joint is visible), ``side`` to the sides (hands,
    arms) and ``foot`` below (feet). The scale is ``sps.pose.pose_scale`` (about a shoulder width)."""
    vis = np.isfinite(pose).all(1)
    if not vis.any():
        raise TooFewKeypointsError("pose: no visible joint")
    s = max(_scale(pose), 1.0)
    (x0, y0), (x1, y1) = pose[vis].min(0), pose[vis].max(0)
    heads = [j for j in HEAD_JOINTS if vis[j]]
    if heads:
        y0 = min(y0, float(pose[heads, 1].min()) - head * s)
    elif vis[NECK]:
        y0 = min(y0, float(pose[NECK, 1]) - (0.6 + head) * s)
    return np.array([x0 - side * s, y0, x1 + side * s, y1 + foot * s], np.float64)


def shoulder_widths(kps: np.ndarray) -> float:
    """A person's size in shoulder widths, robust to one misplaced joint: the median of the shoulder width and of
    the neck-hips and neck-nose lengths divided by their template lengths (1.5 and 0.57 shoulder widths)."""
    pose = loose(kps)
    sizes = [_length(pose, a, g) / t for a, g, t in ((R_SHOULDER, (L_SHOULDER,), 1.0), (NECK, HIP_JOINTS, 1.5),
                                                       (NECK, (0,), 0.57))]
    sizes = [v for v in sizes if v > 1e-3]
    return float(np.median(sizes)) if sizes else 0.0


def missing_parts(target: np.ndarray, observed: np.ndarray, room: float, lower_body: float = 0.0) -> tuple[str, ...]:
    """Joints of a loose target pose that need body parts the photo does not show: its knees and ankles, when the
    photo shows no hip, knee or ankle (``observed``: (18,) bool, the source joints seen, not inferred), ends less
    than ``ROOM_FOR_LEGS`` shoulder widths below the neck (``room``: a waist-up portrait) and its label map holds
    less than ``LOWER_BODY_SHARE`` of pants, skirt or legs among the person's pixels (``lower_body``)."""
    need = [j for j in LEG_JOINTS if np.isfinite(target[j]).all()]
    seen = np.asarray(observed)[list(HIP_JOINTS + LEG_JOINTS)].any()
    return () if seen or room >= ROOM_FOR_LEGS or lower_body >= LOWER_BODY_SHARE else names(need)


def lower_body_share(labels: np.ndarray | None) -> float:
    """The share of an (H, W) label map's person pixels that are pants, skirt or legs (0 without a map)."""
    if labels is None:
        return 0.0
    return float(np.isin(labels, LOWER_BODY_LABELS).sum()) / max(1, int((labels > 0).sum()))


def face_centre(labels: np.ndarray | None) -> np.ndarray | None:
    """(x, y) centroid of the face label of an (H, W) map, None when there is too little face."""
    if labels is None:
        return None
    ys, xs = np.nonzero(labels == FACE_LABEL)
    return np.array([xs.mean(), ys.mean()], np.float32) if xs.size >= 4 else None

