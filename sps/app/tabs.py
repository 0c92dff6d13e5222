"""One builder per tab of the demo: pose transfer, clothing texture transfer, editing the clothing layout.

Each builder lays out its widgets inside the current ``gr.Blocks`` and wires them to :class:`Handlers`. The public
API (``API_NAMES``, see ``/?view=api`` of a running app) is the events with an ``api_name``; the events that only
make sense in the page (clicks on thumbnails and on the pose view, re-drawing it) are :func:`ui_only`. Wiring stays
inside the tab:
a ``gr.State`` created outside a ``gr.Tab`` but inside ``gr.Tabs`` shows up as an extra, empty tab.
"""
from __future__ import annotations

import gradio as gr

from .. import parsing as P
from .. import pose as K
from . import components as W
from .conversions import COLUMNS, EDITS, POSE_GRID, kps_to_table
from .handlers import Handlers
from .presets import Preset, full_body_preset
from .render import brush_colours, legend_html, pose_view


def ui_only(name: str, redraw: bool = False) -> dict[str, str]:
    """Event options of a page-only event: named (gradio's config and log), but not in the API page and not
    callable by gradio_client. ``redraw``: a quick re-drawing of the pose view, shown without a progress overlay
    (an unreadable upload is reported once, by its toast, not also as an error badge on the view)."""
    return {"api_name": name, "api_visibility": "private", **({"show_progress": "hidden"} if redraw else {})}


API_NAMES = ("transfer", "preset_pose", "pose_from_photo", "render_pose", "texture_transfer", "edit_predict",
             "edit_apply", "edit_generate")  # the public endpoints, in the README's order
POSE_OUTPUTS = (("src_kps", "Source keypoints"), ("src_parsing", "Source parsing"), ("tgt_pose", "Target pose"),
                ("tgt_parsing", "Target parsing"), ("image", "Generated image"), ("warped", "Warped source"))


def _target_pose_inputs(presets: tuple[Preset, ...]) -> dict[str, gr.components.Component]:
    """Column ② of the pose tab: the pose view and the three ways to set the target pose."""
    first, labels = presets[0], [p.label for p in presets]
    thumbs = [(K.render_skeleton(p.kps, POSE_GRID), p.label) for p in presets]
    c: dict[str, gr.components.Component] = {}
    gr.Markdown("### ② Target pose")
    c["view"] = gr.Image(pose_view(first.kps), label="Target pose (click to move the selected joint)",
                         interactive=False, height=320, elem_id="pose-view", buttons=[])
    with gr.Tabs():
        with gr.Tab("Presets", id="presets"):
            c["gallery"] = gr.Gallery(thumbs, label="Pose presets (click one)", columns=4, height=330,
                                      allow_preview=False, object_fit="contain", buttons=[],
                                      elem_id="preset-gallery")
            c["dropdown"] = gr.Dropdown(labels, value=first.label, label="Preset", elem_id="preset-dropdown")
        with gr.Tab("From a photo", id="from-photo"):
            c["photo"] = W.photo_input("Photo whose pose to copy", 220, what="target pose photo")
            c["photo_btn"] = gr.Button("Use this photo's pose")
        with gr.Tab("Edit joints", id="edit-joints"):
            gr.Markdown("Select a joint, then click on the target pose image to place it. "
                        "Coordinates are on a 192 x 256 grid (x, y); -1 = not visible.")
            with gr.Row():
                c["joint"] = gr.Dropdown(list(K.KEYPOINT_NAMES), value="right_wrist", label="Joint", scale=2)
                c["remove_btn"] = gr.Button("Hide joint", scale=1)
            # (n, "fixed"): gradio 6 does not implement row_limits / column_limits yet
            table = gr.Dataframe(kps_to_table(first.kps), headers=COLUMNS, datatype=["str", "number", "number"],
                                 column_count=(3, "fixed"), row_count=(18, "fixed"), type="array",
                                 label="Target keypoints", elem_id="pose-table")
            c["table"] = W.readable(table, "target pose table", "18 rows [joint, x, y] ({'headers', 'data'})")
    return c


def build_pose_tab(h: Handlers, examples: list[str], presets: tuple[Preset, ...]) -> None:
    """Pose transfer: a source photo and a target pose (preset, another photo's pose, or edited joints)."""
    labels = [p.label for p in presets]
    with gr.Tab("Pose transfer", id="pose"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                gr.Markdown("### ① Source photo")
                source = W.photo_input("Source photo (upload)", 320, "source", "source photo")
                src_gallery = W.example_gallery(examples, "src-examples")
            with gr.Column(scale=1):
                c = _target_pose_inputs(presets)
                go = gr.Button("③ Generate", variant="primary", elem_id="generate")
        status = W.status_line("status")
        gr.HTML(legend_html())
        with gr.Row(equal_height=True):
            outs = [W.captioned_output(label, W.CAPTIONS[key], f"out-{key.replace('_', '-')}", min_width=120)
                    for key, label in POSE_OUTPUTS]

        table, view, joint = c["table"], c["view"], c["joint"]
        if src_gallery is not None:
            src_gallery.select(h.example, [gr.State(examples)], [source], **ui_only("example_source"))
        # A new source photo: the chosen preset placed on its person (edited joints are dropped). The events that
        # write the table from the source share one queue of one, so they finish in the order they were asked:
        # a slow fit for the photo cannot overwrite the preset picked after it.
        table_writer = {"concurrency_id": "pose_table", "concurrency_limit": 1}
        source.change(h.preset, [c["dropdown"], source], [table, view], **ui_only("preset_on_source", redraw=True),
                      **table_writer)

        def pick_preset(evt: gr.SelectData) -> str:
            return labels[evt.index]

        c["gallery"].select(pick_preset, None, [c["dropdown"]], **ui_only("pick_preset"))
        c["dropdown"].change(h.preset, [c["dropdown"], source], [table, view], api_name="preset_pose", **table_writer)
        c["photo_btn"].click(h.pose_from_photo, [c["photo"], source], [table, view, status], api_name="pose_from_photo",
                             **table_writer)
        table.input(h.render, [table, source, joint], [view], api_name="render_pose", show_progress="hidden")
        joint.change(h.render, [table, source, joint], [view], **ui_only("select_joint", redraw=True))
        view.select(h.move_joint, [table, joint, source], [table, view], **ui_only("move_joint", redraw=True))
        c["remove_btn"].click(h.remove_joint, [table, joint, source], [table, view],
                              **ui_only("hide_joint", redraw=True))
        go.click(h.transfer, [source, table], [*outs, status], api_name="transfer")


def build_texture_tab(h: Handlers, examples: list[str]) -> None:
    """Clothing texture transfer: person A keeps pose and layout, person B gives the textures."""
    with gr.Tab("Clothing texture transfer", id="texture"):
        gr.Markdown("Dress person **A** in the clothes of person **B**: A keeps pose and clothing layout "
                    "(its parsing map); the textures come from B.")
        with gr.Row():
            with gr.Column():
                person = W.photo_input("A: person (keeps pose and shape)", 300, "tex-person", "person photo")
                person_gallery = W.example_gallery(examples, "tex-person-examples")
            with gr.Column():
                clothes = W.photo_input("B: clothes (gives the textures)", 300, "tex-clothes", "clothes photo")
                clothes_gallery = W.example_gallery(examples[::-1], "tex-clothes-examples")
        go = gr.Button("Transfer clothes", variant="primary", elem_id="tex-generate")
        status = W.status_line("tex-status")
        gr.HTML(legend_html())
        with gr.Row(equal_height=True):
            person_parsing = W.captioned_output("A's parsing", "**Person A's parsing**: the layout the result keeps.")
            clothes_parsing = W.captioned_output("B's parsing",
                                                 "**Clothes B's parsing**: where each texture is taken from.")
            result = W.captioned_output("Result", "**Result**: A's pose and layout with B's textures.", "tex-result")
        if person_gallery is not None:
            person_gallery.select(h.example, [gr.State(examples)], [person], **ui_only("example_person"))
            clothes_gallery.select(h.example, [gr.State(examples[::-1])], [clothes], **ui_only("example_clothes"))
        go.click(h.texture, [person, clothes], [person_parsing, clothes_parsing, result, status],
                 api_name="texture_transfer")


def _parsing_editor() -> gr.ImageEditor:
    """The editor of the predicted target parsing: a brush in the palette colours, no eraser, no layers."""
    editor = gr.ImageEditor(label="② Target parsing (paint to edit)", type="numpy", image_mode="RGB", sources=(),
                            transforms=(), height=420, eraser=False, layers=False, format="png", elem_id="ed-editor",
                            brush=gr.Brush(colors=brush_colours(), color_mode="fixed", default_size=8))
    return W.readable(editor, "parsing editor")


def build_edit_tab(h: Handlers, examples: list[str], presets: tuple[Preset, ...]) -> None:
    """Editing the clothing layout: predict the target parsing, change it, regenerate from it."""
    with gr.Tab("Edit the clothing layout", id="edit"):
        gr.Markdown("① Choose a source and a pose and predict the target parsing. ② Change it: apply a "
                    "preset edit, or paint labels with the brush (its colours are the parsing colours "
                    "below). ③ Regenerate the person from the edited map.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                source = W.photo_input("Source photo", 300, "ed-source", "source photo")
                gallery = W.example_gallery(examples, "ed-examples")
                pose = gr.Dropdown([p.label for p in presets], value=full_body_preset().label,
                                   label="Target pose preset")
                predict = gr.Button("① Predict target parsing", variant="primary", elem_id="ed-predict")
            with gr.Column(scale=2):
                editor = _parsing_editor()
                with gr.Row():
                    edit = gr.Radio(list(EDITS), value=next(iter(EDITS)), label="Preset edit")
                    apply = gr.Button("Apply edit")
                gr.HTML(legend_html(tuple(range(P.NUM_LABELS))))
        go = gr.Button("③ Regenerate from the edited map", variant="primary", elem_id="ed-generate")
        status = W.status_line("ed-status")
        state = gr.State(None)
        with gr.Row(equal_height=True):
            used = W.captioned_output("Parsing used", "**Parsing map used**: the edited map as read back from the "
                                      "canvas (each pixel snapped to the nearest parsing colour).")
            result = W.captioned_output("Regenerated image", "**Regenerated image**: the source person drawn into "
                                        "the edited layout.", "ed-result")
        if gallery is not None:
            gallery.select(h.example, [gr.State(examples)], [source], **ui_only("example_edit_source"))
        predict.click(h.edit_predict, [source, pose], [editor, used, state, status], api_name="edit_predict")
        apply.click(h.edit_apply, [editor, edit, state], [editor, used, state], api_name="edit_apply")
        go.click(h.edit_generate, [source, editor, state], [used, result, status], api_name="edit_generate")
