"""The text rules of the compliance engine: each `(ctx) -> list[Finding]`, pure and linear in text.

The fact check (`factcheck.py`), freshness (`freshness.py`) and near-duplicate (`similarity.py`)
rules live in their own modules; profiles (`profiles.py`) say which rules a profile runs.

How a phrase is read in its sentence (sentences, clauses, negations and cautions) is
`reading.py`'s job; the promissory, advice and urgency rules use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from finagency.compliance.findings import CheckContext, Finding, Severity
from finagency.compliance.reading import reading

DISCLAIMER = "disclaimer"
PROMISSORY = "promissory"
ADVICE = "advice"
URGENCY = "urgency"
PLACEHOLDERS = "placeholders"
EMPTY_OR_TRUNCATED = "empty_or_truncated"
LENGTH = "length"
SIMULATED_MARK = "simulated_mark"

DEFAULT_SEVERITY: dict[str, Severity] = {
    DISCLAIMER: Severity.block,
    PROMISSORY: Severity.block,
    ADVICE: Severity.block,  # an attributed third-party rating or target is reported as warn
    URGENCY: Severity.warn,
    PLACEHOLDERS: Severity.block,
    EMPTY_OR_TRUNCATED: Severity.block,
    LENGTH: Severity.block,
    SIMULATED_MARK: Severity.block,
}

_CI = re.IGNORECASE


def _merged(
    rule: str, severity: Severity, matches: Iterable[tuple[int, int, str]]
) -> list[Finding]:
    """One finding per run of overlapping matches, with the first match's message."""
    findings: list[Finding] = []
    for start, end, message in sorted(matches):
        if findings and start < findings[-1].end:
            last = findings[-1]
            findings[-1] = Finding(rule, severity, last.message, last.start, max(last.end, end))
        else:
            findings.append(Finding(rule, severity, message, start, end))
    return findings


# ---------------------------------------------------------------- disclaimer

_SPACES = re.compile(r"\s+")


def _normalized(text: str) -> str:
    return _SPACES.sub(" ", text.replace("’", "'").replace("‘", "'")).strip().casefold()


def required_disclaimer(ctx: CheckContext) -> str:
    from finagency.compliance.profiles import default_disclaimer  # profiles import this module

    return ctx.disclaimer.strip() or default_disclaimer(ctx.profile)


def has_disclaimer(text: str, disclaimer: str) -> bool:
    """Whether `disclaimer` appears in `text`, ignoring case and differences in white space."""
    return _normalized(disclaimer) in _normalized(text)


def with_disclaimer(text: str, disclaimer: str) -> str:
    """`text` with `disclaimer` appended after a blank line, unless it is already there."""
    if not disclaimer.strip() or has_disclaimer(text, disclaimer):
        return text
    body = text.rstrip()
    return f"{body}\n\n{disclaimer.strip()}" if body else disclaimer.strip()


def disclaimer(ctx: CheckContext) -> list[Finding]:
    required = required_disclaimer(ctx)
    if not required or has_disclaimer(ctx.text, required):
        return []
    end = len(ctx.text)
    message = f"The required disclaimer is missing: {required!r}"
    return [Finding(DISCLAIMER, DEFAULT_SEVERITY[DISCLAIMER], message, end, end)]


# ---------------------------------------------------------------- promissory language

_PROMISSORY = re.compile(
    r"\b(?:guarantee(?:s|d|ing)?"
    r"|risk[\s-]?free(?![\s-]+(?:interest\s+)?(?:rates?|assets?|yields?|bonds?|benchmark))"
    r"|riskless|sure[\s-]?(?:shot|fire|bet|winner|profits?|gains?|returns?)"
    r"|(?:can['’]?t|cannot|can\s+not|won['’]?t)\s+(?:lose|go\s+wrong|fail)"
    r"|(?:double|triple|multiply)\s+your\s+(?:money|investment|capital|wealth)"
    r"|assured\s+(?:returns?|income|profits?|gains?|payouts?)"
    r"|returns?\s+(?:are|is)\s+(?:assured|certain)"
    r"|(?:no|zero)[\s-]+risk(?![\s,]+no\s)|without\s+(?:any\s+)?risk"
    r"|(?:completely|totally|absolutely)\s+(?:safe|secure)"
    r"|will\s+(?:definitely|surely|certainly|undoubtedly)"
    r"|(?:is|are)\s+(?:certain|bound|sure)\s+to\s+(?:rise|double|go\s+up|gain|rally|soar|jump|"
    r"zoom|multiply|give|deliver)"
    r"|promis(?:e|es|ed|ing)\s+(?:[\w%]+\s+){0,3}?(?:returns?|profits?|gains?))\b"
    r"|\b100\s*%\s*(?:safe|secure|sure|certain|returns?|profits?)\b",
    _CI,
)


@lru_cache(maxsize=32)
def _banned_phrases(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = []
    for phrase in phrases:
        words = phrase.split()
        if not words:
            continue
        body = r"\s+".join(re.escape(word) for word in words)
        head = r"\b" if words[0][0].isalnum() else ""
        tail = r"\b" if words[-1][-1].isalnum() else ""
        parts.append(f"{head}{body}{tail}")
    return re.compile("|".join(parts), _CI) if parts else None


def promissory(ctx: CheckContext) -> list[Finding]:
    """Guaranteed-return and promissory language, plus the organisation's banned phrases, unless
    negated or framed as a caution in its sentence (module doc)."""
    text = ctx.text
    matches = list(_PROMISSORY.finditer(text))
    extra = _banned_phrases(ctx.extra_banned_phrases)
    if extra is not None:
        matches += extra.finditer(text)
    if not matches:
        return []
    read = reading(text)
    return _merged(
        PROMISSORY,
        DEFAULT_SEVERITY[PROMISSORY],
        (
            (m.start(), m.end(), f"Promissory or guaranteed-return language: {m.group()!r}")
            for m in matches
            if not read.negated(m.start(), m.end())
        ),
    )


# ---------------------------------------------------------------- buy/sell calls and targets

_CALL_VERB = r"(?:buy|sell|short|accumulate|exit|hold|add|book|switch|dump|invest|enter|load\s+up)"
# A call addressed to the reader: an imperative at the start of a clause.
_IMPERATIVE = re.compile(
    r"(?:\A|(?<=[.!?,;:()\[\]\n–—])|(?<=\s-)"
    r"|\b(?:and|but|however|although|though|whereas|yet|while|because|so)\b(?![-'’]))"
    r"[\W_]*(?:(?:just|so|now|please|hence|therefore|simply|definitely|then)\s+)*"
    r"(?P<call>(?:buy|sell)(?![\w-])(?!\s*(?:,|/|or\b|and\b|&)\s*(?:buy|sell|hold))"
    r"(?!\s+(?:side|signals?|orders?|ratings?|calls?|volumes?|pressure|now\s*,\s*pay))"
    r"|accumulate\b|(?:add|buy)\s+on\s+(?:every\s+)?dips?\b|load\s+up\b|grab\b"
    r"|book\s+(?:your\s+)?profits?\b"
    r"|(?:exit|dump|hold|short)(?=\s+(?:your|all|the|it|this|these|them|onto|on\s+to|now|"
    r"positions?|longs?|shorts?|(?-i:[A-Z]{2,}))\b))",
    _CI,
)
# Recommending forms that are always a call of the writer's own.
_RECOMMENDING = re.compile(
    r"\b(?:we|i)\s+(?:(?:strongly|would|also)\s+)?(?:recommend|suggest|advise)\w*\s+"
    r"(?:(?:you|investors|traders|readers|clients)\s+(?:to\s+)?)?" + _CALL_VERB + r"\w*"
    r"|\byou\s+(?:should|must|need\s+to|ought\s+to|may\s+want\s+to|might\s+want\s+to|"
    r"could\s+consider|can\s+consider|may\s+consider|are\s+advised\s+to|had\s+better|['’]d\s+better)"
    r"\s+(?:(?:consider|look\s+to|start|begin|go\s+ahead\s+and)\s+)?" + _CALL_VERB + r"\w*"
    r"|\bload\s+up\s+on\b|\bmust[\s-]buy\b|\bexit\s+your\s+positions?\b",
    _CI,
)
_PRICE = r"(?:(?:rs\.?|inr|usd|₹|\$|€|£)\s*)?\d(?:[.,]?\d)*+(?!\s*%)"
# Ratings, targets and calls that a third party may be reported as making.
_RATING_OR_TARGET = re.compile(
    r"\b(?:"  # fails fast inside words
    r"\b(?:strong|top)\s+(?:buy|sell)(?![\w-])|\btop\s+picks?\b"
    r"|\b(?:a|an)\s+[\"'“‘]?(?:strong\s+)?(?:buy|sell|outperform|underperform|overweight|"
    r"underweight|accumulate)[\"'”’]?(?![\w-])"
    r"|\b(?:buy|sell|hold|outperform|underperform|overweight|underweight|accumulate|neutral)\s+"
    r"(?:rating|call|recommendation)s?\b"
    r"|\b(?:up|down)grade[sd]?\s+(?:\w+\s+){0,3}?to\s+(?:a\s+)?(?:buy|sell|accumulate|outperform|"
    r"underperform|overweight|underweight)\b"
    r"|\b(?:investors|traders|readers|one)\s+(?:should|must|need\s+to|ought\s+to|may\s+consider|"
    r"could\s+consider|can\s+consider|are\s+advised\s+to)\s+(?:(?:consider|look\s+to|start)\s+)?"
    + _CALL_VERB
    + r"\w*"
    r"|\b(?:good|right|best|great|ideal)\s+(?:time|opportunity)\s+to\s+(?:buy|sell|accumulate|"
    r"exit|enter|book\s+profits?)\b"
    r"|\b(?:price\s+)?target\s+price\b|\bprice\s+targets?\b"
    r"|\btargets?\s*(?:(?:of|at|is|to|around|near|@|:|=)\s*)?" + _PRICE + ""
    r"|(?-i:\b(?:TP|SL)\b)\s*[:@=-]?\s*" + _PRICE + ""
    r"|\bstop[\s-]?loss(?:es)?\s*(?:(?:at|of|below|above|near|around|@|:|=|-)\s*)?" + _PRICE + ""
    r"|\bstop[\s-]?loss\s+(?:at|below|above)\b"
    r"|\b(?:sell|book\s+profits?)\s+(?:on|into)\s+(?:every\s+)?(?:rallies|rally|rises?|strength)\b"
    r"|\b(?:buy|add|accumulate)\s+(?:on|at|in|during)\s+(?:every\s+)?(?:dips?|declines?|"
    r"corrections?)\b)",
    _CI,
)
# "inflation target of 2%" and the like are policy goals, not price targets.
_POLICY_TARGET = re.compile(
    r"(?:inflation|deficit|fiscal|growth|revenue|sales|earnings|production|emissions?|capex|"
    r"borrowing|divestment|disinvestment|policy|spending|debt)\s+(?:price\s+)?$",
    _CI,
)
_ATTRIBUTION = re.compile(
    r"\b(?:according\s+to|analysts?|brokerages?|brokers?|strategists?|economists?|research\s+"
    r"(?:houses?|firms?|desks?)|consensus|(?:up|down)grade[sd]?|reiterate[sd]?|maintain(?:s|ed)?|"
    r"initiate[sd]?|assign(?:s|ed)?|rates|rated|rating|said|says|told|sees|saw|expects?|expected|"
    r"recommends|recommended)\b",
    _CI,
)
_FIRST_OR_SECOND_PERSON = re.compile(r"\b(?:[Ww]e|[Oo]ur|us|I|[Mm]y|[Yy]ou|[Yy]our)\b")


def _attributed(text: str, start: int, end: int) -> bool:
    sentence = text[start:end]
    return bool(_ATTRIBUTION.search(sentence)) and not _FIRST_OR_SECOND_PERSON.search(sentence)


def advice(ctx: CheckContext) -> list[Finding]:
    """Buy/sell/hold calls addressed to the reader and price targets, unless the organisation is
    registered to advise. A rating or target reported in a sentence that attributes it to a third
    party ("analysts at X rate it a buy") and has no we/our/you in it is a warning, not a block:
    reporting is allowed, but an editor should make sure it reads as reporting."""
    if ctx.registered_adviser:
        return []
    text = ctx.text
    read = reading(text)
    severity = DEFAULT_SEVERITY[ADVICE]
    matches: list[tuple[int, int, str]] = []
    for match in _IMPERATIVE.finditer(text):
        message = f"Buy/sell call addressed to the reader: {match.group('call')!r}"
        matches.append((*match.span("call"), message))
    for match in _RECOMMENDING.finditer(text):
        matches.append((*match.span(), f"Investment recommendation: {match.group()!r}"))
    warned: list[tuple[int, int, str]] = []
    attributed_sentences: dict[int, bool] = {}
    for match in _RATING_OR_TARGET.finditer(text):
        start, end = match.span()
        if _POLICY_TARGET.search(text, max(0, start - 30), start) or read.negated(start, end):
            continue
        sentence_start, sentence_end = read.sentence(start)
        if sentence_start not in attributed_sentences:
            attributed_sentences[sentence_start] = _attributed(text, sentence_start, sentence_end)
        if attributed_sentences[sentence_start]:
            warned.append((start, end, f"Reported third-party rating or target: {match.group()!r}"))
        else:
            matches.append((start, end, f"Rating, call or price target: {match.group()!r}"))
    block = _merged(ADVICE, severity, matches)
    warn = [
        finding
        for finding in _merged(ADVICE, Severity.warn, warned)
        if not any(f.start < finding.end and finding.start < f.end for f in block)
    ]
    return block + warn


# ---------------------------------------------------------------- fake scarcity and urgency

_URGENCY = re.compile(
    r"\b(?:act\s+(?:now|fast|quickly|immediately|today)|(?:last|final)\s+chance"
    r"|only\s+today|today\s+only|only\s+for\s+today|hurry(?:\s+up\b|\s*!)"
    r"|limited\s+(?:slots?|seats?|spots?|period|time|offer|window|stock|availability)"
    r"|(?:only|just)\s+\d+\s+(?:slots?|seats?|spots?)\s+(?:left|remaining)"
    r"|(?:few|last)\s+(?:slots?|seats?|spots?)\s+(?:left|remaining)"
    r"|(?:don['’]?t|do\s+not)\s+miss\s+(?:out|this|the\s+(?:bus|boat|rally|opportunity))"
    r"|before\s+it['’]?s\s+too\s+late|now\s+or\s+never|once[\s-]in[\s-]a[\s-]lifetime"
    r"|(?:offer|deal|sale|window|registrations?)\s+(?:ends|closes|expires)\s+(?:today|tonight|soon)"
    r"|(?:ending|closing)\s+soon|time\s+is\s+running\s+out|while\s+(?:stocks?|slots?|seats?)\s+last"
    r"|(?:grab|book)\s+(?:it|this|yours|your\s+(?:seat|slot|spot))\s+(?:now|today|fast))\b",
    _CI,
)


def urgency(ctx: CheckContext) -> list[Finding]:
    """Fake scarcity or urgency ("act now", "last chance", "limited slots"), read in its sentence
    like promissory language ("you don't need to act now" passes)."""
    matches = list(_URGENCY.finditer(ctx.text))
    if not matches:
        return []
    read = reading(ctx.text)
    return _merged(
        URGENCY,
        DEFAULT_SEVERITY[URGENCY],
        (
            (m.start(), m.end(), f"Fake scarcity or urgency: {m.group()!r}")
            for m in matches
            if not read.negated(m.start(), m.end())
        ),
    )


# ---------------------------------------------------------------- leftover placeholders

_PLACEHOLDER = re.compile(
    r"\[\s*(?:image|img|photo|picture|chart|graph|graphic|video|gif|visual|screenshot|link|url|"
    r"insert|placeholder|tbd|todo|company(?:\s+name)?|ticker|source|citation(?:\s+needed)?)\b"
    r"[^\]\n]{0,200}\]"
    r"|\b(?:visual|image|img|photo|graphic)\s*:(?!//)"
    r"|\{\{[^{}\n]{0,200}\}\}|\{[^{}\n]{0,200}\}"
    r"|(?-i:\b(?:TODO|TBD|FIXME|XXX+)\b)|\b(?:todo|fixme)\s*:"
    r"|\blorem\s+ipsum\b|\binsert\b[^\n]{0,80}?\bhere\b"
    r"|<\s*(?:placeholder|insert[^<>\n]{0,60}|your\s[^<>\n]{0,60}|name|ticker|symbol|company|"
    r"date|link|url|image|chart)\s*>",
    _CI,
)


def placeholders(ctx: CheckContext) -> list[Finding]:
    """Template or writer leftovers: [Image], [image: …], Visual:, {{…}}, {…}, TODO/TBD/FIXME/XXX,
    lorem ipsum, INSERT … HERE, <placeholder>."""
    return _merged(
        PLACEHOLDERS,
        DEFAULT_SEVERITY[PLACEHOLDERS],
        (
            (m.start(), m.end(), f"Leftover placeholder: {m.group()!r}")
            for m in _PLACEHOLDER.finditer(ctx.text)
        ),
    )


# ---------------------------------------------------------------- empty or truncated text

_TRAILING_TAGS = re.compile(r"(?:\s|[#$@]\w+|https?://\S+|[^\w\s.,;:!?…'\"’”)\]-])*\Z")
_ENDS_TRUNCATED = re.compile(
    r"(?:\.{3}|…|[,;:(\[{/&+-]|\b(?:and|or|but|the|a|an|of|to|in|on|at|by|for|with|from|as|that|"
    r"which|is|are|was|were|its|their|our|your|than|into|over|under|about|per|vs)\b)\Z",
    _CI,
)
_PARAGRAPH_END = re.compile(
    r"\b(?:and|or|but|the|a|an|of|to|with|from|that|which|than)[ \t]*(?=\n[ \t]*\n)", _CI
)
_OPENERS = {"(": ")", "[": "]", "{": "}", "“": "”", "‘": "’"}
_CLOSERS = {closer: opener for opener, closer in _OPENERS.items() if opener != "‘"}
_BRACKETS = re.compile(r"[()\[\]{}“”\"]")
_ENUMERATION = re.compile(r"(?:^|\s)(?:\d{1,2}|[a-zA-Z])\Z|[:;]\Z")


def _unbalanced(text: str) -> list[tuple[int, int, str]]:
    stack: list[tuple[str, int]] = []
    problems: list[tuple[int, int, str]] = []
    straight_quotes: list[int] = []
    for match in _BRACKETS.finditer(text):
        char, position = match.group(), match.start()
        if char == '"':
            straight_quotes.append(position)
        elif char in _OPENERS:
            stack.append((char, position))
        elif stack and stack[-1][0] == _CLOSERS[char]:
            stack.pop()
        elif char == ")" and _ENUMERATION.search(text, max(0, position - 3), position):
            continue  # "1)" or "a)" enumerations and ":)" smileys
        else:
            problems.append((position, position + 1, f"Unmatched closing {char!r}"))
    problems += [(p, p + 1, f"Unclosed {char!r}") for char, p in stack]
    if len(straight_quotes) % 2:
        last = straight_quotes[-1]
        problems.append((last, last + 1, "Unbalanced straight quote '\"'"))
    return problems


def empty_or_truncated(ctx: CheckContext) -> list[Finding]:
    """Empty text; text whose end (before trailing hashtags, links and emoji) is an ellipsis, a
    comma or similar, or a word that cannot end a sentence ("and", "the", "of" …); a paragraph
    ending in such a word; unbalanced brackets or quotes."""
    text = ctx.text
    rule, severity = EMPTY_OR_TRUNCATED, DEFAULT_SEVERITY[EMPTY_OR_TRUNCATED]
    if not text.strip():
        return [Finding(rule, severity, "The text is empty", 0, len(text))]
    problems = _unbalanced(text)
    body_end = _TRAILING_TAGS.search(text)
    end = body_end.start() if body_end else len(text)
    truncated = _ENDS_TRUNCATED.search(text, max(0, end - 12), end)
    if truncated:
        problems.append((truncated.start(), end, "The text looks truncated (ends mid-sentence)"))
    for match in _PARAGRAPH_END.finditer(text):
        problems.append((*match.span(), "A paragraph looks truncated (ends mid-sentence)"))
    return _merged(rule, severity, problems)


# ---------------------------------------------------------------- length per channel

CHANNEL_LIMITS: dict[str, int | None] = {
    "x": 280,
    "linkedin": 3000,
    "telegram": 4096,
    "email": None,
    "webhook": None,
    "file": None,
}
_X_URL_WEIGHT = 23
_X_URL = re.compile(r"https?://\S+", _CI)
# twitter-text: these code points weigh 1, all others 2 (emoji, CJK, ₹ …).
_X_HEAVY = re.compile("[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]")
_POST_BREAK = re.compile(r"\n[ \t]*\n\s*")
_THREAD_NUMBER = re.compile(
    r"\A\s*\(?\d{1,2}\s*/\s*\d{1,2}\)?(?=[\s.:)]|\Z)|\(?\b\d{1,2}\s*/\s*\d{1,2}\)?\s*\Z"
)


def x_length(post: str) -> int:
    """The weighted length X counts: links 23, most Latin text 1 a character, the rest 2."""
    weight = len(post) + len(_X_HEAVY.findall(post))
    for url in _X_URL.finditer(post):
        weight += _X_URL_WEIGHT - x_length_plain(url.group())
    return weight


def x_length_plain(text: str) -> int:
    return len(text) + len(_X_HEAVY.findall(text))


def _x_cut(post: str, limit: int) -> int:
    """The offset in `post` where X's weighted length first goes over `limit`."""
    weight, position = 0, 0
    for url in [*_X_URL.finditer(post), None]:
        stop = url.start() if url else len(post)
        for index in range(position, stop):
            weight += 2 if _X_HEAVY.match(post, index) else 1
            if weight > limit:
                return index
        if url is None:
            break
        weight += _X_URL_WEIGHT
        if weight > limit:
            return url.start()
        position = url.end()
    return len(post)


def posts(text: str, channel_type: str) -> list[tuple[int, int]]:
    """The posts of a text: for X, a thread (blocks separated by a blank line, at least one
    numbered "1/5" at its start or end) is one post a block; otherwise the whole text."""
    if channel_type == "x":
        spans, start = [], 0
        for match in _POST_BREAK.finditer(text):
            spans.append((start, match.start()))
            start = match.end()
        spans.append((start, len(text)))
        if len(spans) > 1 and any(_THREAD_NUMBER.search(text[a:b]) for a, b in spans):
            return spans
    return [(0, len(text))]


def length(ctx: CheckContext) -> list[Finding]:
    limit = ctx.max_length or CHANNEL_LIMITS.get(ctx.channel_type)
    if limit is None:
        return []
    findings = []
    for start, end in posts(ctx.text, ctx.channel_type):
        post = ctx.text[start:end]
        if ctx.channel_type == "x":
            size, cut = x_length(post), None
            if size > limit:
                cut = start + _x_cut(post, limit)
        else:
            size = len(post)
            cut = start + limit if size > limit else None
        if cut is not None:
            what = "A post" if (start, end) != (0, len(ctx.text)) else "The text"
            message = f"{what} is {size} characters long; the {ctx.channel_type} limit is {limit}"
            findings.append(Finding(LENGTH, DEFAULT_SEVERITY[LENGTH], message, cut, end))
    return findings


# ---------------------------------------------------------------- simulated data mark

# Accepted marks (case-insensitive): "[SIMULATED]", "[SIMULATED DATA]", "[SIMULATED MARKET DATA]"
# and the same in round brackets, or the words "simulated data", "simulated market data",
# "simulated prices", "simulated figures" or "simulated quotes" anywhere in the text.
_SIMULATED_MARK = re.compile(
    r"[\[(]\s*simulated(?:\s+(?:market\s+)?data)?\s*[\])]"
    r"|\bsimulated\s+(?:market\s+)?(?:data|prices|figures|quotes)\b",
    _CI,
)


def simulated_mark(ctx: CheckContext) -> list[Finding]:
    if ctx.extra.get("simulated") is not True or _SIMULATED_MARK.search(ctx.text):
        return []
    message = 'Written from simulated data but carries no visible mark such as "[SIMULATED DATA]"'
    return [Finding(SIMULATED_MARK, DEFAULT_SEVERITY[SIMULATED_MARK], message, 0, 0)]


TEXT_RULES = (
    disclaimer,
    promissory,
    advice,
    urgency,
    placeholders,
    empty_or_truncated,
    length,
    simulated_mark,
)
