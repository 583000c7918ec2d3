"""The notifier's worker: a hanging service never holds up the publisher, the intake drops its
oldest item when full (said in the next message), the stop waits at most its timeout, and no
URL part reaches a log record."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from actors.messages.events import EngineEvent
from engine.notify.delivery import SecretRedactor, mask_url, read_urls, secrets_of
from engine.notify.notices import NoticeMaker
from engine.notify.notifier import Notifier
from engine.notify.outbox import Message, Outbox

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 16, 10, 0, tzinfo=NY)


class HangingService:
    """A send that blocks until released; records what it got."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.got: list[Message] = []
        self.done = threading.Condition()

    def __call__(self, message: Message) -> bool:
        self.entered.set()
        self.release.wait(30)
        with self.done:
            self.got.append(message)
            self.done.notify_all()
        return True

    def wait_count(self, count: int) -> list[Message]:
        with self.done:
            self.done.wait_for(lambda: len(self.got) >= count, 10)
            return list(self.got)


@pytest.fixture
def service() -> Iterator[HangingService]:
    hanging = HangingService()
    yield hanging
    hanging.release.set()


def notifier(send: HangingService, queue_size: int = 100) -> Notifier:
    maker = NoticeMaker(
        tz=NY,
        min_fill_quantity=1,
        disconnect_after_s=60,
        max_margin_pct=50,
        margin_near_pct=80,
        excess_liquidity_min_pct=10,
    )
    return Notifier(
        maker=maker,
        outbox=Outbox(name="main", min_interval_s=0),
        send=send,
        now=lambda: T0,
        kinds=("trading_state",),
        queue_size=queue_size,
    )


def halt(n: int) -> EngineEvent:
    return EngineEvent(
        "risk", f"state: halt {n}", T0, None, (("risk_kind", "state"), ("state", "HALTED"))
    )


def test_a_hanging_service_never_holds_up_the_publishing_thread(service: HangingService) -> None:
    notify = notifier(service)
    notify.start()
    notify(halt(0))
    assert service.entered.wait(10), "the worker is inside the hanging send"
    publisher = threading.Thread(target=lambda: [notify(halt(n)) for n in range(1, 1000)])
    publisher.start()
    publisher.join(10)
    assert not publisher.is_alive(), "publishing waited on the service"
    service.release.set()
    assert notify.close(5)


def test_a_full_intake_drops_its_oldest_items_and_the_next_message_says_so(
    service: HangingService,
) -> None:
    notify = notifier(service, queue_size=3)
    notify.start()
    notify(EngineEvent("risk", "state: first", T0, None, (("risk_kind", "state"), ("state", "X"))))
    assert service.entered.wait(10)
    for n in range(8):  # 3 fit; the 5 oldest are dropped
        notify(
            EngineEvent(
                "risk", f"state: r{n}", T0, None, (("risk_kind", "state"), ("state", f"S{n}"))
            )
        )
    service.release.set()
    second = service.wait_count(2)[1]
    assert [line.split(": ", 1)[1] for line in second.body.splitlines()[:3]] == ["r5", "r6", "r7"]
    assert "5 older notice(s) dropped: the queue was full" in second.body
    assert notify.dropped == 5
    assert notify.close(5)


def test_the_stop_waits_at_most_its_timeout_for_a_hanging_service(service: HangingService) -> None:
    notify = notifier(service)
    notify.start()
    notify.tell_now("session summary", kind="summary")
    assert service.entered.wait(10)
    assert notify.close(0.2) is False, "gave up on the hanging send instead of waiting for it"


def test_urls_are_read_from_the_variable_and_only_ever_shown_masked() -> None:
    urls = read_urls({"N": " tgram://123:ABCsecret/42 , json://host:8080/hook/T0KEN "}, "N")
    assert urls == ("tgram://123:ABCsecret/42", "json://host:8080/hook/T0KEN")
    assert [mask_url(u) for u in urls] == ["tgram://**** (16 chars)", "json://**** (20 chars)"]
    assert read_urls({}, "N") == ()


def test_the_redactor_blanks_every_url_part_in_a_log_record() -> None:
    secrets = secrets_of(["json://host:8080/hook/T0KENsecret", "tgram://123:ABCsecret/42"])
    record = logging.LogRecord(
        "urllib3.connectionpool", logging.DEBUG, __file__, 1,
        'http://host:8080 "POST /hook/%s HTTP/1.1" 200 (bot %s)', ("T0KENsecret", "123:ABCsecret"),
        None,
    )  # fmt: skip
    assert SecretRedactor(secrets).filter(record)
    text = record.getMessage()
    assert "T0KENsecret" not in text and "ABCsecret" not in text and "****" in text
