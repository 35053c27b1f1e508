"""How big a chart Berth takes: a packaged chart is read whole before it is stored, so every
dimension of it is bounded."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ChartLimits(BaseModel):
    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, description="largest .tgz (or .prov) upload"
    )
    max_unpacked_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, description="largest total of a chart's unpacked files"
    )
    max_file_bytes: int = Field(
        default=5 * 1024 * 1024, gt=0, description="largest single file inside a chart"
    )
    max_entries: int = Field(default=5000, gt=0, description="most entries in a chart archive")
