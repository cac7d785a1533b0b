"""An httpx transport made of several small connection pools.

httpcore's pool looks at every queued request × every connection each time a request
starts or ends, so one pool of hundreds of connections spends more CPU on bookkeeping than
on HTTP. Shards of a few connections each, picked by fewest requests in flight, keep the
same total concurrency with none of that cost. The client in front stays a single
``httpx.AsyncClient``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx


class _Counted(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._stream, self._done, self._closed = stream, done, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                await self._stream.aclose()
            finally:
                self._done()


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, connections: int, per_shard: int = 4, **kw: object) -> None:
        n = max(1, -(-connections // per_shard))
        per = max(1, -(-connections // n))
        limits = httpx.Limits(max_connections=per, max_keepalive_connections=per,
                              keepalive_expiry=30)
        kw.setdefault("verify", httpx.create_ssl_context())  # one context, not one per shard
        self._shards = [httpx.AsyncHTTPTransport(limits=limits, **kw)  # type: ignore[arg-type]
                        for _ in range(n)]
        self._busy = [0] * n

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        busy = self._busy
        i = min(range(len(busy)), key=busy.__getitem__)
        busy[i] += 1

        def done() -> None:
            busy[i] -= 1

        try:
            resp = await self._shards[i].handle_async_request(request)
        except BaseException:
            done()
            raise
        assert isinstance(resp.stream, httpx.AsyncByteStream)
        return httpx.Response(resp.status_code, headers=resp.headers,
                              stream=_Counted(resp.stream, done), extensions=resp.extensions)

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()
