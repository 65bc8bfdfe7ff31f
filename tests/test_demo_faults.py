"""translate demo: a port already in use is a one-line error, found before any checkpoint is loaded."""
import socket

from translate.cli import main


def test_port_in_use_is_a_one_line_error(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["demo", "--runs", str(tmp_path), "--port", str(port), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"--port {port}" in err and "choose another port" in err and len(err.strip().splitlines()) == 1
