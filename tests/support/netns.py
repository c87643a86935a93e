"""A private network namespace for the calling thread: what a test starts from it (dockerd, a
Cais, the containers of a swarm) lives in a network of its own, with only a loopback, and
whatever it creates there (Docker Swarm's docker_gwbridge bridge and ingress overlay, their VXLAN
socket) vanishes with it instead of staying on the machine. Needs root, as dockerd does.

Linux keeps the network namespace per thread: only this thread moves (and the processes it
starts from then on), and it returns to the machine's network on the way out."""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


@contextmanager
def private_network() -> Iterator[None]:
    libc = ctypes.CDLL(None, use_errno=True)
    machine = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            _loopback_up()
            yield
        finally:
            _check(libc.setns(machine, CLONE_NEWNET), "setns back to the machine's network")
    finally:
        os.close(machine)


def machine_interfaces() -> set[str]:
    """The network interfaces of the machine's namespace (PID 1's), wherever the caller is."""
    with open("/proc/1/net/dev") as dev:
        return {line.split(":")[0].strip() for line in dev.readlines()[2:]}
