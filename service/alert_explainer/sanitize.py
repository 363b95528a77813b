"""Model output is untrusted: neutralise what a chat tool would act on before any sink sees it.

The explanation is written by a model that read alert text anyone with access to alerting
rules or scraped targets could have written, so it may carry whatever that text asked it
to say. `sanitize_explanation` removes the parts a destination would *do* something with:

* mass mentions and pings (`<!channel>`, `<!here>`, `<!subteam^…>`, `<@U…>`, `<@&…>`,
  `<#C…>`, `@everyone`, `@here`, `@channel`, `@all`, any `@name`) become inert text
  with a full-width at sign (U+FF20), which no chat tool resolves to anyone,
* HTML that a renderer might execute (`<script>`, `<iframe>`, `<img onerror=…>`,
  `javascript:` links, comments) is removed; a `<` that means "less than" stays,
* invisible characters used to disguise text (zero-width, bidirectional overrides, tag
  characters) and control characters other than newline and tab are removed,
* the length is capped, ending in `…[truncated <n> chars]`.

Escaping for a destination's own markup (Slack mrkdwn, Discord markdown, HTML) is each
sink's job; this is the first layer, the same for every destination.
"""

from __future__ import annotations

import re

DEFAULT_MAX_LENGTH = 6000

# Neutral stand-ins: visible, readable, and not what any chat tool parses as a mention.
INERT_AT = "＠"  # U+FF20 FULLWIDTH COMMERCIAL AT

# C0 controls except \t and \n, DEL, and C1 controls.
_CONTROL = r"\x00-\x08\x0b-\x1f\x7f-\x9f"
# Invisible formatting used to hide or reorder text: soft hyphen, Arabic letter mark,
# Mongolian vowel separator, zero-width and joiner characters, bidirectional embeddings,
# overrides and isolates, invisible operators, byte-order mark, interlinear annotation
# marks, and the tag characters that can smuggle hidden ASCII.
_INVISIBLE = (
    r"\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    r"\ufeff\ufff9-\ufffb\U000e0000-\U000e007f"
)
_STRIP = re.compile(f"[{_CONTROL}{_INVISIBLE}]")
# Each pattern that runs on every answer begins with a character or a class, not an
# alternation or a lookbehind, so the regex engine skips straight to candidates (five to
# twenty times faster on an answer of a few hundred characters).
# A line break; a \r takes the \n after it along.
_LINE_BREAKS = re.compile(r"[\r\u2028\u2029\x85](?:(?<=\r)\n)?")

# Elements whose content is code or hidden markup: removed together with their content.
_WITH_CONTENT = ("script", "style", "iframe", "noscript", "template", "textarea", "xmp", "svg")
# Elements that load, embed or run something, or take over the page: their tags go. A name
# must be followed by a space, "/" or ">", so placeholders like <base-url> stay.
_ACTIVE = (
    *_WITH_CONTENT,
    *("object", "embed", "applet", "frame", "frameset", "img", "image", "video", "audio"),
    *("math", "link", "meta", "base", "form", "input", "button", "portal", "plaintext"),
)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_OPEN_BLOCK = re.compile(rf"<\s*({'|'.join(_WITH_CONTENT)})(?=[\s/>])[^<>]*>", re.IGNORECASE)
_ACTIVE_TAG = re.compile(rf"<\s*/?\s*(?:{'|'.join(_ACTIVE)})(?=[\s/>]|\Z)[^<>]*>?", re.IGNORECASE)
# Any other tag that carries an event handler or a script URL is removed too.
_HOSTILE_TAG = re.compile(
    r"<\s*/?\s*[a-z][a-z0-9-]*\b[^<>]*?(?:\bon[a-z]+\s*=|(?:java|vb)script\s*:)[^<>]*>?",
    re.IGNORECASE,
)
# Markdown links whose target would run code when clicked: [text](javascript:…).
_SCRIPT_LINK = re.compile(r"\]\(\s*(?:javascript|vbscript|data)\s*:", re.IGNORECASE)

# Slack's special mentions <!channel>, <!here|here>, <!subteam^S123|@team>, <!date^…|…>.
_SLACK_SPECIAL = re.compile(r"<!([A-Za-z]+)(?:\^([^|<>]*))?(?:\|([^<>]*))?>")
_SLACK_PINGS = frozenset({"channel", "here", "everyone", "group", "subteam"})
# User, role and channel references: Slack <@U123|name>, <#C123|name>; Discord <@123>,
# <@!123>, <@&123>, <#123>.
_REFERENCE = re.compile(r"<([@#])([!&]?)([^<>\s|]{1,80})(?:\|([^<>]*))?>")
# Discord's slash-command mention </name:123>.
_COMMAND = re.compile(r"</([\w-]+(?: [\w-]+){0,2}):\d+>")
# What is left of any of those after the readable rewrites above (say, one assembled from
# nested pieces) loses its "<".
_LEFTOVER = re.compile(r"<(?=[!@#])|<(?=/[\w -]+:\d)")
# A bare @name that is not part of an e-mail address (mentions in Discord, Teams,
# Mattermost, Rocket.Chat, and Slack with link_names).
_BARE_MENTION = re.compile(r"@(?<![\w@.+-]@)(?=[\w.-])")

_MAX_PASSES = 8
# Markup removal can shorten text a lot, so a little more than max_length is examined.
_WINDOW_FACTOR = 4


def sanitize_explanation(text: str, max_length: int = DEFAULT_MAX_LENGTH) -> str:
    """`text` with pings, executable markup and invisible characters neutralised, capped.

    Ordinary text, including `<` used as "less than", is left as it was. The result is
    never longer than `max_length`; sanitizing it again changes nothing.
    """
    # Only so much can be shown; work on a bounded window so a huge answer costs little.
    window = text[: max_length * _WINDOW_FACTOR]
    cut = len(text) - len(window)
    # Invisible characters go first, so `@\u200beveryone` or `<scr\u200bipt>` cannot
    # slip past the rules below.
    text = _STRIP.sub("", _LINE_BREAKS.sub("\n", window))
    # Tags, comments, Slack's <!…> and <@…> and Discord's </…:1> all begin with a "<", which
    # most answers do not have: then none of their rules can match.
    if "<" in text:
        text = _strip_markup(text)
    text = _SCRIPT_LINK.sub("](unsafe:", text)
    if "<" in text:
        text = _SLACK_SPECIAL.sub(_inert_special, text)
        text = _REFERENCE.sub(_inert_reference, text)
        text = _COMMAND.sub(r"/\1", text)
        text = _LEFTOVER.sub("‹", text)
    text = _BARE_MENTION.sub(INERT_AT, text)
    return _cap(text, max_length, cut)


def _strip_markup(text: str) -> str:
    # Removing a tag can join the text around it into a new one (`<scr<script>ipt>`), so
    # repeat until nothing changes; whatever is left after that is defused, not removed.
    for _ in range(_MAX_PASSES):
        stripped = _HOSTILE_TAG.sub("", _ACTIVE_TAG.sub("", _remove_blocks(_COMMENT.sub("", text))))
        if stripped == text:
            return text
        text = stripped
    return text.replace("<", "‹")


def _remove_blocks(text: str) -> str:
    """`text` without <script>…</script> and the like, content included, in linear time."""
    lowered = text.lower()
    unclosed: set[str] = set()  # no closing tag after some point: none after any later one
    pieces: list[str] = []
    position = 0
    while match := _OPEN_BLOCK.search(text, position):
        name = match.group(1).lower()
        close = -1 if name in unclosed else lowered.find(f"</{name}", match.end())
        if close == -1:
            unclosed.add(name)
            # The open tag alone is removed with the other active tags.
            pieces.append(text[position : match.end()])
            position = match.end()
            continue
        end = lowered.find(">", close)
        pieces.append(text[position : match.start()])
        position = len(text) if end == -1 else end + 1
    pieces.append(text[position:])
    return "".join(pieces)


def _inert_special(match: re.Match[str]) -> str:
    name, _, label = match.groups()
    if name.lower() not in _SLACK_PINGS:  # <!date^…|fallback> and the like: the text only
        return label or name
    return INERT_AT + (label or name).lstrip("@")


def _inert_reference(match: re.Match[str]) -> str:
    kind, flag, target, label = match.groups()
    shown = (label or f"{flag.replace('!', '')}{target}").lstrip("@#")
    return f"{INERT_AT if kind == '@' else '#'}{shown}"


def _cap(text: str, limit: int, cut: int) -> str:
    if len(text) <= limit and cut == 0:
        return text
    keep = min(limit, len(text))
    while True:  # the marker's own length depends on how much it says is missing
        marker = f"…[truncated {len(text) - keep + cut} chars]"
        if keep + len(marker) <= limit:
            return text[:keep] + marker
        if keep == 0:
            return marker[:limit]
        keep = max(0, limit - len(marker))
