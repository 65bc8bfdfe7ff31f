"""The named dataset zoo: the standard unpaired sets of CycleGAN (Zhu et al., ICCV 2017) and CUT
(Park et al., ECCV 2020), fetched on first use into the data root.

Each entry has its source, the split folders and image counts of the published archive (a mismatch
only warns), an approximate size and a licence/citation note. No checksum can be known in advance here,
so the SHA-256 of each archive is recorded in ``DATA_ROOT/.zoo-checksums.json`` on its first download
and checked on every later one (a re-download, or a zip placed by hand). Sets whose licence forbids
redistribution (cityscapes, cat2dog from AFHQ) are not downloaded: ``manual_instructions`` says how to
build their folders. The data root is ``--data-root``, else ``$TRANSLATE_DATA``, else ``~/.cache/translate``;
``$TRANSLATE_ZOO_URL`` replaces the server (a mirror).
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from translate.atomic import remove_stale_temps
from translate.datasets.download import ChecksumError, DownloadError, download_file, safe_extract, sha256_file
from translate.errors import DataError
from translate.locks import cache_lock
from translate.paths import data_root

log = logging.getLogger(__name__)

DEFAULT_SERVER = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets"
MARKER = ".translate-dataset.json"  # written last into a dataset folder extracted by us
CHECKSUMS = ".zoo-checksums.json"  # in the data root: SHA-256 of each archive, recorded on first download
SPLITS = ("trainA", "trainB", "testA", "testB")

_CYCLEGAN = "Zhu, Park, Isola, Efros: Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks, ICCV 2017"
_ART = _CYCLEGAN + ". Paintings from WikiArt, photos from Flickr; for research use, copyright stays with the owners"


@dataclass(frozen=True)
class ZooEntry:
    name: str
    about: str  # what domains A and B hold
    counts: dict[str, int]  # images per split folder in the published archive
    size_mb: int  # approximate size of the archive
    note: str  # licence and citation
    downloadable: bool = True  # False: the licence requires a manual download (see ``manual``)
    manual: str = ""  # step-by-step instructions ({root} is the data root)
    layout: tuple[str, ...] = SPLITS  # split folders inside DATA_ROOT/NAME

    def url(self) -> str | None:
        if not self.downloadable:
            return None
        return f"{os.environ.get('TRANSLATE_ZOO_URL') or DEFAULT_SERVER}".rstrip("/") + f"/{self.name}.zip"


def _c(a: int, b: int, ta: int, tb: int) -> dict[str, int]:
    return {"trainA": a, "trainB": b, "testA": ta, "testB": tb}


_CITYSCAPES = """\
Cityscapes may not be redistributed: its licence allows non-commercial use after registration.
  1. Register at https://www.cityscapes-dataset.com and accept the licence.
  2. Download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip and unzip both into a folder CS.
  3. Build the unpaired layout (A = semantic label maps, B = photos, as in CUT's label -> photo task):
       mkdir -p {root}/cityscapes/trainA {root}/cityscapes/trainB {root}/cityscapes/testA {root}/cityscapes/testB
       cp CS/gtFine/train/*/*_gtFine_color.png      {root}/cityscapes/trainA/
       cp CS/leftImg8bit/train/*/*_leftImg8bit.png  {root}/cityscapes/trainB/
       cp CS/gtFine/val/*/*_gtFine_color.png        {root}/cityscapes/testA/
       cp CS/leftImg8bit/val/*/*_leftImg8bit.png    {root}/cityscapes/testB/
     (2975 training and 500 validation images per side; images are resized when loaded.)
  4. Run: translate train cityscapes
Cite: Cordts et al., The Cityscapes Dataset for Semantic Urban Scene Understanding, CVPR 2016."""

_CAT2DOG = """\
cat2dog is built from AFHQ (StarGAN v2, Choi et al., CVPR 2020; licence CC BY-NC 4.0).
  1. Download afhq.zip as linked from https://github.com/clovaai/stargan-v2 (download.sh afhq-dataset:
     https://www.dropbox.com/s/t9l9o3vsx2jai3z/afhq.zip?dl=0) and unzip it into {root}/afhq
     (it holds train/cat, train/dog, val/cat, val/dog).
  2. Link the folders into the unpaired layout (or use cp -r instead of ln -s to copy them):
       mkdir -p {root}/cat2dog
       ln -s {root}/afhq/train/cat {root}/cat2dog/trainA
       ln -s {root}/afhq/train/dog {root}/cat2dog/trainB
       ln -s {root}/afhq/val/cat   {root}/cat2dog/testA
       ln -s {root}/afhq/val/dog   {root}/cat2dog/testB
  3. Run: translate train cat2dog"""

ZOO: dict[str, ZooEntry] = {e.name: e for e in [
    ZooEntry("apple2orange", "apples <-> oranges (ImageNet)", _c(995, 1019, 266, 248), 75,
             _CYCLEGAN + ". Images from ImageNet: non-commercial research use under the ImageNet terms"),
    ZooEntry("summer2winter_yosemite", "Yosemite in summer <-> winter (Flickr)", _c(1231, 962, 309, 238), 126,
             _CYCLEGAN + ". Photos from Flickr; copyright stays with the photographers"),
    ZooEntry("horse2zebra", "horses <-> zebras (ImageNet)", _c(1067, 1334, 120, 140), 111,
             _CYCLEGAN + ". Images from ImageNet: non-commercial research use under the ImageNet terms"),
    ZooEntry("monet2photo", "Monet paintings <-> landscape photos", _c(1072, 6287, 121, 751), 291, _ART),
    ZooEntry("cezanne2photo", "Cezanne paintings <-> landscape photos", _c(525, 6287, 58, 751), 267, _ART),
    ZooEntry("ukiyoe2photo", "Ukiyo-e prints <-> landscape photos", _c(562, 6287, 263, 751), 279, _ART),
    ZooEntry("vangogh2photo", "Van Gogh paintings <-> landscape photos", _c(400, 6287, 400, 751), 292, _ART),
    ZooEntry("maps", "aerial photos <-> Google Maps", _c(1096, 1096, 1098, 1098), 1400,
             _CYCLEGAN + ". Scraped from Google Maps: research use under Google's terms"),
    ZooEntry("facades", "facade photos <-> label maps (CMP Facades)", _c(400, 400, 106, 106), 34,
             _CYCLEGAN + ". Cite Tylecek and Sara, Spatial Pattern Templates for Recognition of Objects with "
             "Regular Structure, GCPR 2013"),
    ZooEntry("iphone2dslr_flower", "iPhone <-> DSLR photos of flowers (Flickr)", _c(1812, 3325, 569, 480), 324,
             _CYCLEGAN + ". Photos from Flickr; copyright stays with the photographers"),
    ZooEntry("grumpifycat", "Russian Blue cats <-> Grumpy Cat", {"trainA": 214, "trainB": 214}, 19,
             "Park, Efros, Zhang, Zhu: Contrastive Learning for Unpaired Image-to-Image Translation, ECCV 2020. "
             "Train-only (no test split); research use", layout=("trainA", "trainB")),
    ZooEntry("cityscapes", "semantic label maps <-> street photos", _c(2975, 2975, 500, 500), 11000,
             "Cityscapes licence: non-commercial, registration required", downloadable=False, manual=_CITYSCAPES),
    ZooEntry("cat2dog", "cats <-> dogs (AFHQ)", _c(5153, 4739, 500, 500), 1400,
             "AFHQ, CC BY-NC 4.0 (Choi et al., StarGAN v2, CVPR 2020)", downloadable=False, manual=_CAT2DOG),
]}


def get_entry(name: str) -> ZooEntry:
    if name not in ZOO:
        raise DataError(f"unknown dataset '{name}' (named datasets: {', '.join(ZOO)}; "
                        "see `translate datasets list`)")
    return ZOO[name]


def is_present(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether DATA_ROOT/NAME has trainA/ and trainB/ (extracted by us or built by hand)."""
    folder = data_root(root) / name
    return (folder / "trainA").is_dir() and (folder / "trainB").is_dir()


def is_verified(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether DATA_ROOT/NAME was extracted by us from an archive whose checksum was recorded or checked."""
    return (data_root(root) / name / MARKER).is_file()


def manual_instructions(name: str, root: str | os.PathLike | None = None) -> str:
    """Step-by-step instructions to place ``name`` by hand (for every entry, downloadable or not)."""
    entry, base = get_entry(name), data_root(root)
    if entry.manual:
        return entry.manual.format(root=base)
    folders = ", ".join(f"{s}/" for s in entry.layout)
    return (f"To place {name} by hand: download {entry.url()} (about {entry.size_mb} MB) on a machine with "
            f"internet, then either put the zip at {base / (name + '.zip')} (it is checked and unpacked on the "
            f"next run), or unzip it so that {base / name} holds {folders}. Another place can be chosen with "
            "--data-root DIR or $TRANSLATE_DATA.")


# ---------------------------------------------------------------------------------------------
# Checksums recorded on first download


def load_checksums(root: Path) -> dict[str, dict]:
    path = root / CHECKSUMS
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        log.warning("ignoring unreadable checksum record %s", path)
        return {}


def _record_checksum(root: Path, name: str, digest: str, url: str | None, size: int) -> None:
    sums = load_checksums(root)
    sums[name] = {"sha256": digest, "bytes": size, "url": url}
    tmp = root / f"{CHECKSUMS}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(sums, indent=1, sort_keys=True))
    os.replace(tmp, root / CHECKSUMS)  # atomic: a crash never leaves half a record
    log.info("recorded the SHA-256 of %s.zip in %s; later downloads are checked against it", name, root / CHECKSUMS)


# ---------------------------------------------------------------------------------------------
# Fetch, check, extract


def _obtain_zip(entry: ZooEntry, root: Path, expected: str | None, progress: bool) -> tuple[Path, str]:
    """DATA_ROOT/NAME.zip, downloaded unless it was placed there by hand; returns it and its SHA-256."""
    zip_path = root / f"{entry.name}.zip"
    if zip_path.is_file():
        log.info("using the archive found at %s", zip_path)
        digest = sha256_file(zip_path)
        if expected and digest != expected:
            bad = zip_path.with_name(zip_path.name + ".bad-sha256")
            os.replace(zip_path, bad)
            raise ChecksumError(f"{zip_path}: SHA-256 {digest} differs from the one recorded on the first "
                                f"download ({expected}); the file is kept aside as {bad}")
        return zip_path, digest
    url = entry.url()
    log.info("downloading %s (about %d MB) from %s into %s", entry.name, entry.size_mb, url, root)
    return zip_path, download_file(url, zip_path, expected, progress=progress)


def _find_split_root(tmp: Path, name: str) -> Path:
    """The folder holding trainA/ inside an extracted archive (NAME/ at the top, or the top itself)."""
    for cand in [tmp / name, tmp, *sorted(p for p in tmp.iterdir() if p.is_dir())]:
        if (cand / "trainA").is_dir():
            return cand
    raise DataError(f"the {name} archive has no trainA/ folder; it is not an unpaired dataset archive")


def _check_counts(entry: ZooEntry, folder: Path) -> dict[str, int]:
    from translate.datasets.imageio import find_images

    found = {s: len(find_images(folder / s)) for s in entry.layout if (folder / s).is_dir()}
    if found != entry.counts:
        log.warning("%s: image counts %s differ from the published %s", entry.name, found, entry.counts)
    return found


def _extract(entry: ZooEntry, zip_path: Path, root: Path) -> Path:
    final = root / entry.name
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.extract-", dir=root))
    try:
        safe_extract(zip_path, tmp)
        src = _find_split_root(tmp, entry.name)
        if final.exists():
            raise DataError(f"{final} exists but has no trainA/ and trainB/; move it away and run again")
        os.rename(src, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def ensure_dataset(name: str, root: str | os.PathLike | None = None, *, progress: bool = True,
                   keep_zip: bool = False) -> Path:
    """DATA_ROOT/NAME with trainA/ and trainB/, downloaded, checked and extracted on first use.

    Raises DataError with the expected place, the URL and how to put the files there by hand when the
    download fails (no network, for instance), and with step-by-step instructions for manual sets.
    """
    entry, base = get_entry(name), data_root(root)
    final = base / name
    if is_present(name, base):
        return final
    if not entry.downloadable:
        raise DataError(f"{name} is not in {final} and cannot be downloaded automatically.\n"
                        + manual_instructions(name, base))
    try:
        base.mkdir(parents=True, exist_ok=True)
        # One process downloads and extracts; the others (DDP ranks, a sweep's runs) wait, bounded, then use it.
        with cache_lock(base / f".{name}.lock", f"the dataset {name} in {base}"):
            if is_present(name, base):  # another process finished it meanwhile
                return final
            return _fetch(entry, base, progress, keep_zip)
    except OSError as e:  # the data root is read-only, full, or not a folder
        where = e.filename or base
        raise DataError(f"cannot write to the data root {base} ({where}: {e.strerror or e}); choose a writable "
                        "one with --data-root DIR or $TRANSLATE_DATA, or free some space") from None


def _fetch(entry: ZooEntry, base: Path, progress: bool, keep_zip: bool) -> Path:
    name, final = entry.name, base / entry.name
    # Left by killed runs: every extraction holds the dataset's lock, so none is running.
    remove_stale_temps(base, re.compile(rf"^\.{re.escape(name)}\.extract-"), locked=True)
    expected = load_checksums(base).get(name, {}).get("sha256")
    try:
        zip_path, digest = _obtain_zip(entry, base, expected, progress)
    except ChecksumError as e:
        raise DataError(f"{e}. If the server's copy legitimately changed, remove the '{name}' entry from "
                        f"{base / CHECKSUMS} and run again.") from None
    except DownloadError as e:
        raise DataError(f"{e}\nThe dataset {name} was expected in {final}.\n"
                        + manual_instructions(name, base)) from None
    size = zip_path.stat().st_size
    try:
        folder = _extract(entry, zip_path, base)
    except DownloadError as e:
        raise DataError(str(e)) from None
    # Only an archive that validated and extracted is recorded: recording a bad download first would make
    # the genuine archive fail its checksum after the user deleted the bad one as told.
    if not expected:
        _record_checksum(base, name, digest, entry.url(), size)
    counts = _check_counts(entry, folder)
    (folder / MARKER).write_text(json.dumps({"name": name, "url": entry.url(), "sha256": digest,
                                             "counts": counts}, indent=1, sort_keys=True))
    if not keep_zip:
        zip_path.unlink()
    log.info("%s is ready in %s (%s)", name, folder, ", ".join(f"{k} {v}" for k, v in counts.items()))
    log.info("licence and citation: %s", entry.note)
    return folder
