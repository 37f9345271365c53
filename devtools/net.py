"""Loopback TCP helpers that need no client library.

They exist for the moments before a Kafka client can be used: to see whether a
port is taken before a broker is started on it, and whether the broker's socket
is open yet. A Kafka client would retry and log on its own instead of answering.
"""

from __future__ import annotations

import errno
import socket
import struct

HOST = "127.0.0.1"


def probe_connect(port: int, timeout: float, host: str = HOST) -> socket.socket:
    """Connect to ``host:port`` without ever keeping the port from being bound later.

    Hazard (seen on port 49092): while nothing listens on a port inside the kernel's
    ephemeral range, a local connect() can be given that very port as its source port and
    TCP "self-connects". That socket -- and afterwards its TIME_WAIT, for a minute -- then
    owns the port and a broker started on it fails with "Address already in use".
    SO_REUSEADDR on our side lets Kafka's listener (which also sets it) bind over such a
    socket, and a detected self-connect is reset instead of closed politely, so it leaves
    no TIME_WAIT at all.

    Parameters
    ----------
    port
        The port.
    timeout
        Seconds for the connect.
    host
        The address.

    Returns
    -------
    socket.socket
        The connected socket; the caller closes it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
        if sock.getsockname() == sock.getpeername():
            raise ConnectionRefusedError(errno.ECONNREFUSED, "self-connect, nobody listening")
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        raise
    return sock


def port_in_use(port: int, host: str = HOST) -> bool:
    """True if something accepts connections on ``host:port``."""
    try:
        probe_connect(port, 0.5, host).close()
    except OSError:
        return False
    return True


def ephemeral_port_range() -> tuple[int, int] | None:
    """The kernel's range for automatic source ports (Linux), or None if unknown."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low, high = fh.read().split()
    except (OSError, ValueError):
        return None
    return int(low), int(high)


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (there is a small race until the caller binds it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
