"""Running emberta's batch jobs on existing distributed engines (Ray Data), with the same outputs as a local run."""

from __future__ import annotations

from emberta.scale.encode import RayEncodeReport, encode_on_ray
from emberta.scale.inputs import ReaderArgs, expand_inputs
from emberta.scale.ray_engine import RayEncoder
from emberta.scale.runtime import check_address, ray_session

__all__ = [
    "RayEncodeReport",
    "RayEncoder",
    "ReaderArgs",
    "check_address",
    "encode_on_ray",
    "expand_inputs",
    "ray_session",
]
