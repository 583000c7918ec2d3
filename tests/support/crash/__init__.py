"""Crash harness: SIGKILL the engine at random moments while it trades through the simulated
TWS, restart it, and check after every restart and at the end that nothing was lost or doubled.

    python -m tests.support.crash [--kills N] [--seed S] [--speed X] [--report PATH]
                                  [--start ISO] [--workdir DIR] [--keep]
                                  [--timeout S] [--max-trades-per-day N]
                                  [--default-bars] [--on-mismatch halt|trade] [--db URL]

Two processes, all on loopback:

* the market: a ``TwsSimServer`` (the TWS API protocol over the market simulator) running in
  this process on a free port, from a temporary copy of ``config.toml``;
* the engine: ``main.py run --broker ib --headless --speed X`` in a child process with its own
  ledger (an SQLite file in the work dir, or the empty database ``--db`` names, e.g. on a
  PostgreSQL server; the harness reads either by URL, read-only), SIGKILLed at random moments
  (seeded): right after it starts, right after its startup reconciliation, right after it
  stored an order (the write-ahead window), right after it stored an execution, or at a random
  moment of trading; every tenth stop is a graceful SIGTERM instead (exit code 0 within 5 s).
  Then it is started again.

After each restart, once the engine has stored its ``reconciled`` risk event (the ledger is
polled read-only, bounded), and at the end (the market frozen, the engine stopped with SIGTERM),
the harness compares the ledger with the broker, which it reads with its own ib_async client id
(``reqExecutions``, ``reqPositions``, ``reqAllOpenOrders``, ``reqCompletedOrders``):

* the engine's own startup reconciliation found no position mismatch;
* no order reached the broker twice (one permId per ``orderRef``), and every order at the
  broker is in the ledger (write-ahead);
* every broker execution is in the ledger exactly once (by exec id) with the same order, side,
  quantity and price, and the ledger has no execution the broker does not;
* the ledger's positions per contract (summed over VAs) equal the broker's;
* the governance invariants hold on the ledger: a VA never holds two symbols at once, no exit
  or stop fill flips or grows a position (and no entry fill shrinks one), new entries per
  trading day stay within ``risk.max_trades_per_day``, and every open stock position is covered
  by working protective stops at the broker (never more than held unless its entry still works).

While the engine runs, fills may be in flight, so a check after a restart is retried: positions
and stops are judged on consistent reads only (the broker's executions unchanged while it was
read, and exactly those in the ledger), and a missing or extra execution, a position or stop
difference is a violation only once it has lasted ``PERSIST_S`` and is still there at the end
of the check. Write-ahead and governance problems are violations at once. The final comparison
is exact: the market is frozen first (no quotes, no matching), the engine catches up and stops,
then nothing can change; it adds each order's final status against the broker's and every
ledger time against the simulated run ("findings").

When the harness can tell, a violation names the known engine bug it follows from (its
``cause``: an order the ledger wrote off that then filled, a fill during the startup
reconciliation, an exit sized before the closing fill arrived); see docs/RELIABILITY.md.

The summary (kill points survived, orders and fills checked, every violation with details) is
printed and, with ``--report``, written as JSON. Exit code 0: no violation and no finding; 1:
violations, findings, or the run did not complete; 2: bad arguments.

Bounded and self-cleaning: every wait has a deadline, the whole run has ``--timeout``, the
engine dies with this process (``PR_SET_PDEATHSIG`` on Linux) and is always killed on the way
out; the server is stopped. The temporary directory is removed unless ``--keep`` or
``--workdir`` is given or a violation was found.

The only departures from the shipped config (besides port, log and inbox paths): the MA-cross
VAs use 10-second bars (2 fast, 4 slow) because a restarted strategy starts cold and the
shipped 12-30 one-minute bars would need 6-15 wall seconds of quotes at 120x before a
restarted engine could trade again (``--default-bars`` keeps them); and
``risk.max_trades_per_day`` is raised (``--max-trades-per-day``, default 400) so that trading
goes on all day instead of stopping after the shipped 10 entries (pass 0 to keep the shipped
limit, which the harness then checks as a binding limit across restarts). ``--on-mismatch
trade`` keeps the engine trading after a startup position mismatch (a violation here all the
same), which otherwise halts it for the rest of the run.

The package, by job: ``options`` (options, constants, kill points and violations),
``engine_process`` (the engine as a child process), ``market`` (the simulated TWS and the
config copy), ``ledger`` and ``broker`` (reading each side), ``problems``, ``compare`` and
``governance`` (the pure checks), ``checks`` (checking after a restart, bounded), ``record``
(what the run found), ``final`` (the end of the run), ``report`` (the summary), ``harness``
(the run itself) and ``cli`` (the command line).
"""
