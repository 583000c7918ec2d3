"""Interactive Brokers through ib_async, for TWS and IB Gateway.

``IBBroker`` implements ``broker.base.Broker`` on its own asyncio loop thread (``loop``).
Modules: ``parsing`` (pure ib_async <-> domain mappers), ``safety`` (live-trading refusal),
``errors`` (what each IB code means here), ``resilience`` (backoff, pacing, stale-data
watchdog, link health), ``flow`` (executions once each with their commission, statuses after
their executions), ``context`` (options and the loop-side shared state), ``connection``
(connect, reconnect, errors, housekeeping), ``orders`` (the order desk, built from its
parts: ``order_statuses``, ``order_sending`` (paced writes to IB), ``brackets`` (an entry held
until its attached stop arrives), ``order_checks`` (acknowledgements, fresh reads,
modifications until IB echoes them), ``order_sync`` (an earlier run's orders, statuses after a
reconnect)), ``order_state`` (tracked orders, the shared order table, the paced outbox),
``parts`` (the loop-side parts, wired), ``market_data``, ``account`` (account
values, positions, expiry and assignment inferred from them), ``loop`` (the asyncio thread),
``broker`` (the thread-safe facade).
"""

from __future__ import annotations

from broker.ib.broker import IBBroker
from broker.ib.context import IbOptions
from broker.ib.safety import LiveTradingRefused, check_account, check_port

__all__ = ["IBBroker", "IbOptions", "LiveTradingRefused", "check_account", "check_port"]
