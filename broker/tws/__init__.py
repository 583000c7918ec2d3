"""A TWS API server (wire protocol version 178) backed by the in-process market simulator.

``TwsSimServer`` speaks the real socket protocol, so ib_async and IB's official client connect
to it as to TWS / IB Gateway, while quotes, fills, positions and the account come from
``broker.sim`` (``SimBroker`` on a ``VirtualClock`` and ``TradingCalendar``). Tests inject faults
through the server's methods; ``run_tws_sim`` is the ``main.py tws-sim`` command.

Modules: ``codec`` (framing, fields), ``messages`` (short messages), ``order_parsing``
(placeOrder), ``order_codec`` (openOrder/completedOrder/execDetails), ``contracts``,
``options`` (listed options, chains, the stock-and-option resolver), ``market_data``,
``account`` and ``account_values`` (the account by contract, stocks and options, and its tags)
and ``feeds`` (account subscriptions), ``order_records``, ``order_admission``,
``order_reports`` and ``orders`` (the order desk), ``faults``, ``session`` (handshake,
startApi), ``requests`` (dispatch), ``server`` and ``server_run`` (one start: the loop thread,
the listener), ``settings``, ``runner`` (command line), ``state``, ``state_codec`` and
``state_fields`` (the state file kept across restarts), ``scenario`` and ``drill_book`` (fault
drills from a TOML file).
"""
