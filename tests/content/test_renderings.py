import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from finagency.content.renderings import (
    LINKEDIN_LIMIT,
    X_LIMIT,
    Draft,
    TooLong,
    escape_markdown_v2,
    render,
    x_thread,
)

DISCLAIMER = "Not investment advice. Markets carry risk."


def draft(sentences: int = 3) -> Draft:
    body = [
        " ".join(f"The index moved in session {n}, part {k}." for k in range(sentences))
        for n in range(3)
    ]
    return Draft("Market update", body, DISCLAIMER, {"snapshot_id": 7})


def test_a_short_draft_is_one_post() -> None:
    short = Draft("Title", ["One line."], "Risk.")
    assert x_thread(short) == ["Title\n\nOne line.\n\nRisk."]


def test_a_long_draft_becomes_a_numbered_thread_of_whole_sentences() -> None:
    posts = x_thread(draft(8))
    assert len(posts) > 1
    assert all(len(post) <= X_LIMIT for post in posts)
    assert [post.rsplit(" ", 1)[1] for post in posts] == [
        f"{n}/{len(posts)}" for n in range(1, len(posts) + 1)
    ]
    joined = " ".join(post.rsplit(" ", 1)[0] for post in posts)
    assert "The index moved in session 2, part 7." in joined
    assert DISCLAIMER in posts[-1]


def test_a_sentence_longer_than_a_post_is_refused() -> None:
    with pytest.raises(TooLong):
        x_thread(Draft("T", ["word " * 80 + "end."], ""))


def test_telegram_escapes_markdown_v2() -> None:
    assert escape_markdown_v2("S&P 500 +1.2% (close: 5,801.50)!") == (
        "S&P 500 \\+1\\.2% \\(close: 5,801\\.50\\)\\!"
    )
    rendered = render(Draft("Nifty_50 update", ["Up 0.5%."], "Risk."), "telegram")
    assert rendered["parse_mode"] == "MarkdownV2"
    assert rendered["text"].startswith("*Nifty\\_50 update*")


def test_email_has_subject_text_and_escaped_html() -> None:
    rendered = render(Draft("Gold <up>", ["A & B."], DISCLAIMER), "email")
    assert rendered["subject"] == "Gold <up>"
    assert "<h1>Gold &lt;up&gt;</h1>" in rendered["html"]
    assert "A &amp; B." in rendered["html"]
    assert DISCLAIMER in rendered["text"]


def test_json_channels_carry_the_structured_content() -> None:
    webhook = render(draft(), "webhook")
    assert webhook["data"] == {"snapshot_id": 7}
    file = render(draft(), "file")
    assert json.loads(json.dumps(file["json"]))["disclaimer"] == DISCLAIMER
    assert file["text"].endswith(DISCLAIMER)


def test_linkedin_refuses_over_length() -> None:
    with pytest.raises(TooLong):
        render(Draft("T", ["x" * LINKEDIN_LIMIT], ""), "linkedin")


def test_unknown_channel_type() -> None:
    with pytest.raises(ValueError, match="unknown channel type"):
        render(draft(), "fax")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdefgh ", min_size=1, max_size=60), min_size=1, max_size=30))
def test_threads_always_fit_and_keep_every_word(words: list[str]) -> None:
    sentences = [w.strip() + "." for w in words if w.strip()]
    assume(sentences)
    posts = x_thread(Draft("Title", [" ".join(sentences)], "Risk."))
    assert all(len(post) <= X_LIMIT for post in posts)
    text = " ".join(posts)
    for sentence in sentences:
        assert sentence in text


def test_thread_posts_fit_by_the_weight_x_counts_not_by_characters() -> None:
    from finagency.compliance.rules import x_length

    # Each ₹ counts two on X: a post filled to 280 plain characters would be refused.
    sentences = [
        f"Stock {n} closed at ₹1,234.{n:02d}, up ₹12.{n:02d} on the day." for n in range(40)
    ]
    posts = x_thread(Draft("Rupee moves", [" ".join(sentences)], DISCLAIMER))
    assert len(posts) > 1
    assert all(x_length(post) <= X_LIMIT for post in posts), [x_length(p) for p in posts]
    assert any(len(post) > X_LIMIT - 40 for post in posts[:-1])  # posts are still well filled
