"""Reference data for the demo generator: catalogue, countries, people, devices and agents.

Everything here is either a constant or built from the caller's numpy Generator, so the
same seed always yields the same catalogue and customer base.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from orchestration.contract import CHANNELS, DEVICES

CATEGORIES = (
    "fashion",
    "home_kitchen",
    "beauty",
    "electronics",
    "sports_outdoors",
    "books_media",
    "toys_games",
    "garden",
)
CATEGORY_CODES = ("FAS", "HOM", "BEA", "ELE", "SPO", "BOO", "TOY", "GAR")
# Share of order lines per category, and the median and spread of list prices in EUR.
CATEGORY_LINE_SHARES = np.array([0.22, 0.16, 0.14, 0.12, 0.10, 0.10, 0.08, 0.08])
CATEGORY_PRICE_MEDIAN_EUR = np.array([39.0, 29.0, 18.0, 119.0, 49.0, 14.0, 24.0, 27.0])
CATEGORY_PRICE_SPREAD = np.array([0.6, 0.7, 0.5, 0.9, 0.7, 0.4, 0.6, 0.7])
SKUS_PER_CATEGORY = 24

COUNTRY_CODES = ("DE", "FR", "GB", "NL", "ES", "IT", "AT", "BE", "CH", "US")
COUNTRY_SHARES = np.array([0.27, 0.14, 0.12, 0.09, 0.09, 0.08, 0.06, 0.05, 0.05, 0.05])
COUNTRY_CURRENCY = ("EUR", "EUR", "GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "CHF", "USD")
COUNTRY_PHONE_PREFIX = ("+49", "+33", "+44", "+31", "+34", "+39", "+43", "+32", "+41", "+1")
# Currencies close to the euro keep revenue summed across countries roughly comparable.
EUR_EXCHANGE_RATES = {"EUR": 1.0, "GBP": 0.85, "CHF": 0.95, "USD": 1.08}
COUNTRY_EMAIL_DOMAINS = (
    ("gmx.de", "web.de", "t-online.de"),
    ("orange.fr", "free.fr", "laposte.net"),
    ("btinternet.com", "hotmail.co.uk", "sky.com"),
    ("ziggo.nl", "kpnmail.nl", "hotmail.nl"),
    ("telefonica.net", "hotmail.es", "yahoo.es"),
    ("libero.it", "virgilio.it", "alice.it"),
    ("gmx.at", "aon.at", "chello.at"),
    ("telenet.be", "skynet.be", "proximus.be"),
    ("bluewin.ch", "gmx.ch", "sunrise.ch"),
    ("yahoo.com", "aol.com", "comcast.net"),
)
GLOBAL_EMAIL_DOMAINS = ("gmail.com", "outlook.com", "icloud.com")

FIRST_NAMES = tuple(
    (
        "anna lena marie sophie laura julia emma mia clara lucia giulia chloe camille olivia isabel "
        "sara nina eva hannah zoe lukas max paul jonas felix leon tom lucas hugo louis matteo marco "
        "pablo diego daan sem james oliver noah ethan"
    ).split()
)
LAST_NAMES = tuple(
    (
        "mueller schmidt schneider fischer weber meyer wagner becker hoffmann koch martin bernard "
        "dubois moreau laurent smith jones taylor brown wilson devries jansen bakker visser garcia "
        "martinez lopez rossi russo ferrari bianchi gruber huber peeters janssens keller brunner "
        "johnson miller davis"
    ).split()
)

CHANNEL_INDEX = {name: i for i, name in enumerate(CHANNELS)}
PAYMENT_METHODS = ("card", "paypal", "klarna", "apple_pay", "cash", "marketplace_pay")

# Realistic user agents by (channel, device); the app and social in-app browsers have their own.
_DESKTOP_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36",
)
_MOBILE_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
)
_TABLET_AGENTS = (
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Safari/537.36",
)
_OTHER_AGENTS = (
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/5.0 Chrome/94.0.4606.31 TV Safari/537.36",
    "Mozilla/5.0 (PlayStation; PlayStation 5/8.20) AppleWebKit/605.1.15 (KHTML, like Gecko)",
)
_APP_AGENTS = {
    "mobile": (
        "NorthwindShop/5.12.0 (iPhone; iOS 17.4.1; Scale/3.00)",
        "NorthwindShop/5.12.0 (Android 14; SM-S918B; okhttp/4.12.0)",
        "NorthwindShop/5.11.3 (Android 13; Pixel 7; okhttp/4.12.0)",
    ),
    "tablet": ("NorthwindShop/5.12.0 (iPad; iPadOS 17.4; Scale/2.00)",),
}
_SOCIAL_INAPP_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 327.1.6.30.88 (iPhone15,3; iOS 17_4; en_GB)",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 trill_340203 musical_ly_2023402030",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/459.0.0.42.109;FBBV/580473735]",
)
BOT_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.60 Safari/537.36",
    "python-requests/2.31.0",
    "Scrapy/2.11.1 (+https://scrapy.org)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Go-http-client/1.1",
)

# Device mix of sessions per channel (rows follow contract.CHANNELS, columns contract.DEVICES).
DEVICE_MIX = np.array(
    [
        [0.48, 0.42, 0.08, 0.02],  # web
        [0.00, 0.86, 0.14, 0.00],  # app
        [0.45, 0.45, 0.10, 0.00],  # marketplace (no sessions of ours; kept for shape)
        [0.30, 0.60, 0.10, 0.00],  # store
        [0.05, 0.90, 0.05, 0.00],  # social_shop
    ]
)

_ISP_FIRST_OCTETS = np.array(
    [
        31,
        37,
        46,
        62,
        77,
        78,
        79,
        80,
        81,
        82,
        84,
        85,
        86,
        87,
        88,
        89,
        90,
        91,
        92,
        93,
        94,
        95,
        109,
        176,
        178,
        188,
        212,
        213,
        217,
    ]
)
_ISP_IPV6_PREFIXES = ("2a02:8108", "2a01:cb00", "2a00:23c5", "2001:1c00", "2a02:a210", "2a01:4c8")
_DATACENTER_FIRST_OCTETS = np.array([3, 18, 34, 35, 52, 54, 104, 138, 143, 167])


def user_agent_pool() -> tuple[tuple[str, ...], dict[tuple[str, str], np.ndarray]]:
    """All user agents, and for each (channel, device) the indices of the ones it may use."""
    by_device = {"desktop": _DESKTOP_AGENTS, "mobile": _MOBILE_AGENTS, "tablet": _TABLET_AGENTS, "other": _OTHER_AGENTS}
    agents: list[str] = []
    choices: dict[tuple[str, str], np.ndarray] = {}

    def indices(strings: tuple[str, ...]) -> np.ndarray:
        for agent in strings:
            if agent not in agents:
                agents.append(agent)
        return np.array([agents.index(agent) for agent in strings])

    for channel in CHANNELS:
        for device in DEVICES:
            if channel == "app":
                strings = _APP_AGENTS.get(device, _APP_AGENTS["mobile"])
            elif channel == "social_shop" and device in ("mobile", "tablet"):
                strings = _SOCIAL_INAPP_AGENTS
            else:
                strings = by_device[device]
            choices[(channel, device)] = indices(strings)
    choices[("bot", "bot")] = indices(BOT_AGENTS)
    return tuple(agents), choices


def ip_addresses(
    rng: np.random.Generator, count: int, ipv6_share: float = 0.15, datacenter: bool = False
) -> np.ndarray:
    """Public-looking IPv4 (and some IPv6) addresses from ISP or data-centre ranges."""
    octets = rng.integers(1, 255, size=(count, 3))
    first = rng.choice(_DATACENTER_FIRST_OCTETS if datacenter else _ISP_FIRST_OCTETS, size=count)
    is_v6 = rng.random(count) < ipv6_share
    groups = rng.integers(0, 0x10000, size=(count, 4))
    prefixes = rng.integers(0, len(_ISP_IPV6_PREFIXES), size=count)
    return np.array(
        [
            f"{_ISP_IPV6_PREFIXES[p]}:{g[0]:x}:{g[1]:x}:{g[2]:x}:{g[3]:x}:{o[0]:x}:{o[1]:x}"
            if v6
            else f"{f}.{o[0]}.{o[1]}.{o[2]}"
            for f, o, g, p, v6 in zip(first, octets, groups, prefixes, is_v6, strict=True)
        ],
        dtype=object,
    )


def hex_ids(rng: np.random.Generator, count: int, prefix: str, width: int = 12) -> np.ndarray:
    """Unique random hexadecimal identifiers such as `s_3fa9c01b22de`."""
    limit = 16**width
    values = rng.integers(0, limit, size=count, dtype=np.int64)
    while len(np.unique(values)) < count:
        _, first = np.unique(values, return_index=True)
        repeated = np.setdiff1d(np.arange(count), first)
        values[repeated] = rng.integers(0, limit, size=len(repeated), dtype=np.int64)
    return np.array([f"{prefix}{value:0{width}x}" for value in values.tolist()], dtype=object)


@dataclass(frozen=True)
class Catalog:
    """SKUs with their category, popularity and a price list per currency."""

    sku: np.ndarray  # str
    category: np.ndarray  # index into CATEGORIES
    popularity: np.ndarray  # weight within its category
    price_eur: np.ndarray
    currencies: tuple[str, ...]
    price_list: np.ndarray  # (sku, currency) local list price

    def currency_index(self, country: np.ndarray) -> np.ndarray:
        lookup = np.array([self.currencies.index(COUNTRY_CURRENCY[c]) for c in range(len(COUNTRY_CODES))])
        return lookup[country]


def build_catalog(rng: np.random.Generator) -> Catalog:
    n_categories = len(CATEGORIES)
    category = np.repeat(np.arange(n_categories), SKUS_PER_CATEGORY)
    serial = np.tile(np.arange(SKUS_PER_CATEGORY), n_categories)
    sku = np.array(
        [f"{CATEGORY_CODES[c]}-{1000 + 37 * s + c:05d}" for c, s in zip(category, serial, strict=True)], dtype=object
    )
    price_eur = (
        np.round(CATEGORY_PRICE_MEDIAN_EUR[category] * np.exp(rng.normal(0, CATEGORY_PRICE_SPREAD[category])), 0).clip(
            3
        )
        - 0.01
    )
    # Zipf-like popularity: a few best-sellers per category.
    popularity = 1.0 / (1.0 + rng.permutation(len(sku)) % SKUS_PER_CATEGORY) ** 0.8
    currencies = tuple(EUR_EXCHANGE_RATES)
    rates = np.array([EUR_EXCHANGE_RATES[c] for c in currencies])
    price_list = (np.round(price_eur[:, None] * rates[None, :], 0) - 0.01).clip(0.99)
    return Catalog(sku, category, popularity, price_eur, currencies, price_list)


@dataclass(frozen=True)
class Customers:
    """Known customers sorted by the day they signed up (negative: before the generated range).

    Habits are stable per customer: channel affinity, favourite category, basket size,
    quantity, price taste and purchase frequency.
    """

    customer_id: np.ndarray  # str
    email: np.ndarray  # str
    phone: np.ndarray  # str or None
    ip: np.ndarray  # str
    country: np.ndarray
    signup_day: np.ndarray
    frequency: np.ndarray  # relative order rate
    channel_affinity: np.ndarray  # (customer, channel)
    favourite_category: np.ndarray
    extra_line_probability: np.ndarray  # lines = 1 + Binomial(3, p)
    extra_quantity_mean: np.ndarray  # quantity = 1 + Poisson(mean)
    premium_taste: np.ndarray  # probability of picking the dearer of two candidate SKUs
    email_opt_in: np.ndarray  # bool
    email_engagement: np.ndarray  # multiplier on open and click propensity

    def __len__(self) -> int:
        return len(self.customer_id)

    def email_domain(self) -> np.ndarray:
        return np.array([address.split("@", 1)[1] for address in self.email], dtype=object)


def people_emails(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Unique, realistic-looking personal e-mail addresses for people in `country`."""
    count = len(country)
    first = rng.integers(0, len(FIRST_NAMES), count)
    last = rng.integers(0, len(LAST_NAMES), count)
    style = rng.integers(0, 4, count)
    number = rng.integers(1, 99, count)
    use_global = rng.random(count) < 0.55
    global_domain = rng.choice(len(GLOBAL_EMAIL_DOMAINS), size=count, p=[0.6, 0.28, 0.12])
    local_domain = rng.integers(0, 3, count)
    seen: set[str] = set()
    emails = []
    for i in range(count):
        given, family = FIRST_NAMES[first[i]], LAST_NAMES[last[i]]
        styles = (
            f"{given}.{family}",
            f"{given}{family}{number[i]}",
            f"{given[0]}.{family}",
            f"{given}_{family}{number[i]}",
        )
        local = styles[style[i]]
        domain = (
            GLOBAL_EMAIL_DOMAINS[global_domain[i]]
            if use_global[i]
            else COUNTRY_EMAIL_DOMAINS[country[i]][local_domain[i]]
        )
        address, suffix = f"{local}@{domain}", 2
        while address in seen:
            address, suffix = f"{local}{suffix}@{domain}", suffix + 1
        seen.add(address)
        emails.append(address)
    return np.array(emails, dtype=object)


def phone_numbers(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    subscriber = rng.integers(100_000_000, 999_999_999, len(country))
    mobile_prefix = rng.integers(150, 179, len(country))
    return np.array(
        [f"{COUNTRY_PHONE_PREFIX[c]} {p} {s}" for c, p, s in zip(country, mobile_prefix, subscriber, strict=True)],
        dtype=object,
    )


def build_customers(rng: np.random.Generator, day_weights: np.ndarray, scale: float) -> Customers:
    """An existing base plus newcomers joining on the generated days, more of them on heavier days."""
    days = len(day_weights)
    existing = max(40, round(5000 * scale))
    joining = max(10, round(30 * scale * days))
    count = existing + joining
    joining_day = rng.choice(days, size=joining, p=day_weights / day_weights.sum())
    signup_day = np.sort(np.concatenate([rng.integers(-720, 0, existing), joining_day]))
    country = rng.choice(len(COUNTRY_CODES), size=count, p=COUNTRY_SHARES)
    # Preferred channel gets most of a customer's orders; the rest spreads over the others.
    preferred = rng.choice(len(CHANNELS), size=count, p=[0.36, 0.26, 0.14, 0.14, 0.10])
    affinity = np.full((count, len(CHANNELS)), 0.06)
    affinity[np.arange(count), preferred] = 0.76
    serial = rng.permutation(np.arange(count * 7))[:count] + 10_000_000
    phones = phone_numbers(rng, country)
    has_phone = rng.random(count) < 0.7
    return Customers(
        customer_id=np.array([f"C{number}" for number in serial], dtype=object),
        email=people_emails(rng, country),
        phone=np.where(has_phone, phones, None),
        ip=ip_addresses(rng, count),
        country=country,
        signup_day=signup_day,
        frequency=rng.gamma(0.9, 1.0, count),
        channel_affinity=affinity,
        favourite_category=rng.choice(len(CATEGORIES), size=count, p=CATEGORY_LINE_SHARES),
        extra_line_probability=rng.beta(1.2, 4.0, count),
        extra_quantity_mean=rng.gamma(1.5, 0.2, count),
        premium_taste=rng.beta(1.5, 2.5, count),
        email_opt_in=rng.random(count) < 0.7,
        email_engagement=rng.gamma(2.0, 0.5, count),
    )


def take(pool: list | tuple | np.ndarray, index: np.ndarray, dictionary: bool = False) -> pa.Array:
    """Values of `pool` at `index`; a negative index gives null.

    `dictionary=True` keeps the values dictionary-encoded: far less memory for long, repeated
    strings such as user agents in millions of events (Parquet stores them that way anyway).
    """
    values = pa.array(list(pool), pa.string())
    index = np.asarray(index, dtype=np.int64)
    indices = pa.array(index, pa.int64(), mask=index < 0)
    return pa.DictionaryArray.from_arrays(indices, values) if dictionary else values.take(indices)


# Volume model at scale 1 (before seasonality, campaigns and planned lifts).
ORDERS_PER_DAY = 330.0
SESSIONS_PER_DAY = 3000.0
ORDER_CHANNEL_SHARES = np.array([0.34, 0.22, 0.18, 0.16, 0.10])
SESSION_CHANNEL_SHARES = np.array([0.55, 0.35, 0.0, 0.0, 0.10])
SESSION_CHANNELS = tuple(c for c, share in zip(CHANNELS, SESSION_CHANNEL_SHARES, strict=True) if share > 0)
REFUND_RATE = 0.03
CANCEL_RATE = 0.02
# Share of orders that contain a category: a little above its line share, as baskets hold several lines.
CATEGORY_ORDER_SHARES = 1.5 * CATEGORY_LINE_SHARES
