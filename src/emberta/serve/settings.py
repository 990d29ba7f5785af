"""Limits and switches of one server, and the bind policy: who may reach it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from emberta.errors import OptionError


@dataclass(frozen=True)
class ServeSettings:
    """Limits and switches of one server."""

    api_key: str | None = None
    max_inputs: int = 2048
    max_input_chars: int = 32_768
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_tokens: int = 16_384
    max_queue_texts: int = 8192
    cors_origins: tuple[str, ...] = field(default_factory=tuple)


def is_loopback(host: str) -> bool:
    """Whether binding `host` (an IP address or "localhost") is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, api_key: str | None, insecure: bool = False) -> None:
    """Refuse (OptionError) to serve a non-loopback `host` without an API key, unless `insecure`."""
    if not is_loopback(host) and not api_key and not insecure:
        raise OptionError(
            f"--host {host} is reachable from other machines; give an API key (--api-key or EMBERTA_API_KEY) or "
            "pass --insecure to serve it without one"
        )
