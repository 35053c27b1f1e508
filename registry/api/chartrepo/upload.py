"""Reading an upload's body: ``multipart/form-data`` with the fields ``chart`` (and ``prov``)
as Harbor's portal and the cm-push plugin send it, or the raw archive as ``curl
--data-binary`` does. Bodies are spooled and bounded; nothing is kept whole in memory."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from registry.api.chartrepo.errors import ChartRepoError
from registry.services.chart import ChartFile, file_of, spool_stream
from registry.services.errors import ChartTooLarge

# Room for the multipart framing around the files.
_FRAMING_BYTES = 64 * 1024


@dataclass
class Upload:
    chart: ChartFile | None
    prov: ChartFile | None
    filename: str | None

    def close(self) -> None:
        for file in (self.chart, self.prov):
            if file is not None:
                file.stream.close()


def _content_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    return int(text) if text is not None and text.isdigit() else None


async def _bounded(chunks: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise ChartTooLarge(f"the upload is larger than the {limit} byte limit")
        yield chunk


async def read_upload(request: Request, limit: int, *, prov_only: bool = False) -> Upload:
    """The chart (and provenance file) of an upload; ``prov_only`` for ``POST .../prov``,
    where the single file is the provenance file."""
    body_limit = (limit if prov_only else 2 * limit) + _FRAMING_BYTES
    length = _content_length(request)
    if length is not None and length > body_limit:
        raise ChartTooLarge(f"the upload is larger than the {limit} byte limit")
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raw = await spool_stream(request.stream(), limit, "upload")
        return Upload(None, raw, None) if prov_only else Upload(raw, None, None)
    parser = MultiPartParser(
        request.headers, _bounded(request.stream(), body_limit), max_files=2, max_fields=8
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ChartRepoError(f"the multipart body cannot be read: {exc.message}") from None
    files: dict[str, UploadFile] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            files.setdefault(key, value)
    upload = Upload(None, None, None)
    try:
        if prov_only:
            part = files.get("prov") or files.get("chart")
            if part is None:
                raise ChartRepoError("the form has no prov file")
            upload.prov = file_of(part.file, limit, "provenance file")
            return upload
        chart = files.get("chart")
        if chart is None:
            raise ChartRepoError("the form has no chart file")
        upload.chart = file_of(chart.file, limit, "chart")
        upload.filename = chart.filename
        if (prov := files.get("prov")) is not None:
            upload.prov = file_of(prov.file, limit, "provenance file")
    except BaseException:
        await form.close()
        raise
    return upload
