"""The bench's services listen below the ephemeral range: a port picked inside it could be
taken, before its service binds, as the local end of another process's connection."""

from __future__ import annotations

import socket

from sanzheng.embedded import free_port_block


def test_a_port_block_is_free_and_below_the_ephemeral_range() -> None:
    base = free_port_block(7)
    assert base >= 20_000 and base + 7 <= 32_000
    held = []
    try:
        for port in range(base, base + 7):
            s = socket.socket()
            s.bind(("127.0.0.1", port))  # each of them binds
            held.append(s)
        assert free_port_block(7) not in range(base - 6, base + 7), "a held port is not free"
    finally:
        for s in held:
            s.close()
