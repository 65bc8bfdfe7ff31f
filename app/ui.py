"""The web demo's page: ``build_demo(...)`` lays out a ``gr.Blocks`` and wires it, without launching.

A checkpoint picker (filled from a runs folder), an upload box with example images from the run's test
split, the output beside the input, a refinement control shown only for checkpoints with D, device and
timing, PNG download, and a batch tab with a zip. Theme and CSS are applied by the launcher
(Gradio 6 takes them in ``launch``); pass :data:`DEMO_CSS` and :func:`demo_theme` when embedding.
"""
from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
from PIL import Image

from translate.app.handlers import DemoHandlers
from translate.app.predict import Limits, DemoService
from translate.app.runs import CheckpointCatalog
from translate.engine.device import resolve_device

CONCURRENCY_ID = "translate"  # single and batch jobs share one slot: one model runs at a time

DEMO_CSS = """
.gradio-container { max-width: 1180px !important; margin: 0 auto !important; }
#title h1 { margin-bottom: 0; letter-spacing: -0.01em; }
#title p { margin-top: 4px; color: var(--body-text-color-subdued); }
#device-badge { text-align: right; }
#device-badge span { display: inline-block; padding: 4px 12px; border-radius: 999px; font-size: 0.85em;
  background: var(--color-accent-soft); color: var(--color-accent); border: 1px solid var(--color-accent); }
#run-card { padding: 6px 12px; border-radius: 8px; background: var(--block-background-fill);
  border: 1px solid var(--block-border-color); font-size: 0.9em; }
#status { min-height: 2.6em; }
#limits { font-size: 0.85em; color: var(--body-text-color-subdued); }
#refresh { max-width: 56px; min-width: 56px; }
#input-image img, #output-image img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
#examples img, #compare-slider img { image-rendering: pixelated; }
#cap-note, #batch-cap-note { font-size: 0.85em; color: var(--body-text-color-subdued); text-align: center; }
"""


def friendly_upload_errors(image: gr.Image) -> gr.Image:
    """Make a non-image upload read as a message on the page instead of Gradio's generic "Error".

    Gradio decodes the upload's header in ``preprocess``, before any handler runs, so the check wraps that
    method on this one instance (a subclass would make Gradio write a .pyi stub next to this file).
    """
    preprocess = image.preprocess

    def checked(payload):
        try:
            return preprocess(payload)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # PIL's "not an image" family
            name = html.escape(Path(payload.orig_name or payload.path or "upload").name, quote=False)
            raise gr.Error(f"{name}: not an image this demo can read (use PNG, JPEG, WebP, BMP or TIFF)",
                           print_exception=False) from None

    image.preprocess = checked
    return image


def demo_theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate")


def limits_text(limits: Limits) -> str:
    cap = (f"Images larger than **{limits.max_side} px** on the longer side are **downscaled** to "
           f"{limits.max_side} px before translation (the output has the downscaled size). "
           if limits.max_side > 0 else "Images are translated at full resolution. ")
    return (f"{cap}Uploads up to **{limits.max_upload_mb:g} MB** and {limits.max_pixels / 1e6:.0f} megapixels; "
            f"batches up to {limits.max_batch} images. Jobs run one at a time in a queue of up to "
            f"{limits.max_queue}; when it is full, try again in a moment.")


def _header(device_text: str) -> None:
    with gr.Row(equal_height=True):
        gr.Markdown("# Unpaired image translation\nPick a checkpoint, drop in an image, and compare. "
                    "CUT / FastCUT translators, with optional CoopInit test-time refinement.",
                    elem_id="title")
        gr.HTML(f'<div id="device-badge"><span>running on {device_text}</span></div>')


def _single_tab(limits: Limits, example_images: list):
    with gr.Tab("Single image", id="single"):
        with gr.Row(equal_height=True):
            inp = friendly_upload_errors(gr.Image(label="Input", type="filepath", image_mode=None, format="png",
                                                  height=380, sources=["upload", "clipboard"], elem_id="input-image"))
            # 44 px lower than the input, whose upload toolbar takes that much: the two pictures match in size
            out = gr.Image(label="Translated", type="filepath", format="png", height=336, interactive=False,
                           buttons=["download", "fullscreen"], elem_id="output-image")
        gr.Markdown(limits_text(limits), elem_id="cap-note")
        go = gr.Button("Translate", variant="primary", size="lg", elem_id="translate-btn")
        with gr.Row(equal_height=True):
            status = gr.Markdown("", elem_id="status")
            download = gr.DownloadButton("Download PNG", visible=False, elem_id="download-png", scale=0,
                                         min_width=240, size="md")
        with gr.Accordion("Before ↔ after slider", open=False):
            compare = gr.ImageSlider(label="Input ↔ translated", type="filepath", format="png", max_height=420,
                                     interactive=False, elem_id="compare-slider")
        examples = gr.Gallery(example_images or None, label="Examples from the dataset's test split (click one to "
                              "translate it)",
                              columns=8, height=170, allow_preview=False, format="png", object_fit="contain",
                              elem_id="examples", visible=bool(example_images))
    return inp, out, go, status, download, compare, examples


def _batch_tab(limits: Limits):
    with gr.Tab("Batch", id="batch"):
        with gr.Row():
            with gr.Column(scale=2):
                files = gr.File(label=f"Images (up to {limits.max_batch})", file_count="multiple",
                                file_types=["image"], height=260, elem_id="batch-files")
                go = gr.Button("Translate all", variant="primary", elem_id="batch-btn")
                status = gr.Markdown("", elem_id="batch-status")
                zip_file = gr.DownloadButton("Download all (zip)", visible=False, elem_id="batch-zip")
                gr.Markdown(limits_text(limits), elem_id="batch-cap-note")
            gallery = gr.Gallery(label="Translated", columns=4, height=420, format="png", scale=3,
                                 object_fit="contain", elem_id="batch-gallery")
    return files, go, status, zip_file, gallery


def _no_checkpoints(catalog: CheckpointCatalog) -> str:
    """The picker's hint when a scan offered nothing: what was skipped and why, then what to do."""
    hint = "No checkpoints found"
    if catalog.skipped:
        hint += f" ({len(catalog.skipped)} skipped: {catalog.skipped[0]}{'; …' if len(catalog.skipped) > 1 else ''})"
    return hint + ": train one with `translate train demo`, then press ↻"


def build_demo(runs_dir: str | Path | None = None, ckpt: str | Path | None = None, *, device: str = "auto",
               limits: Limits = Limits(), n_examples: int = 8, max_queue: int | None = None) -> gr.Blocks:
    """The demo page for checkpoints in ``runs_dir`` (default ``runs/``) or the single checkpoint ``ckpt``.

    Returns the ``gr.Blocks`` with its queue configured (one job at a time, ``max_queue`` waiting, default
    ``limits.max_queue``; more are refused with a message) and
    does not launch it. Only checkpoints found there can be chosen; the page never sends a path.
    """
    if runs_dir is None and ckpt is None:
        runs_dir = "runs"
    catalog = CheckpointCatalog(runs_dir=runs_dir, ckpt=ckpt)
    catalog.scan()
    h = DemoHandlers(DemoService(catalog, resolve_device(device), limits), n_examples=n_examples)
    labels = catalog.labels
    first = labels[0] if labels else None
    source = str(catalog.ckpt or catalog.runs_dir)

    with gr.Blocks(title="translate · demo", delete_cache=(3600, 3600)) as demo:
        _header(h.device_text)
        with gr.Row(equal_height=True):
            picker = gr.Dropdown(labels, value=first, label=f"Checkpoint · from {source}", scale=5,
                                 elem_id="ckpt-picker", info=None if labels else _no_checkpoints(catalog))
            refresh = gr.Button("↻", elem_id="refresh", scale=0, min_width=56)
        card, can_refine, example_images = h.view_values(first)
        with gr.Row(equal_height=True):
            card_md = gr.Markdown(card, elem_id="run-card")
            refine = gr.Slider(0, limits.max_refine_steps, value=0, step=1, visible=can_refine, scale=0,
                               min_width=420, label="Test-time EBM refinement: Langevin steps under D (0 = off)",
                               elem_id="refine-steps")
        inp, out, go, status, download, compare, examples = _single_tab(limits, example_images)
        files, bgo, bstatus, bzip, bgallery = _batch_tab(limits)
        with gr.Accordion("Limits and safety", open=False):
            gr.Markdown("Checkpoints load with `weights_only=True` (tensors only, never code) and only from "
                        f"`{source}`; the page sends a label, never a path. Errors are shown as messages; "
                        "server logs keep the details.", elem_id="limits")

        view = [card_md, refine, examples]
        picker.change(h.checkpoint_view, picker, view, queue=False)
        refresh.click(h.refresh, picker, [picker, *view], queue=False)
        # One click on an example shows its translation: pick it, then translate it in the shared queue.
        examples.select(h.pick_example, picker, [inp, out, download, status, compare], queue=False).success(
            h.translate_one, [inp, picker, refine], [out, download, status, compare], concurrency_limit=1,
            concurrency_id=CONCURRENCY_ID)
        go.click(h.translate_one, [inp, picker, refine], [out, download, status, compare], api_name="translate",
                 concurrency_limit=1, concurrency_id=CONCURRENCY_ID)
        bgo.click(h.translate_many, [files, picker, refine], [bgallery, bzip, bstatus], api_name="translate_batch",
                  concurrency_limit=1, concurrency_id=CONCURRENCY_ID)
    demo.queue(max_size=limits.max_queue if max_queue is None else max_queue, default_concurrency_limit=1)
    demo.translator = h.translator  # for embedding code and tests: the service behind the page
    return demo
