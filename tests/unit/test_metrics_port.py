"""A second worker on a taken metrics port says so in one line (it was an OSError traceback)."""

import socket

import pytest

from foundation.errors import PobiError
from pobi.worker.app import serve_metrics


def test_a_taken_metrics_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PobiError, match=f"cannot serve metrics on 127.0.0.1:{port}: Address already in use; "
                                            "is another pobi worker running"):
            serve_metrics("127.0.0.1", port, "")
