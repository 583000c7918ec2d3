"""IB error and notice codes: what each class of code means to the adapter (pure).

TWS reports everything, from "order rejected" to "market data farm OK", through one
``error(reqId, code, text)`` message. ``classify`` sorts a code into the handful of classes the
adapter acts on; every other code is logged and changes nothing. In particular an order-related
code that is not a rejection or a cancel (10349 "TIF set to DAY", 399, 404, ...) never ends an
order here, whatever ib_async does to its own ``Trade`` (it marks the trade Cancelled for any code
outside its short warning list).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorClass", "classify", "is_order_warning", "notice_level", "rejection_reason"]


class ErrorClass(StrEnum):
    CONNECTIVITY_LOST = "connectivity_lost"  # 1100: TWS lost IB's servers
    RESTORED_DATA_LOST = "restored_data_lost"  # 1101: back, market data subscriptions gone
    RESTORED = "restored"  # 1102: back, subscriptions kept
    FARM_NOTICE = "farm_notice"  # 2103-2108, 2119, 2157, 2158: a data farm's state; never acted on
    CLIENT_ID_IN_USE = "client_id_in_use"  # 326
    PACING = "pacing"  # 100: too many messages a second
    ORDER_REJECTED = "order_rejected"  # 201, 203: the order was refused
    ORDER_CANCELLED = "order_cancelled"  # 202: cancel acknowledged
    NOT_CANCELLABLE = "not_cancellable"  # 161, 10147, 10148: a cancel that found nothing to do
    MODIFY_REFUSED = "modify_refused"  # 103-105: a modification refused; the order is unchanged
    PRICE_INCREMENT = "price_increment"  # 110: a rejection for a new order, else a warning
    NO_SECURITY = "no_security"  # 200: no such contract
    MARKET_DATA = "market_data"  # 354, 10089-10091, 10167-10168, 10197: data not available
    MARKET_DATA_LINES = "market_data_lines"  # 101: max number of tickers reached
    LINK_DEGRADED = "link_degraded"  # 2110: TWS lost its link to IB's servers (like 1100)
    INFO = "info"  # anything else: logged only


_BY_CODE: dict[int, ErrorClass] = {
    1100: ErrorClass.CONNECTIVITY_LOST,
    1101: ErrorClass.RESTORED_DATA_LOST,
    1102: ErrorClass.RESTORED,
    326: ErrorClass.CLIENT_ID_IN_USE,
    100: ErrorClass.PACING,
    201: ErrorClass.ORDER_REJECTED,
    203: ErrorClass.ORDER_REJECTED,
    202: ErrorClass.ORDER_CANCELLED,
    161: ErrorClass.NOT_CANCELLABLE,
    10147: ErrorClass.NOT_CANCELLABLE,
    10148: ErrorClass.NOT_CANCELLABLE,
    103: ErrorClass.MODIFY_REFUSED,
    104: ErrorClass.MODIFY_REFUSED,
    105: ErrorClass.MODIFY_REFUSED,
    110: ErrorClass.PRICE_INCREMENT,
    200: ErrorClass.NO_SECURITY,
    354: ErrorClass.MARKET_DATA,
    10089: ErrorClass.MARKET_DATA,
    10090: ErrorClass.MARKET_DATA,
    10091: ErrorClass.MARKET_DATA,
    10167: ErrorClass.MARKET_DATA,
    10168: ErrorClass.MARKET_DATA,
    10197: ErrorClass.MARKET_DATA,
    101: ErrorClass.MARKET_DATA_LINES,
    2110: ErrorClass.LINK_DEGRADED,
}
_FARM_CODES = frozenset({2103, 2104, 2105, 2106, 2107, 2108, 2119, 2157, 2158})


def classify(code: int) -> ErrorClass:
    """The class of an IB error or notice code (``INFO`` for anything not acted on)."""
    if code in _FARM_CODES:
        return ErrorClass.FARM_NOTICE
    return _BY_CODE.get(code, ErrorClass.INFO)


#: ib_async's own list of order warnings: codes after which IB still works the order
#: (``ib_async/wrapper.py`` 2.1.0, ``error``: ``warningCodes = frozenset({105, 110, 165, 321,
#: 329, 399, 404, 434, 492, 10167})`` and ``2100 <= errorCode < 2200``, lines 1609-1610). Every
#: other code on an order IB has not acknowledged yet refuses it (451 precautions, 10311, 103,
#: 201, ...: IbcAlpha/IBC#227, #222). Added here: 10349 "Order TIF was set to DAY based on
#: order preset", which IB sends for an order it accepts (ib_async marks that trade Cancelled
#: too; IB keeps working the order).
_ORDER_WARNINGS = frozenset({105, 110, 165, 321, 329, 399, 404, 434, 492, 10167, 10349})


def is_order_warning(code: int) -> bool:
    """Whether ``code`` about an order leaves it alive at IB (ib_async's warning list, plus
    10349 and the farm notices)."""
    return code in _ORDER_WARNINGS or 2100 <= code < 2200 or code in _FARM_CODES


_REJECT_PREFIXES = ("order rejected - reason:", "order rejected - reason", "order rejected")


def rejection_reason(code: int, text: str) -> str:
    """IB's reason for a rejection, without the boilerplate prefix (``"201: <reason>"`` when
    nothing is left)."""
    stripped = text.strip()
    lowered = stripped.lower()
    for prefix in _REJECT_PREFIXES:
        if lowered.startswith(prefix):
            stripped = stripped[len(prefix) :].strip()
            break
    return stripped or f"IB error {code}"


#: The log level each IB code deserves (loguru level names). Expected notices are DEBUG or
#: INFO: an OCA sibling cancelled by IB (202 "Order Canceled - reason:OCA group"), a cancel that
#: found the order already done (10147/10148/161), a data farm's state. What a trader must look
#: at is WARNING (rejections, refused modifications) or ERROR (the
#: API cannot work: 502-504, 1300). Codes: https://interactivebrokers.github.io/tws-api/
#: message_codes.html. Codes not listed are WARNING (an unknown code is worth a look).
_LEVELS: dict[int, str] = {
    202: "DEBUG",  # cancel confirmed (ours, an OCA sibling's, a DAY order at the close)
    161: "DEBUG",  # cancel attempted on an order not in a cancellable state
    10147: "DEBUG",  # cancel: no such order id (already gone)
    10148: "DEBUG",  # cancel: the order is already Filled/Cancelled
    2100: "DEBUG",  # account data unsubscribed
    2103: "INFO",  # market data farm connection broken
    2104: "DEBUG",  # market data farm connection OK
    2105: "INFO",  # HMDS data farm connection broken
    2106: "DEBUG",  # HMDS data farm connection OK
    2107: "DEBUG",  # HMDS data farm inactive
    2108: "DEBUG",  # market data farm inactive
    2119: "DEBUG",  # market data farm connecting
    2157: "INFO",  # sec-def data farm connection broken
    2158: "DEBUG",  # sec-def data farm connection OK
    2109: "INFO",  # outside-RTH attribute ignored
    2137: "INFO",  # cross-side warning
    10349: "INFO",  # TIF set to DAY (preset)
    399: "INFO",  # order message warning (e.g. held until the open)
    404: "INFO",  # shares not available for short sale yet: held
    10167: "INFO",  # delayed market data displayed
    1101: "INFO",  # connectivity restored, data lost (resubscribed)
    1102: "INFO",  # connectivity restored, data kept
    # The adapter logs its own WARNING for these, saying what it does about them.
    1100: "INFO",  # connectivity between IB and TWS lost: "ib: DISCONNECTED: ..."
    326: "INFO",  # client id in use: "ib: client id N in use (326): backing off"
    100: "INFO",  # pacing violation: "ib: pacing violation (100) ...: pausing"
    502: "ERROR",  # could not connect to TWS
    503: "ERROR",  # TWS is out of date
    504: "ERROR",  # not connected
    1300: "ERROR",  # TWS socket port reset
}


def notice_level(code: int) -> str:
    """The loguru level an IB error or notice code is logged at (``WARNING`` when unlisted)."""
    return _LEVELS.get(code, "WARNING")
