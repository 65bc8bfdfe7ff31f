"""Event handlers of the web demo: Gradio values in, Gradio updates out, errors as messages on the page.

Each handler turns a :class:`translate.errors.TranslateError` into ``gr.Error`` (shown as a toast) and any
other exception into a generic message, logged on the server with its traceback, never sent to the page.
"""
from __future__ import annotations

import functools
import html
import logging
from pathlib import Path

import gradio as gr

from translate.app.predict import DemoService, describe_device
from translate.app.runs import CheckpointInfo, example_images
from translate.datasets.imageio import load_image
from translate.runfolder.bundled import demo_test_images, is_bundled
from translate.runfolder.translator import refiner_available
from translate.errors import TranslateError

log = logging.getLogger(__name__)


def page_errors(fn):
    """Report failures as readable messages in the page instead of tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except TranslateError as e:
            raise gr.Error(html.escape(str(e), quote=False), print_exception=False) from None
        except Exception:
            log.exception("demo: unexpected error in %s", fn.__name__)
            raise gr.Error("Something went wrong on the server (the details are in its log).",
                           print_exception=False) from None

    return wrapper


def run_card(info: CheckpointInfo | None, device: str) -> str:
    """The Markdown box that describes the selected checkpoint."""
    if info is None:
        return "No checkpoint selected."
    refine = "yes (D present)" if info.has_D else "no (no D in this checkpoint)"
    return (f"**Run** `{info.run}` &nbsp;·&nbsp; **step** {info.step} &nbsp;·&nbsp; **stage** {info.stage or '—'}  \n"
            f"**preset** `{info.preset}` &nbsp;·&nbsp; **dataset** `{info.dataset or '—'}` &nbsp;·&nbsp; "
            f"**G** {info.config.model.ngf} filters, {info.config.model.n_blocks} blocks  \n"
            f"**test-time refinement** {refine} &nbsp;·&nbsp; **device** {device}")


def _thumbnails(paths: list[Path], side: int = 256) -> list[tuple]:
    """(path, small copy) for each readable example; clicking one loads the full image on the server."""
    thumbs = []
    for path in paths:
        try:
            img = load_image(path)
        except TranslateError as e:  # a bad file in the dataset should not break the page
            log.warning("demo: example skipped: %s", e)
            continue
        img.thumbnail((side, side))
        thumbs.append((path, img))
    return thumbs


def _upload_name(path: str) -> str:
    return Path(path).name


class DemoHandlers:
    """The callbacks behind the page, bound to one :class:`DemoService` (and so to one catalog)."""

    def __init__(self, translator: DemoService, n_examples: int = 8):
        self.translator = translator  # holds the catalog, device, limits and model cache
        self.n_examples = n_examples  # example thumbnails shown per checkpoint
        self.device_text = describe_device(translator.device)
        self._examples: dict[str, list[tuple]] = {}  # dataset -> [(file, thumbnail)], found once

    @property
    def catalog(self):
        return self.translator.catalog

    def examples_for(self, info: CheckpointInfo | None) -> list[tuple]:
        """[(file, thumbnail)] from the checkpoint's dataset; the gallery shows them in this order."""
        if info is None:
            return []
        bundled = is_bundled(info.path)
        key = f"{bundled}|{info.dataset}|{info.config.data.root}|{info.config.data.domain_a}"
        if key not in self._examples:
            # Only the bundled checkpoint (trusted: it ships with the package) may generate its test images.
            found = (demo_test_images(info.config, self.n_examples) if bundled
                     else example_images(info.config, self.n_examples))
            self._examples[key] = _thumbnails(found)
        return self._examples[key]

    def _info(self, label: str | None) -> CheckpointInfo | None:
        try:
            return self.catalog.get(label)
        except TranslateError:
            return None

    def view_values(self, label: str | None) -> tuple[str, bool, list]:
        """(run card, refinement possible, example thumbnails) for the selected checkpoint."""
        info = self._info(label)
        can_refine = bool(info and info.has_D and refiner_available())
        examples = [(thumb, path.name) for path, thumb in self.examples_for(info)]
        return run_card(info, self.device_text), can_refine, examples

    @page_errors
    def checkpoint_view(self, label: str | None):
        """Run card, refinement slider (only with D) and example gallery for the selected checkpoint."""
        card, can_refine, examples = self.view_values(label)
        return (card, gr.update(visible=can_refine, value=0),
                gr.update(value=examples or None, visible=bool(examples)))

    @page_errors
    def refresh(self, current: str | None):
        """Re-scan the runs folder; keeps the selection when it still exists."""
        self.catalog.scan()
        labels = self.catalog.labels
        for reason in self.catalog.skipped:
            gr.Warning(html.escape(reason, quote=False))
        value = current if current in labels else (labels[0] if labels else None)
        return (gr.update(choices=labels, value=value), *self.checkpoint_view(value))

    @page_errors
    def pick_example(self, label: str | None, evt: gr.SelectData):
        """The clicked thumbnail, as a lossless copy for the input box (the file path stays on the server)."""
        examples = self.examples_for(self._info(label))
        if not isinstance(evt.index, int) or not 0 <= evt.index < len(examples):
            raise gr.Error("That example is no longer available; pick another.")
        return load_image(examples[evt.index][0]), None, gr.update(value=None, visible=False), "", None

    @page_errors
    def translate_one(self, image: str | None, label: str | None, refine_steps: float = 0):
        """Input image path -> (output PNG, download button, status line, before/after pair)."""
        if not image:
            raise gr.Error("Upload an image first (or click one of the examples).")
        r = self.translator.translate_file(image, label, int(refine_steps or 0), name=_upload_name(image))
        (w, h), (iw, ih) = r.out_size, r.in_size
        status = f"Translated **{w}×{h}** in **{r.seconds * 1000:.0f} ms** on **{self.device_text}**"
        if r.refine_steps:
            status += f", with {r.refine_steps} refinement step(s)"
        if r.downscaled:
            note = (f"{iw}×{ih} is above the {self.translator.limits.max_side} px cap: "
                    f"translated at {w}×{h}.")
            gr.Warning(note)
            status += f"  \n⚠ {note}"
        download = gr.update(value=str(r.png), visible=True)
        return str(r.png), download, status, (image, str(r.png))

    @page_errors
    def translate_many(self, files: list[str] | None, label: str | None, refine_steps: float = 0):
        """Several uploads -> (gallery of outputs, zip download, status line)."""
        if not files:
            raise gr.Error("Add some images first.")
        batch = self.translator.translate_batch([(f, _upload_name(f)) for f in files], label,
                                                int(refine_steps or 0))
        for name, reason in batch.failed:
            text = f"Skipped {reason}" if reason.startswith(name) else f"Skipped {name}: {reason}"
            gr.Warning(html.escape(text, quote=False))
        if not batch.results:
            raise gr.Error("None of the files could be translated.")
        total = sum(r.seconds for r in batch.results)
        status = (f"Translated **{len(batch.results)}** image(s) in **{total:.2f} s** on **{self.device_text}**"
                  + (f"; skipped {len(batch.failed)}" if batch.failed else ""))
        capped = sum(r.downscaled for r in batch.results)
        if capped:
            status += f"  \n⚠ {capped} image(s) downscaled to the {self.translator.limits.max_side} px cap"
        gallery = [(str(r.png), f"{r.png.name} · {r.out_size[0]}×{r.out_size[1]}") for r in batch.results]
        zip_update = gr.update(value=str(batch.zip_path), visible=True,
                               label=f"Download all ({len(batch.results)} PNGs, zip)")
        return gallery, zip_update, status
