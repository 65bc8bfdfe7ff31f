"""Serving the web demo: ``launch_demo`` builds the page and starts Gradio's server on it.

Local by default (127.0.0.1, no share link). The upload limit is enforced twice: by Gradio's server
(``max_file_size``, before the file is stored) and by the translator (before the image is decoded).
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path

from translate.app.predict import Limits
from translate.app.ui import DEMO_CSS, build_demo, demo_theme
from translate.errors import TranslateError

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """Raise TranslateError when ``port`` cannot be bound on ``host`` (in use, or not allowed)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise TranslateError(f"--host {host}: not an address of this machine ({e.strerror or e})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: a closed port in TIME_WAIT is free
        try:
            s.bind(addr)
        except OSError as e:
            raise TranslateError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror or e}); another "
                                 "program (or demo) uses it: choose another port, or omit --port to take the "
                                 "next free one from 7860") from None


def launch_demo(runs_dir: str | Path | None = None, ckpt: str | Path | None = None, *, host: str = "127.0.0.1",
                port: int | None = None, share: bool = False, device: str = "auto", limits: Limits = Limits(),
                block: bool = True, quiet: bool = False):
    """Build and serve the demo; returns ``(demo, local_url)`` (after the server stops when ``block``)."""
    if port is not None:
        check_port(host, port)  # before the checkpoints load, so a busy port fails in a second
    demo = build_demo(runs_dir, ckpt, device=device, limits=limits)
    if not _is_loopback(host):
        log.warning("demo: listening on %s, so other machines can reach this page", host)
    if share:
        log.warning("demo: --share creates a public link through Gradio's share servers")
    try:
        _, url, share_url = demo.launch(
            server_name=host, server_port=port, share=share, prevent_thread_lock=True, quiet=quiet,
            max_file_size=int(limits.max_upload_mb * 2**20), show_error=False, ssr_mode=False,
            theme=demo_theme(), css=DEMO_CSS, footer_links=["api"])
    except OSError as e:  # the port was taken meanwhile, or no free port was found from 7860 on
        demo.close()
        raise TranslateError(f"demo: cannot start the server on {host}:{port or 'any port from 7860'} ({e}); "
                             "choose another --port") from None
    log.info("demo: serving on %s%s", url, f" and {share_url}" if share_url else "")
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo, url
