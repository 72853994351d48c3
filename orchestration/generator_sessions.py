"""Browsing sessions and their events (the interactions source) for the demo generator.

Sessions browse, follow an e-mail click, end in a tracked purchase (a share of online orders,
where the shopper consented to tracking) or are bots. Events follow the funnel within each
session; events inside a tracking outage are never recorded.
"""

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.contract import CHANNELS, DEVICES, EVENT_TYPES
from orchestration.generator_anomalies import Effects
from orchestration.generator_marketing import Campaign, EmailEvents
from orchestration.generator_orders import CustomerSampler, Orders
from orchestration.generator_reference import (
    CHANNEL_INDEX,
    DEVICE_MIX,
    SESSION_CHANNEL_SHARES,
    SESSIONS_PER_DAY,
    Catalog,
    Customers,
    hex_ids,
    ip_addresses,
    take,
    user_agent_pool,
)
from orchestration.generator_timeline import Timeline

# Share of online orders whose session was tracked (consent given); conversion lands near 3-4%.
TRACKED_SHARE = np.array([0.35, 0.6, 0.0, 0.0, 0.4])
LOGGED_IN_SHARE = np.array([0.25, 0.6, 0.0, 0.0, 0.15])
BACKGROUND_BOT_SHARE = 0.012
_BROWSE, _EMAIL_CLICK, _PURCHASE, _BOT = range(4)
_E = {name: i for i, name in enumerate(EVENT_TYPES)}
# Sort rank of each event type within a session: browsing interleaves, the funnel follows.
_STAGE = np.array([0.0, 0.0, 0.0, 3.0, 3.5, 5.0, 6.0, 7.0])
_STAGE_JITTER = np.array([2.9, 2.9, 2.9, 0.5, 0.5, 0.0, 0.0, 0.0])


@dataclass
class Sessions:
    kind: np.ndarray
    anchor_ts: np.ndarray  # start, or for purchase sessions the moment of the purchase
    channel: np.ndarray
    customer: np.ndarray
    campaign: np.ndarray
    order: np.ndarray  # -1 unless a purchase session

    @classmethod
    def concat(cls, parts: list["Sessions"]) -> "Sessions":
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    @classmethod
    def of(cls, kind: int, anchor_ts: np.ndarray, channel: np.ndarray, **fixed: np.ndarray | int) -> "Sessions":
        n = len(anchor_ts)
        values = {
            name: np.broadcast_to(np.asarray(fixed.get(name, -1)), n).copy()
            for name in ("customer", "campaign", "order")
        }
        return cls(
            np.full(n, kind), np.asarray(anchor_ts, dtype=np.int64), np.asarray(channel, dtype=np.int64), **values
        )


def plan_sessions(
    rng: np.random.Generator,
    timeline: Timeline,
    daily_level: np.ndarray,
    effects: Effects,
    sampler: CustomerSampler,
    orders: Orders,
    email: EmailEvents,
    campaigns: list[Campaign],
    scale: float,
) -> Sessions:
    """Browsing, e-mail click, purchase and bot sessions."""
    expected = timeline.hourly(daily_level, SESSIONS_PER_DAY * scale * SESSION_CHANNEL_SHARES) * effects.session_factor
    counts = rng.poisson(expected).ravel()
    hours, channels = expected.shape
    hour = np.repeat(np.repeat(np.arange(hours), channels), counts)
    channel = np.repeat(np.tile(np.arange(channels), hours), counts)
    customer = np.full(len(hour), -1)
    logged_in = rng.random(len(hour)) < LOGGED_IN_SHARE[channel]
    customer[logged_in] = sampler.draw(rng, channel[logged_in], hour[logged_in] // 24)
    browse = Sessions.of(_BROWSE, timeline.moments_in(rng, hour), channel, customer=customer)

    bot_expected = BACKGROUND_BOT_SHARE * expected[:, CHANNEL_INDEX["web"]] + effects.bot_sessions
    bot_hour = np.repeat(np.arange(hours), rng.poisson(bot_expected))
    bots = Sessions.of(_BOT, timeline.moments_in(rng, bot_hour), np.full(len(bot_hour), CHANNEL_INDEX["web"]))

    clicks = []
    for index in range(len(campaigns)):
        recipient, click_ts = email.clicks_of(index)
        click_channel = np.where(rng.random(len(click_ts)) < 0.7, CHANNEL_INDEX["web"], CHANNEL_INDEX["app"])
        start = click_ts + rng.integers(2, 20, len(click_ts))
        clicks.append(Sessions.of(_EMAIL_CLICK, start, click_channel, customer=recipient, campaign=index))
    email_clicks = Sessions.concat(clicks) if clicks else Sessions.of(_EMAIL_CLICK, np.array([]), np.array([]))
    click_hour = np.clip(timeline.hour_of(email_clicks.anchor_ts), 0, hours - 1)
    email_clicks = _subset(
        email_clicks, rng.random(len(click_hour)) < effects.session_factor[click_hour, email_clicks.channel]
    )

    tracked = np.flatnonzero(rng.random(len(orders.ts)) < TRACKED_SHARE[orders.channel])
    purchases = Sessions.of(
        _PURCHASE,
        orders.ts[tracked],
        orders.channel[tracked],
        customer=orders.customer[tracked],
        campaign=orders.campaign[tracked],
        order=tracked,
    )
    return Sessions.concat([browse, email_clicks, purchases, bots])


def _subset(sessions: Sessions, keep: np.ndarray) -> Sessions:
    return Sessions(*(getattr(sessions, f.name)[keep] for f in fields(Sessions)))


def _event_counts(rng: np.random.Generator, sessions: Sessions, lines: np.ndarray) -> np.ndarray:
    """(session, event type) number of events of each type."""
    n = len(sessions.kind)
    kind = sessions.kind
    counts = np.zeros((n, len(EVENT_TYPES)), dtype=np.int64)

    def chance(p_by_kind: tuple[float, float, float, float]) -> np.ndarray:
        return rng.random(n) < np.array(p_by_kind)[kind]

    counts[:, _E["page_view"]] = 1 + rng.poisson(np.array([1.2, 1.0, 1.5, 10.0])[kind]) + 4 * (kind == _BOT)
    counts[:, _E["product_view"]] = rng.poisson(np.array([1.3, 2.5, 1.5, 10.0])[kind]) + np.where(
        kind == _PURCHASE, lines, 0
    )
    counts[:, _E["search"]] = chance((0.35, 0.2, 0.4, 1.0)) * (1 + rng.poisson(np.where(kind == _BOT, 2.0, 0.3)))
    browsing_cart = chance((0.10, 0.22, 0.0, 0.0)) * (1 + rng.poisson(0.3, n))
    counts[:, _E["add_to_cart"]] = np.where(kind == _PURCHASE, lines, browsing_cart)
    has_cart = counts[:, _E["add_to_cart"]] > 0
    counts[:, _E["remove_from_cart"]] = has_cart & chance((0.25, 0.2, 0.0, 0.0))
    counts[:, _E["checkout_start"]] = np.where(kind == _PURCHASE, 1, has_cart & chance((0.3, 0.35, 0.0, 0.0)))
    counts[:, _E["purchase"]] = kind == _PURCHASE
    counts[:, _E["support_contact"]] = chance((0.015, 0.01, 0.01, 0.0))
    return counts


def _expand_events(
    rng: np.random.Generator, sessions: Sessions, orders: Orders, catalog: Catalog
) -> dict[str, np.ndarray]:
    """Events of every session in funnel order: session, event_type, sequence, ts, sku."""
    n = len(sessions.kind)
    lines = np.where(sessions.order >= 0, orders.line_count[np.maximum(sessions.order, 0)], 0)
    counts = _event_counts(rng, sessions, lines)
    per_session = counts.sum(axis=1)
    session = np.repeat(np.repeat(np.arange(n), len(EVENT_TYPES)), counts.ravel())
    event_type = np.repeat(np.tile(np.arange(len(EVENT_TYPES)), n), counts.ravel())
    key = _STAGE[event_type] + rng.random(len(session)) * _STAGE_JITTER[event_type]
    session_start = np.cumsum(per_session) - per_session
    key[session_start] = -1.0  # every session opens with a page view
    order = np.lexsort((key, session))
    session, event_type = session[order], event_type[order]
    sequence = np.arange(len(session)) - session_start[session]

    is_bot = sessions.kind[session] == _BOT
    gaps = np.where(is_bot, 1 + rng.exponential(1.5, len(session)), 5 + rng.exponential(35.0, len(session)))
    gaps[sequence == 0] = 0
    offset = np.cumsum(gaps)
    offset = (offset - offset[session_start][session]).astype(np.int64)
    # A purchase session is anchored on its purchase event, at the order's time.
    purchase_offset = np.zeros(n, dtype=np.int64)
    is_purchase = event_type == _E["purchase"]
    purchase_offset[session[is_purchase]] = offset[is_purchase]
    ts = sessions.anchor_ts[session] - purchase_offset[session] + offset

    sku = np.full(len(session), -1)
    wants_sku = np.isin(event_type, [_E["product_view"], _E["add_to_cart"], _E["remove_from_cart"]])
    popularity = catalog.popularity / catalog.popularity.sum()
    sku[wants_sku] = rng.choice(len(catalog.sku), size=int(wants_sku.sum()), p=popularity)
    # The purchase session's cart holds exactly the order's lines, in order.
    cart = (event_type == _E["add_to_cart"]) & (sessions.kind[session] == _PURCHASE)
    cart_rank = np.arange(cart.sum()) - np.searchsorted(session[cart], session[cart])
    sku[cart] = orders.sku[orders.first_line[sessions.order[session[cart]]] + cart_rank]
    return {"session": session, "event_type": event_type, "sequence": sequence, "ts": ts, "sku": sku}


def _devices_and_agents(rng: np.random.Generator, sessions: Sessions) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Device and user agent (index into the returned agents) per session; bots announce themselves."""
    n = len(sessions.kind)
    bots = sessions.kind == _BOT
    device = np.empty(n, dtype=np.int64)
    for c in np.unique(sessions.channel):
        mask = sessions.channel == c
        device[mask] = rng.choice(len(DEVICES), size=mask.sum(), p=DEVICE_MIX[c])
    device[bots] = np.where(rng.random(bots.sum()) < 0.7, DEVICES.index("desktop"), DEVICES.index("other"))
    agents, agent_choices = user_agent_pool()
    agent = np.empty(n, dtype=np.int64)
    groups = [
        ((CHANNELS[c], DEVICES[d]), (sessions.channel == c) & (device == d) & ~bots)
        for c in np.unique(sessions.channel)
        for d in range(len(DEVICES))
    ]
    for key, mask in [*groups, (("bot", "bot"), bots)]:
        allowed = agent_choices[key]
        agent[mask] = allowed[rng.integers(0, len(allowed), mask.sum())]
    return device, agent, agents


def _session_ips(
    rng: np.random.Generator, sessions: Sessions, orders: Orders, customers: Customers, ip_pool: np.ndarray
) -> np.ndarray:
    """Known customers mostly browse from their own address, buyers from the order's, bots from data centres."""
    n = len(sessions.kind)
    ip = ip_pool[rng.integers(0, len(ip_pool), n)]
    own_ip = (sessions.customer >= 0) & (rng.random(n) < 0.8)
    ip[own_ip] = customers.ip[sessions.customer[own_ip]]
    bought = sessions.order >= 0
    ip[bought] = orders.ip[sessions.order[bought]]  # online orders always carry an IP
    bots = sessions.kind == _BOT
    datacenter = ip_addresses(rng, 40, ipv6_share=0.1, datacenter=True)
    ip[bots] = datacenter[rng.integers(0, len(datacenter), bots.sum())]
    return ip


def interactions_table(
    rng: np.random.Generator,
    timeline: Timeline,
    effects: Effects,
    sessions: Sessions,
    orders: Orders,
    catalog: Catalog,
    customers: Customers,
    campaign_ids: list[str],
    ip_pool: np.ndarray,
) -> pa.Table:
    """One row per event, by time; event_ts in epoch seconds. Events in tracking outages are never recorded."""
    events = _expand_events(rng, sessions, orders, catalog)
    device, agent, agents = _devices_and_agents(rng, sessions)
    ip = _session_ips(rng, sessions, orders, customers, ip_pool)
    session_ids = hex_ids(rng, len(sessions.kind), "s_")

    ts = events["ts"]
    recorded = (ts >= timeline.t0) & (ts < timeline.t_end)
    recorded[recorded] = ~effects.tracking_lost[timeline.hour_of(ts[recorded])]
    kept = np.flatnonzero(recorded)[np.argsort(ts[recorded], kind="stable")]
    session, sequence = events["session"][kept], events["sequence"][kept]
    sequence_suffix = pa.array([f"-{i:03d}" for i in range(int(sequence.max(initial=0)) + 1)], pa.string())
    session_id = pa.array(session_ids, pa.string()).take(pa.array(session))
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise(session_id, sequence_suffix.take(pa.array(sequence)), ""),
            "event_ts": pa.array(ts[kept], pa.int64()),
            "session_id": session_id,
            "customer_id": take(customers.customer_id, sessions.customer[session], dictionary=True),
            "channel": take(CHANNELS, sessions.channel[session], dictionary=True),
            "event_type": take(EVENT_TYPES, events["event_type"][kept], dictionary=True),
            "sku": take(catalog.sku, events["sku"][kept], dictionary=True),
            "device": take(DEVICES, device[session], dictionary=True),
            "ip_address": take(ip, session),
            "user_agent": take(agents, agent[session], dictionary=True),
            "campaign_id": take(campaign_ids, sessions.campaign[session], dictionary=True),
        }
    )
