"""TLS for `cais serve`: a server context whose certificate follows its files.

Certificates are renewed in place (certbot, cert-manager, an ACME client writing new PEM files
or swapping a symlink), so the files are looked at again on every TLS handshake: a stat of each,
no read while they are unchanged. When they changed, a fresh context is built from them and
the handshake switches to it (`sni_callback` may set the connection's context; OpenSSL calls it
for every ClientHello, with or without a server name). Connections already open keep their
certificate. A pair that does not load (a renewal caught between writing the certificate and
the key, a file briefly missing) leaves the previous certificate in service and is tried again
once the files change again.
"""

from __future__ import annotations

import logging
import os
import ssl

log = logging.getLogger("cais.tls")

Signature = tuple[tuple[int, int, int], ...] | None


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """A context serving `cert` (PEM, chain allowed) with `key`; ssl.SSLError or OSError when
    the files are unusable (unreadable, not PEM, a key that does not match the certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _signature(paths: tuple[str, ...]) -> Signature:
    try:
        found = [os.stat(path) for path in paths]
    except OSError:
        return None
    return tuple((entry.st_mtime_ns, entry.st_size, entry.st_ino) for entry in found)


class ReloadingContext:
    """The context uvicorn listens with; each handshake gets the newest usable certificate."""

    def __init__(self, cert: str, key: str) -> None:
        self.files = (cert, key)
        self._seen = _signature(self.files)
        self.context = server_context(cert, key)
        self.context.sni_callback = self._handshake
        self._current = self.context

    def _handshake(self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext) -> None:
        self.refresh()
        if self._current is not self.context:
            connection.context = self._current

    def refresh(self) -> None:
        """Load the files again if they changed since they were last looked at."""
        signature = _signature(self.files)
        if signature is None or signature == self._seen:
            return
        self._seen = signature
        try:
            self._current = server_context(*self.files)
        except (OSError, ssl.SSLError) as exc:
            log.warning("keeping the current TLS certificate: the new files do not load: %s", exc)
            return
        log.info("TLS certificate reloaded from %s", self.files[0])
