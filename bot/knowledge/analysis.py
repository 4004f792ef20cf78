"""Turning article text and shopper messages into the same search terms.

Shoppers write "pkg", "refnd", "sent it back"; articles write "parcel", "refund", "return".
Both sides go through the same pipeline (lower case, phrase synonyms, tokens, stop words, a
light stemmer, word synonyms) so they meet in the middle. Typo correction needs the index's
vocabulary, so it lives in `retrieval.py`.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

# Multi-word phrases first (on the lower-cased text, before tokenising): each becomes one
# word the rest of the pipeline understands. Why: "money back" means "refund", but "money" and
# "back" alone mean little.
PHRASES: tuple[tuple[str, str], ...] = (
    (r"\bmoney back\b", "refund"),
    (r"\b(?:log|sign)(?:ged|ging)? ?(?:in|on)\b", "signin"),
    (r"\bsign(?:ed|ing)? ?up\b", "signup"),
    (r"\b(?:log|sign)(?:ged|ging)? ?out\b", "signout"),
    (r"\be[- ]mail", "email"),
    (r"\bsold out\b", "stock"),
    (r"\bout of stock\b", "stock"),
    (r"\bback in stock\b", "restock"),
    (r"\bin stock\b", "stock"),
    (r"\bsize (?:chart|guide|table)\b", "size"),
    (r"\b(?:real|live|actual) (?:person|human)\b", "agent"),
    (r"\bcustomer (?:service|support|care)\b", "support"),
    # "send something back", "shipped them back", "mail it back": a return.
    (r"\b(?:send|sent|sending|ship|shipped|mail|mailed|post|posted) (?:\w+ ){0,2}back\b", "return"),
    # Question shapes that say what kind of answer is wanted, which stop words would lose.
    (r"\bwhere(?:s| is| are) (?:my|the|our)\b", "whereis"),
    (r"\b(?:how long|how many (?:business |working )?days|how soon|when will)\b", "howlong"),
    (r"\bhow much\b", "cost"),
    # "has my order shipped yet", "did it ship", "is it on its way": a tracking question.
    (
        r"\b(?:has|have|did|is|are) (?:my|it|the|they|this) (?:\w+ )?(?:shipped|ship|left"
        r"|dispatched|on (?:its|the) way)\b",
        "track",
    ),
    (r"\bcheck(?:ing)? ?out\b", "checkout"),
    (r"\bwithout (?:an |a |my )?account\b", "guest"),
    (
        r"\b(?:make|open|set up|setup|start)\s+(?:a |an |my |new )*(?:account|profile)\b",
        "create account",
    ),
    (r"\bpay ?pal\b", "paypal"),
    (r"\bapple ?pay\b", "applepay"),
    (r"\bgoogle ?pay\b", "googlepay"),
    (r"\bgift ?cards?\b", "giftcard"),
    (r"\bgift ?certificates?\b", "giftcard"),
    (r"\bpromo ?codes?\b", "discount"),
    (r"\bdiscount ?codes?\b", "discount"),
    (r"\bcoupon ?codes?\b", "discount"),
    (r"\bstore ?credit\b", "storecredit"),
    (r"\bpass ?word\b", "password"),
    (r"\bzip ?code\b", "postcode"),
    (r"\bpost ?code\b", "postcode"),
)
_PHRASE_PATTERNS = tuple((re.compile(p), r) for p, r in PHRASES)


# Words that carry no topic. Besides ordinary English function words, chat filler
# ("hey", "pls", "wondering") must go too: the weak-match test counts every remaining word,
# so filler would make on-topic questions look off-topic.
def word_set(text: str) -> frozenset[str]:
    """A set of words written as text: long word lists stay readable."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """
    a about above after again all am an and any anyone anything are aren as at be because been
    before being below between both but by can cannot could couldn did didn do does doesn doing
    don done down during each either else even ever every few for from further get gets getting
    got gotten had hadn has hasn have haven having he her here hers herself him himself his how
    i if in into is isn it its itself just let lets me might mine more most must mustn my myself
    no nor not now of off on once only or other our ours ourselves out over own same shall she
    should shouldn so some someone something still such than that the their theirs them
    themselves then there these they this those through to too under until up upon us very was
    wasn we were weren what whats when where which while who whom whose why will with won would
    wouldn you your yours yourself yourselves
    hi hello hey hiya thanks thank thx ty please pls plz kindly ok okay yes yeah yep sure
    u ur im ive id ill youre dont cant wont didnt doesnt isnt wasnt also already really
    guys folks wondering wonder wondered curious question quick want wanted wanna need needed
    needs like would know tell let help able way possible thing things stuff lol hmm
    one ones much many also anyway still yet again someone somebody
    hasnt havent arent couldnt shouldnt wouldnt hadnt werent its thats theres
    say says said saying put puts make makes made go goes going went gone gonna come comes
    came see sees saw seen look looks looking try tried trying give gave keep keeps kept
    think thought feel happen happened happens another other others without anymore
    everything nothing here there today yesterday tomorrow week weeks ago since ever
    two three four five six seven eight nine ten back maybe probably actually basically
    northwind outfitters shop store site website online
    rn asap atm tbh idk btw imo fyi pls lmk omg ok k hmm
    """
)

# After stemming: different words for the same thing. Keys and values are stems.
SYNONYMS: dict[str, str] = {
    # parcels and orders
    "package": "parcel",
    "packag": "parcel",
    "pkg": "parcel",
    "parcel": "parcel",
    "shipment": "parcel",
    "box": "parcel",
    "purchas": "order",
    "purchase": "order",
    # delivery words
    "delivery": "deliver",
    "deliveri": "deliver",
    "arriv": "deliver",
    "receiv": "deliver",
    "postag": "ship",
    "dispatch": "ship",
    "courier": "carrier",
    "late": "delay",
    "overdu": "delay",
    "slow": "delay",
    "stuck": "delay",
    "delai": "delay",
    # money
    "reimburs": "refund",
    "reimburse": "refund",
    "reimbursement": "refund",
    "repaid": "refund",
    "refound": "refund",
    "price": "cost",
    "pric": "cost",
    "charg": "charge",
    "fee": "fee",
    "bill": "invoice",
    "receipt": "invoice",
    "invoic": "invoice",
    "cc": "card",
    "visa": "card",
    "mastercard": "card",
    "amex": "card",
    "debit": "card",
    "credit": "card",
    "declin": "decline",
    "reject": "decline",
    "refus": "decline",
    # items and faults
    "broken": "damag",
    "broke": "damag",
    "ripped": "damag",
    "rip": "damag",
    "torn": "damag",
    "tear": "damag",
    "dent": "damag",
    "crack": "damag",
    "faulty": "damag",
    "defect": "damag",
    "defective": "damag",
    "scratch": "damag",
    "swap": "exchang",
    "switch": "switch",
    "fit": "size",
    "siz": "size",
    "small": "size",
    "big": "size",
    "larg": "size",
    "large": "size",
    "tight": "size",
    "loose": "size",
    "bigger": "size",
    "smaller": "size",
    "larger": "size",
    "tighter": "size",
    "looser": "size",
    "medium": "size",
    "xs": "size",
    "xl": "size",
    "xxl": "size",
    "petite": "size",
    "wash": "care",
    "clean": "care",
    "dry": "care",
    "launder": "care",
    "available": "stock",
    "availabl": "stock",
    "availability": "stock",
    "restock": "restock",
    # accounts
    "pw": "password",
    "pwd": "password",
    "passwd": "password",
    "passcode": "password",
    "acct": "account",
    "profil": "account",
    "profile": "account",
    "register": "signup",
    "registr": "signup",
    "registration": "signup",
    "signup": "signup",
    "unsubscrib": "newsletter",
    "subscrib": "newsletter",
    "subscript": "newsletter",
    "promot": "newsletter",
    "remov": "delet",
    "eras": "delet",
    "clos": "delet",
    # people
    "human": "agent",
    "person": "agent",
    "rep": "agent",
    "representative": "agent",
    "someon": "agent",
    "operat": "agent",
    "phone": "call",
    "telephon": "call",
    "ring": "call",
    "number": "number",
    "complain": "complaint",
    "complaint": "complaint",
    "opinion": "review",
    "feedback": "review",
    "rate": "review",
    "rat": "review",
    "modifi": "chang",
    "modify": "chang",
    "edit": "chang",
    "updat": "chang",
    "amend": "chang",
    "alter": "chang",
    "correct": "chang",
    "fix": "chang",
    "canc": "cancel",
    "cancell": "cancel",
    "cancellat": "cancel",
    "cancelat": "cancel",
}

# Outside the US, every country means the same thing to the shop: international shipping.
COUNTRIES = word_set(
    """
    canada mexico uk england scotland wales ireland france germany spain italy portugal
    netherlands belgium switzerland austria sweden norway denmark finland poland greece
    australia zealand japan china korea india singapore brazil argentina chile colombia
    israel europe eu asia abroad
    """
)
# Products name what the question is about, not what kind of answer it needs ("can I return
# this jacket" is a returns question): they count less in a message (see retrieval.py).
PRODUCT_WORDS = word_set(
    """
    jacket parka coat boot shoe sneaker tee shirt top layer fleece hoodie sweater pant
    trouser short sock beanie hat glove mitten brief boxer bra underwear pack backpack
    daypack bottle item product
    """
)

_TOKEN = re.compile(r"[a-z0-9]+")
# Order numbers, phone numbers and the like say nothing about which article answers.
_LONG_NUMBER = re.compile(r"^\d{5,}$")
_DOUBLE_END = re.compile(r"([bdgmnprt])\1$")
_VOWEL = re.compile(r"[aeiouy]")
_SHORT_STEM = re.compile(r"^[^aeiou][aeiouy][^aeiouwxy]$")


def normalise(text: str) -> str:
    """Lower case, accents and curly quotes folded, contractions' apostrophes dropped."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    folded = folded.replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"(\w)'(\w)", r"\1\2", folded)  # "don't" -> "dont", "where's" -> "wheres"


def stem(word: str) -> str:
    """A light, predictable suffix stripper (plural, -ing, -ed, final e).

    Not Porter: it only has to make "ship / shipping / shipped" and "change / changing /
    changed" meet, and staying simple keeps its mistakes easy to predict and test.
    """
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ly") and len(word) > 6:  # "permanently" -> "permanent"
        word = word[:-2]
    for suffix in ("ing", "ed", "ment"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 3 and _VOWEL.search(base):
            undoubled = _DOUBLE_END.sub(r"\1", base)  # "shipp" -> "ship"
            if undoubled != base:
                word = undoubled
            elif suffix != "ment" and _SHORT_STEM.match(base):
                word = base + "e"  # "caring" -> "car" -> "care": a short stem lost its e
            else:
                word = base
            break
    # Only longer words: "care" must not become "car", but "change" and "changing" must meet.
    if len(word) >= 5 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word


def raw_words(text: str) -> list[str]:
    """Lower-case words after phrase synonyms, before stop words and stemming."""
    lowered = normalise(text)
    for pattern, replacement in _PHRASE_PATTERNS:
        lowered = pattern.sub(replacement, lowered)
    return _TOKEN.findall(lowered)


def term_for(word: str) -> str | None:
    """The search term one raw word becomes, or None when it carries no topic."""
    if word in STOPWORDS or len(word) < 2 or _LONG_NUMBER.match(word):
        return None
    if word in COUNTRIES:
        return "international"
    stemmed = stem(word)
    return SYNONYMS.get(word) or SYNONYMS.get(stemmed) or stemmed


def bigrams(found: list[str]) -> list[str]:
    """Adjacent term pairs ("never deliver", "free ship"): phrase evidence for ranking."""
    return [f"{a}_{b}" for a, b in itertools.pairwise(found) if a != b]


def terms(text: str) -> list[str]:
    """Search terms of a text, in order, repeats kept (BM25 counts them in documents)."""
    return [t for t in (term_for(w) for w in raw_words(text)) if t is not None]


#: PRODUCT_WORDS as search terms ("boots" -> "boot", "shoes" -> "sho").
PRODUCT_TERMS = frozenset(t for t in (term_for(w) for w in PRODUCT_WORDS) if t)
