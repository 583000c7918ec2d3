"""Brokers behind one seam: the ``Broker`` protocol and its events (``broker.base``), the
in-process market simulator (``broker.sim``), and the Interactive Brokers adapter."""
