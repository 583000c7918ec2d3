"""The engine's operations from the command line: ``main.py status``, ``health`` and ``stop``
(one-shot clients of the control channel, ``engine.control.client.Connection``) and ``main.py
run`` with its dashboard (``run_attached``: the headless engine started as a child process,
the dashboard attached to it over the socket).

``main.py`` builds its parser with ``arguments`` (light) and imports the command it runs:

* ``arguments``: the options of status, health and stop;
* ``target``: which socket a command talks to;
* ``status`` and ``status_text``: status and health, and what they print;
* ``stop``: stop and wait until the engine has gone;
* ``run_attached``: ``main.py run`` without ``--headless``.

Nothing is imported here, so that building the parser stays light.
"""

from __future__ import annotations

__all__: list[str] = []
