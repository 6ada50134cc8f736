from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rakuten_connector.clients.cubyn_models import RelayPointRef
from rakuten_connector.mapping.addresses import (
    FIELD_MAX,
    AddressUnmappable,
    CubynRecipient,
    country_code,
    fit_city,
    map_recipient,
    map_relay_point,
    normalize_email,
    normalize_phone,
    normalize_zip,
    recipient_address,
    shorten_at_word,
    wrap_address_lines,
    wrap_words,
)
from rakuten_connector.mapping.types import AddressRecord, RelayPointRecord

HOME = AddressRecord(
    civility="M.",
    first_name="Jean",
    last_name="Dupont",
    address1="12 rue de la Paix",
    address2="Bat. B",
    zipcode="75002",
    city="Paris",
    country="France",
    country_alpha2="FX",
    phone1="06 12 34 56 78",
)


def test_plain_home_address() -> None:
    result = map_recipient(HOME, "buyer@example.fr")
    assert isinstance(result, CubynRecipient)
    assert (result.first_name, result.last_name, result.phone, result.email) == (
        "Jean",
        "Dupont",
        "0612345678",
        "buyer@example.fr",
    )
    assert result.address.model_dump() == {
        "line1": "12 rue de la Paix",
        "line2": "Bat. B",
        "additionalInformation": None,
        "zip": "75002",
        "city": "Paris",
        "country": "FR",
    }
    assert result.notes == ()


@pytest.mark.parametrize(
    ("alpha2", "name", "expected"),
    [
        ("FX", "France", "FR"),
        ("fx", None, "FR"),
        ("FR", None, "FR"),
        (" BE ", "Belgique", "BE"),
        ("UK", None, "GB"),
        (None, "France", "FR"),
        ("", "France métropolitaine", "FR"),
        ("", "FRANCE METROPOLITAINE", "FR"),
        ("", "Belgique", "BE"),
        ("", "Suisse", "CH"),
        ("", "Royaume Uni", "GB"),
        ("", "La Réunion", "RE"),
        ("", "Guadeloupe", "GP"),
        ("", "Nouvelle-Calédonie", "NC"),
        ("", "Pays-Bas", "NL"),
        ("FRA", "Allemagne", "DE"),
        ("", "Atlantis", None),
        ("", "", None),
        (None, None, None),
        ("F1", None, None),
    ],
)
def test_country_code(alpha2: str | None, name: str | None, expected: str | None) -> None:
    assert country_code(alpha2, name) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12 34 56 78", "0612345678"),
        ("06.12.34.56.78", "0612345678"),
        ("06-12-34-56-78", "0612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+33 (0)6 12 34 56 78", "+33612345678"),
        ("(+33) 612345678", "33612345678"),
        ("0033 6 12 34 56 78", "0033612345678"),
        ("1234", "1234"),
        ("123", None),
        ("+12345678901234", None),
        ("00 33 6 12 34 56 78 9", None),
        ("", None),
        (None, None),
        ("n/a", None),
    ],
)
def test_phone(raw: str | None, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_phone_falls_back_to_the_second_number() -> None:
    record = AddressRecord(**{**HOME.__dict__, "phone1": "12", "phone2": "+32 475 12 34 56"})
    result = map_recipient(record, None)
    assert isinstance(result, CubynRecipient)
    assert result.phone == "+32475123456"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("buyer@example.fr", "buyer@example.fr"),
        ("  first.last+tag@mail.example.com ", "first.last+tag@mail.example.com"),
        ("buyer@example", None),
        ("buyer.example.fr", None),
        ("a@b@c.fr", None),
        ("buyer @example.fr", None),
        ("@example.fr", None),
        ("x" * 60 + "@example.fr", None),  # 71 characters
        ("x" * 59 + "@example.fr", "x" * 59 + "@example.fr"),
        ("", None),
        (None, None),
    ],
)
def test_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("75002", "FR", "75002"),
        (" 75002 ", "FR", "75002"),
        ("SW1A 1AA", "GB", "SW1A 1AA"),
        ("1234 AB 56", "NL", "1234AB56"),
        ("", "FR", None),
        ("", "IE", "0"),
        ("123456789", "FR", None),
    ],
)
def test_zip(raw: str, country: str, expected: str | None) -> None:
    assert normalize_zip(raw, country) == expected


@pytest.mark.parametrize(
    ("address1", "address2", "expected"),
    [
        ("12 rue de la Paix", "", ["12 rue de la Paix"]),
        ("", "12 rue de la Paix", ["12 rue de la Paix"]),
        ("12 rue de la Paix", "Bat. B", ["12 rue de la Paix", "Bat. B"]),
        (
            "Résidence les Jardins de la Fontaine Bâtiment C",
            "Escalier 4",
            ["Résidence les Jardins de la", "Fontaine Bâtiment C", "Escalier 4"],
        ),
        (
            "Résidence les Jardins de la Fontaine Bâtiment C porte 12",
            "Escalier 4 appartement 1234 au fond",
            ["Résidence les Jardins de la", "Fontaine Bâtiment C porte 12", "Escalier 4 appartement 1234 au fond"],
        ),
        ("a" * 40, "", ["a" * 35, "a" * 5]),
        ("  12   rue\tdu\nFour  ", None, ["12 rue du Four"]),
        ("mot " * 30, "", None),
    ],
)
def test_wrap_address_lines(address1: str, address2: str | None, expected: list[str] | None) -> None:
    assert wrap_address_lines(address1, address2) == expected


def test_too_long_street_is_unmappable_with_reason() -> None:
    record = AddressRecord(**{**HOME.__dict__, "address1": "mot " * 30})
    result = map_recipient(record, None)
    assert isinstance(result, AddressUnmappable)
    assert "too long" in result.reason


@pytest.mark.parametrize(
    ("first", "last", "expected_first", "expected_last", "notes"),
    [
        ("Jean", "Dupont", "Jean", "Dupont", 0),
        ("", "Dupont", None, "Dupont", 0),
        ("Jean", "", None, "Jean", 0),
        (
            "Marie Françoise Geneviève Antoinette Louise",
            "Dupont",
            "Marie Françoise Geneviève",
            "Dupont",
            1,
        ),
        ("Jean", "X" * 40, "Jean", "X" * 35, 1),
    ],
)
def test_names(first: str, last: str, expected_first: str | None, expected_last: str, notes: int) -> None:
    record = AddressRecord(**{**HOME.__dict__, "first_name": first, "last_name": last})
    result = map_recipient(record, None)
    assert isinstance(result, CubynRecipient)
    assert (result.first_name, result.last_name, len(result.notes)) == (expected_first, expected_last, notes)


@pytest.mark.parametrize(
    ("changes", "reason_part"),
    [
        ({"first_name": "", "last_name": ""}, "no name"),
        ({"country_alpha2": "", "country": "Atlantis"}, "Atlantis"),
        ({"zipcode": ""}, "postcode"),
        ({"zipcode": "123456789"}, "postcode"),
        ({"city": ""}, "city"),
        ({"city": "X" * 36}, "city"),
        ({"address1": "", "address2": ""}, "no street"),
    ],
)
def test_unmappable_addresses_say_why(changes: dict[str, str], reason_part: str) -> None:
    result = map_recipient(AddressRecord(**{**HOME.__dict__, **changes}), None)
    assert isinstance(result, AddressUnmappable)
    assert reason_part in result.reason


def test_missing_address_is_unmappable() -> None:
    assert isinstance(map_recipient(None, None), AddressUnmappable)


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Paris", "Paris"),
        ("Saint-Jean-de-Luz-et-Sainte-Marie-du-Lac", "St-Jean-de-Luz-et-Ste-Marie-du-Lac"),
        ("Sainte-Marie-aux-Mines-la-Grande-Belle", "Ste-Marie-aux-Mines-la-Grande-Belle"),
        ("Saint-Rémy-en-Bouzemont-Saint-Genest-et-Isson", None),  # still 39 once abbreviated
        ("Saint Denis", "Saint Denis"),  # short enough: untouched
        ("X" * 36, None),
    ],
)
def test_city(city: str, expected: str | None) -> None:
    assert fit_city(city) == expected


@pytest.mark.parametrize(
    ("relay", "expected"),
    [
        (
            RelayPointRecord(id="FR-084735", name="Tabac de la Gare", country="France"),
            RelayPointRef(id="084735", country="FR", name="Tabac de la Gare"),
        ),
        (
            RelayPointRecord(id="be-012345", name="Librairie"),
            RelayPointRef(id="012345", country="BE", name="Librairie"),
        ),
        (RelayPointRecord(id="084735", country="Belgique"), RelayPointRef(id="084735", country="BE", name=None)),
        (RelayPointRecord(id="084735"), RelayPointRef(id="084735", country="FR", name=None)),
    ],
)
def test_relay_point(relay: RelayPointRecord, expected: RelayPointRef) -> None:
    assert map_relay_point(relay, "FR") == expected


@pytest.mark.parametrize("relay", [None, RelayPointRecord(id=""), RelayPointRecord(id="  ")])
def test_relay_point_without_id_is_unmappable(relay: RelayPointRecord | None) -> None:
    assert isinstance(map_relay_point(relay, "FR"), AddressUnmappable)


def _non_space(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFC", text) if not c.isspace())


address_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=140)


@given(address_text, address_text)
def test_wrapped_lines_fit_and_keep_every_character(address1: str, address2: str) -> None:
    lines = wrap_address_lines(address1, address2)
    if lines is None:
        # Only when the text truly cannot fit three lines, even packed together.
        assert len(wrap_words(f"{address1} {address2}")) > 3
        return
    assert len(lines) <= 3
    assert all(0 < len(line) <= FIELD_MAX for line in lines)
    assert _non_space("".join(lines)) == _non_space(address1 + address2)


@given(st.text(max_size=120), st.integers(min_value=1, max_value=40))
def test_wrap_words_never_exceeds_and_loses_nothing(text: str, width: int) -> None:
    lines = wrap_words(text, width)
    assert all(0 < len(line) <= width for line in lines)
    assert _non_space("".join(lines)) == _non_space(text)


@given(st.text(max_size=80))
def test_shortened_names_fit_and_are_a_prefix_of_words(text: str) -> None:
    short = shorten_at_word(text)
    assert len(short) <= FIELD_MAX
    assert " ".join(unicodedata.normalize("NFC", text).split()).startswith(short)


@given(
    st.builds(
        AddressRecord,
        first_name=st.text(max_size=50),
        last_name=st.text(max_size=50),
        address1=st.text(max_size=80),
        address2=st.text(max_size=80),
        zipcode=st.text(max_size=10),
        city=st.text(max_size=40),
        country=st.sampled_from(["France", "Belgique", "", "Atlantis"]),
        country_alpha2=st.sampled_from(["FX", "FR", "", "BE", "xx1"]),
        phone1=st.text(max_size=20),
        phone2=st.text(max_size=20),
    ),
    st.one_of(st.none(), st.emails(), st.text(max_size=80)),
)
def test_any_address_maps_within_limits_or_says_why(address: AddressRecord, email: str | None) -> None:
    result = map_recipient(address, email)
    if isinstance(result, AddressUnmappable):
        assert result.reason
        return
    fields = [result.first_name, result.last_name, result.address.line1, result.address.line2]
    fields += [result.address.additional_information, result.address.city]
    assert all(len(f) <= FIELD_MAX for f in fields if f is not None)
    assert 0 < len(result.address.zip) <= 8
    assert result.phone is None or 4 <= len(result.phone) <= 13
    assert result.email is None or (len(result.email) <= 70 and "@" in result.email and "." in result.email)


def test_the_recipient_comes_from_the_block_the_mode_says_with_the_other_as_fallback() -> None:
    billing = AddressRecord(last_name="Billing")
    assert recipient_address(HOME, billing, from_billing=False) is HOME
    assert recipient_address(HOME, billing, from_billing=True) is billing
    assert recipient_address(None, billing, from_billing=False) is billing
    assert recipient_address(HOME, None, from_billing=True) is HOME
    assert recipient_address(None, None, from_billing=True) is None
