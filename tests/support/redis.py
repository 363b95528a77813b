"""A real redis-server (Debian package) on a loopback port, for shared-state tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from tests.support.ports import free_port

REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisProcess:
    """redis-server without persistence, bound to 127.0.0.1 on a free port."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Self:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        log = (self.tmp_dir / "redis.log").open("wb")
        self._process = subprocess.Popen(
            [
                REDIS_BIN,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """Stop Redis abruptly, as an outage would."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=5)

    def stop(self) -> None:
        self.kill()
