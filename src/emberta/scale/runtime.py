"""Connecting to Ray: the optional import, a local cluster when no address is given, and an unreachable address
caught within seconds (Ray itself would keep retrying for a minute).

Without an address Ray starts on this machine, on the loopback interface, with no dashboard and no usage
statistics. emberta must be installed on every node of a remote cluster (the same version, e.g. through the
cluster's image or `runtime_env`), since the workers import it to read inputs and load the model.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from emberta.errors import OptionError

EXTRA_HINT = "install the Ray extra: pip install 'emberta[ray]'"
CONNECT_TIMEOUT_S = 5.0
DEFAULT_GCS_PORT = 6379
DEFAULT_CLIENT_PORT = 10001


def import_ray():
    """The `ray` module, or an OptionError naming the `emberta[ray]` extra when Ray is not installed."""
    try:
        import ray
        import ray.data  # Ray Data is part of the extra (ray[data])
    except ImportError as exc:
        raise OptionError(f"--engine ray needs Ray Data, which is not installed ({exc}); {EXTRA_HINT}") from None
    return ray


def check_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise OptionError unless a TCP connection to the cluster at `address` ("HOST:PORT" of the head's GCS, or
    "ray://HOST:PORT" for Ray Client) opens within `timeout` seconds. "auto" and "local" are left to Ray."""
    if address in ("auto", "local"):
        return
    client = address.startswith("ray://")
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port or (DEFAULT_CLIENT_PORT if client else DEFAULT_GCS_PORT)
    except ValueError:
        host, port = None, None
    if not host:
        raise OptionError(f"--ray-address {address!r}: expected HOST:PORT (the head node's `ray start --head` "
                          "address, e.g. 10.0.0.5:6379) or ray://HOST:10001")  # fmt: skip
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise OptionError(
            f"--ray-address {address}: no Ray cluster answers at {host}:{port} ({reason}); start one with "
            "`ray start --head` and pass the address it prints, or drop --ray-address to run on this machine"
        ) from None


@contextmanager
def ray_session(address: str | None = None) -> Iterator[object]:
    """Connect to the cluster at `address` (None: start Ray on this machine) for the block; yields the `ray`
    module. A connection this call opened is closed at the end; one already open is reused and left open."""
    ray = import_ray()
    logging.getLogger("ray").setLevel(logging.ERROR)  # Ray's start-up notices; errors still show
    if ray.is_initialized():
        yield ray
        return
    if address is not None:
        check_address(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options: dict = {"log_to_driver": False, "configure_logging": False}
    if address is None:
        options.update(include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        ray.init(address=address, **options)
    except (ConnectionError, TimeoutError, RuntimeError) as exc:
        raise OptionError(f"--ray-address {address}: cannot connect to Ray ({' '.join(str(exc).split())}); check "
                          "the address `ray start --head` printed") from None  # fmt: skip
    try:
        _quiet_progress(ray)
        yield ray
    finally:
        ray.shutdown()


def _quiet_progress(ray) -> None:
    """Ray Data's own progress bars and logs off: emberta shows one bar of rows written."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.verbose_stats_logs = False
    for handler in logging.getLogger("ray.data").handlers:  # the console ones; the session log file keeps all
        if isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.ERROR)
