"""What every entry point does to a shopper's text before the assistant sees it.

Pure functions, no Rasa or provider imports: the web chat, the JSON endpoint
(channels/jsonapi/) and the provider connectors (channels/core/channel.py) all call them, on
the text they would hand to Rasa (for a provider message: after a payload or an attachment's
URL has stood in for a missing caption, so a photo without a caption is not "blank").

    text, reply = screen_text(raw)
    if reply is not None:
        send `reply` to the shopper yourself; do not hand anything to Rasa
    else:
        hand `text` (cleaned) to Rasa

`screen_text` answers two kinds of message itself:

- blank ones (empty, whitespace, invisible characters, a lone surrogate): Rasa's NLU cannot
  classify a text without tokens (RegexFeaturizer and the intent classifier fail on it), and
  there is nothing to understand anyway: BLANK_REPLY asks the shopper to type again;
- messages over TEXT_LIMIT: TOO_LONG_REPLY. A 1 MB message keeps the NLU busy for seconds
  and every other conversation waits meanwhile.

Neither reaches the tracker, so a blank message in the middle of a form changes nothing.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest shopper message handed to the assistant, in characters (code points). The
#: providers' own caps on an incoming message: WhatsApp through Twilio 1,600 characters,
#: Messenger 2,000, Telegram 4,096. 4,096 lets every real message of every channel through
#: (a pasted e-mail included) and stops only what no person types: a 1 MB body keeps the NLU
#: busy for about 15 s.
TEXT_LIMIT = 4096

#: What the shopper reads when their message has no text in it (it never reaches the NLU).
BLANK_REPLY = (
    "Sorry, I didn't get any text in that message. What can I help you with? "
    "You can type a question, or an order number."
)

#: What the shopper reads when their message is over TEXT_LIMIT (it never reaches the NLU).
TOO_LONG_REPLY = (
    "Sorry, that message is too long for me to read (the limit is "
    f"{TEXT_LIMIT:,} characters). Could you send just your question in a shorter message? "
    "If it is about an order, the order number is enough to start."
)

# C0 controls except tab (\x09) and line feed (\x0a), DEL and the C1 controls. Carriage
# returns are turned into line feeds before this runs.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def _join_or_replace_surrogates(text: str) -> str:
    """Surrogate pairs that arrived as two code points joined, lone surrogates → U+FFFD."""
    if not _SURROGATES.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_text(text: str | None) -> str:
    """The shopper's text as the assistant may safely read, store and JSON-encode it.

    - a lone surrogate (e.g. "\\ud800" from a broken client) becomes U+FFFD; a pair split
      into two code points is joined into the character it encodes;
    - CR LF, lone CR and the Unicode line/paragraph separators become LF;
    - NUL and the other C0 controls except tab and LF, DEL and the C1 controls are removed;
    - the result is NFC-normalised (composed accents: "é" typed either way is the same text;
      NFKC is not used, it would rewrite the shopper's characters, e.g. "²" → "2").

    Nothing else changes: leading/trailing whitespace is kept (the NLU strips it) and the
    length is not capped (see `is_too_long`). None is treated as "".
    """
    if not text:
        return ""
    text = _join_or_replace_surrogates(text)
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text)
    return unicodedata.normalize("NFC", text)


def _is_invisible(char: str) -> bool:
    # Whitespace, format characters (zero-width space/joiners, BOM, bidi marks), and the
    # replacement character a lone surrogate or undecodable byte turns into.
    return char.isspace() or char == "\ufffd" or unicodedata.category(char) in ("Cc", "Cf")


def is_blank(text: str | None) -> bool:
    """True when there is nothing to read: empty, None, or only whitespace, invisible format
    characters, control characters or U+FFFD (what a lone surrogate becomes)."""
    if not text:
        return True
    return all(_is_invisible(char) for char in clean_text(text))


def is_too_long(text: str | None) -> bool:
    """True when the text is over TEXT_LIMIT characters: answer TOO_LONG_REPLY instead."""
    return text is not None and len(text) > TEXT_LIMIT


def screen_text(text: str | None) -> tuple[str, str | None]:
    """(the cleaned text, the reply to send instead of asking the assistant, if any)."""
    cleaned = clean_text(text)
    if is_too_long(cleaned):
        return cleaned, TOO_LONG_REPLY
    if is_blank(cleaned):
        return cleaned, BLANK_REPLY
    return cleaned, None
