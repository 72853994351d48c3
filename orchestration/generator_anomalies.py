"""Where the demo data departs from normal on purpose, and the ground truth that says so.

`plan_anomalies` places one anomaly every few days after a warm-up, never on or next to a
planned promotion day and never overlapping another, turns each into multipliers on the
hourly volume model (`Effects`) and records where it should be visible (`Anomaly.targets`,
with metric and segment names from docs/architecture.md).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

from orchestration.contract import CHANNELS
from orchestration.generator_marketing import SOCIAL_PLATFORMS, Campaign, DeliverabilityFailure, ViralPost
from orchestration.generator_reference import (
    CATEGORIES,
    CATEGORY_ORDER_SHARES,
    CHANNEL_INDEX,
    COUNTRY_CODES,
    COUNTRY_SHARES,
    ORDER_CHANNEL_SHARES,
    REFUND_RATE,
    SESSION_CHANNEL_SHARES,
    SESSIONS_PER_DAY,
    Customers,
)
from orchestration.generator_timeline import Timeline, window_share

KINDS = (
    "spike",
    "drop",
    "level_shift",
    "drift",
    "channel_outage",
    "tracking_outage",
    "bot_burst",
    "pricing_error",
    "refund_wave",
    "email_deliverability_failure",
    "viral_social_post",
    "customer_outlier",
)
WARM_UP_DAYS = 35
# A segment's change is labelled at total level too when it moves the total at least this much.
TOTAL_VISIBLE_CHANGE = 0.3
_LENGTH_DAYS = {"level_shift": (4, 7), "drift": (8, 10), "refund_wave": (2, 2), "viral_social_post": (2, 2)}
# Segments big enough that a drop is visible at the daily grain.
_LARGE_COUNTRIES = tuple(i for i, share in enumerate(COUNTRY_SHARES) if share >= 0.08)
T = TypeVar("T")
_ORDER_SHARES = {"channel": ORDER_CHANNEL_SHARES, "category": CATEGORY_ORDER_SHARES, "country": COUNTRY_SHARES}


@dataclass(frozen=True)
class LabelTarget:
    source: str
    metric: str
    segment_type: str
    segment_value: str
    direction: str  # spike or drop


@dataclass
class Anomaly:
    label_id: str
    kind: str
    is_critical: bool
    start_hour: int
    end_hour: int  # exclusive
    description: str
    targets: list[LabelTarget] = field(default_factory=list)
    customer_id: str | None = None

    def assign_customer(self, customer_id: str) -> None:
        """Name the customer of a customer_outlier, also as its targets' segment value."""
        self.customer_id = customer_id
        self.targets = [
            replace(t, segment_value=customer_id) if t.segment_type == "customer" else t for t in self.targets
        ]


@dataclass(frozen=True)
class CustomerOutlier:
    anomaly: Anomaly
    day: int
    multiplier: float


@dataclass
class Effects:
    """Multipliers and extras applied to the hourly volume model (hour index first)."""

    order_factor: np.ndarray  # (hour, channel)
    session_factor: np.ndarray  # (hour, channel)
    category_factor: np.ndarray  # (hour, category): extra or thinned orders containing it
    country_factor: np.ndarray  # (hour, country): thinning only
    price_factor: np.ndarray  # (hour, category)
    quantity_factor: np.ndarray  # (hour, category)
    refund_probability: np.ndarray  # (hour, channel)
    tracking_lost: np.ndarray  # (hour,) no interaction events recorded
    bot_sessions: np.ndarray  # (hour,) expected extra bot sessions on the web
    mention_factor: np.ndarray  # (hour, social platform)
    deliverability_failures: dict[int, DeliverabilityFailure] = field(default_factory=dict)
    viral_posts: list[ViralPost] = field(default_factory=list)
    customer_outliers: list[CustomerOutlier] = field(default_factory=list)

    @classmethod
    def none(cls, hours: int) -> "Effects":
        def ones(width: int) -> np.ndarray:
            return np.ones((hours, width))

        return cls(
            order_factor=ones(len(CHANNELS)),
            session_factor=ones(len(CHANNELS)),
            category_factor=ones(len(CATEGORIES)),
            country_factor=ones(len(COUNTRY_CODES)),
            price_factor=ones(len(CATEGORIES)),
            quantity_factor=ones(len(CATEGORIES)),
            refund_probability=np.full((hours, len(CHANNELS)), REFUND_RATE),
            tracking_lost=np.zeros(hours, dtype=bool),
            bot_sessions=np.zeros(hours),
            mention_factor=ones(len(SOCIAL_PLATFORMS)),
        )


@dataclass
class _Planner:
    rng: np.random.Generator
    timeline: Timeline
    campaigns: list[Campaign]
    customers: Customers
    scale: float
    effects: Effects

    def choice(self, options: Sequence[T], p: list[float] | None = None) -> T:
        return options[int(self.rng.choice(len(options), p=p))]

    # -- volume changes on a segment (spike, drop, level_shift, drift) --------------------

    def segment_change(self, anomaly: Anomaly, segment_type: str, segment: int, profile: np.ndarray) -> None:
        """Multiply orders (and sessions for channels and total) in a segment by `profile` per hour."""
        hours = slice(anomaly.start_hour, anomaly.end_hour)
        factor = profile[:, None]
        if segment_type == "total":
            self.effects.order_factor[hours] *= factor
            self.effects.session_factor[hours] *= factor
        elif segment_type == "channel":
            self.effects.order_factor[hours, segment] *= profile
            self.effects.session_factor[hours, segment] *= profile
        elif segment_type == "category":
            self.effects.category_factor[hours, segment] *= profile
        else:
            self.effects.country_factor[hours, segment] *= profile
        final = float(profile[-1])
        direction = "spike" if final > 1 else "drop"
        value = _segment_value(segment_type, segment)
        for metric in ("orders", "revenue", "units"):
            anomaly.targets.append(LabelTarget("transactions", metric, segment_type, value, direction))
        if segment_type != "total" and _ORDER_SHARES[segment_type][segment] * abs(final - 1) >= TOTAL_VISIBLE_CHANGE:
            for metric in ("orders", "revenue"):
                anomaly.targets.append(LabelTarget("transactions", metric, "total", "all", direction))
        if segment_type == "total" or (segment_type == "channel" and SESSION_CHANNEL_SHARES[segment] > 0):
            anomaly.targets.append(LabelTarget("interactions", "sessions", segment_type, value, direction))

    def pick_segment(self, types: tuple[str, ...]) -> tuple[str, int]:
        segment_type = self.choice(types)
        if segment_type == "channel":
            return segment_type, CHANNEL_INDEX[self.choice(("web", "app", "marketplace", "social_shop"))]
        if segment_type == "category":
            return segment_type, int(self.rng.integers(0, len(CATEGORIES)))
        if segment_type == "country":
            return segment_type, self.choice(_LARGE_COUNTRIES)
        return segment_type, 0

    def spike(self, anomaly: Anomaly, large: bool) -> str:
        segment_type, segment = self.pick_segment(("total", "channel", "category"))
        factor = 3.0 if large else 1.9
        self.segment_change(anomaly, segment_type, segment, np.full(anomaly.end_hour - anomaly.start_hour, factor))
        return (
            f"Unexplained demand spike ({_describe(segment_type, segment)}): orders about {factor:.1f}x a normal day."
        )

    def drop(self, anomaly: Anomaly, large: bool) -> str:
        segment_type, segment = self.pick_segment(("channel", "category", "country"))
        factor = 0.15 if large else 0.4
        self.segment_change(anomaly, segment_type, segment, np.full(anomaly.end_hour - anomaly.start_hour, factor))
        where = _describe(segment_type, segment)
        return f"Sudden drop ({where}): orders down to about {factor:.0%} of normal for the day."

    def level_shift(self, anomaly: Anomaly, large: bool) -> str:
        segment_type, segment = self.pick_segment(("channel", "category", "country"))
        upward = segment_type != "country" and self.rng.random() < 0.5
        factor = (1.9 if large else 1.5) if upward else (0.45 if large else 0.6)
        self.segment_change(anomaly, segment_type, segment, np.full(anomaly.end_hour - anomaly.start_hour, factor))
        days = (anomaly.end_hour - anomaly.start_hour) // 24
        where = _describe(segment_type, segment)
        return f"Level shift ({where}): orders at about {factor:.2f}x normal for {days} days, then back."

    def drift(self, anomaly: Anomaly, large: bool) -> str:
        segment_type, segment = self.pick_segment(("channel", "category"))
        upward = self.rng.random() < 0.5
        final = (2.2 if large else 1.6) if upward else (0.35 if large else 0.55)
        hours = anomaly.end_hour - anomaly.start_hour
        self.segment_change(anomaly, segment_type, segment, 1 + (final - 1) * np.arange(1, hours + 1) / hours)
        where = _describe(segment_type, segment)
        return f"Gradual drift ({where}): orders ramp to about {final:.2f}x normal over {hours // 24} days."

    # -- hour-long incidents ---------------------------------------------------------------

    def hour_window(self, anomaly: Anomaly, first: tuple[int, int], length: tuple[int, int]) -> tuple[int, int]:
        """Narrow a one-day anomaly to a window of hours; returns (first hour of day, hours)."""
        start = int(self.rng.integers(*first))
        count = int(self.rng.integers(*length))
        anomaly.start_hour += start
        anomaly.end_hour = min(anomaly.start_hour + count, self.timeline.hours)
        return start, count

    def channel_outage(self, anomaly: Anomaly, large: bool) -> str:
        name = self.choice(("web", "app", "marketplace"), p=[0.4, 0.4, 0.2])
        channel = CHANNEL_INDEX[name]
        first, count = self.hour_window(anomaly, (7, 12), (11, 15) if large else (7, 10))
        hours = slice(anomaly.start_hour, anomaly.end_hour)
        self.effects.order_factor[hours, channel] *= 0.02
        self.effects.session_factor[hours, channel] *= 0.02
        for metric in ("orders", "revenue"):
            anomaly.targets.append(LabelTarget("transactions", metric, "channel", name, "drop"))
        lost_share = window_share(channel, first, count)
        if ORDER_CHANNEL_SHARES[channel] * lost_share >= TOTAL_VISIBLE_CHANGE:
            anomaly.targets.append(LabelTarget("transactions", "orders", "total", "all", "drop"))
        if SESSION_CHANNEL_SHARES[channel] > 0:
            anomaly.targets.append(LabelTarget("interactions", "sessions", "channel", name, "drop"))
            if SESSION_CHANNEL_SHARES[channel] * lost_share >= TOTAL_VISIBLE_CHANGE:
                anomaly.targets.append(LabelTarget("interactions", "sessions", "total", "all", "drop"))
        return f"{name} channel outage for {count} hours: orders and sessions on {name} near zero."

    def tracking_outage(self, anomaly: Anomaly, large: bool) -> str:
        _, count = self.hour_window(anomaly, (6, 11), (10, 14) if large else (6, 9))
        self.effects.tracking_lost[anomaly.start_hour : anomaly.end_hour] = True
        anomaly.targets += [
            LabelTarget("interactions", "sessions", "total", "all", "drop"),
            LabelTarget("interactions", "sessions", "channel", "web", "drop"),
            LabelTarget("interactions", "sessions", "channel", "app", "drop"),
            LabelTarget("interactions", "events_page_view", "total", "all", "drop"),
        ]
        return f"Tracking outage for {count} hours: no interaction events recorded while orders continue."

    def bot_burst(self, anomaly: Anomaly, large: bool) -> str:
        _, count = self.hour_window(anomaly, (0, 20), (4, 7) if large else (2, 5))
        web_sessions_per_day = SESSIONS_PER_DAY * SESSION_CHANNEL_SHARES[CHANNEL_INDEX["web"]] * self.scale
        total = (1.8 if large else 1.0) * web_sessions_per_day
        self.effects.bot_sessions[anomaly.start_hour : anomaly.end_hour] += total / count
        anomaly.targets += [
            LabelTarget("interactions", "sessions", "total", "all", "spike"),
            LabelTarget("interactions", "sessions", "channel", "web", "spike"),
            LabelTarget("interactions", "bot_session_share", "total", "all", "spike"),
            LabelTarget("interactions", "bot_session_share", "channel", "web", "spike"),
            LabelTarget("interactions", "events_page_view", "total", "all", "spike"),
        ]
        if large:
            anomaly.targets += [
                LabelTarget("interactions", "conversion_rate", "total", "all", "drop"),
                LabelTarget("interactions", "conversion_rate", "channel", "web", "drop"),
            ]
        return f"Bot burst on the web for {count} hours: about {total:.0f} scripted sessions, none buying."

    def pricing_error(self, anomaly: Anomaly, large: bool) -> str:
        category = int(self.rng.integers(0, len(CATEGORIES)))
        name = CATEGORIES[category]
        _, count = self.hour_window(anomaly, (7, 12), (9, 13) if large else (5, 8))
        hours = slice(anomaly.start_hour, anomaly.end_hour)
        self.effects.price_factor[hours, category] *= 0.1
        self.effects.category_factor[hours, category] *= 1.6
        self.effects.quantity_factor[hours, category] *= 1.8
        anomaly.targets += [
            LabelTarget("transactions", "units", "category", name, "spike"),
            LabelTarget("transactions", "avg_order_value", "category", name, "drop"),
            LabelTarget("transactions", "avg_unit_price", "category", name, "drop"),
        ]
        if large:
            anomaly.targets.append(LabelTarget("transactions", "revenue", "category", name, "drop"))
        return f"Pricing error in {name} for {count} hours: unit prices about 90% off, shoppers buy more units."

    def refund_wave(self, anomaly: Anomaly, large: bool) -> str:
        segment_type, segment = self.pick_segment(("total", "channel"))
        probability = 0.30 if large else 0.15
        channels = slice(None) if segment_type == "total" else segment
        self.effects.refund_probability[anomaly.start_hour : anomaly.end_hour, channels] = probability
        value = _segment_value(segment_type, segment)
        anomaly.targets.append(LabelTarget("transactions", "refund_rate", segment_type, value, "spike"))
        if segment_type == "channel" and ORDER_CHANNEL_SHARES[segment] * (probability - REFUND_RATE) >= 0.03:
            anomaly.targets.append(LabelTarget("transactions", "refund_rate", "total", "all", "spike"))
        where = _describe(segment_type, segment)
        return f"Refund wave ({where}): about {probability:.0%} of orders refunded for two days."

    def email_deliverability_failure(self, anomaly: Anomaly, large: bool) -> str:
        # The plan starts this anomaly on the day of the send it spoils.
        campaign = next(i for i, c in enumerate(self.campaigns) if c.send_hour >= anomaly.start_hour)
        domains, counts = np.unique(self.customers.email_domain()[self.customers.email_opt_in], return_counts=True)
        ranked = domains[np.argsort(-counts, kind="stable")]
        domain = str(ranked[0] if large else ranked[min(1, len(ranked) - 1)])
        self.effects.deliverability_failures[campaign] = DeliverabilityFailure(domain, 0.9)
        sent = self.campaigns[campaign]
        anomaly.start_hour, anomaly.end_hour = sent.send_hour, sent.send_hour + 24
        anomaly.targets += [
            LabelTarget("email", "bounce_rate", "total", "all", "spike"),
            LabelTarget("email", "bounce_rate", "campaign", sent.campaign_id, "spike"),
        ]
        return f"Deliverability failure: {domain} rejected most of campaign '{sent.name}'; bounce rate jumps."

    def viral_social_post(self, anomaly: Anomaly, large: bool) -> str:
        platform = self.choice(("tiktok", "instagram", "youtube"), p=[0.5, 0.35, 0.15])
        first, _ = self.hour_window(anomaly, (11, 19), (36, 37))
        multiplier = 60.0 if large else 25.0
        self.effects.viral_posts.append(ViralPost(platform, anomaly.start_hour, multiplier))
        strength = 3.0 if large else 1.5
        after = np.arange(1, 49)
        hours = anomaly.start_hour + after
        inside = hours < self.timeline.hours
        decay = np.exp(-after[inside] / 10.0)
        social_shop = CHANNEL_INDEX["social_shop"]
        self.effects.session_factor[hours[inside], social_shop] *= 1 + strength * decay
        self.effects.order_factor[hours[inside], social_shop] *= 1 + 0.6 * strength * decay
        self.effects.mention_factor[hours[inside], SOCIAL_PLATFORMS.index(platform)] *= 1 + 4 * decay
        anomaly.targets += [
            LabelTarget("social", "impressions", "platform", platform, "spike"),
            LabelTarget("social", "impressions", "total", "all", "spike"),
            LabelTarget("social", "clicks", "platform", platform, "spike"),
            LabelTarget("interactions", "sessions", "channel", "social_shop", "spike"),
        ]
        if large:
            anomaly.targets += [
                LabelTarget("social", "mentions", "platform", platform, "spike"),
                LabelTarget("transactions", "orders", "channel", "social_shop", "spike"),
            ]
        return (
            f"Viral {platform} post at {first:02d}:00 UTC (~{multiplier:.0f}x usual reach), "
            "followed by a social-shop traffic surge."
        )

    def customer_outlier(self, anomaly: Anomaly, large: bool) -> str:
        multiplier = 15.0 if large else 8.0
        self.effects.customer_outliers.append(CustomerOutlier(anomaly, anomaly.start_hour // 24, multiplier))
        anomaly.targets += [
            LabelTarget("customers", "customer_order_value", "customer", "", "spike"),
            LabelTarget("customers", "customer_units", "customer", "", "spike"),
        ]
        return f"A regular customer places one order about {multiplier:.0f}x their usual value and units."


def _segment_value(segment_type: str, segment: int) -> str:
    names = {"total": ("all",), "channel": CHANNELS, "category": CATEGORIES, "country": COUNTRY_CODES}
    return names[segment_type][segment]


def _describe(segment_type: str, segment: int) -> str:
    return "all channels" if segment_type == "total" else f"{segment_type} {_segment_value(segment_type, segment)}"


def plan_anomalies(
    rng: np.random.Generator, timeline: Timeline, campaigns: list[Campaign], customers: Customers, scale: float
) -> tuple[list[Anomaly], Effects]:
    """Anomalies of every kind in turn (shuffled), one every ~6 days after the warm-up."""
    planner = _Planner(rng, timeline, campaigns, customers, scale, Effects.none(timeline.hours))
    order = [KINDS[i] for i in rng.permutation(len(KINDS))]
    anomalies: list[Anomaly] = []
    cursor = WARM_UP_DAYS
    while True:
        kind = order[len(anomalies) % len(order)]
        low, high = _LENGTH_DAYS.get(kind, (1, 1))
        length = int(rng.integers(low, high + 1))
        start = _free_start(timeline, cursor + int(rng.integers(0, 2)), length)
        if kind == "email_deliverability_failure":
            send_days = (c.send_hour // 24 for c in campaigns)
            start = next((d for d in send_days if d >= start and _free_start(timeline, d, 1) == d), timeline.days)
        if start + length > timeline.days:
            break
        large = bool(rng.random() < 0.5)
        anomaly = Anomaly(f"lbl-{len(anomalies) + 1:03d}", kind, large, start * 24, (start + length) * 24, "")
        anomaly.description = getattr(planner, kind)(anomaly, large)
        anomalies.append(anomaly)
        end_day = -(-anomaly.end_hour // 24)
        cursor = end_day + int(rng.integers(2, 5)) + (2 if length >= 4 else 0)
    return anomalies, planner.effects


def _free_start(timeline: Timeline, day: int, length: int) -> int:
    """First day from `day` whose window (with a day either side) holds no planned promotion."""
    promotion = timeline.is_promotion_day
    while day < timeline.days and promotion[max(day - 1, 0) : day + length + 1].any():
        day += 1
    return day
