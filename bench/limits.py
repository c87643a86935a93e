"""The machine's own limits, for the rows they bound: sha256 on one core, disk write with
fsync, and loopback TCP."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path

from storage.drivers.filesystem import start_writeback

MiB = 1 << 20
BLOCK = 4 * MiB


def sha256_mib_s(total: int) -> float:
    block = os.urandom(min(total, 64 * MiB))
    hasher = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(max(1, total // len(block))):
        hasher.update(block)
    return max(1, total // len(block)) * len(block) / MiB / (time.perf_counter() - started)


def disk_write_mib_s(directory: Path, total: int) -> float:
    block = os.urandom(min(total, BLOCK))
    path = directory / "limit-disk.tmp"
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for i in range(total // len(block)):
            os.write(fd, block)
            start_writeback(fd, i * len(block), len(block))  # as Cais writes uploads
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - started
    path.unlink()
    return total // len(block) * len(block) / MiB / seconds


def loopback_mib_s(total: int) -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    received = [0]

    def drain() -> None:
        conn, _ = listener.accept()
        buf = memoryview(bytearray(MiB))
        with conn:
            while got := conn.recv_into(buf):
                received[0] += got

    thread = threading.Thread(target=drain)
    thread.start()
    block = memoryview(os.urandom(MiB))
    started = time.perf_counter()
    with socket.create_connection(listener.getsockname()) as sender:
        for _ in range(total // MiB):
            sender.sendall(block)
    thread.join()
    seconds = time.perf_counter() - started
    listener.close()
    return received[0] / MiB / seconds


def measure(directory: Path, total: int) -> dict[str, float]:
    return {
        "sha256": sha256_mib_s(total),
        "disk": disk_write_mib_s(directory, total),
        "loopback": loopback_mib_s(total),
    }
