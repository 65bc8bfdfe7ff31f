"""What benchmarks/parity_vs_reference.py needs to drive the CUT reference code (taesungp/contrastive-unpaired-
translation) from outside: its command line for one of our configs, a seeded launcher, its loss log, and a
loader that puts its saved generator weights into our ResnetGenerator.

Nothing of the reference is copied here. The reference is run from its own checkout, with its own Python
(it needs ``dominate``). Two things are done at run time by the launcher below instead of patching its files:
 - it seeds Python's, NumPy's and torch's RNGs (the reference has no seed option) and uses one torch thread;
 - it adds ``resnet_4blocks`` to the choices of ``--netG`` (its ``define_G`` builds it, its argparse refuses it).
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from translate.models.networks import ResnetGenerator

# The launcher, written next to the runs and started with the reference's Python and cwd.
# The reference's argparse refuses --netG resnet_4blocks, which its define_G builds: allow it at run time.
NETG_PATCH = '''\
_add = argparse.ArgumentParser.add_argument
def add_argument(self, *a, **k):
    if "--netG" in a and k.get("choices") and "resnet_4blocks" not in k["choices"]:
        k["choices"] = list(k["choices"]) + ["resnet_4blocks"]
    return _add(self, *a, **k)
argparse.ArgumentParser.add_argument = add_argument
'''

LAUNCHER = '''\
import argparse, os, random, runpy, sys
import numpy as np, torch
seed, repo = int(os.environ["PARITY_SEED"]), os.environ["PARITY_REF"]
torch.set_num_threads(1)
random.seed(seed); np.random.seed(seed); torch.manual_seed(seed)
''' + NETG_PATCH + '''sys.path.insert(0, repo)
sys.argv = ["train.py"] + sys.argv[1:]
runpy.run_path(os.path.join(repo, "train.py"), run_name="__main__")
'''

# Builds the reference's own G, loads its weights and translates one image: the forward-equality check.
FORWARD_CHECK = '''\
import importlib, sys, torch
sys.path.insert(0, sys.argv[1])
networks = importlib.import_module("models.networks")  # the reference's package, not ours
weights, ngf, n_blocks, x_path, y_path = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
no_antialias_up = sys.argv[7] == "1"
G = networks.define_G(3, 3, ngf, "resnet_%dblocks" % n_blocks, "instance", False, "xavier", 0.02, False,
                      no_antialias_up, [])
state = torch.load(weights, map_location="cpu", weights_only=True)
# the reference wraps its nets in DataParallel and, without a GPU, saves them with that "module." prefix
G.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
G.eval()
with torch.no_grad():
    torch.save(G(torch.load(x_path, weights_only=True)), y_path)
'''


# Steps the reference's CUTModel on given batches from its own initial weights, recording the PatchNCE
# locations it draws, its losses and its weights: the step-for-step check of benchmarks/parity_steps.py.
REF_STEPS = '''\
import argparse, importlib, json, sys, numpy as np, torch
repo, seed, data_path, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
''' + NETG_PATCH + '''sys.path.insert(0, repo)
TrainOptions = importlib.import_module("options.train_options").TrainOptions
create_model = importlib.import_module("models").create_model  # the reference's package, not ours
torch.set_num_threads(1); torch.manual_seed(seed); np.random.seed(seed)
opt = TrainOptions(cmd_line=" ".join(sys.argv[5:])).parse()
batches = torch.load(data_path, weights_only=True)
model = create_model(opt)
model.data_dependent_initialize(batches[0])  # builds F (no update), as train.py does on the first batch
model.setup(opt)
drawn, permutation = [], np.random.permutation
def recording(n):
    p = permutation(n); drawn.append(torch.from_numpy(p.copy())); return p
np.random.permutation = recording
init = {n: {k: v.clone() for k, v in getattr(model, "net" + n).state_dict().items()} for n in "GDF"}
losses = []
for b in batches:
    model.set_input(b); model.optimize_parameters(); losses.append(model.get_current_losses())
torch.save({"init": init, "final": {n: getattr(model, "net" + n).state_dict() for n in "GDF"},
            "patch_ids": drawn, "losses": losses}, out_path)
'''


def nce_layer_index(role: str) -> int:
    """Our named NCE layer -> the reference's index into its sequential G (anti-aliased down-sampling)."""
    fixed = {"input": 0, "down1": 4, "down2": 8}
    if role in fixed:
        return fixed[role]
    if role.startswith("block"):
        return 11 + int(role[len("block"):])
    raise ValueError(f"no reference index for NCE layer {role!r}")


def reference_args(cfg, root: Path, name: str, checkpoints: Path) -> list[str]:
    """The reference's train.py options equivalent to our resolved ``cfg`` (steps a whole number of epochs)."""
    d, m, t = cfg.data, cfg.model, cfg.train
    per_epoch = d.synthetic.n_train // d.batch_size
    if t.steps % per_epoch or t.decay_steps % per_epoch:
        raise ValueError(f"train.steps={t.steps} and decay_steps={t.decay_steps} must be whole epochs of "
                         f"{per_epoch} steps for the reference")
    if not (m.antialias and m.gan_mode == "lsgan" and m.nce_idt and not m.flip_equivariance):
        raise ValueError("only the CUT setting (anti-aliased down-sampling, LSGAN, identity NCE, no flips) is mapped")
    opts = {
        "dataroot": root, "name": name, "checkpoints_dir": checkpoints, "model": "cut", "CUT_mode": "CUT",
        "gpu_ids": -1, "display_id": 0, "num_threads": 0, "batch_size": d.batch_size,
        "load_size": d.load_size, "crop_size": d.crop_size, "preprocess": d.preprocess,
        "ngf": m.ngf, "ndf": m.ndf, "netG": f"resnet_{m.n_blocks}blocks", "n_layers_D": m.n_layers_d,
        "netD": "n_layers", "init_gain": m.init_gain, "lambda_GAN": m.lambda_gan, "lambda_NCE": m.lambda_nce,
        "nce_T": m.nce_t, "nce_layers": ",".join(str(nce_layer_index(r)) for r in m.nce_layers),
        "num_patches": m.num_patches, "netF_nc": m.netf_nc, "lr": t.lr, "beta1": t.beta1, "beta2": t.beta2,
        "n_epochs": (t.steps - t.decay_steps) // per_epoch, "n_epochs_decay": t.decay_steps // per_epoch,
        "print_freq": d.batch_size,  # a loss line every step (the reference logs single steps, not means)
        # G, D, F every ckpt_every steps as iter_<images>_net_*.pth (--save_by_iter), and at the end
        "display_freq": 10**9, "save_latest_freq": t.ckpt_every * d.batch_size, "save_epoch_freq": t.steps // per_epoch,
    }
    args = [f"--{k}={v}" for k, v in opts.items()] + ["--no_html", "--save_by_iter"]
    # model.antialias_up=false is the reference's --no_antialias_up: ConvTranspose2d up-sampling in both
    return args + ([] if d.flip else ["--no_flip"]) + ([] if m.antialias_up else ["--no_antialias_up"])


_LINE = re.compile(r"\(epoch: (\d+), iters: (\d+),[^)]*\) (.*)")


def read_reference_log(path: Path, batch_size: int, per_epoch: int) -> list[dict]:
    """loss_log.txt -> one dict per logged step: {"step": global step (1-based), "G_GAN": ..., ...}."""
    rows = []
    for line in path.read_text().splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        epoch, iters, rest = int(match[1]), int(match[2]), match[3].split()
        row = {"step": (epoch - 1) * per_epoch + iters // batch_size}
        row.update({k.rstrip(":"): float(v) for k, v in zip(rest[::2], rest[1::2])})
        rows.append(row)
    return rows


def map_by_position(module: torch.nn.Module, theirs: dict, what: str) -> dict:
    """The reference's state dict renamed to ``module``'s keys, matched by position and checked by shape.

    Our G, D and F list the same tensors in the same order as the reference's (G: stem, down convs and blur
    filters, residual blocks, up blur filters and convs, last conv; D: the PatchGAN convs and blur filters;
    F: each layer's MLP), so position is the mapping; a forward check then confirms it.
    """
    ours = module.state_dict()
    if len(theirs) != len(ours):
        raise ValueError(f"{what}: {len(theirs)} tensors, ours has {len(ours)}")
    mapped = {}
    for (k_ours, v_ours), (k_theirs, v_theirs) in zip(ours.items(), theirs.items()):
        if v_ours.shape != v_theirs.shape or k_ours.rsplit(".", 1)[1] != k_theirs.rsplit(".", 1)[1]:
            raise ValueError(f"{what}: {k_theirs} {tuple(v_theirs.shape)} does not match our "
                             f"{k_ours} {tuple(v_ours.shape)}")
        mapped[k_ours] = v_theirs
    return mapped


def load_reference_generator(path: Path, ngf: int, n_blocks: int, antialias_up: bool = True) -> ResnetGenerator:
    """The reference's saved ``*_net_G.pth`` in our ResnetGenerator (see map_by_position)."""
    G = ResnetGenerator(ngf=ngf, n_blocks=n_blocks, antialias_up=antialias_up)
    G.load_state_dict(map_by_position(G, torch.load(path, map_location="cpu", weights_only=True), str(path)))
    return G.eval()
