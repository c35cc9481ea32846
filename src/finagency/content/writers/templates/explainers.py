"""The vetted explainer library: general text with no figures of its own (every number in a
draft must come from the snapshot, so figures appear only in the worked example), no advice,
no promise. Each explainer is matched to a topic by its keywords.

`{kind}` in a cost-averaging text becomes "rupee-cost" or "dollar-cost".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Explainer:
    key: str
    topic: str  # how the topic is named to someone asking for one that is unknown
    keywords: tuple[str, ...]  # matched as word prefixes, hyphens read as spaces
    titles: tuple[str, ...]
    intros: tuple[str, ...]
    body: tuple[str, ...]
    explains: tuple[str, ...] = ()  # the voice's gloss keys this explainer makes redundant


DAILY_CHANGE = Explainer(
    key="daily_change",
    topic="previous close and daily change",
    keywords=("previous close", "daily change", "day's change", "change", "close", "per cent"),
    titles=("The previous close and the daily change, explained", "Reading a day's move"),
    intros=(
        "Every market update leans on two figures: the previous close and the change since.",
        "The previous close is the reference point against which a day's move is measured.",
    ),
    body=(
        "The previous close is the last price of the prior trading session. The daily change "
        "compares the latest price with it: the difference in points or in currency, and the "
        "same difference as a share of the previous close, in per cent.",
        "Percentages make moves comparable across instruments with very different price "
        "levels; the change in points or currency shows the size of the move on the "
        "instrument's own scale.",
    ),
    explains=("previous_close",),
)
WEEK52 = Explainer(
    key="week52_range",
    topic="52-week range",
    keywords=("52 week", "52w", "year high", "year low", "yearly range", "range", "high and low"),
    titles=("The 52-week range, explained", "What the 52-week high and low tell you"),
    intros=(
        "The 52-week range shows the lowest and the highest price of roughly the past year.",
        "Next to a price you will often see its 52-week high and low.",
    ),
    body=(
        "The range puts the latest price in context: near the top of the range after a long "
        "advance, near the bottom after a long slide. On its own it says nothing about where the "
        "price goes next.",
        "Data providers measure the range from closing or from intraday prices, so two sources "
        "can show slightly different extremes for the same instrument.",
    ),
    explains=("week52",),
)
INDICES = Explainer(
    key="market_indices",
    topic="market indices",
    keywords=("index", "indices", "indexes", "benchmark", "nifty", "sensex", "s&p", "dow"),
    titles=("Market indices, explained", "What a market index measures"),
    intros=(
        "A market index tracks the value of a basket of stocks chosen to represent a market "
        "or a part of it.",
        "When a report says that the market rose or fell, it usually means a market index did.",
    ),
    body=(
        "Most broad indices weight each company by its market value, often counting only the "
        "shares freely available to trade, so the largest companies move the index most. A few, "
        "such as the Dow Jones Industrial Average, weight by share price instead.",
        "An index level is a number of points, not a price in a currency: what matters is how "
        "it changes over time. An index cannot be owned directly; index funds and "
        "exchange-traded funds aim to follow one, at a cost.",
    ),
)
VOLATILITY = Explainer(
    key="volatility",
    topic="volatility",
    keywords=("volatil", "swing", "fluctuat", "risk"),
    titles=("Volatility, explained", "What volatility measures"),
    intros=(
        "Volatility measures how much, and how quickly, a price moves up and down.",
        "A volatile instrument is one whose price swings widely over short periods.",
    ),
    body=(
        "It is usually calculated as the standard deviation of returns over a period and "
        "quoted as an annual figure. Higher volatility means a wider spread of possible "
        "outcomes in both directions, including larger losses along the way.",
        "Volatility indices such as the VIX in the United States and India VIX estimate the "
        "volatility that option prices imply for the weeks ahead.",
    ),
)
DIVERSIFICATION = Explainer(
    key="diversification",
    topic="diversification",
    keywords=("diversif", "portfolio", "spread", "allocation", "eggs", "concentrat"),
    titles=("Diversification, explained", "Why portfolios are spread out"),
    intros=(
        "Diversification means spreading money across investments that do not all move together.",
        "Putting all of one's savings into a single company ties the outcome to that one "
        "company; diversification spreads it.",
    ),
    body=(
        "When holdings respond differently to the same news, losses in some can be offset in "
        "part by others, and the portfolio as a whole swings less than its most volatile parts. "
        "It works across companies, sectors, asset classes such as shares, bonds and gold, and "
        "countries.",
        "Diversification does not guarantee a profit or protect against loss: in a broad "
        "sell-off many assets fall together.",
    ),
)
COST_AVERAGING = Explainer(
    key="cost_averaging",
    topic="rupee-cost or dollar-cost averaging (SIP)",
    keywords=("cost averag", "rupee cost", "dollar cost", "sip", "systematic invest", "averag"),
    titles=("{Kind} averaging, explained", "How {kind} averaging works"),
    intros=(
        "{Kind} averaging means investing a fixed amount at regular intervals, whatever the price.",
        "Instead of investing a lump sum in one go, {kind} averaging spreads the same money "
        "over regular, equal instalments.",
    ),
    body=(
        "Because the amount is fixed, it purchases more units when prices are low and fewer "
        "when they are high, so the average cost per unit ends up at or below the simple "
        "average of the prices over the period.",
        "It does not guarantee a profit or protect against loss in a falling market, and a lump "
        "sum invested in one go can end up ahead when prices rise steadily. Its main benefit is "
        "discipline: it removes the need to pick a moment.",
    ),
)
READING_UPDATE = Explainer(
    key="reading_a_market_update",
    topic="how to read a market update",
    keywords=("market update", "how to read", "read", "update", "snapshot"),
    titles=("How to read a market update", "Reading a market update, line by line"),
    intros=(
        "A market update packs a lot into a few lines. Here is how to read one.",
        "Market updates follow a common pattern, and knowing it makes them quick to read.",
    ),
    body=(
        "Each line names an instrument, its latest price or level, the change since the "
        "previous close in per cent, and often the previous close itself. An index is quoted "
        "in points, a share in its currency, an exchange rate as the price of one currency in "
        "another.",
        "Check the date: figures belong to a trading day, and markets in different countries "
        "close at different times. Where a quote could not be verified, a careful update says "
        "so instead of showing a number, and figures from a simulated feed are marked as such.",
        "An update describes what happened; it is not a forecast or a recommendation.",
    ),
    explains=("previous_close",),
)
# In order of preference when a topic matches several equally well.
LIBRARY = (
    DAILY_CHANGE,
    WEEK52,
    INDICES,
    VOLATILITY,
    DIVERSIFICATION,
    COST_AVERAGING,
    READING_UPDATE,
)
