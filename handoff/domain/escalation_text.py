"""What a shopper's words say about their case, for the escalation policy.

NLU has intents for asking for a person and for complaints, but not for damaged items, lost
parcels, chargebacks or legal threats, and it misses unusual phrasings. These detectors read the
raw text instead. Pure and deliberately conservative: each pattern needs a telling word, so
ordinary order questions ("where is my order?", "it hasn't arrived yet") do not match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class Cue(StrEnum):
    ASKS_FOR_PERSON = "asks_for_person"
    COMPLAINT = "complaint"
    ITEM_PROBLEM = "item_problem"
    LOST = "lost"
    NOT_RECEIVED = "not_received"
    MENTIONS_DELIVERED = "mentions_delivered"
    CHARGEBACK = "chargeback"
    FRAUD = "fraud"
    LEGAL_THREAT = "legal_threat"
    RETURN_OR_REFUND = "return_or_refund"


def _any(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE)


def _one_of(alternatives: str) -> str:
    """A non-capturing group of "|"-separated alternatives (keeps the patterns readable)."""
    return f"(?:{alternatives})"


_PERSON = _one_of(
    "human|person|people|agent|representative|rep|operator|someone|somebody|staff|"
    "manager|supervisor"
)
_NOT = _one_of(
    "didn'?t|did not|haven'?t|have not|hasn'?t|has not|never|not|still not|still haven'?t"
)
_PARCEL = _one_of("parcel|package|order|delivery|shipment|box")

PATTERNS: dict[Cue, re.Pattern[str]] = {
    Cue.ASKS_FOR_PERSON: _any(
        [
            rf"\b(?:talk|speak|chat|connect|transfer|put)\b.{{0,25}}\b{_PERSON}\b",
            r"\b(?:real|live|actual)\s+(?:human|person|agent|people)\b",
            r"^\s*(?:an?\s+)?(?:human|agent|representative|operator)(?:\s+please)?[\s!.?]*$",
            rf"\b(?:want|need|get me|give me)\s+(?:an?\s+|to\s+\w+\s+(?:to\s+)?)?{_PERSON}\b",
            r"\bcustomer (?:service|support) (?:agent|rep|representative|person)\b",
        ]
    ),
    Cue.COMPLAINT: _any(
        [
            r"\bcomplain(?:t|ts|ing)?\b",
            r"\b(?:unacceptable|outrageous|disgraceful|ridiculous)\b",
            r"\b"
            + _one_of("terrible|awful|horrible|worst|appalling|shocking")
            + r" "
            + _one_of("service|experience|support|company|shop|store")
            + r"\b",
        ]
    ),
    Cue.ITEM_PROBLEM: _any(
        [
            r"\b"
            + _one_of(
                "damaged|broken|smashed|cracked|dented|torn|ripped|stained|shattered|crushed|"
                "defective|faulty|doesn'?t work|does not work|stopped working|not working|"
                "falling apart|fell apart"
            )
            + r"\b",
            r"\bwrong "
            + _one_of("item|size|colou?r|product|order|thing|one|jacket|boots?|parcel|package")
            + r"s?\b",
            r"\bnot what i (?:ordered|bought|paid for)\b",
            r"\b(?:sent|shipped|received|got) (?:me )?(?:the )?wrong\b",
            r"\bmissing (?:item|part|piece|pieces|parts)\b",
        ]
    ),
    Cue.LOST: _any(
        [
            rf"\b{_PARCEL}\b.{{0,30}}\b(?:lost|missing|disappeared|stolen|vanished)\b",
            rf"\b(?:lost|missing|stolen)\b.{{0,15}}\b{_PARCEL}\b",
            r"\bnever (?:arrived|came|showed up|turned up|got here|made it)\b",
            r"\b(?:carrier|courier|ups|usps|fedex|dhl) lost\b",
        ]
    ),
    Cue.NOT_RECEIVED: _any(
        [
            rf"\b{_NOT}\s+"
            + _one_of(
                "get|got|gotten|receive|received|arrive|arrived|come|came|show up|showed up|"
                "been delivered"
            )
            + r"\b",
            r"\bnot (?:been )?received\b",
            r"\bnothing (?:arrived|came|was delivered)\b",
            r"\bno (?:parcel|package|box) (?:at|on|in)\b",
            r"\bwasn'?t (?:there|delivered)\b",
            # "it says delivered but I don't have it": "it"/"them" only, so "I don't have my order
            # number" is not a missing parcel.
            r"\b(?:don'?t|do not) have (?:it|them)\b",
            r"\b(?:it|they|parcel|package|order)\s+(?:isn'?t|is not|aren'?t|are not|wasn'?t|"
            r"was not|weren'?t|were not)\s+(?:here|there)\b",
            r"\b(?:can'?t|cannot|can not|couldn'?t|could not) find (?:it|them|my|the)\b",
        ]
    ),
    Cue.MENTIONS_DELIVERED: _any([r"\bdelivered\b", r"\bdelivery confirm"]),
    Cue.CHARGEBACK: _any(
        [
            r"\bcharge ?backs?\b",
            r"\bdispute (?:the |this |that |a )?(?:charge|payment|transaction)\b",
            r"\b(?:call|calling|contact|contacting|tell|telling) my "
            + _one_of("bank|card issuer|credit card company")
            + r"\b",
            r"\b(?:reverse|reversing) the (?:charge|payment)\b",
            r"\bpaypal (?:dispute|claim)\b",
        ]
    ),
    Cue.FRAUD: _any(
        [
            r"\bfraud(?:ulent|ster)?\b",
            r"\bscam(?:mer|med|s)?\b",
            r"\bunauthori[sz]ed\b",
            r"\bi (?:didn'?t|did not|never) (?:make|place|order|authori[sz]e|buy)\b",
            r"\b(?:stolen|hacked) (?:card|account)\b",
            r"\bidentity theft\b",
        ]
    ),
    Cue.LEGAL_THREAT: _any(
        [
            r"\b(?:lawyers?|attorneys?|solicitors?|lawsuit|legal action|legal steps)\b",
            r"\b(?:sue|suing|sued)\b",
            r"\bsmall claims\b",
            r"\btake (?:you|this|it) to court\b",
            r"\b(?:better business bureau|bbb|trading standards|consumer protection|ftc)\b",
        ]
    ),
    Cue.RETURN_OR_REFUND: _any([r"\breturn(?:ing)?\b", r"\brefund(?:ed)?\b", r"\bmoney back\b"]),
}


def cues(text: str | None) -> frozenset[Cue]:
    """Every cue the text contains."""
    if not text:
        return frozenset()
    return frozenset(cue for cue, pattern in PATTERNS.items() if pattern.search(text))
