"""The fault sweep's cases: issue 11's failures, each replayed through the real CLI and judged.

One function per case: it builds the fault in ctx.tmp, runs ``translate ...`` (fault_kit.cli) and returns
fault_kit.judge(good kind, bad kind, runs, {what must hold: whether it did}). CASES lists them in order.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from fault_concurrency import (demo_under_load, eight_trainings_fresh_cache, eight_zoo_downloads,
                               export_ckpt_option_and_demo, export_without_onnx, kill_9_during_generation,
                               readers_during_saves, train_same_out_twice)
from fault_kit import (DOS, HANDLED, HANG, LOST, NOT_RUN, REFUSED, TRACEBACK, Ctx, Evil, Verdict, ckpt_step, cli,
                       digest, edited_ckpt, free_port, http_folder, image, judge, log_steps, peak_rss_ok, png_bytes,
                       snapshot, tmpfs, wait_for_port, zip_bytes)

RESUME = ["--config", "smoke", "--resume", "--set", "train.device=cpu"]


# -- files lost or overwritten -------------------------------------------------------------------------------

def apply_out_is_input(ctx: Ctx) -> Verdict:
    src = ctx.tmp / "in"
    image(src / "a.png")
    before = snapshot(src)
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(src), str(src))
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "inputs kept": snapshot(src) == before})


def apply_name_clash(ctx: Ctx) -> Verdict:
    src, out = ctx.tmp / "in", ctx.tmp / "out"
    for i, name in enumerate(["a.jpg", "a.png", "a_1.png"]):
        image(src / name, seed=i)
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src))
    written = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    return judge(HANDLED, LOST, [r], {"exit 0": r.rc == 0, "3 outputs": len(written) == 3,
                                      "3 distinct outputs": len({digest(out / n) for n in written}) == 3,
                                      "count says 3": "wrote 3 " in r.err + r.out}, ", ".join(written))


def train_into_existing_run(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    before = snapshot(run)
    r = cli(ctx, "train", "demo", "--config", "smoke", "--out", str(run), "--set", "train.device=cpu")
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "offers --resume": "--resume" in r.err,
                                      "run byte-identical": snapshot(run) == before})


def sigterm_during_training(ctx: Ctx) -> Verdict:
    run, err_file = ctx.tmp / "run", ctx.tmp / "train.err"
    cmd = [sys.executable, "-m", "translate", "train", "demo", "--config", "smoke", "--out", str(run), "--set",
           "train.device=cpu", "--set", "train.steps=100000", "--set", "train.ckpt_every=0", "--set",
           "train.sample_every=0"]
    with err_file.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=ctx.tmp, env=ctx.env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 180
            log = run / "log.jsonl"
            while proc.poll() is None and time.monotonic() < deadline and not (
                    log.is_file() and log.read_text().count("\n") >= 3):
                time.sleep(0.2)
            if proc.poll() is not None or time.monotonic() >= deadline:
                return Verdict(HANG if proc.poll() is None else TRACEBACK,
                               f"training did not log 3 steps: {err_file.read_text()[-300:]}")
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            return Verdict(HANG, "no exit within 120 s of SIGTERM")
        finally:
            proc.kill()
            proc.wait()
    text = err_file.read_text()
    if "Traceback" in text:
        return Verdict(TRACEBACK, text.strip().splitlines()[-1][:160])
    steps = log_steps(run / "log.jsonl") or [-1]
    saved = ckpt_step(run / "ckpt" / "latest.pt") if (run / "ckpt" / "latest.pt").is_file() else -1
    more = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", f"train.steps={saved + 2}",
               "--set", "train.ckpt_every=0", "--set", "train.sample_every=0")
    after = log_steps(run / "log.jsonl")
    return judge(HANDLED, LOST, [more], {
        "exit 143": proc.returncode in (143, -15), "resume command printed": "resume with: translate train" in text,
        "checkpoint at the last logged step": saved == steps[-1] >= 3, "resumes": more.rc == 0,
        "log continues": after == list(range(1, saved + 3))}, f"stopped and saved at step {saved}, resumed to {saved + 2}")


def resume_torn_log(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    with (run / "log.jsonl").open("a") as f:
        f.write('{"step": 7, "G/nc')  # a crash in the middle of a write
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=8")
    rep = cli(ctx, "report", str(run))
    return judge(HANDLED, LOST, [r, rep], {"resumes": r.rc == 0, "no merged line": log_steps(run / "log.jsonl") ==
                                           list(range(1, 9)), "report works": rep.rc == 0 and "warning" not in rep.err})


def zoo_bad_then_genuine(ctx: Ctx) -> Verdict:
    served, root = ctx.tmp / "server", ctx.tmp / "data"
    served.mkdir()
    (served / "facades.zip").write_bytes(b"<html>captive portal</html>")
    genuine = zip_bytes({f"facades/{s}/{i}.png": png_bytes(i) for s in ["trainA", "trainB", "testA", "testB"]
                         for i in range(2)})
    with http_folder(ctx, served) as url:
        env = {"TRANSLATE_ZOO_URL": url}
        bad = cli(ctx, "datasets", "download", "facades", "--root", str(root), env=env)
        sums = root / ".zoo-checksums.json"
        bad_recorded = sums.is_file() and "facades" in json.loads(sums.read_text())
        (root / "facades.zip").unlink(missing_ok=True)  # what the error says to do
        (served / "facades.zip").write_bytes(genuine)
        good = cli(ctx, "datasets", "download", "facades", "--root", str(root), env=env)
    recorded = json.loads(sums.read_text()).get("facades", {}).get("sha256") if sums.is_file() else None
    return judge(HANDLED, LOST, [bad, good], {
        "bad archive refused in one line": bad.one_error(), "its checksum not recorded": not bad_recorded,
        "genuine accepted": good.rc == 0 and (root / "facades" / "trainA").is_dir(),
        "genuine checksum recorded": recorded == hashlib.sha256(genuine).hexdigest()},
        "the genuine archive is a stand-in with the facades layout (8 tiny PNGs): only the published image "
        "counts differ (a warning), the real one cannot be fetched offline")


def apply_full_disk(ctx: Ctx) -> Verdict:
    src, out = ctx.tmp / "in", ctx.tmp / "out"
    for i in range(12):
        image(src / f"n{i:02d}.png", (96, 96), noise=True)
    with tmpfs(out, "size=64k") as mounted:
        if not mounted:
            return Verdict(NOT_RUN, "cannot mount a tmpfs (not root?)")
        r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src))
        files = [p for p in out.iterdir()]
        whole = all(p.suffix == ".png" and p.stat().st_size > 0 and _png_ok(p) for p in files)
        n = len(files)
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "no 0-byte, partial or temp file": whole,
                                      "some written": n > 0}, f"{n} whole PNGs kept; {'; '.join(r.errors())}"[:200])


def _png_ok(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
        return True
    except Exception:  # noqa: BLE001 - any decoding failure means a damaged file
        return False


# -- hang, denial of service -----------------------------------------------------------------------------------

def apply_fifo(ctx: Ctx) -> Verdict:
    src, out = ctx.tmp / "in", ctx.tmp / "out"
    image(src / "a.png")
    image(src / "b.png", seed=1)
    os.mkfifo(src / "pipe.png")
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src), timeout=90)
    got = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    return judge(HANDLED, HANG, [r], {"exit 0": r.rc == 0, "others written": got == ["a.png", "b.png"],
                                      "FIFO reported": "pipe.png" in r.err})


def demo_big_synthetic(ctx: Ctx) -> Verdict:
    runs, data = ctx.tmp / "runs", ctx.tmp / "data"
    def huge(ck: dict) -> None:
        ck["config"]["data"].update(root="", data_root=str(data))
        ck["config"]["data"]["synthetic"].update(n_train=3000, n_test=3000, size=128)
    edited_ckpt(ctx, runs / "big" / "ckpt" / "latest.pt", huge)
    port = free_port()
    err_file = ctx.tmp / "demo.err"
    with err_file.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "translate", "demo", "--runs", str(runs), "--port", str(port),
                                 "--device", "cpu"], cwd=ctx.tmp, env={**ctx.env, "TRANSLATE_DATA": str(data)},
                                stdout=err, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            served = wait_for_port(port, 60, proc)
            generated = [str(p.relative_to(data)) for p in data.rglob("*")] if data.exists() else []
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = err_file.read_text()
    if "Traceback" in text:
        return Verdict(TRACEBACK, text.strip().splitlines()[-1][:160])
    if generated:
        return Verdict(DOS, f"start-up generated {len(generated)} files under the data root")
    if not served:
        return Verdict(HANG, "not serving after 60 s")
    return Verdict(HANDLED, "served; nothing generated under the data root")


def ckpt_huge_ngf(ctx: Ctx) -> Verdict:
    ck = edited_ckpt(ctx, ctx.tmp / "huge.pt", lambda c: c["config"]["model"].update(ngf=65536))
    image(ctx.tmp / "in" / "a.png")
    r = cli(ctx, "apply", "--ckpt", str(ck), "--out", str(ctx.tmp / "out"), str(ctx.tmp / "in"), timeout=120)
    return judge(REFUSED, DOS, [r], {"one error line": r.one_error(), "quick (< 60 s)": r.secs < 60,
                                     "no big allocation (< 3 GB)": peak_rss_ok(r)},
                 f"{r.secs:.0f} s, peak {r.max_rss_mb:.0f} MB; {'; '.join(r.errors())}"[:200])


# -- tracebacks --------------------------------------------------------------------------------------------------

def _out_is_file(ctx: Ctx, *args: str) -> Verdict:
    f = ctx.tmp / "taken.txt"
    f.write_text("keep me\n")
    r = cli(ctx, *args, "--out", str(f))
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "file kept": f.read_text() == "keep me\n"})


def apply_out_is_file(ctx: Ctx) -> Verdict:
    return _out_is_file(ctx, "apply", "--ckpt", str(ctx.ckpt), str(image(ctx.tmp / "in" / "a.png")))


def train_out_is_file(ctx: Ctx) -> Verdict:
    return _out_is_file(ctx, "train", "demo", "--config", "smoke", "--set", "train.device=cpu")


def eval_out_is_file(ctx: Ctx) -> Verdict:
    return _out_is_file(ctx, "eval", "--ckpt", str(ctx.ckpt), "--features", "tiny", "--device", "cpu")


def read_only_out(ctx: Ctx) -> Verdict:
    ro = ctx.tmp / "ro"
    with tmpfs(ro, "ro,size=64k") as mounted:
        if not mounted:
            return Verdict(NOT_RUN, "cannot mount a read-only tmpfs")
        runs = [cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(ro), str(image(ctx.tmp / "in" / "a.png"))),
                cli(ctx, "train", "demo", "--config", "smoke", "--out", str(ro / "run"), "--set", "train.device=cpu"),
                cli(ctx, "eval", "--ckpt", str(ctx.ckpt), "--features", "tiny", "--out", str(ro / "ev"))]
    return judge(REFUSED, TRACEBACK, runs, {f"{r.cmd[3]}: one error line": r.one_error() for r in runs})


def read_only_data_root(ctx: Ctx) -> Verdict:
    ro = ctx.tmp / "ro"
    with tmpfs(ro, "ro,size=64k") as mounted:
        if not mounted:
            return Verdict(NOT_RUN, "cannot mount a read-only tmpfs")
        env = {"TRANSLATE_DATA": str(ro)}
        runs = [cli(ctx, "train", "demo", "--config", "smoke", "--out", str(ctx.tmp / "run"), env=env),
                cli(ctx, "datasets", "download", "facades", env=env)]
    return judge(REFUSED, TRACEBACK, runs, {**{f"{r.cmd[3]}: one error line": r.one_error() for r in runs},
                                            "names the root": all(str(ro) in r.err for r in runs)})


def apply_64_megapixels(ctx: Ctx) -> Verdict:
    from PIL import Image

    src = ctx.tmp / "in"
    image(src / "small.png")
    Image.new("RGB", (8000, 8000), (10, 120, 30)).save(src / "huge.png")
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(ctx.tmp / "out"), str(src), timeout=180)
    named = [line for line in r.err.splitlines() if "huge.png" in line]
    return judge(REFUSED, DOS, [r], {"names the image": bool(named), "small one written":
                                     (ctx.tmp / "out" / "small.png").is_file(), "no big allocation": peak_rss_ok(r)},
                 (named[0] if named else "")[-160:])


def _bad_ckpt(ctx: Ctx, edit: Callable[[dict], None]) -> Verdict:
    ck = edited_ckpt(ctx, ctx.tmp / "bad.pt", edit)
    r = cli(ctx, "apply", "--ckpt", str(ck), "--out", str(ctx.tmp / "out"), str(image(ctx.tmp / "in" / "a.png")))
    return judge(REFUSED, TRACEBACK, [r], {"one error line": r.one_error(), "names the file": "bad.pt" in r.err})


def ckpt_foreign_weights(ctx: Ctx) -> Verdict:
    import torch

    return _bad_ckpt(ctx, lambda c: c["models"].update(G={"features.0.weight": torch.zeros(3, 3)}))


def ckpt_config_string(ctx: Ctx) -> Verdict:
    return _bad_ckpt(ctx, lambda c: c.update(config="cut"))


def resume_other_arch(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    before = digest(run / "ckpt" / "latest.pt")
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "model.ngf=16")
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "names model.ngf": "model.ngf" in r.err,
                                      "ckpt kept": digest(run / "ckpt" / "latest.pt") == before})


def resume_steps_below(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    before = digest(run / "ckpt" / "latest.pt")
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=3")
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(),
                                      "ckpt kept": digest(run / "ckpt" / "latest.pt") == before})


def set_lr_nan(ctx: Ctx) -> Verdict:
    r = cli(ctx, "train", "demo", "--config", "smoke", "--out", str(ctx.tmp / "run"), "--set", "train.lr=nan")
    return judge(REFUSED, TRACEBACK, [r], {"one error line": r.one_error(), "names train.lr": "train.lr" in r.err})


REPORT_LINES = {"torn": ("log.jsonl", b'{"step": 3, "G/nce": 1.'), "binary": ("log.jsonl", b"\x00\xff\xfe\x89PNG\r\n"),
                "list": ("log.jsonl", b"[1,2,3]\n"), "kid-text": ("metrics.jsonl", b'{"step": 1, "kid": "high"}\n')}


def _report(ctx: Ctx, kind: str) -> Verdict:
    run = ctx.tmp / "run"
    run.mkdir()
    (run / "log.jsonl").write_text("".join(json.dumps({"step": s, "stage": "cut", "lr": 2e-4, "G/nce": 3.0 / s})
                                           + "\n" for s in (1, 2)))
    (run / "metrics.jsonl").write_text(json.dumps({"step": 2, "kid": 0.01, "features": "tiny", "n_images": 4}) + "\n")
    name, line = REPORT_LINES[kind]
    with (run / name).open("ab") as f:
        f.write(line)
    before = snapshot(run)
    r = cli(ctx, "report", str(run))
    kept = {k: v for k, v in snapshot(run).items() if k.endswith(".jsonl")} == before
    return judge(HANDLED, LOST, [r], {"exit 0": r.rc == 0, f"warns {name}:LINE": f"{name}:" in r.err,
                                      "logs untouched": kept},
                 next((ln.strip() for ln in r.err.splitlines() if f"{name}:" in ln), "")[-160:])


def resume_torn_metrics(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    (run / "metrics.jsonl").write_text(json.dumps({"step": 3, "kid": 0.02, "features": "tiny", "n_images": 4})
                                       + "\n" + '{"step": 6, "kid": 0.0')
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=8", "--set", "train.eval_every=4",
            "--set", "eval.features=tiny", "--set", "eval.metrics=[kid]", "--set", "eval.n_images=4")
    # Resumed at step 6: the torn step-6 line is cut, step 3 kept, then the evaluation at step 8 appended.
    return judge(HANDLED, LOST, [r], {"resumes": r.rc == 0, "metrics parse": log_steps(run / "metrics.jsonl") ==
                                      [3, 8]}, f"metrics steps {log_steps(run / 'metrics.jsonl')}")


def zoo_file_folder_clash(ctx: Ctx) -> Verdict:
    served, root = ctx.tmp / "server", ctx.tmp / "data"
    served.mkdir()
    (served / "facades.zip").write_bytes(zip_bytes({"trainA/x": png_bytes(0), "trainA/x/y.png": png_bytes(1)}))
    with http_folder(ctx, served) as url:
        r = cli(ctx, "datasets", "download", "facades", "--root", str(root), env={"TRANSLATE_ZOO_URL": url})
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "nothing extracted":
                                      not (root / "facades").exists() and not list(root.glob(".facades.extract-*"))})


def demo_port_in_use(ctx: Ctx) -> Verdict:
    (ctx.tmp / "runs").mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = cli(ctx, "demo", "--runs", str(ctx.tmp / "runs"), "--port", str(port), "--device", "cpu", timeout=90)
    return judge(REFUSED, HANG, [r], {"one error line": r.one_error(), "names the port": f"--port {port}" in r.err})


# -- smaller ---------------------------------------------------------------------------------------------------

def stale_tmp_orphan(ctx: Ctx) -> Verdict:
    run = ctx.copy_run()
    orphan = run / "ckpt" / ".latest.pt.999999.k3j2x9.tmp"  # prepare.TEMP_NAME: .<name>.<pid>.<random>.tmp
    orphan.write_bytes(b"half a checkpoint")
    old = time.time() - 7200  # older than ANY_WRITER_AGE_S: an orphan whatever its pid
    os.utime(orphan, (old, old))
    r = cli(ctx, "train", "demo", "--out", str(run), *RESUME, "--set", "train.steps=7")
    return judge(HANDLED, LOST, [r], {"resumes": r.rc == 0, "orphan removed": not orphan.exists(),
                                      "ckpt at step 7": ckpt_step(run / "ckpt" / "latest.pt") == 7})


def malicious_ckpt(ctx: Ctx) -> Verdict:
    import torch

    marker = ctx.tmp / "PWNED"
    torch.save({"step": 1, "config": {}, "payload": Evil(f"touch {marker}")}, ctx.tmp / "evil.pt")
    r = cli(ctx, "apply", "--ckpt", str(ctx.tmp / "evil.pt"), "--out", str(ctx.tmp / "out"),
            str(image(ctx.tmp / "in" / "a.png")))
    return judge(REFUSED, LOST, [r], {"one error line": r.one_error(), "no code ran": not marker.exists(),
                                     "no weights_only=False advice": "weights_only=False" not in r.err})


def apply_gif(ctx: Ctx) -> Verdict:
    from PIL import Image

    src, out = ctx.tmp / "in", ctx.tmp / "out"
    image(src / "a.png")
    Image.new("P", (20, 20)).save(src / "b.gif")
    r = cli(ctx, "apply", "--ckpt", str(ctx.ckpt), "--out", str(out), str(src))
    return judge(HANDLED, LOST, [r], {"exit 0": r.rc == 0, "png written": (out / "a.png").is_file(),
                                      "gif reported": any("b.gif" in ln and "skipped" in ln for ln in r.err.splitlines())})


PICKER = """import json, sys
from translate.app import build_demo
demo = build_demo(runs_dir=sys.argv[1], device="cpu")
picker = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "ckpt-picker")
print(json.dumps([c[0] if isinstance(c, (list, tuple)) else c for c in picker.choices]))
"""


def demo_symlinked_run(ctx: Ctx) -> Verdict:
    runs, scratch = ctx.tmp / "runs", ctx.tmp / "scratch"
    edited_ckpt(ctx, scratch / "exp1" / "ckpt" / "latest.pt", lambda c: None)
    runs.mkdir()
    (runs / "exp1").symlink_to(scratch / "exp1", target_is_directory=True)
    r = cli(ctx, str(runs), python=["-c", PICKER], timeout=120)
    try:
        choices = json.loads(r.out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        choices = []
    return judge(HANDLED, LOST, [r], {"the linked run is offered": any("exp1" in str(c) for c in choices)},
                 f"picker: {choices} (built in a subprocess with translate.app.build_demo)")


def zoo_stall(ctx: Ctx) -> Verdict:
    with socket.socket() as quiet:  # listens (the kernel accepts) but never answers
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(8)
        url = f"http://127.0.0.1:{quiet.getsockname()[1]}"
        r = cli(ctx, "datasets", "download", "facades", "--root", str(ctx.tmp / "data"),
                env={"TRANSLATE_ZOO_URL": url}, timeout=127)
    return judge(REFUSED, HANG, [r], {"one error line": r.one_error(), "gives up in < 90 s": r.secs < 90,
                                      "says it is waiting": "no data from the server" in r.err},
                 f"gave up after {r.secs:.0f} s")


@dataclass(frozen=True)
class Case:
    name: str
    group: str  # where issue 11 listed it
    run: Callable[[Ctx], Verdict]
    cheap: bool = False  # needs no trained run


CASES: list[Case] = [
    Case("apply-out-is-input", "lost", apply_out_is_input),
    Case("apply-name-clash", "lost", apply_name_clash),
    Case("train-into-existing-run", "lost", train_into_existing_run),
    Case("sigterm-during-training", "lost", sigterm_during_training),
    Case("resume-torn-log", "lost", resume_torn_log),
    Case("zoo-bad-then-genuine", "lost", zoo_bad_then_genuine, cheap=True),
    Case("apply-full-disk", "lost", apply_full_disk),
    Case("apply-fifo", "hang", apply_fifo),
    Case("demo-big-synthetic", "dos", demo_big_synthetic),
    Case("ckpt-huge-ngf", "dos", ckpt_huge_ngf),
    Case("apply-out-is-file", "traceback", apply_out_is_file),
    Case("train-out-is-file", "traceback", train_out_is_file, cheap=True),
    Case("eval-out-is-file", "traceback", eval_out_is_file),
    Case("read-only-out", "traceback", read_only_out),
    Case("read-only-data-root", "traceback", read_only_data_root, cheap=True),
    Case("apply-64-megapixels", "traceback", apply_64_megapixels),
    Case("ckpt-foreign-weights", "traceback", ckpt_foreign_weights),
    Case("ckpt-config-string", "traceback", ckpt_config_string),
    Case("resume-other-arch", "traceback", resume_other_arch),
    Case("resume-steps-below", "traceback", resume_steps_below),
    Case("set-lr-nan", "traceback", set_lr_nan, cheap=True),
    *[Case(f"report-{k}", "traceback", lambda ctx, k=k: _report(ctx, k), cheap=True) for k in REPORT_LINES],
    Case("resume-torn-metrics", "traceback", resume_torn_metrics),
    Case("zoo-file-folder-clash", "traceback", zoo_file_folder_clash, cheap=True),
    Case("demo-port-in-use", "traceback", demo_port_in_use, cheap=True),
    Case("stale-tmp-orphan", "smaller", stale_tmp_orphan),
    Case("malicious-ckpt", "smaller", malicious_ckpt),
    Case("apply-gif", "smaller", apply_gif),
    Case("demo-symlinked-run", "smaller", demo_symlinked_run),
    Case("zoo-stall", "smaller", zoo_stall, cheap=True),
    # Issue 26: processes that meet (fault_concurrency.py).
    Case("train-same-out-twice", "concurrency", train_same_out_twice, cheap=True),
    Case("readers-during-saves", "concurrency", readers_during_saves),
    Case("eight-trainings-one-cache", "concurrency", eight_trainings_fresh_cache, cheap=True),
    Case("eight-zoo-downloads", "concurrency", eight_zoo_downloads, cheap=True),
    Case("kill-9-during-generation", "concurrency", kill_9_during_generation, cheap=True),
    Case("demo-under-load", "concurrency", demo_under_load, cheap=True),
    Case("export-without-onnx", "concurrency", export_without_onnx),
    Case("export-ckpt-and-demo", "concurrency", export_ckpt_option_and_demo),
]
