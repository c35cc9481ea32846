"""The Telegram, X and LinkedIn adapters against a local fake of each platform: the exact requests
they make, and how each of the platforms' answers (and silences) is classified."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from finagency.content.renderings import Draft, render
from finagency.publishing.channels import adapter_module
from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    MediaFile,
    Sent,
)
from finagency.publishing.channels.linkedin import throttle_wait
from finagency.settings import Settings, load_settings
from tests.fixtures.platform_servers import (
    BOT_USERNAME,
    LINKEDIN_NAME,
    LINKEDIN_ORGANIZATION,
    LINKEDIN_PERSON,
    X_USERNAME,
    FakePlatforms,
    Fault,
    running_platform_server,
)
from tests.media.images import image_bytes

TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
X_TOKEN = "x-user-token-SECRET-0123456789abcdef"
LINKEDIN_TOKEN = "AQX-linkedin-SECRET-0123456789abcdef"
TOKENS = {"telegram": TELEGRAM_TOKEN, "x": X_TOKEN, "linkedin": LINKEDIN_TOKEN}
EXPIRES = "2026-03-01T00:00:00+00:00"
AUTHOR = f"urn:li:person:{LINKEDIN_PERSON}"
# The dispatcher adds the channel's name to its config: adapters must take extra keys.
CONFIGS: dict[str, dict[str, Any]] = {
    "telegram": {"chat_id": "@finagency_news", "name": "news"},
    "x": {"username": f"@{X_USERNAME}", "name": "news"},
    "linkedin": {"author": AUTHOR, "name": "news"},
}
CREDENTIALS: dict[str, dict[str, Any]] = {
    "telegram": {"bot_token": TELEGRAM_TOKEN},
    "x": {"access_token": X_TOKEN, "expires_at": EXPIRES},
    "linkedin": {"access_token": LINKEDIN_TOKEN, "expires_at": EXPIRES},
}
DRAFT = Draft("S&P 500 up 1.2%", ["The index closed at 5,801.50 (a record)."], "Not advice.")
LONG_DRAFT = Draft(
    "Market update",
    [" ".join(f"The index moved in session {n}, part {k}." for k in range(10)) for n in range(4)],
    "Not investment advice.",
)

Open = Callable[..., Any]


def delivery(
    channel_type: str, draft: Draft = DRAFT, media: tuple[MediaFile, ...] = ()
) -> Delivery:
    return Delivery(
        publication_id=1,
        idempotency_key="publication-1",
        content_id=1,
        revision_number=1,
        content_type="market_update",
        title=draft.title,
        rendering=render(draft, channel_type),
        media=media,
    )


def settings_for(base_url: str, data_dir: Path) -> Settings:
    return load_settings(
        data_dir=data_dir,
        publish_timeout=0.5,
        telegram_base_url=base_url,
        x_base_url=base_url,
        linkedin_base_url=base_url,
    )


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    with running_platform_server() as server:
        yield server


@pytest.fixture
def open_channel(fake: FakePlatforms, tmp_path: Path) -> Iterator[Open]:
    """Opens a channel's adapter pointed at the fake (or at `base_url`); closed after the test."""
    opened: list[Any] = []

    def open_(
        channel_type: str,
        config: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        base_url: str | None = None,
    ) -> Any:
        module = adapter_module(channel_type)
        adapter = module.create(
            CONFIGS[channel_type] if config is None else config,
            CREDENTIALS[channel_type] if credentials is None else credentials,
            settings_for(base_url or fake.base_url, tmp_path),
        )
        opened.append(adapter)
        return adapter

    yield open_
    for adapter in opened:
        adapter.close()


def png(tmp_path: Path, name: str = "chart.png") -> MediaFile:
    path = tmp_path / name
    path.write_bytes(image_bytes("PNG"))
    return MediaFile(path=path, content_type="image/png", alt_text="A chart")


def assert_no_token(error: ChannelError, channel_type: str) -> None:
    assert TOKENS[channel_type] not in error.message
    assert TOKENS[channel_type] not in str(error)
    assert error.__cause__ is None  # a transport error's cause carries the request (URL, headers)


# --- Telegram --------------------------------------------------------------------------------


def test_telegram_sends_a_markdown_v2_message_to_a_public_channel(
    fake: FakePlatforms, open_channel: Open
) -> None:
    sent = open_channel("telegram").send(delivery("telegram"))

    [request] = fake.received
    assert request.method == "POST"
    assert request.path == f"/bot{TELEGRAM_TOKEN}/sendMessage"
    assert request.body == {
        "chat_id": "@finagency_news",
        "text": "*S&P 500 up 1\\.2%*\n\nThe index closed at 5,801\\.50 \\(a record\\)\\.\n\n"
        "_Not advice\\._",
        "parse_mode": "MarkdownV2",
        "disable_web_page_preview": True,
    }
    [post] = fake.accepted("telegram")
    assert sent == Sent(
        post_id=post.post_id,
        url=f"https://t.me/finagency_news/{post.post_id}",
        data={"chat_id": -1001234567890, "message_ids": [int(post.post_id)]},
    )


def test_telegram_to_a_private_chat_has_no_public_url(
    fake: FakePlatforms, open_channel: Open
) -> None:
    sent = open_channel("telegram", {"chat_id": "-1009876543210"}).send(delivery("telegram"))
    assert fake.received[0].body["chat_id"] == -1009876543210
    assert sent.url is None
    assert sent.data["chat_id"] == -1009876543210


def test_telegram_uploads_the_first_image_with_the_text_as_caption(
    fake: FakePlatforms, open_channel: Open, tmp_path: Path
) -> None:
    image = png(tmp_path)
    other = png(tmp_path, "second.png")
    sent = open_channel("telegram").send(delivery("telegram", media=(image, other)))

    [request] = fake.received
    assert request.path == f"/bot{TELEGRAM_TOKEN}/sendPhoto"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert request.body == {
        "chat_id": "@finagency_news",
        "caption": render(DRAFT, "telegram")["text"],
        "parse_mode": "MarkdownV2",
        "photo": image.path.read_bytes(),
        "photo.filename": "chart.png",
        "photo.content_type": "image/png",
    }
    assert request.body["photo"].startswith(b"\x89PNG\r\n")
    assert sent.data["message_ids"] == [int(sent.post_id)]


def test_telegram_sends_a_text_too_long_for_a_caption_after_the_photo(
    fake: FakePlatforms, open_channel: Open, tmp_path: Path
) -> None:
    text = render(LONG_DRAFT, "telegram")["text"]
    assert len(text) > 1024
    sent = open_channel("telegram").send(delivery("telegram", LONG_DRAFT, (png(tmp_path),)))

    photo, message = fake.received
    assert photo.path.endswith("/sendPhoto")
    assert "caption" not in photo.body
    assert message.path.endswith("/sendMessage")
    assert message.body["text"] == text
    assert sent.data["message_ids"] == [int(post.post_id) for post in fake.accepted()]
    assert len(sent.data["message_ids"]) == 2


def test_telegram_photo_sent_but_text_failed_is_unknown_naming_the_photo(
    fake: FakePlatforms, open_channel: Open, tmp_path: Path
) -> None:
    fake.play("ok", "500", platform="telegram")
    with pytest.raises(ChannelError) as caught:
        open_channel("telegram").send(delivery("telegram", LONG_DRAFT, (png(tmp_path),)))
    [photo] = fake.accepted()
    assert caught.value.kind == "unknown"
    assert f"message {photo.post_id}" in caught.value.message
    assert_no_token(caught.value, "telegram")


def test_telegram_verify_answers_the_bots_username(fake: FakePlatforms, open_channel: Open) -> None:
    verified = open_channel("telegram").verify()
    assert verified.identity == f"@{BOT_USERNAME}"
    assert verified.expires_at is None  # bot tokens do not expire
    assert fake.received[0].path == f"/bot{TELEGRAM_TOKEN}/getMe"


def test_telegram_retract_deletes_every_message(
    fake: FakePlatforms, open_channel: Open, tmp_path: Path
) -> None:
    channel = open_channel("telegram")
    sent = channel.send(delivery("telegram", LONG_DRAFT, (png(tmp_path),)))
    assert channel.retract(sent) is True

    deletes = [r for r in fake.received if r.path.endswith("/deleteMessage")]
    assert [r.body for r in deletes] == [
        {"chat_id": -1001234567890, "message_id": message_id}
        for message_id in sent.data["message_ids"]
    ]
    assert all(post.deleted for post in fake.accepted())
    assert channel.retract(sent) is True  # already gone is retracted


# --- X ---------------------------------------------------------------------------------------


def test_x_sends_one_post_with_the_user_token(fake: FakePlatforms, open_channel: Open) -> None:
    sent = open_channel("x").send(delivery("x"))

    [request] = fake.received
    assert (request.method, request.path) == ("POST", "/2/tweets")
    assert request.headers["authorization"] == f"Bearer {X_TOKEN}"
    assert request.body == {"text": render(DRAFT, "x")["posts"][0]}
    [post] = fake.accepted("x")
    assert sent == Sent(
        post_id=post.post_id,
        url=f"https://x.com/{X_USERNAME}/status/{post.post_id}",
        data={"post_ids": [post.post_id]},
    )


def test_x_sends_a_thread_each_post_replying_to_the_previous(
    fake: FakePlatforms, open_channel: Open
) -> None:
    posts = render(LONG_DRAFT, "x")["posts"]
    assert len(posts) >= 3
    sent = open_channel("x", {}).send(delivery("x", LONG_DRAFT))

    ids = [post.post_id for post in fake.accepted("x")]
    assert sent.data == {"post_ids": ids}
    assert [r.body for r in fake.received] == [
        {"text": posts[0]},
        *(
            {"text": text, "reply": {"in_reply_to_tweet_id": previous}}
            for text, previous in zip(posts[1:], ids, strict=False)
        ),
    ]
    assert sent.url == f"https://x.com/i/status/{ids[0]}"  # no username configured


@pytest.mark.parametrize("fault", ["500", "429", "401", "hang"])
def test_an_x_thread_failing_half_way_is_unknown_naming_what_went_out(
    fake: FakePlatforms, open_channel: Open, fault: str
) -> None:
    fake.play("ok", fault, platform="x")
    with pytest.raises(ChannelError) as caught:
        open_channel("x").send(delivery("x", LONG_DRAFT))

    [first] = fake.accepted("x")
    assert caught.value.kind == "unknown"  # never retry: the first post would go out twice
    assert f"already published: {first.post_id}" in caught.value.message
    assert "stopped at post 2 of" in caught.value.message
    assert len(fake.received) == 2
    assert_no_token(caught.value, "x")


def test_x_verify_answers_the_handle_and_the_tokens_expiry(
    fake: FakePlatforms, open_channel: Open
) -> None:
    verified = open_channel("x").verify()
    assert verified.identity == f"@{X_USERNAME}"
    assert verified.expires_at == datetime(2026, 3, 1, tzinfo=UTC)
    [request] = fake.received
    assert (request.method, request.path) == ("GET", "/2/users/me")
    assert request.headers["authorization"] == f"Bearer {X_TOKEN}"


def test_x_retract_deletes_every_post_of_the_thread(
    fake: FakePlatforms, open_channel: Open
) -> None:
    channel = open_channel("x")
    sent = channel.send(delivery("x", LONG_DRAFT))
    assert channel.retract(sent) is True

    deletes = [(r.method, r.path) for r in fake.received if r.method == "DELETE"]
    assert deletes == [("DELETE", f"/2/tweets/{i}") for i in reversed(sent.data["post_ids"])]
    assert all(post.deleted for post in fake.accepted("x"))
    assert channel.retract(sent) is True  # a 404 is a post already gone


# --- LinkedIn --------------------------------------------------------------------------------


def test_linkedin_posts_escaped_commentary_with_the_versioned_headers(
    fake: FakePlatforms, open_channel: Open
) -> None:
    draft = Draft("Q3 (AAPL) up 5% #markets @acme", ["[note] {x} <y> a*b_c~d|e\\f"], "")
    sent = open_channel("linkedin").send(delivery("linkedin", draft))

    [request] = fake.received
    assert (request.method, request.path) == ("POST", "/rest/posts")
    assert request.headers["authorization"] == f"Bearer {LINKEDIN_TOKEN}"
    assert request.headers["linkedin-version"] == "202601"
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "author": AUTHOR,
        "commentary": r"Q3 \(AAPL\) up 5% \#markets \@acme"
        "\n\n"
        r"\[note\] \{x\} \<y\> a\*b\_c\~d\|e\\f",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    [post] = fake.accepted("linkedin")
    assert post.post_id.startswith("urn:li:share:")
    assert sent.post_id == post.post_id
    assert sent.url == f"https://www.linkedin.com/feed/update/{post.post_id}/"


def test_linkedin_version_can_be_pinned_per_channel(
    fake: FakePlatforms, open_channel: Open
) -> None:
    open_channel("linkedin", {"author": AUTHOR, "version": "202611"}).send(delivery("linkedin"))
    assert fake.received[0].headers["linkedin-version"] == "202611"


def test_linkedin_verify_a_person_through_userinfo(fake: FakePlatforms, open_channel: Open) -> None:
    verified = open_channel("linkedin").verify()
    assert verified.identity == f"{LINKEDIN_NAME} ({AUTHOR})"
    assert verified.expires_at == datetime(2026, 3, 1, tzinfo=UTC)
    [request] = fake.received
    assert (request.method, request.path) == ("GET", "/v2/userinfo")
    assert request.headers["authorization"] == f"Bearer {LINKEDIN_TOKEN}"


def test_linkedin_verify_refuses_a_token_of_another_person(open_channel: Open) -> None:
    channel = open_channel("linkedin", {"author": "urn:li:person:SomeoneElse"})
    with pytest.raises(ChannelError, match=f"belongs to urn:li:person:{LINKEDIN_PERSON}") as caught:
        channel.verify()
    assert caught.value.kind == "fail"


def test_linkedin_verify_an_organization_page(fake: FakePlatforms, open_channel: Open) -> None:
    author = "urn:li:organization:1234"
    verified = open_channel("linkedin", {"author": author}).verify()
    assert verified.identity == f"{LINKEDIN_ORGANIZATION} ({author})"
    [request] = fake.received
    assert request.path == "/rest/organizations/1234"
    assert request.headers["linkedin-version"] == "202601"


def test_linkedin_retract_deletes_the_post_by_its_encoded_urn(
    fake: FakePlatforms, open_channel: Open
) -> None:
    channel = open_channel("linkedin")
    sent = channel.send(delivery("linkedin"))
    assert channel.retract(sent) is True

    delete = fake.received[-1]
    assert delete.method == "DELETE"
    assert delete.path == "/rest/posts/" + sent.post_id.replace(":", "%3A")
    assert delete.headers["linkedin-version"] == "202601"
    assert fake.accepted("linkedin")[0].deleted
    assert channel.retract(sent) is True  # a 404 is a post already gone


def test_linkedin_daily_throttle_without_retry_after_waits_for_midnight_utc() -> None:
    body = {"status": 429, "message": "Resource level throttle APPLICATION DAY limit is reached."}
    response = httpx.Response(429, json=body)
    now = datetime(2026, 1, 5, 22, 30, tzinfo=UTC)
    assert throttle_wait(response, now) == 90 * 60
    dated = httpx.Response(429, headers={"retry-after": "Mon, 05 Jan 2026 22:31:00 GMT"})
    assert throttle_wait(dated, now) == 60
    assert throttle_wait(httpx.Response(429, json={"message": "slow down"}), now) is None


# --- every platform's errors -----------------------------------------------------------------

CHANNEL_TYPES = ["telegram", "x", "linkedin"]


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
@pytest.mark.parametrize(
    ("fault", "kind", "words"),
    [
        ("401", "fail", {"telegram": "Unauthorized", "x": "Unauthorized", "linkedin": "REVOKED"}),
        ("403", "fail", {"telegram": "kicked", "x": "Forbidden", "linkedin": "ACCESS_DENIED"}),
        ("400", "fail", {"telegram": "chat not found", "x": "text is invalid", "linkedin": "400"}),
        ("422", "fail", {"telegram": "422", "x": "422", "linkedin": "Field /commentary"}),
        ("500", "retry", {"telegram": "500", "x": "500", "linkedin": "500"}),
        ("502", "retry", {"telegram": "Bad Gateway", "x": "Bad Gateway", "linkedin": "502"}),
        ("503", "retry", {"telegram": "503", "x": "503", "linkedin": "503"}),
        ("hang", "unknown", {"telegram": "ReadTimeout", "x": "ReadTimeout", "linkedin": "Read"}),
    ],
)
def test_each_answer_is_classified(
    fake: FakePlatforms,
    open_channel: Open,
    channel_type: str,
    fault: str,
    kind: str,
    words: dict[str, str],
) -> None:
    fake.play(fault, platform=channel_type)
    started = time.monotonic()
    with pytest.raises(ChannelError) as caught:
        open_channel(channel_type).send(delivery(channel_type))

    assert caught.value.kind == kind
    assert words[channel_type] in caught.value.message
    assert caught.value.status_code == (None if fault == "hang" else int(fault))
    assert caught.value.retry_after is None
    assert fake.accepted() == []  # none of these answers made a post
    assert time.monotonic() - started < 1.5  # the hang was cut by the 0.5 s timeout
    assert_no_token(caught.value, channel_type)


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_a_429_retries_after_the_wait_each_platform_asks_for(
    fake: FakePlatforms, open_channel: Open, channel_type: str
) -> None:
    # Telegram says it in the body, X as a reset time, LinkedIn in Retry-After.
    fake.play(Fault("429", retry_after=35), platform=channel_type)
    with pytest.raises(ChannelError) as caught:
        open_channel(channel_type).send(delivery(channel_type))
    assert caught.value.kind == "retry"
    assert caught.value.status_code == 429
    assert caught.value.retry_after is not None
    if channel_type == "x":  # the reset is a whole second, and one more like tweepy
        assert 34 <= caught.value.retry_after <= 37
    else:
        assert caught.value.retry_after == 35
    assert_no_token(caught.value, channel_type)


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
@pytest.mark.parametrize("fault", ["hang_after_accept", "drop_after_accept"])
def test_a_post_made_but_not_answered_is_unknown(
    fake: FakePlatforms, open_channel: Open, channel_type: str, fault: str
) -> None:
    fake.play(fault, platform=channel_type)
    with pytest.raises(ChannelError) as caught:
        open_channel(channel_type).send(delivery(channel_type))
    assert caught.value.kind == "unknown"
    assert "no answer" in caught.value.message
    assert len(fake.accepted(channel_type)) == 1  # the case "unknown" is about: it does exist
    assert_no_token(caught.value, channel_type)


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_a_refused_connection_is_retried(
    open_channel: Open, channel_type: str, tmp_path: Path
) -> None:
    with running_platform_server() as stopped:
        pass  # its port is free again: nothing listens there
    channel = open_channel(channel_type, base_url=stopped.base_url)
    with pytest.raises(ChannelError, match="cannot connect") as caught:
        channel.send(delivery(channel_type))
    assert caught.value.kind == "retry"
    assert_no_token(caught.value, channel_type)


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_verify_and_retract_classify_errors_too(
    fake: FakePlatforms, open_channel: Open, channel_type: str
) -> None:
    channel = open_channel(channel_type)
    fake.play("401", platform=channel_type)
    with pytest.raises(ChannelError) as refused:
        channel.verify()
    assert refused.value.kind == "fail"
    sent = channel.send(delivery(channel_type))
    fake.play("503", platform=channel_type)
    with pytest.raises(ChannelError) as unavailable:
        channel.retract(sent)
    assert unavailable.value.kind == "retry"
    assert not fake.accepted()[0].deleted


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel_type", "config", "credentials", "message"),
    [
        ("telegram", {}, CREDENTIALS["telegram"], "chat_id is required"),
        ("telegram", {"chat_id": "  "}, CREDENTIALS["telegram"], "chat_id is required"),
        ("telegram", {"chat_id": "news"}, CREDENTIALS["telegram"], "neither a chat id"),
        ("telegram", {"chat_id": True}, CREDENTIALS["telegram"], "neither a chat id"),
        ("telegram", CONFIGS["telegram"], {}, "bot_token is required"),
        (
            "telegram",
            CONFIGS["telegram"],
            {"bot_token": "123456:SECRET-too-short"},
            "not shaped like a bot token",
        ),
        ("telegram", CONFIGS["telegram"], {"bot_token": "SECRET" * 8}, "not shaped like"),
        ("x", CONFIGS["x"], {}, "access_token is required"),
        ("x", {"username": "not a handle!"}, CREDENTIALS["x"], "not an X handle"),
        ("x", CONFIGS["x"], {"access_token": "t", "expires_at": "soon"}, "not an ISO 8601"),
        (
            "x",
            CONFIGS["x"],
            {"access_token": "t", "expires_at": "2026-03-01T00:00:00"},
            "needs a time zone",
        ),
        ("linkedin", {}, CREDENTIALS["linkedin"], "author is required"),
        (
            "linkedin",
            {"author": "urn:li:company:1234"},
            CREDENTIALS["linkedin"],
            "not a person or organization URN",
        ),
        ("linkedin", {"author": AUTHOR, "version": "2026"}, CREDENTIALS["linkedin"], "202601"),
        ("linkedin", CONFIGS["linkedin"], {"access_token": ""}, "access_token is required"),
    ],
)
def test_check_refuses_bad_config_and_credentials_clearly(
    channel_type: str, config: dict[str, Any], credentials: dict[str, Any], message: str
) -> None:
    module = adapter_module(channel_type)
    with pytest.raises(ChannelConfigError, match=message) as caught:
        module.check(config, credentials)
    assert "SECRET" not in str(caught.value)  # a mistyped secret is never echoed


@pytest.mark.parametrize(
    ("channel_type", "config"),
    [
        *CONFIGS.items(),
        ("telegram", {"chat_id": -1001234567890}),
        ("telegram", {"chat_id": " 42 "}),
        ("x", {}),
        ("linkedin", {"author": "urn:li:organization:1234", "version": "202611"}),
    ],
)
def test_check_accepts_good_config(channel_type: str, config: dict[str, Any]) -> None:
    module = adapter_module(channel_type)
    module.check(config, CREDENTIALS[channel_type])
    assert module.SECRET_FIELDS == tuple(
        name for name in CREDENTIALS[channel_type] if name != "expires_at"
    )


@pytest.mark.parametrize("channel_type", CHANNEL_TYPES)
def test_a_channel_with_bad_config_fails_its_sends(channel_type: str, tmp_path: Path) -> None:
    # The dispatcher builds adapters from stored channels; a broken one is a failure, never sent.
    module = adapter_module(channel_type)
    with pytest.raises(ChannelError) as caught:
        module.create({}, {}, settings_for("http://127.0.0.1:9", tmp_path))
    assert caught.value.kind == "fail"
    assert "required" in caught.value.message


# --- the fake itself (the fault-injection test relies on it) ---------------------------------


def test_random_faults_are_reproducible_and_never_duplicate_a_post(
    fake: FakePlatforms, open_channel: Open
) -> None:
    errors: list[ChannelError] = []

    def run(seed: int) -> list[str]:
        rates = {"500": 0.2, "429": 0.2, "hang_after_accept": 0.1}
        fake.random_faults(seed, rates, retry_after=2, hang_seconds=1.0)
        kinds = []
        for n in range(20):
            draft = Draft(f"Update {n}", ["Markets were calm."], "")
            try:
                open_channel("telegram").send(delivery("telegram", draft))
                kinds.append("ok")
            except ChannelError as error:
                kinds.append(error.kind)
                errors.append(error)
        return kinds

    first = run(seed=7)
    faults = [r.fault for r in fake.received]
    assert set(first) == {"ok", "retry", "unknown"}
    assert {e.retry_after for e in errors if e.status_code == 429} == {2}
    assert first.count("ok") + first.count("unknown") == len(fake.accepted())
    assert fake.duplicates() == []

    fake.received.clear()
    assert run(seed=7) == first
    assert [r.fault for r in fake.received] == faults
    assert len(fake.duplicates()) == len(fake.accepted()) // 2  # every text went out twice
