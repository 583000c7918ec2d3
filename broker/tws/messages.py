"""Builders for the short server -> client messages at server version 178.

Pure: each function returns the message's fields (message id first), ready for
``codec.encode_frame``. Version numbers follow what both clients accept (the official client
needs ``updatePortfolio`` version 8 and ``position`` version 3); field counts are exact, because
the official client drops a "simple" message whose count is off by one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from broker.tws.codec import UNSET_DOUBLE, Field
from broker.tws.contracts import Instrument

__all__ = [
    "ERROR_TEXTS",
    "NO_REQ_ID",
    "account_download_end",
    "account_summary",
    "account_summary_end",
    "account_update_multi",
    "account_update_multi_end",
    "account_value",
    "commission_report",
    "completed_orders_end",
    "contract_details_end",
    "current_time",
    "error",
    "exec_details_end",
    "ib_timestamp",
    "managed_accounts",
    "market_data_type",
    "next_valid_id",
    "open_order_end",
    "order_status",
    "pnl",
    "pnl_single",
    "portfolio_value",
    "position",
    "position_end",
    "position_multi",
    "position_multi_end",
    "sec_def_opt_params_end",
    "server_hello",
    "symbol_samples",
    "tick_generic",
    "tick_price",
    "tick_req_params",
    "tick_size",
    "tick_snapshot_end",
    "tick_string",
    "update_account_time",
    "user_info",
]

#: reqId of notices that belong to no request.
NO_REQ_ID = -1

#: The texts TWS uses for the codes this server sends (clients key on the number only).
ERROR_TEXTS: dict[int, str] = {
    100: "Max rate of messages per second has been exceeded.",
    101: "Max number of tickers has been reached.",
    103: "Duplicate order id",
    104: "Can't modify a filled order.",
    105: "Order being modified does not match the original order.",
    110: "The price does not conform to the minimum price variation for this contract.",
    162: "Historical Market Data Service error message:not available in the simulator",
    200: "No security definition has been found for the request",
    201: "Order rejected - reason:",
    202: "Order Canceled - reason:",
    326: ("Unable to connect as the client id is already in use. Retry with a unique client id."),
    354: "Requested market data is not subscribed.",
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2110: "Connectivity between Trader Workstation and server is broken. It will be restored "
    "automatically.",
    2104: "Market data farm connection is OK:usfarm",
    2106: "HMDS data farm connection is OK:ushmds",
    2158: "Sec-def data farm connection is OK:secdefnj",
    10089: "Requested market data requires additional subscription for API. See link in "
    "'Market Data Connections' dialog for more details.Delayed market data is available.",
    10167: "Requested market data is not subscribed. Displaying delayed market data.",
    10168: "Requested market data is not subscribed. Delayed market data is not enabled.",
    10147: "OrderId {order_id} that needs to be cancelled is not found.",
    10148: "OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {state}.",
    10349: "Order TIF was set to DAY based on order preset.",
}


def ib_timestamp(moment: datetime) -> str:
    """``YYYYMMDD HH:MM:SS UTC``: how this server writes times (both clients parse the zone)."""
    return moment.astimezone(UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"


def server_hello(version: int, moment: datetime) -> list[Field]:
    """The handshake reply: exactly two fields, the server version and the connection time."""
    return [version, ib_timestamp(moment)]


def error(req_id: int, code: int, text: str | None = None, *, reason: str = "") -> list[Field]:
    """An error/notice (4, version 2) with ``advancedOrderRejectJson`` empty. ``text`` defaults
    to ``ERROR_TEXTS[code]`` + ``reason``. Backslashes are removed (the official client decodes
    error text with ``unicode-escape``)."""
    message = (ERROR_TEXTS.get(code, "") if text is None else text) + reason
    return [4, 2, req_id, code, message.replace("\\", "/"), ""]


def managed_accounts(accounts: list[str]) -> list[Field]:
    return [15, 1, ",".join(accounts)]


def next_valid_id(order_id: int) -> list[Field]:
    return [9, 1, order_id]


def current_time(epoch_s: int) -> list[Field]:
    return [49, 1, epoch_s]


def contract_details_end(req_id: int) -> list[Field]:
    return [52, 1, req_id]


def sec_def_opt_params_end(req_id: int) -> list[Field]:
    return [76, req_id]


def symbol_samples(req_id: int, instruments: list[Instrument]) -> list[Field]:
    """``symbolSamples`` (79): conId, symbol, secType, primaryExchange, currency, no derivative
    types, description and issuerId (server >= 176) per instrument."""
    fields: list[Field] = [79, req_id, len(instruments)]
    for inst in instruments:
        fields += [inst.con_id, inst.symbol, inst.sec_type, inst.primary_exchange, inst.currency]
        fields += [0, inst.long_name, ""]
    return fields


def user_info(req_id: int) -> list[Field]:
    return [107, req_id, ""]


# -- market data -----------------------------------------------------------------------------
def market_data_type(req_id: int, data_type: int = 1) -> list[Field]:
    return [58, 1, req_id, data_type]


def tick_req_params(req_id: int, min_tick: Decimal) -> list[Field]:
    return [81, req_id, min_tick, "9c0001", 3]


def tick_price(req_id: int, tick_type: int, price: Decimal | float, size: int) -> list[Field]:
    """``tickPrice`` (1, version 6) with attribute mask 0."""
    return [1, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: int) -> list[Field]:
    return [2, 6, req_id, tick_type, size]


def tick_string(req_id: int, tick_type: int, value: str) -> list[Field]:
    return [46, 6, req_id, tick_type, value]


def tick_generic(req_id: int, tick_type: int, value: float) -> list[Field]:
    return [45, 6, req_id, tick_type, value]


def tick_snapshot_end(req_id: int) -> list[Field]:
    return [57, 1, req_id]


# -- orders ------------------------------------------------------------------------------------
def order_status(
    *,
    order_id: int,
    status: str,
    filled: Decimal | int,
    remaining: Decimal | int,
    avg_fill_price: Decimal | float,
    perm_id: int,
    parent_id: int,
    last_fill_price: Decimal | float,
    client_id: int,
    why_held: str = "",
) -> list[Field]:
    """``orderStatus`` (3, no version field at 178): 12 fields, mktCapPrice 0."""
    return [
        3,
        order_id,
        status,
        Decimal(filled),
        Decimal(remaining),
        avg_fill_price,
        perm_id,
        parent_id,
        last_fill_price,
        client_id,
        why_held,
        0.0,
    ]


def open_order_end() -> list[Field]:
    return [53, 1]


def completed_orders_end() -> list[Field]:
    return [102]


def exec_details_end(req_id: int) -> list[Field]:
    return [55, 1, req_id]


def commission_report(
    exec_id: str, commission: Decimal, currency: str, realized_pnl: Decimal | None
) -> list[Field]:
    """``commissionReport`` (59): realized P&L unset on opening fills, yield always unset."""
    realized: Field = UNSET_DOUBLE if realized_pnl is None else realized_pnl
    return [59, 1, exec_id, commission, currency, realized, UNSET_DOUBLE, ""]


# -- positions and account -----------------------------------------------------------------------
def position(account: str, instrument: Instrument, quantity: int, avg_cost: Decimal) -> list[Field]:
    """``position`` (61, version 3); the exchange field is empty, as TWS sends it."""
    return [61, 3, account, *instrument.contract_fields(exchange=""), Decimal(quantity), avg_cost]


def position_end() -> list[Field]:
    return [62, 1]


def position_multi(
    req_id: int, account: str, instrument: Instrument, quantity: int, avg_cost: Decimal
) -> list[Field]:
    contract = instrument.contract_fields(exchange="")
    return [71, 1, req_id, account, *contract, Decimal(quantity), avg_cost, ""]


def position_multi_end(req_id: int) -> list[Field]:
    return [72, 1, req_id]


def account_value(key: str, value: str, currency: str, account: str) -> list[Field]:
    return [6, 2, key, value, currency, account]


def portfolio_value(
    instrument: Instrument,
    *,
    quantity: int,
    market_price: Decimal,
    market_value: Decimal,
    avg_cost: Decimal,
    unrealized_pnl: Decimal,
    realized_pnl: Decimal,
    account: str,
) -> list[Field]:
    """``updatePortfolio`` (7, version 8): 20 fields, primaryExchange in the contract block."""
    return [
        7,
        8,
        *instrument.portfolio_fields(),
        Decimal(quantity),
        market_price,
        market_value,
        avg_cost,
        unrealized_pnl,
        realized_pnl,
        account,
    ]


def update_account_time(moment: datetime) -> list[Field]:
    """``updateAccountTime`` (8): ``HH:MM`` of the given (exchange-local) moment."""
    return [8, 1, moment.strftime("%H:%M")]


def account_download_end(account: str) -> list[Field]:
    return [54, 1, account]


def account_update_multi(
    req_id: int, account: str, key: str, value: str, currency: str
) -> list[Field]:
    return [73, 1, req_id, account, "", key, value, currency]


def account_update_multi_end(req_id: int) -> list[Field]:
    return [74, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> list[Field]:
    return [63, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> list[Field]:
    return [64, 1, req_id]


def pnl(req_id: int, daily: Decimal, unrealized: Decimal, realized: Decimal) -> list[Field]:
    return [94, req_id, daily, unrealized, realized]


def pnl_single(
    req_id: int,
    quantity: int,
    daily: Decimal,
    unrealized: Decimal,
    realized: Decimal,
    value: Decimal,
) -> list[Field]:
    return [95, req_id, Decimal(quantity), daily, unrealized, realized, value]
