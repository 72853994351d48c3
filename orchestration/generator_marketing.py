"""E-mail campaigns and social media activity for the demo generator."""

from dataclasses import dataclass, field
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from orchestration.contract import EMAIL_EVENT_TYPES
from orchestration.generator_reference import CATEGORIES, Customers, take
from orchestration.generator_timeline import SECONDS_PER_HOUR, Timeline, window_share

_THEMES = (
    "Weekly Picks",
    "New Arrivals",
    "Flash Sale",
    "Members Only",
    "Back in Stock",
    "Style Edit",
    "Home Refresh",
    "Gift Ideas",
)
_SHOP_URL = "https://www.northwind-shop.example"

BRAND_ACCOUNTS = {
    "instagram": "@northwind.style",
    "tiktok": "@northwindshop",
    "facebook": "NorthwindStore",
    "x": "@northwind",
    "youtube": "@NorthwindTV",
}
SOCIAL_PLATFORMS = tuple(BRAND_ACCOUNTS)
INFLUENCER_HANDLES = (
    "@lena.styles",
    "@max.outdoors",
    "@thehomeedit_jo",
    "@beautybyclara",
    "@techwithtom",
    "@mia.reads.books",
)
# Per platform: brand posts a day, median reach of a post, brand mentions a day.
_POSTS_PER_DAY = np.array([1.0, 0.8, 0.6, 1.3, 0.15])
_MEDIAN_REACH = np.array([9000.0, 16000.0, 3500.0, 2500.0, 7000.0])
_MENTIONS_PER_DAY = np.array([40.0, 60.0, 15.0, 50.0, 5.0])
_POST_LIFETIME_HOURS = 72


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    send_hour: int
    order_lift: float  # extra attributed orders, as a share of a normal day's orders


def schedule_campaigns(rng: np.random.Generator, timeline: Timeline) -> list[Campaign]:
    """A newsletter every three or four days, sent in the morning."""
    campaigns = []
    day = int(rng.integers(0, 3))
    while day < timeline.days:
        theme = _THEMES[int(rng.integers(0, len(_THEMES)))]
        sent = timeline.date_of(day)
        campaigns.append(
            Campaign(
                campaign_id=f"em-{sent:%Y%m%d}-{theme.lower().replace(' ', '-')}",
                name=f"{theme} {sent:%d %b}",
                send_hour=day * 24 + int(rng.integers(7, 11)),
                order_lift=float(rng.uniform(0.15, 0.30)),
            )
        )
        day += int(rng.choice([3, 4]))
    return campaigns


@dataclass(frozen=True)
class DeliverabilityFailure:
    """A mailbox provider rejecting most of one campaign's mail."""

    domain: str
    bounce_probability: float


@dataclass
class EmailEvents:
    campaign: np.ndarray  # index into the campaign list
    recipient: np.ndarray  # customer index
    event_type: np.ndarray  # index into EMAIL_EVENT_TYPES
    ts: np.ndarray  # epoch seconds
    link_url: np.ndarray  # str for clicks, None otherwise

    def clicks_of(self, campaign: int) -> tuple[np.ndarray, np.ndarray]:
        """(recipient, ts) of the campaign's clicks."""
        mask = (self.campaign == campaign) & (self.event_type == EMAIL_EVENT_TYPES.index("click"))
        return self.recipient[mask], self.ts[mask]


def build_email_events(
    rng: np.random.Generator,
    timeline: Timeline,
    campaigns: list[Campaign],
    customers: Customers,
    failures: dict[int, DeliverabilityFailure],
) -> EmailEvents:
    """Sent/delivered/bounce/open/click/unsubscribe/spam_complaint rows per recipient of each send."""
    kind = {name: i for i, name in enumerate(EMAIL_EVENT_TYPES)}
    domains = customers.email_domain()
    parts: list[tuple[np.ndarray, ...]] = []
    for index, campaign in enumerate(campaigns):
        eligible = np.flatnonzero(customers.email_opt_in & (customers.signup_day <= campaign.send_hour // 24))
        recipients = eligible[rng.random(len(eligible)) < rng.uniform(0.7, 1.0)]
        n = len(recipients)
        sent_ts = timeline.t0 + campaign.send_hour * SECONDS_PER_HOUR + rng.integers(0, 1800, n)
        bounce_probability = np.full(n, rng.uniform(0.008, 0.025))
        if index in failures:
            failure = failures[index]
            bounce_probability[domains[recipients] == failure.domain] = failure.bounce_probability
        bounced = rng.random(n) < bounce_probability
        delivered_ts = sent_ts + rng.integers(2, 90, n)
        engagement = customers.email_engagement[recipients]
        opened = ~bounced & (rng.random(n) < np.clip(rng.uniform(0.18, 0.32) * engagement, 0, 0.95))
        open_ts = delivered_ts + (rng.lognormal(np.log(2.5), 1.1, n).clip(0, 96) * SECONDS_PER_HOUR).astype(np.int64)
        reopened = opened & (rng.random(n) < 0.25)
        reopen_ts = open_ts + (rng.lognormal(np.log(6.0), 1.0, n).clip(0, 96) * SECONDS_PER_HOUR).astype(np.int64)
        clicked = opened & (rng.random(n) < np.clip(rng.uniform(0.10, 0.22) * engagement, 0, 0.9))
        click_ts = open_ts + rng.integers(10, 600, n)
        unsubscribed = opened & (rng.random(n) < 0.008)
        unsubscribe_ts = open_ts + rng.integers(20, 900, n)
        complained = ~bounced & (rng.random(n) < 0.0006)
        complaint_ts = delivered_ts + rng.integers(600, 36_000, n)
        groups = (
            (np.ones(n, bool), "sent", sent_ts),
            (bounced, "bounce", delivered_ts),
            (~bounced, "delivered", delivered_ts),
            (opened, "open", open_ts),
            (reopened, "open", reopen_ts),
            (clicked, "click", click_ts),
            (unsubscribed, "unsubscribe", unsubscribe_ts),
            (complained, "spam_complaint", complaint_ts),
        )
        for mask, name, ts in groups:
            who = recipients[mask]
            links = (
                _tracking_links(rng, campaign, customers.email[who])
                if name == "click"
                else np.full(len(who), None, dtype=object)
            )
            parts.append((np.full(len(who), index), who, np.full(len(who), kind[name]), ts[mask], links))
    columns = (
        [np.concatenate([part[i] for part in parts]) for i in range(5)] if parts else [np.array([], dtype=np.int64)] * 5
    )
    events = EmailEvents(*columns)
    keep = events.ts < timeline.t_end
    return EmailEvents(*(column[keep] for column in columns))


def _tracking_links(rng: np.random.Generator, campaign: Campaign, emails: np.ndarray) -> np.ndarray:
    """Click URLs whose query string carries the recipient's address, as e-mail tools do."""
    paths = ["/sale", "/new-in"] + [f"/c/{category.replace('_', '-')}" for category in CATEGORIES]
    chosen = rng.integers(0, len(paths), len(emails))
    slot = rng.integers(1, 6, len(emails))
    return np.array(
        [
            f"{_SHOP_URL}{paths[p]}?utm_source=newsletter&utm_medium=email&utm_campaign={campaign.campaign_id}"
            f"&utm_content=slot{s}&email={quote(address, safe='@')}"
            for p, s, address in zip(chosen, slot, emails, strict=True)
        ],
        dtype=object,
    )


@dataclass(frozen=True)
class ViralPost:
    platform: str
    hour: int
    reach_multiplier: float


@dataclass
class SocialPosts:
    """Posts (brand and influencer) and the campaign each belongs to (-1: none)."""

    platform: np.ndarray
    handle: np.ndarray
    post_id: np.ndarray
    campaign: np.ndarray
    hour: np.ndarray
    reach: np.ndarray
    decay_hours: np.ndarray
    engagement_boost: np.ndarray
    social_campaign_ids: list[str] = field(default_factory=list)


def plan_social_posts(
    rng: np.random.Generator,
    timeline: Timeline,
    campaigns: list[Campaign],
    viral_posts: list[ViralPost],
    scale: float,
) -> SocialPosts:
    """Brand posts, posts pushing each newsletter, influencer collaborations and the viral posts.

    Social campaigns get indices after the e-mail campaigns.
    """
    rows: list[tuple[int, str, int, int, float, float, float]] = []
    for p, platform in enumerate(SOCIAL_PLATFORMS):
        counts = rng.poisson(_POSTS_PER_DAY[p], timeline.days)
        for day in np.flatnonzero(counts):
            for _ in range(counts[day]):
                hour = int(day * 24 + rng.integers(9, 21))
                rows.append((p, BRAND_ACCOUNTS[platform], -1, hour, _reach(rng, p, scale), 6.0, 1.0))
    for index, campaign in enumerate(campaigns):
        if rng.random() < 0.6:
            rows.append(
                (0, BRAND_ACCOUNTS["instagram"], index, campaign.send_hour + 1, _reach(rng, 0, scale), 6.0, 1.0)
            )
    social_campaign_ids = []
    for day in np.flatnonzero(rng.random(timeline.days) < 0.11):
        handle = INFLUENCER_HANDLES[int(rng.integers(0, len(INFLUENCER_HANDLES)))]
        social_campaign_ids.append(f"inf-{timeline.date_of(day):%Y%m%d}-{handle.strip('@').replace('.', '-')}")
        platform = int(rng.integers(0, 2))
        hour = int(day * 24 + rng.integers(12, 20))
        rows.append(
            (
                platform,
                handle,
                len(campaigns) + len(social_campaign_ids) - 1,
                hour,
                2.5 * _reach(rng, platform, scale),
                8.0,
                1.2,
            )
        )
    for viral in viral_posts:
        p = SOCIAL_PLATFORMS.index(viral.platform)
        rows.append(
            (
                p,
                BRAND_ACCOUNTS[viral.platform],
                -1,
                viral.hour,
                viral.reach_multiplier * _MEDIAN_REACH[p] * scale,
                10.0,
                1.5,
            )
        )
    rows.sort(key=lambda row: (row[3], row[0], row[1]))
    platform, handle, campaign, hour, reach, decay, boost = (np.array(column) for column in zip(*rows, strict=True))
    return SocialPosts(
        platform=platform,
        handle=handle.astype(object),
        post_id=np.array([_post_id(rng, SOCIAL_PLATFORMS[p]) for p in platform], dtype=object),
        campaign=campaign,
        hour=hour,
        reach=reach,
        decay_hours=decay,
        engagement_boost=boost,
        social_campaign_ids=social_campaign_ids,
    )


def _reach(rng: np.random.Generator, platform: int, scale: float) -> float:
    return float(_MEDIAN_REACH[platform] * scale * rng.lognormal(0.0, 0.6))


def _post_id(rng: np.random.Generator, platform: str) -> str:
    if platform in ("tiktok", "x"):
        return str(int(rng.integers(10**18, 9 * 10**18)))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    letters = "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 11))
    return {
        "instagram": f"C{letters[:10]}",
        "youtube": letters,
        "facebook": f"1000{int(rng.integers(10**11, 10**12))}",
    }[platform]


@dataclass
class SocialRows:
    platform: np.ndarray  # index into SOCIAL_PLATFORMS
    handle: np.ndarray
    post_id: np.ndarray  # None for account-level mention rows
    campaign: np.ndarray  # -1: none
    metric_hour: np.ndarray  # the interval [hour, hour + 1); metric_ts is its end
    counts: dict[str, np.ndarray]  # -1 where a count does not apply


def build_social_rows(
    rng: np.random.Generator, timeline: Timeline, posts: SocialPosts, mention_factor: np.ndarray, scale: float
) -> SocialRows:
    """Hourly post metrics for three days after each post, plus hourly brand-mention rows."""
    age = np.arange(1, _POST_LIFETIME_HOURS + 1)
    post = np.repeat(np.arange(len(posts.hour)), _POST_LIFETIME_HOURS)
    hour = posts.hour[post] + np.tile(age - 1, len(posts.hour))
    kernel = age[None, :] * np.exp(-age[None, :] / posts.decay_hours[:, None])
    kernel /= kernel.sum(axis=1, keepdims=True)
    impressions = rng.poisson((posts.reach[:, None] * kernel).ravel())
    boost = posts.engagement_boost[post]
    rates = {"likes": 0.035, "comments": 0.003, "shares": 0.002, "clicks": 0.006}
    counts = {"impressions": impressions}
    for name, rate in rates.items():
        # Shares react most to a post that catches on.
        post_boost = boost**2 if name == "shares" else boost
        post_rate = rng.uniform(0.6, 1.4, len(posts.hour))[post] * rate * post_boost
        counts[name] = rng.binomial(impressions, np.clip(post_rate, 0, 1))
    counts["mentions"] = np.full(len(post), -1)
    inside = hour < timeline.hours

    mention_platform = np.tile(np.arange(len(SOCIAL_PLATFORMS)), timeline.hours)
    mention_hour = np.repeat(np.arange(timeline.hours), len(SOCIAL_PLATFORMS))
    hour_share = np.array([window_share(0, h % 24, 1) for h in range(24)])[mention_hour % 24]
    expected = (
        _MENTIONS_PER_DAY[mention_platform]
        * max(scale, 0.05)
        * hour_share
        * mention_factor[mention_hour, mention_platform]
    )
    mention_counts = {name: np.full(len(mention_hour), -1) for name in counts}
    mention_counts["mentions"] = rng.poisson(expected)
    return SocialRows(
        platform=np.concatenate([posts.platform[post][inside], mention_platform]),
        handle=np.concatenate(
            [
                posts.handle[post][inside],
                np.array([BRAND_ACCOUNTS[SOCIAL_PLATFORMS[p]] for p in mention_platform], dtype=object),
            ]
        ),
        post_id=np.concatenate([posts.post_id[post][inside], np.full(len(mention_hour), None, dtype=object)]),
        campaign=np.concatenate([posts.campaign[post][inside], np.full(len(mention_hour), -1)]),
        metric_hour=np.concatenate([hour[inside], mention_hour]),
        counts={name: np.concatenate([counts[name][inside], mention_counts[name]]) for name in counts},
    )


def social_campaign_by_hour(timeline: Timeline, posts: SocialPosts, live_hours: int = 24) -> np.ndarray:
    """(hours,) the campaign of the latest campaign post in the last `live_hours`, -1 when none."""
    active = np.full(timeline.hours, -1)
    for hour, campaign in zip(posts.hour, posts.campaign, strict=True):
        if campaign >= 0:
            active[hour : min(hour + live_hours, timeline.hours)] = campaign
    return active


def email_table(events: EmailEvents, campaigns: list[Campaign], customers: Customers) -> pa.Table:
    """Contract columns; event_ts in epoch seconds."""
    return pa.table(
        {
            "campaign_id": take([c.campaign_id for c in campaigns], events.campaign),
            "campaign_name": take([c.name for c in campaigns], events.campaign),
            "recipient_email": pa.array(customers.email[events.recipient], pa.string()),
            "event_type": take(EMAIL_EVENT_TYPES, events.event_type),
            "event_ts": pa.array(events.ts, pa.int64()),
            "link_url": pa.array(events.link_url, pa.string()),
        }
    )


def social_table(rows: SocialRows, timeline: Timeline, campaign_ids: list[str]) -> pa.Table:
    """Contract columns; metric_ts (the end of the hour the counts cover) in epoch seconds."""
    counts = {name: pa.array(values, pa.int64(), mask=values < 0) for name, values in rows.counts.items()}
    return pa.table(
        {
            "platform": take(SOCIAL_PLATFORMS, rows.platform),
            "account_handle": pa.array(rows.handle, pa.string()),
            "post_id": pa.array(rows.post_id, pa.string()),
            "campaign_id": take(campaign_ids, rows.campaign),
            "metric_ts": pa.array(timeline.t0 + (rows.metric_hour + 1) * SECONDS_PER_HOUR, pa.int64()),
            **{name: counts[name] for name in ("impressions", "likes", "comments", "shares", "clicks", "mentions")},
        }
    )
