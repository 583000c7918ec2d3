"""Pure mappers between ib_async's objects and our frozen domain types: no network, no thread,
no state. ``contracts``, ``orders`` (orders, statuses, executions), ``market`` (tickers, option
chains), ``account`` (account values, positions), ``settlement`` (expiry and assignment
inferred from position changes)."""
