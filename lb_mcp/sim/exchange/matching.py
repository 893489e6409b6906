"""Order entry and matching: validation, the order state machine, fills, replace and cancel.

Supported order types (simplified where the spec is silent):

* ``LO`` / ``ELO`` — limit: fills at once against the visible opposite book up to the limit
  (several price levels may be taken, so a partial fill happens when the depth is thinner than the
  order); the rest rests and fills on later ``step()``s when the book crosses it. The simulator
  does not distinguish LO from ELO (HKEX's LO "at the limit price only" rule is not modelled).
* ``ALO`` — at-auction limit (HK only): accepted at any time and then treated as a limit order.
* ``MO`` — market: takes whatever the book holds; any remainder is withdrawn
  (``PartialWithdrawal``), or the order is ``RejectedStatus`` if nothing traded.
* ``LIT`` / ``MIT`` / ``TSLPAMT`` / ``TSLPPCT`` — conditional: wait as ``VarietiesNotReported``
  until the price path touches the trigger or the trailing stop, then go out as a limit or
  market order (``triggers`` has the rules).
* anything else → 602001 "order type not supported in simulator".

Status machine (rest.md §7.2): submit → ``WaitToNew`` → ``NewStatus`` → ``PartialFilledStatus``
→ ``FilledStatus``; cancel → ``WaitToCancel`` → ``CanceledStatus`` / ``PartialWithdrawal``;
replace → ``WaitToReplace`` → back to ``NewStatus`` / ``PartialFilledStatus`` (a
``ReplacedStatus`` line is added to the history); Day orders expire when the market's local date
changes, GTD orders after their ``expire_date``. Listeners see every one of these changes.

Idempotency: a ``client_request_id`` seen in the last 10 minutes returns the original order
without creating a new one. Refused requests are not remembered, so a corrected retry works.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from lb_mcp.sdk.enums import OrderSide, OrderStatus, OrderType, TimeInForceType, TriggerStatus
from lb_mcp.sim.exchange.entry import (
    IDEMPOTENCY_TTL,
    MAX_REMARK,
    OrderIds,
    SubmitRequest,
    check_price,
    check_quantity,
    estimate_buy_limit,
    parse_decimal,
    session_allows,
    validate_submit,
)
from lb_mcp.sim.exchange.fees import total_fees
from lb_mcp.sim.exchange.ledger import Ledger
from lb_mcp.sim.exchange.orders import (
    ZERO,
    HistoryLine,
    OrderRecord,
    SimError,
    bad_request,
    not_found,
)
from lb_mcp.sim.exchange.triggers import (
    CONDITIONAL_TYPES,
    arm,
    check_terms,
    follow,
    released_price,
)
from lb_mcp.sim.market.model import MarketEvent, MarketModel
from lb_mcp.sim.market.sessions import local_date

OrderListener = Callable[[OrderRecord], None]
Terms = dict[str, Decimal | None]


class Broker:
    def __init__(
        self, market: MarketModel, ledger: Ledger, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.market = market
        self.ledger = ledger
        self.clock = clock
        self.ids = OrderIds()
        self._listeners: list[OrderListener] = []
        self._requests: dict[str, tuple[str, float]] = {}
        # The real broker's 10 minutes; the admin API shortens it so a soak need not wait.
        self.idempotency_ttl = IDEMPOTENCY_TTL
        self._trade_seq = 0
        market.add_listener(self.on_market_event)

    def add_order_listener(self, callback: OrderListener) -> None:
        self._listeners.append(callback)

    def remove_order_listener(self, callback: OrderListener) -> None:
        self._listeners.remove(callback)

    def _save(self, order: OrderRecord) -> OrderRecord:
        self.ledger.put_order(order)
        for callback in list(self._listeners):
            callback(order)
        return order

    def _transition(
        self,
        order: OrderRecord,
        status: OrderStatus,
        *,
        line: HistoryLine | None = None,
        **changes: object,
    ) -> OrderRecord:
        now = int(self.clock())
        history = (*order.history, line) if line is not None else order.history
        updated = replace(order, status=status, updated_at=now, history=history, **changes)  # type: ignore[arg-type]
        return self._save(updated)

    # ----------------------------------------------------------------- submit

    def submit(self, req: SubmitRequest) -> OrderRecord:
        now = self.clock()
        if req.client_request_id:
            self._requests = {
                k: v for k, v in self._requests.items() if now - v[1] < self.idempotency_ttl
            }
            seen = self._requests.get(req.client_request_id)
            if seen is not None:
                original = self.ledger.order(seen[0])
                if original is not None:
                    return original
        order = validate_submit(req, self.market, self.ledger, self.ids, now)
        if order.order_type in CONDITIONAL_TYPES:
            return self._submit_conditional(req, order)
        self._save(order)
        if not session_allows(self.market, order.market, order.order_type, order.outside_rth, now):
            return self._queue_until_open(order, req.client_request_id, now)
        order = self._transition(
            order,
            OrderStatus.New,
            line=HistoryLine(order.price or ZERO, order.quantity, OrderStatus.New, "", int(now)),
        )
        if req.client_request_id:
            self._requests[req.client_request_id] = (order.order_id, now)
        return self._withdraw_market_rest(self._match(order))

    def _withdraw_market_rest(self, order: OrderRecord) -> OrderRecord:
        """A market order (MO, or an MIT once triggered) never rests: its rest is withdrawn."""
        if order.price is not None or not order.is_open:
            return order
        if order.order_type is not OrderType.MO and order.order_type is not OrderType.MIT:
            return order
        status = OrderStatus.PartialWithdrawal if order.executed_quantity else OrderStatus.Rejected
        msg = "" if order.executed_quantity else "no liquidity for the market order"
        return self._transition(
            order,
            status,
            msg=msg,
            line=HistoryLine(ZERO, order.remaining, status, msg, int(self.clock())),
        )

    # ----------------------------------------------------------------- conditional orders

    def _submit_conditional(self, req: SubmitRequest, order: OrderRecord) -> OrderRecord:
        """Wait as VarietiesNotReported for the trigger (``triggers``); it may touch at once."""
        now = self.clock()
        status = OrderStatus.VarietiesNotReported
        order = arm(replace(order, status=status), self.market.last_price(order.symbol))
        order = self._save(
            replace(
                order,
                history=(HistoryLine(order.price or ZERO, order.quantity, status, "", int(now)),),
            )
        )
        if req.client_request_id:
            self._requests[req.client_request_id] = (order.order_id, now)
        return self._watch(order, (self.market.last_price(order.symbol),))

    def _watch(self, order: OrderRecord, prints: tuple[Decimal, ...]) -> OrderRecord:
        order, touched = follow(order, prints)
        if not touched:
            self.ledger.put_order(order)  # the trail moved: no status change, no push
            return order
        now = int(self.clock())
        order = self._transition(
            order,
            OrderStatus.WaitToNew,
            price=released_price(order),
            trigger_status=TriggerStatus.Released,
            trigger_at=now,
        )
        order = self._transition(
            order,
            OrderStatus.New,
            line=HistoryLine(order.price or ZERO, order.quantity, OrderStatus.New, "", now),
        )
        return self._withdraw_market_rest(self._match(order))

    def _queue_until_open(
        self, order: OrderRecord, client_request_id: str | None, now: float
    ) -> OrderRecord:
        """Real hours, market closed: accepted as NotReported, as the real API does; the first
        market event of the symbol after the open releases it (:meth:`_release`)."""
        self.market.quote(order.symbol)  # in use, so step() moves it once its market opens
        if client_request_id:
            self._requests[client_request_id] = (order.order_id, now)
        line = HistoryLine(
            order.price or ZERO, order.quantity, OrderStatus.NotReported, "", int(now)
        )
        return self._transition(order, OrderStatus.NotReported, line=line)

    def _release(self, order: OrderRecord) -> OrderRecord:
        now = int(self.clock())
        line = HistoryLine(order.price or ZERO, order.quantity, OrderStatus.New, "", now)
        today = local_date(order.market, now)
        return self._transition(order, OrderStatus.New, line=line, trade_date=today)

    # ----------------------------------------------------------------- matching

    def on_market_event(self, event: MarketEvent) -> None:
        if event.from_fill:
            return
        self.expire_due()
        prints = tuple(t.price for t in event.trades) or (self.market.last_price(event.symbol),)
        for order in self.ledger.open_orders(event.symbol):
            current = self.ledger.order(order.order_id)
            if current is not None and current.status is OrderStatus.NotReported:
                current = self._release(current)
            if current is not None and current.status is OrderStatus.VarietiesNotReported:
                self._watch(current, prints)
            elif current is not None and current.is_open:
                self._match(current)

    def _match(self, order: OrderRecord) -> OrderRecord:
        if not order.is_open or order.remaining <= 0:
            return order
        if order.status is OrderStatus.VarietiesNotReported:
            return order  # not in the book until its trigger fires
        fills = self.market.take(order.symbol, order.side, int(order.remaining), order.price)
        for price, qty in fills:
            order = self._fill(order, price, Decimal(qty))
        return order

    def _fill(self, order: OrderRecord, price: Decimal, qty: Decimal) -> OrderRecord:
        ts = int(self.clock())
        executed = order.executed_quantity + qty
        amount = order.executed_amount + price * qty
        fee = total_fees(order.market, order.side, amount, executed) - order.fees_charged
        self._trade_seq += 1
        trade_id = f"{order.order_id}-{self._trade_seq}"
        self.ledger.apply_fill(order, price, qty, fee, ts, trade_id)
        status = OrderStatus.Filled if executed == order.quantity else OrderStatus.PartialFilled
        return self._transition(
            order,
            status,
            executed_quantity=executed,
            executed_amount=amount,
            last_done=price,
            last_share=qty,
            fees_charged=order.fees_charged + fee,
            line=HistoryLine(price, qty, status, f"Execution of {qty}", ts),
        )

    def expire_due(self) -> None:
        """Expire Day orders of a past trading date and GTD orders past their date."""
        now = self.clock()
        for order in self.ledger.open_orders():
            today = local_date(order.market, now)
            waiting = order.status is OrderStatus.NotReported  # its day is the next session's
            day_over = order.time_in_force is TimeInForceType.Day and order.trade_date < today
            due = (day_over and not waiting) or (
                order.expire_date is not None and order.expire_date < today
            )
            if due:
                status = (
                    OrderStatus.PartialWithdrawal
                    if order.executed_quantity
                    else OrderStatus.Expired
                )
                self._transition(
                    order,
                    status,
                    line=HistoryLine(
                        order.price or ZERO, order.remaining, status, "Expired", int(now)
                    ),
                )

    # ----------------------------------------------------------------- replace / cancel

    def _open_order(self, order_id: str, action: str) -> OrderRecord:
        self.expire_due()
        order = self.ledger.order(order_id)
        if order is None:
            raise not_found()
        if not order.is_open:
            raise bad_request(f"order in status {order.status.value} cannot be {action}")
        return order

    def replace(
        self,
        order_id: str,
        quantity: Decimal,
        price: Decimal | None,
        remark: str | None = None,
        terms: Terms | None = None,
    ) -> OrderRecord:
        """``terms``: new trigger_price / trailing_amount / trailing_percent / limit_offset
        (a missing one keeps the order's)."""
        order = self._open_order(order_id, "replaced")
        check_quantity(order.symbol, quantity)
        if quantity <= order.executed_quantity:
            raise bad_request("quantity must be greater than the executed quantity")
        new_price = price if price is not None else order.price
        check_price(order.symbol, order.order_type, new_price)
        changes = {k: v for k, v in (terms or {}).items() if v is not None}
        if changes and order.order_type not in CONDITIONAL_TYPES:
            raise bad_request(f"{order.order_type.value} orders have no trigger or trailing terms")
        order = replace(order, **changes)  # type: ignore[arg-type]
        check_terms(
            order.symbol,
            order.order_type,
            order.trigger_price,
            order.trailing_amount,
            order.trailing_percent,
            order.limit_offset,
        )
        if order.status is OrderStatus.VarietiesNotReported:
            order = arm(order, self.market.last_price(order.symbol))
        if remark is not None and len(remark) > MAX_REMARK:
            raise bad_request(f"remark is longer than {MAX_REMARK} characters")
        candidate = replace(order, quantity=quantity, price=new_price)
        if order.side is OrderSide.Buy:
            extra = self.ledger.frozen_for(candidate)[0] - self.ledger.frozen_for(order)[0]
            if extra > self.ledger.available_cash(order.currency):
                raise bad_request(f"insufficient cash: {extra} {order.currency} more needed")
        elif candidate.remaining - order.remaining > self.ledger.available_quantity(order.symbol):
            raise bad_request(f"insufficient available position in {order.symbol}")
        now = int(self.clock())
        back = order.status
        order = self._transition(order, OrderStatus.WaitToReplace)
        order = self._transition(
            order,
            back,
            quantity=quantity,
            price=new_price,
            remark=order.remark if remark is None else remark,
            line=HistoryLine(new_price or ZERO, quantity, OrderStatus.Replaced, "Replaced", now),
        )
        if order.status is OrderStatus.VarietiesNotReported:
            return self._watch(order, (self.market.last_price(order.symbol),))
        return self._match(order)

    def estimate_buy_limit(
        self,
        symbol: str,
        order_type: str,
        side: str,
        price: Decimal | None,
        order_id: str | None = None,
    ) -> tuple[Decimal, Decimal]:
        """(cash max quantity, margin max quantity) in whole lots; a cash account, so equal."""
        return estimate_buy_limit(
            self.market, self.ledger, symbol, order_type, side, price, order_id
        )

    def cancel(self, order_id: str) -> OrderRecord:
        order = self._open_order(order_id, "cancelled")
        order = self._transition(order, OrderStatus.WaitToCancel)
        status = OrderStatus.PartialWithdrawal if order.executed_quantity else OrderStatus.Canceled
        return self._transition(
            order,
            status,
            line=HistoryLine(
                order.price or ZERO, order.remaining, status, "Cancelled", int(self.clock())
            ),
        )

    def reject(self, order_id: str, reason: str) -> OrderRecord:
        """The broker's risk control rejects an open order, saying ``reason`` (a test hook:
        reject reasons are broker text that reaches the model)."""
        order = self._open_order(order_id, "rejected")
        status = OrderStatus.PartialWithdrawal if order.executed_quantity else OrderStatus.Rejected
        return self._transition(
            order,
            status,
            msg=reason,
            line=HistoryLine(
                order.price or ZERO, order.remaining, status, reason, int(self.clock())
            ),
        )


__all__ = ["Broker", "OrderIds", "SimError", "SubmitRequest", "parse_decimal"]
