"""Orders (the transactions source) for the demo generator.

Orders come from an hourly Poisson model per channel, plus newsletter-driven orders, first
orders of new customers, the extra orders of anomalies and out-of-habit customer orders.
"""

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from orchestration.contract import CHANNELS, TRANSACTION_STATUSES
from orchestration.generator_anomalies import Effects
from orchestration.generator_marketing import Campaign, EmailEvents
from orchestration.generator_reference import (
    CANCEL_RATE,
    CATEGORIES,
    CATEGORY_LINE_SHARES,
    CATEGORY_ORDER_SHARES,
    CHANNEL_INDEX,
    COUNTRY_CODES,
    COUNTRY_SHARES,
    ORDER_CHANNEL_SHARES,
    ORDERS_PER_DAY,
    PAYMENT_METHODS,
    Catalog,
    Customers,
    ip_addresses,
    people_emails,
    phone_numbers,
    take,
)
from orchestration.generator_timeline import HOUR_CURVES, SECONDS_PER_DAY, Timeline

_STATUS = {name: i for i, name in enumerate(TRANSACTION_STATUSES)}
_PAYMENT = {name: i for i, name in enumerate(PAYMENT_METHODS)}
GUEST_SHARE = np.array([0.25, 0.08, 0.45, 0.55, 0.35])
_DISCOUNT_STEPS = np.array([0.10, 0.15, 0.20, 0.25, 0.30])


@dataclass
class OrderRequests:
    """Orders to create; -1 means 'draw it' (customer, category) or 'none' (campaign)."""

    hour: np.ndarray
    channel: np.ndarray
    customer: np.ndarray
    forced_category: np.ndarray
    campaign: np.ndarray
    outlier_units: np.ndarray  # > 0: an out-of-habit order of about this many units

    @classmethod
    def of(cls, hour: np.ndarray, channel: np.ndarray, **fixed: np.ndarray | int | float) -> "OrderRequests":
        n = len(hour)
        defaults = {"customer": -1, "forced_category": -1, "campaign": -1, "outlier_units": 0}
        values = {
            name: np.broadcast_to(np.asarray(fixed.get(name, default)), n).copy() for name, default in defaults.items()
        }
        return cls(np.asarray(hour, dtype=np.int64), np.asarray(channel, dtype=np.int64), **values)

    @classmethod
    def concat(cls, parts: list["OrderRequests"]) -> "OrderRequests":
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


class CustomerSampler:
    """Draws known customers by habit: frequency x channel affinity, among those signed up."""

    def __init__(self, customers: Customers) -> None:
        self.signup_day = customers.signup_day
        self.cumulative = np.cumsum(customers.frequency[:, None] * customers.channel_affinity, axis=0)

    def draw(self, rng: np.random.Generator, channel: np.ndarray, day: np.ndarray) -> np.ndarray:
        chosen = np.empty(len(channel), dtype=np.int64)
        eligible = np.searchsorted(self.signup_day, day, side="right")
        for c in np.unique(channel):
            mask = channel == c
            cumulative = self.cumulative[:, c]
            target = rng.random(mask.sum()) * cumulative[eligible[mask] - 1]
            chosen[mask] = np.minimum(np.searchsorted(cumulative, target, side="right"), eligible[mask] - 1)
        return chosen


def order_requests(
    rng: np.random.Generator,
    timeline: Timeline,
    daily_level: np.ndarray,
    effects: Effects,
    customers: Customers,
    campaigns: list[Campaign],
    email: EmailEvents,
    scale: float,
) -> OrderRequests:
    """Everyday orders, anomaly extras by category, new customers' first orders and newsletter orders."""
    expected = timeline.hourly(daily_level, ORDERS_PER_DAY * scale * ORDER_CHANNEL_SHARES) * effects.order_factor
    parts = [_poisson_requests(rng, expected)]
    for category in np.flatnonzero((effects.category_factor > 1).any(axis=0)):
        uplift = np.clip(effects.category_factor[:, category] - 1, 0, None)[:, None]
        extra = expected * CATEGORY_ORDER_SHARES[category] * uplift
        parts.append(_poisson_requests(rng, extra, forced_category=category))

    newcomers = np.flatnonzero(customers.signup_day >= 0)
    channel = customers.channel_affinity[newcomers].argmax(axis=1)
    hour = customers.signup_day[newcomers] * 24
    for c in np.unique(channel):
        hour[channel == c] += rng.choice(24, size=int((channel == c).sum()), p=HOUR_CURVES[c])
    kept = rng.random(len(hour)) < effects.order_factor[hour, channel]
    parts.append(OrderRequests.of(hour[kept], channel[kept], customer=newcomers[kept]))

    for index, campaign in enumerate(campaigns):
        # Newsletter orders decay over two days after the send, bought by recipients who clicked.
        hours = np.arange(campaign.send_hour, min(campaign.send_hour + 48, timeline.hours))
        kernel = np.exp(-(hours - campaign.send_hour) / 9.0) * HOUR_CURVES[CHANNEL_INDEX["web"], hours % 24]
        lifted = timeline.promotion_lift[hours // 24]
        per_hour = campaign.order_lift * ORDERS_PER_DAY * scale * lifted * kernel / kernel.sum()
        lift = np.zeros_like(expected)
        lift[hours, CHANNEL_INDEX["web"]], lift[hours, CHANNEL_INDEX["app"]] = 0.6 * per_hour, 0.4 * per_hour
        newsletter_orders = _poisson_requests(rng, lift * effects.order_factor, campaign=index)
        clickers, _ = email.clicks_of(index)
        if len(clickers):
            newsletter_orders.customer = rng.choice(clickers, size=len(newsletter_orders.hour))
        parts.append(newsletter_orders)
    return OrderRequests.concat(parts)


def _poisson_requests(rng: np.random.Generator, expected: np.ndarray, **fixed: int) -> OrderRequests:
    counts = rng.poisson(expected).ravel()
    hours, channels = expected.shape
    return OrderRequests.of(
        np.repeat(np.repeat(np.arange(hours), channels), counts),
        np.repeat(np.tile(np.arange(channels), hours), counts),
        **fixed,
    )


@dataclass
class Orders:
    """Order headers (one entry per order) and their lines (`line_order` points at the header)."""

    ts: np.ndarray
    channel: np.ndarray
    customer: np.ndarray  # -1: guest
    country: np.ndarray
    currency: np.ndarray
    status: np.ndarray
    email: np.ndarray
    phone: np.ndarray
    ip: np.ndarray
    campaign: np.ndarray
    payment: np.ndarray
    line_order: np.ndarray
    line_number: np.ndarray
    sku: np.ndarray
    category: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    discount: np.ndarray

    @property
    def first_line(self) -> np.ndarray:
        return np.searchsorted(self.line_order, np.arange(len(self.ts)))

    @property
    def value(self) -> np.ndarray:
        """Per order: quantity x unit price less discounts, summed over its lines."""
        net = self.quantity * self.unit_price - self.discount
        return np.bincount(self.line_order, weights=net, minlength=len(self.ts))

    @property
    def units(self) -> np.ndarray:
        return np.bincount(self.line_order, weights=self.quantity, minlength=len(self.ts))

    @property
    def line_count(self) -> np.ndarray:
        return np.bincount(self.line_order, minlength=len(self.ts))

    def select(self, keep: np.ndarray) -> "Orders":
        """The orders where `keep` is true, with their lines."""
        return Orders.concat([self], [keep])

    @classmethod
    def concat(cls, parts: list["Orders"], keeps: list[np.ndarray] | None = None) -> "Orders":
        """Join order sets (optionally filtered) and renumber them by time."""
        keeps = keeps or [np.ones(len(p.ts), dtype=bool) for p in parts]
        headers = [f.name for f in fields(cls) if f.name not in _LINE_FIELDS]
        offset, line_parts, header_parts = 0, [], []
        for part, keep in zip(parts, keeps, strict=True):
            new_index = np.cumsum(keep) - 1 + offset
            line_keep = keep[part.line_order]
            header_parts.append({name: getattr(part, name)[keep] for name in headers})
            line_parts.append({name: getattr(part, name)[line_keep] for name in _LINE_FIELDS})
            line_parts[-1]["line_order"] = new_index[part.line_order][line_keep]
            offset += int(keep.sum())
        header = {name: np.concatenate([h[name] for h in header_parts]) for name in headers}
        lines = {name: np.concatenate([p[name] for p in line_parts]) for name in _LINE_FIELDS}
        rank = np.argsort(header["ts"], kind="stable")
        new_position = np.empty_like(rank)
        new_position[rank] = np.arange(len(rank))
        lines["line_order"] = new_position[lines["line_order"]]
        line_rank = np.lexsort((lines["line_number"], lines["line_order"]))
        return cls(
            **{name: values[rank] for name, values in header.items()},
            **{name: values[line_rank] for name, values in lines.items()},
        )


_LINE_FIELDS = ("line_order", "line_number", "sku", "category", "quantity", "unit_price", "discount")


@dataclass
class OrderContext:
    """What building orders needs besides the requests."""

    timeline: Timeline
    catalog: Catalog
    customers: Customers
    effects: Effects
    sampler: CustomerSampler
    guest_country: np.ndarray  # guests' contact details, sorted by country
    guest_emails: np.ndarray
    guest_phones: np.ndarray
    ip_pool: np.ndarray
    social_campaign: np.ndarray  # (hour,) live social campaign, -1 none

    @classmethod
    def build(
        cls,
        rng: np.random.Generator,
        timeline: Timeline,
        catalog: Catalog,
        customers: Customers,
        effects: Effects,
        social_campaign: np.ndarray,
        scale: float,
    ) -> "OrderContext":
        """With pools of guest contacts (at least one per country) and shopper IP addresses."""
        guest_country = np.sort(
            np.r_[np.arange(len(COUNTRY_CODES)), rng.choice(len(COUNTRY_CODES), round(3000 * scale), p=COUNTRY_SHARES)]
        )
        return cls(
            timeline=timeline,
            catalog=catalog,
            customers=customers,
            effects=effects,
            sampler=CustomerSampler(customers),
            guest_country=guest_country,
            guest_emails=people_emails(rng, guest_country),
            guest_phones=phone_numbers(rng, guest_country),
            ip_pool=ip_addresses(rng, max(200, round(20_000 * scale))),
            social_campaign=social_campaign,
        )

    def guest_in(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        """A guest contact (index into guest_emails) from each order's country."""
        first = np.searchsorted(self.guest_country, np.arange(len(COUNTRY_CODES)))
        count = np.bincount(self.guest_country, minlength=len(COUNTRY_CODES))
        return first[country] + (rng.random(len(country)) * count[country]).astype(np.int64)

    def draw_skus(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """A SKU per line from its category, by popularity."""
        order = np.argsort(self.catalog.category, kind="stable")
        sorted_category = self.catalog.category[order]
        weights = self.catalog.popularity[order]
        totals = np.bincount(sorted_category, weights=weights)
        # Category c owns the interval (c, c + 1] of this increasing scale, so one search serves all.
        scale = (
            sorted_category
            + (np.cumsum(weights) - np.cumsum(np.r_[0, totals])[sorted_category]) / totals[sorted_category]
        )
        position = np.searchsorted(scale, category + rng.random(len(category)), side="right")
        last_of_category = np.cumsum(np.bincount(sorted_category)) - 1
        return order[np.minimum(position, last_of_category[category])]


def build_orders(rng: np.random.Generator, context: OrderContext, requests: OrderRequests, thin: bool = True) -> Orders:
    """Turn requests into priced, attributed orders with lines; thin segments that anomalies shrink."""
    timeline, customers, effects = context.timeline, context.customers, context.effects
    n = len(requests.hour)
    hour, channel = requests.hour, requests.channel
    day = hour // 24
    ts = timeline.moments_in(rng, hour)

    customer = requests.customer.copy()
    draw = customer < 0
    is_known = draw & (rng.random(n) >= GUEST_SHARE[channel])
    customer[is_known] = context.sampler.draw(rng, channel[is_known], day[is_known])
    customer[draw & ~is_known] = -1
    known = customer >= 0
    safe = np.where(known, customer, 0)
    country = np.where(known, customers.country[safe], rng.choice(len(COUNTRY_CODES), size=n, p=COUNTRY_SHARES))

    outlier = requests.outlier_units > 0
    line_probability = np.where(known, customers.extra_line_probability[safe], 0.2)
    lines_per_order = np.where(outlier, 4, 1 + rng.binomial(3, line_probability))
    line_order = np.repeat(np.arange(n), lines_per_order)
    first_line = np.cumsum(lines_per_order) - lines_per_order
    line_number = np.arange(len(line_order)) - first_line[line_order] + 1

    favourite = customers.favourite_category[safe][line_order]
    uses_favourite = known[line_order] & (rng.random(len(line_order)) < 0.5)
    category = np.where(
        uses_favourite, favourite, rng.choice(len(CATEGORIES), size=len(line_order), p=CATEGORY_LINE_SHARES)
    )
    forced = (requests.forced_category[line_order] >= 0) & (line_number == 1)
    category[forced] = requests.forced_category[line_order][forced]

    first_choice, second_choice = context.draw_skus(rng, category), context.draw_skus(rng, category)
    premium = np.where(known, customers.premium_taste[safe], 0.3)[line_order]
    dearer = np.where(
        context.catalog.price_eur[first_choice] >= context.catalog.price_eur[second_choice], first_choice, second_choice
    )
    sku = np.where(rng.random(len(line_order)) < premium, dearer, first_choice)

    line_hour = hour[line_order]
    quantity_mean = np.where(known, customers.extra_quantity_mean[safe], 0.25)
    quantity = 1 + rng.poisson(quantity_mean[line_order])
    quantity_uplift = effects.quantity_factor[line_hour, category] - 1
    quantity = quantity + rng.poisson(quantity * np.clip(quantity_uplift, 0, None))
    outlier_quantity = np.maximum(1, np.round(requests.outlier_units / 4 * rng.uniform(0.8, 1.2, n)))
    quantity = np.where(outlier[line_order], outlier_quantity[line_order], quantity).astype(np.int64)

    currency = context.catalog.currency_index(country)
    unit_price = np.round(
        context.catalog.price_list[sku, currency[line_order]] * effects.price_factor[line_hour, category], 2
    )
    promotion_day = timeline.is_promotion_day[day]
    discount_probability = np.where(requests.campaign >= 0, 0.5, np.where(promotion_day, 0.4, 0.12))[line_order]
    discounted = rng.random(len(line_order)) < discount_probability
    step = rng.choice(_DISCOUNT_STEPS, size=len(line_order))
    discount = np.where(discounted, np.round(quantity * unit_price * step, 2), 0.0)

    draw_status = rng.random(n)
    refund = effects.refund_probability[hour, channel]
    status = np.select(
        [draw_status < refund, draw_status < refund + CANCEL_RATE],
        [_STATUS["refunded"], _STATUS["cancelled"]],
        _STATUS["completed"],
    )
    status[outlier] = _STATUS["completed"]

    in_store = channel == CHANNEL_INDEX["store"]
    guest_pick = context.guest_in(rng, country)
    guest_gives_email = ~in_store | (rng.random(n) < 0.3)
    email = np.where(known, customers.email[safe], np.where(guest_gives_email, context.guest_emails[guest_pick], None))
    phone = np.where(
        known,
        customers.phone[safe],
        np.where(guest_gives_email & (rng.random(n) < 0.4), context.guest_phones[guest_pick], None),
    )
    own_ip = known & (rng.random(n) < 0.85)
    ip = np.where(
        in_store, None, np.where(own_ip, customers.ip[safe], context.ip_pool[rng.integers(0, len(context.ip_pool), n)])
    )

    campaign = requests.campaign.copy()
    social = context.social_campaign[hour]
    attributed = (campaign < 0) & (channel == CHANNEL_INDEX["social_shop"]) & (social >= 0) & (rng.random(n) < 0.35)
    campaign[attributed] = social[attributed]
    payment = np.select(
        [in_store, channel == CHANNEL_INDEX["marketplace"]],
        [
            rng.choice([_PAYMENT["card"], _PAYMENT["cash"]], size=n, p=[0.6, 0.4]),
            np.full(n, _PAYMENT["marketplace_pay"]),
        ],
        rng.choice(
            [_PAYMENT[m] for m in ("card", "paypal", "klarna", "apple_pay")], size=n, p=[0.45, 0.30, 0.15, 0.10]
        ),
    )

    orders = Orders(
        ts=ts, channel=channel, customer=customer, country=country, currency=currency, status=status,
        email=email, phone=phone, ip=ip, campaign=campaign, payment=payment,
        line_order=line_order, line_number=line_number, sku=sku, category=category,
        quantity=quantity, unit_price=unit_price, discount=discount,
    )  # fmt: skip
    if not thin:
        return orders.select(np.ones(n, dtype=bool))
    # Anomalies that shrink a category or country drop whole orders touching it.
    line_keep = np.minimum(effects.category_factor[line_hour, category], 1.0)
    order_keep = np.minimum.reduceat(line_keep, first_line) * np.minimum(effects.country_factor[hour, country], 1.0)
    return orders.select(rng.random(n) < order_keep)


def add_customer_outliers(rng: np.random.Generator, context: OrderContext, orders: Orders) -> Orders:
    """One far-out-of-habit order for a regular customer per planned customer_outlier anomaly.

    The order holds `multiplier` times the customer's usual units; baskets are drawn until its
    value is out of habit by about as much too (SKU prices vary a lot within a category).
    """
    outlier_parts = []
    for outlier in context.effects.customer_outliers:
        before = (orders.customer >= 0) & (orders.ts < context.timeline.t0 + outlier.day * SECONDS_PER_DAY)
        regulars, counts = np.unique(orders.customer[before], return_counts=True)
        candidates = regulars[counts >= 4] if (counts >= 4).any() else regulars[counts == counts.max()]
        customer = int(rng.choice(candidates))
        history = before & (orders.customer == customer)
        usual_value = orders.value[history].mean()
        outlier.anomaly.assign_customer(str(context.customers.customer_id[customer]))
        hour = outlier.day * 24 + int(rng.integers(9, 21))
        channel = int(context.customers.channel_affinity[customer].argmax())
        units = round(outlier.multiplier * orders.units[history].mean())
        requests = OrderRequests.of(np.array([hour]), np.array([channel]), customer=customer, outlier_units=units)
        for _ in range(50):
            basket = build_orders(rng, context, requests, thin=False)
            if 0.7 <= basket.value[0] / usual_value / outlier.multiplier <= 1.5:
                break
        outlier_parts.append(basket)
    return Orders.concat([orders, *outlier_parts])


def transactions_table(
    orders: Orders, catalog: Catalog, customers: Customers, campaign_ids: list[str], order_ids: np.ndarray
) -> pa.Table:
    """Contract columns (plus `payment_method`, an extra column the contract allows); order_ts in epoch seconds."""
    line = orders.line_order
    return pa.table(
        {
            "order_id": pa.array(order_ids[line], pa.string()),
            "line_number": pa.array(orders.line_number, pa.int64()),
            "order_ts": pa.array(orders.ts[line], pa.int64()),
            "customer_id": take(customers.customer_id, orders.customer[line]),
            "customer_email": pa.array(orders.email[line], pa.string()),
            "customer_phone": pa.array(orders.phone[line], pa.string()),
            "channel": take(CHANNELS, orders.channel[line]),
            "sku": take(catalog.sku, orders.sku),
            "category": take(CATEGORIES, orders.category),
            "quantity": pa.array(orders.quantity, pa.int64()),
            "unit_price": pa.array(orders.unit_price).cast(pa.decimal128(12, 2)),
            "discount_amount": pa.array(orders.discount).cast(pa.decimal128(12, 2)),
            "currency": take(catalog.currencies, orders.currency[line]),
            "status": take(TRANSACTION_STATUSES, orders.status[line]),
            "country": take(COUNTRY_CODES, orders.country[line]),
            "ip_address": pa.array(orders.ip[line], pa.string()),
            "campaign_id": take(campaign_ids, orders.campaign[line]),
            "payment_method": take(PAYMENT_METHODS, orders.payment[line]),
        }
    )


def new_order_ids(count: int) -> np.ndarray:
    """Sequential order numbers, as an order system hands them out."""
    return np.array([f"SO{7_000_000 + i}" for i in range(count)], dtype=object)
