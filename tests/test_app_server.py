"""Web demo over HTTP: a launched server on 127.0.0.1 answers gradio_client calls like the CLI would."""
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from translate.app import Limits, launch_demo
from translate.cli import main


@pytest.fixture(scope="module")
def server(smoke_run):
    demo, url = launch_demo(ckpt=smoke_run, device="cpu", limits=Limits(max_upload_mb=1), block=False, quiet=True)
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    return Client(server[1], verbose=False, download_files=True)


def test_server_binds_loopback(server):
    assert server[1].startswith("http://127.0.0.1:")


def test_client_call_is_bit_exact_with_cli_apply(server, client, smoke_run, tmp_path):
    src = tmp_path / "scene.png"
    arr = (np.random.default_rng(3).random((29, 37, 3)) * 255).astype(np.uint8)  # odd size: padded and cropped
    Image.fromarray(arr).save(src)
    label = server[0].translator.catalog.labels[0]
    out_path, download, status, (before, after) = client.predict(handle_file(str(src)), label, 0, api_name="/translate")
    assert main(["apply", "--ckpt", str(smoke_run), str(src), "--out", str(tmp_path / "cli"), "--device", "cpu"]) == 0
    cli = np.asarray(Image.open(tmp_path / "cli" / "scene.png"))
    assert download["visible"] is True
    for path in (out_path, download["value"]):
        with Image.open(path) as img:
            assert img.format == "PNG" and img.size == (37, 29)
            web = np.asarray(img)
        assert np.array_equal(web, cli)
    assert "37×29" in status and "CPU" in status
    assert np.array_equal(np.asarray(Image.open(before)), arr) and np.array_equal(np.asarray(Image.open(after)), cli)


def test_client_gets_a_message_for_a_bad_upload(server, client, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("plain text, not pixels\n")
    label = server[0].translator.catalog.labels[0]
    with pytest.raises(Exception, match="notes.png: not an image this demo can read"):
        client.predict(handle_file(str(bad)), label, 0, api_name="/translate")


def test_client_cannot_name_a_checkpoint_path(server, client, smoke_run, tmp_path):
    src = tmp_path / "a.png"
    Image.new("RGB", (16, 16), (10, 200, 30)).save(src)
    with pytest.raises(Exception) as err:
        client.predict(handle_file(str(src)), str(smoke_run / "ckpt" / "latest.pt"), 0, api_name="/translate")
    assert "Traceback" not in str(err.value)


def test_refined_call_is_bit_exact_with_cli_apply_refine_steps(server, client, smoke_run, tmp_path):
    src = tmp_path / "r.png"
    Image.fromarray((np.random.default_rng(5).random((24, 40, 3)) * 255).astype(np.uint8)).save(src)
    label = server[0].translator.catalog.labels[0]
    out_path, _, status, _ = client.predict(handle_file(str(src)), label, 2, api_name="/translate")
    assert main(["apply", "--ckpt", str(smoke_run), str(src), "--out", str(tmp_path / "cli"), "--device", "cpu",
                 "--refine-steps", "2"]) == 0
    assert np.array_equal(np.asarray(Image.open(out_path)), np.asarray(Image.open(tmp_path / "cli" / "r.png")))
    assert "2 refinement step(s)" in status
