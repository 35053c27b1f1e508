"""A TCP relay between a client and a real server that can hold the server's answers on their
way back: a test makes a read's answer arrive after something it wants to happen first."""

from __future__ import annotations

import asyncio
import contextlib


class Relay:
    """Forwards TCP both ways; answers from the server pass only while ``answers`` is set."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.answers = asyncio.Event()
        self.answers.set()
        self.held = asyncio.Event()  # an answer arrived while answers were stopped
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, gated: bool
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                if gated and not self.answers.is_set():
                    self.held.set()
                    await self.answers.wait()
                dst.write(data)
                await dst.drain()
        dst.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, up_writer]
        for task in (
            asyncio.create_task(self._pipe(reader, up_writer, gated=False)),
            asyncio.create_task(self._pipe(up_reader, writer, gated=True)),
        ):
            self._tasks.add(task)

    async def close(self) -> None:
        self.answers.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
