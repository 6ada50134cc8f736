"""Rakuten address -> Cubyn recipient, within Cubyn's field limits (the create-parcel body).

- Text is NFC-normalized and its whitespace collapsed (several spaces, tabs, newlines become one space).
- Address lines are wrapped at word boundaries over line1, line2 and additionalInformation: never a word
  dropped. A single word longer than a line (it happens: "Résidencedeslilasbâtimentcescalier4") is cut
  inside the word as a last resort, which keeps every character. If three lines cannot hold the text,
  the address is unmappable, with the reason.
- First and last names over 35 characters are shortened at a word boundary; `notes` says so (the full
  name stays in the order's timeline). A missing last name takes the first name.
- City over 35: "Saint"/"Sainte" are abbreviated as La Poste does; still too long: unmappable.
- Country: `FX` (metropolitan France) -> `FR`; a French country name gives the code when it is missing.
- Zip at most 8 (spaces removed if needed); a country other than France without zip gets "0".
- Phone: digits and a leading `+` kept, `(0)` after a country code dropped; outside 4..13: left out.
- E-mail kept only if it looks valid and fits 70 characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rakuten_connector.clients.cubyn_models import ParcelAddress, RelayPointRef
from rakuten_connector.mapping.types import RakutenAddress, RakutenRelayPoint

FIELD_MAX = 35
ADDRESS_LINES = 3  # line1, line2, additionalInformation
ZIP_MAX = 8
PHONE_MIN, PHONE_MAX = 4, 13
EMAIL_MAX = 70
NO_ZIP = "0"
_ZIP_REQUIRED = frozenset({"FR", "MC"})


@dataclass(frozen=True)
class CubynRecipient:
    first_name: str | None
    last_name: str
    email: str | None
    phone: str | None
    address: ParcelAddress
    notes: tuple[str, ...] = ()  # what was changed to fit Cubyn, for the order's timeline


@dataclass(frozen=True)
class AddressUnmappable:
    reason: str


def clean_text(value: str | None) -> str:
    """NFC, whitespace collapsed, trimmed. Every non-space character is kept."""
    return " ".join(unicodedata.normalize("NFC", value or "").split())


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub("[-'\u2019.]", " ", plain).split())


def wrap_words(text: str, width: int = FIELD_MAX) -> list[str]:
    """Greedy word wrap of cleaned `text`; a word longer than `width` is cut into pieces of `width`."""
    lines: list[str] = []
    current = ""
    for word in clean_text(text).split(" "):
        if not word:
            continue
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not word:
            continue
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def wrap_address_lines(
    address1: str | None, address2: str | None, width: int = FIELD_MAX, max_lines: int = ADDRESS_LINES
) -> list[str] | None:
    """Rakuten's two address lines over at most `max_lines` lines of `width`; None if they cannot fit.

    Each Rakuten line keeps its own line(s) when that fits; otherwise both are packed together.
    """
    first, second = clean_text(address1), clean_text(address2)
    separate = wrap_words(first, width) + wrap_words(second, width)
    if len(separate) <= max_lines:
        return separate
    packed = wrap_words(f"{first} {second}", width)
    return packed if len(packed) <= max_lines else None


def shorten_at_word(text: str, width: int = FIELD_MAX) -> str:
    """The longest run of whole words that fits `width` (a first word too long is cut)."""
    text = clean_text(text)
    if len(text) <= width:
        return text
    kept = ""
    for word in text.split(" "):
        candidate = f"{kept} {word}" if kept else word
        if len(candidate) > width:
            break
        kept = candidate
    return kept or text[:width]


_SAINT = re.compile(r"(?<![^\s-])(saint|sainte)(?![^\s-])", re.IGNORECASE)


def fit_city(city: str) -> str | None:
    city = clean_text(city)
    if len(city) > FIELD_MAX:
        city = _SAINT.sub(lambda m: "Ste" if m.group(1).lower() == "sainte" else "St", city)
    return city if city and len(city) <= FIELD_MAX else None


_COUNTRY_NAMES: dict[str, str] = {
    _fold(name): code
    for name, code in (
        ("France", "FR"),
        ("France métropolitaine", "FR"),
        ("France Metropolitaine", "FR"),
        ("Monaco", "MC"),
        ("Belgique", "BE"),
        ("Suisse", "CH"),
        ("Luxembourg", "LU"),
        ("Allemagne", "DE"),
        ("Espagne", "ES"),
        ("Italie", "IT"),
        ("Portugal", "PT"),
        ("Pays-Bas", "NL"),
        ("Autriche", "AT"),
        ("Irlande", "IE"),
        ("Royaume-Uni", "GB"),
        ("Grande-Bretagne", "GB"),
        ("Danemark", "DK"),
        ("Suède", "SE"),
        ("Finlande", "FI"),
        ("Norvège", "NO"),
        ("Pologne", "PL"),
        ("Grèce", "GR"),
        ("République tchèque", "CZ"),
        ("Andorre", "AD"),
        ("Guadeloupe", "GP"),
        ("Martinique", "MQ"),
        ("Guyane", "GF"),
        ("Guyane française", "GF"),
        ("La Réunion", "RE"),
        ("Réunion", "RE"),
        ("Mayotte", "YT"),
        ("Saint-Pierre-et-Miquelon", "PM"),
        ("Saint-Barthélemy", "BL"),
        ("Saint-Martin", "MF"),
        ("Nouvelle-Calédonie", "NC"),
        ("Polynésie française", "PF"),
        ("Wallis-et-Futuna", "WF"),
        ("États-Unis", "US"),
        ("Canada", "CA"),
    )
}
_ALPHA2_ALIASES = {"FX": "FR", "UK": "GB"}


def country_code(alpha2: str | None, name: str | None) -> str | None:
    """ISO 3166-1 alpha-2 from Rakuten's `countryalpha2`, else from its French country name."""
    code = clean_text(alpha2).upper()
    code = _ALPHA2_ALIASES.get(code, code)
    if len(code) == 2 and code.isascii() and code.isalpha():
        return code
    return _COUNTRY_NAMES.get(_fold(clean_text(name))) if name else None


def normalize_zip(zipcode: str | None, country: str) -> str | None:
    value = clean_text(zipcode)
    if len(value) > ZIP_MAX:
        value = value.replace(" ", "")
    if not value:
        return None if country in _ZIP_REQUIRED else NO_ZIP
    return value if len(value) <= ZIP_MAX else None


_COUNTRY_TRUNK = re.compile(r"^(\+\d{1,3})\s*\(0\)")


def normalize_phone(phone: str | None) -> str | None:
    value = _COUNTRY_TRUNK.sub(r"\1", clean_text(phone))
    digits = "".join(c for c in value if c in "0123456789")
    result = f"+{digits}" if value.startswith("+") else digits
    return result if PHONE_MIN <= len(result) <= PHONE_MAX else None


_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def normalize_email(email: str | None) -> str | None:
    value = (email or "").strip()
    return value if len(value) <= EMAIL_MAX and _EMAIL.match(value) else None


def recipient_address(
    delivery: RakutenAddress | None, billing: RakutenAddress | None, *, from_billing: bool
) -> RakutenAddress | None:
    """The address block the recipient comes from: `billingaddress` for relay and prepaid modes (their sales
    carry no `deliveryaddress`, and a relay point is not the recipient's address), `deliveryaddress` for the
    others; either falls back to the other when it is missing."""
    first, second = (billing, delivery) if from_billing else (delivery, billing)
    return first if first is not None else second


def map_recipient(address: RakutenAddress | None, email: str | None) -> CubynRecipient | AddressUnmappable:
    """The Cubyn recipient (name, contact and address) for a Rakuten address."""
    if address is None:
        return AddressUnmappable("The order has no delivery address.")
    notes: list[str] = []
    first, last = clean_text(address.first_name), clean_text(address.last_name)
    if not last:
        first, last = "", first
    if not last:
        return AddressUnmappable("The delivery address has no name.")
    for label, value in (("First name", first), ("Last name", last)):
        if len(value) > FIELD_MAX:
            notes.append(f'{label} "{value}" shortened to {FIELD_MAX} characters for Cubyn.')
    country = country_code(address.country_alpha2, address.country)
    if country is None:
        shown = clean_text(address.country) or clean_text(address.country_alpha2) or "(none)"
        return AddressUnmappable(f'The country "{shown}" of the delivery address is not recognised.')
    lines = wrap_address_lines(address.address1, address.address2)
    if lines is None:
        return AddressUnmappable(
            f"The street address is too long for Cubyn ({ADDRESS_LINES} lines of {FIELD_MAX} characters)."
        )
    if not lines:
        return AddressUnmappable("The delivery address has no street.")
    zipcode = normalize_zip(address.zipcode, country)
    if zipcode is None:
        shown = clean_text(address.zipcode)
        why = "is missing" if not shown else f'"{shown}" is longer than {ZIP_MAX} characters'
        return AddressUnmappable(f"The postcode of the delivery address {why}.")
    city = fit_city(address.city or "")
    if city is None:
        shown = clean_text(address.city)
        why = "is missing" if not shown else f'"{shown}" is longer than {FIELD_MAX} characters'
        return AddressUnmappable(f"The city of the delivery address {why}.")
    phone = normalize_phone(address.phone1) or normalize_phone(address.phone2)
    padded = [*lines, None, None]
    return CubynRecipient(
        first_name=shorten_at_word(first) or None,
        last_name=shorten_at_word(last),
        email=normalize_email(email),
        phone=phone,
        address=ParcelAddress(
            line1=lines[0],
            line2=padded[1],
            additional_information=padded[2],
            zip=zipcode,
            city=city,
            country=country,
        ),
        notes=tuple(notes),
    )


_RELAY_ID = re.compile(r"^([A-Za-z]{2})-(.+)$")


def map_relay_point(relay: RakutenRelayPoint | None, recipient_country: str) -> RelayPointRef | AddressUnmappable:
    """Rakuten's `collectionpointaddress` -> Cubyn `relayPoint` (`FR-084735` -> id `084735`, country `FR`)."""
    if relay is None:
        return AddressUnmappable("The order is for a relay point but has no relay point.")
    raw_id = clean_text(relay.id).replace(" ", "")
    match = _RELAY_ID.match(raw_id)
    if match:
        code = match.group(1).upper()
        relay_id, country = match.group(2), _ALPHA2_ALIASES.get(code, code)
    else:
        relay_id = raw_id
        country = country_code(None, relay.country) or recipient_country
    if not relay_id:
        return AddressUnmappable("The relay point of the order has no identifier.")
    return RelayPointRef(id=relay_id, country=country, name=clean_text(relay.name) or None)
