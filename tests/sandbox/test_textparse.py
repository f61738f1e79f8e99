from __future__ import annotations

import pytest

from bot.sandbox.textparse import EntityParseError, command_entities, parse_html, utf16_len


def test_html_entities_and_offsets() -> None:
    parsed = parse_html('😀 <b>粗<i>斜</i></b> <a href="https://x.org/?a=1&amp;b=2">链</a> &quot;')
    assert parsed.text == '😀 粗斜 链 "'
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 2},
        {"type": "italic", "offset": 4, "length": 1},
        {"type": "text_link", "url": "https://x.org/?a=1&b=2", "offset": 6, "length": 1},
    ]
    assert utf16_len("😀") == 2


def test_supported_tags() -> None:
    text = (
        "<strong>a</strong><em>b</em><u>c</u><ins>d</ins><s>e</s><strike>f</strike><del>g</del>"
        '<code>h</code><pre><code class="language-python">i</code></pre><tg-spoiler>j</tg-spoiler>'
        '<span class="tg-spoiler">k</span><blockquote>l</blockquote>'
    )
    parsed = parse_html(text)
    assert parsed.text == "abcdefghijkl"
    kinds = [e["type"] for e in parsed.entities]
    assert kinds == [
        "bold",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "code",
        "pre",
        "spoiler",
        "spoiler",
        "blockquote",
    ]
    assert parsed.entities[8]["language"] == "python"


@pytest.mark.parametrize(
    "bad",
    ["<b>x", "<b>x</i>", "<unknown>x</unknown>", "<a href=x", "</b>", '<span class="x">y</span>'],
)
def test_malformed(bad: str) -> None:
    with pytest.raises(EntityParseError):
        parse_html(bad)


def test_numeric_entities_and_stray_ampersand() -> None:
    assert parse_html("&#20013;&#x6587; & co &nbsp;").text == "中文 & co &nbsp;"


def test_command_entities() -> None:
    assert command_entities("/start abc") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert command_entities("答题 /quiz") == [{"type": "bot_command", "offset": 3, "length": 5}]
    assert command_entities("a/b") == []
