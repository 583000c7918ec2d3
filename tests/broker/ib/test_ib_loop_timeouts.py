"""The ib-loop's timeouts say the wall time really waited (issue 15, item 12)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import pytest

from broker.ib.loop import LoopThread


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread("ib-loop")
    thread.start()
    yield thread
    thread.stop()


def test_a_timeout_the_coroutine_raises_itself_says_the_wall_time_not_the_budget(
    loop_thread: LoopThread,
) -> None:
    # A connect that times out after 0.2 s inside a 30 s budget: the message said
    # "no answer from ib-loop within 30.0s" after 0.2 s.
    async def connect() -> None:
        await asyncio.sleep(0.2)
        raise TimeoutError("connect timed out")

    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        loop_thread.run(connect(), 30.0)
    waited = time.monotonic() - started
    assert waited < 5.0
    message = str(caught.value)
    assert "30.0" not in message
    match = re.fullmatch(r"ib-loop: connect timed out after (\d+\.\d)s", message)
    assert match is not None, message
    assert abs(float(match.group(1)) - waited) < 0.2


def test_a_coroutine_that_does_not_answer_in_time_is_reported_with_the_time_waited(
    loop_thread: LoopThread,
) -> None:
    async def silent() -> None:
        await asyncio.sleep(60)

    with pytest.raises(TimeoutError) as caught:
        loop_thread.run(silent(), 0.3)
    match = re.fullmatch(r"no answer from ib-loop within (\d+\.\d)s", str(caught.value))
    assert match is not None, str(caught.value)
    assert 0.3 <= float(match.group(1)) < 3.0
