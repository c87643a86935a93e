"""How `cais serve` hands the resolved settings to its serving processes: by reference, never
in their environment (which other processes of the same user, `ps e` and crash reports can
read). The settings, secrets included (the S3 secret key, a database password), are written to
an anonymous in-memory file (memfd) that the serving processes inherit as a descriptor; only
its number travels in the environment. The CAIS_<SECTION>__<KEY> variables that gave settings
are removed from their environment too: the handed-over settings hold every value."""

from __future__ import annotations

import json
import os

from .config import Settings

FD_ENV = "CAIS_RESOLVED_CONFIG_FD"


def hand_over(settings: Settings) -> int:
    """Write the settings for the serving processes; returns the descriptor they inherit."""
    fd = os.memfd_create("cais-settings", 0)
    os.set_inheritable(fd, True)  # the exec'd process and its workers keep it
    data = json.dumps(settings.to_dict(reveal_secrets=True)).encode()
    written = 0
    while written < len(data):
        written += os.write(fd, data[written:])
    os.environ[FD_ENV] = str(fd)
    for name in [name for name in os.environ if name.lower().startswith("cais_") and "__" in name]:
        del os.environ[name]
    return fd


def inherited() -> int:
    """The descriptor a serving process got (its children get it too)."""
    return int(os.environ[FD_ENV])


def received() -> Settings:
    size = os.fstat(inherited()).st_size
    return Settings.from_json(os.pread(inherited(), size, 0).decode())
