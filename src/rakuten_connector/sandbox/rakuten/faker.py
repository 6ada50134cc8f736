"""Realistic French Rakuten sales for the sandbox, deterministic for a seed.

Names and addresses with accents, every shipping type of the contract plus unknown newer ones, a seller's
own mode and a spacing variant (`So   Colissimo`); any string given in `shipping_types` is used as it is.
The address blocks follow the shipping type (`shipping.py`): home deliveries a delivery and a billing
address, relay sales a relay point and a billing address, prepaid and other billing-only modes only a
billing address (So Colissimo sometimes a relay point too: `so_colissimo_relay_rate`). Also multi-unit
purchases (one item per unit), empty SKUs, pending negotiations, empty phone numbers, `FX` countries.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import timedelta
from decimal import Decimal

from pydantic import Field

from rakuten_connector.sandbox.bodies import ControlBody
from rakuten_connector.sandbox.rakuten.models import SbAddress, SbItem, SbRelayPoint, SbSale, Seller
from rakuten_connector.sandbox.rakuten.shipping import AddressBlocks, address_blocks, may_name_a_relay
from rakuten_connector.sandbox.rakuten.state import RakutenWorld

HOME_TYPES = ("Normal", "Suivi", "Recommandé", "Express")
RELAY_TYPES = ("Point relais Mondial Relay", "Relai Kiala")
BILLING_ONLY_TYPES = ("So Colissimo", "Chronopost", "Retrait chez le vendeur", "EN TÉLÉCHARGEMENT")
UNKNOWN_TYPES = ("Shop2Shop by Chronopost", "Click and Collect")
# A seller's own mode, and a spelling Rakuten really answered.
CUSTOM_TYPES = ("Mode personnalisé 1",)
VARIANT_TYPES = ("So   Colissimo",)
ALL_TYPES = HOME_TYPES + RELAY_TYPES + BILLING_ONLY_TYPES + UNKNOWN_TYPES + CUSTOM_TYPES + VARIANT_TYPES
# Most sales are home deliveries with tracking, as on the real marketplace.
DEFAULT_WEIGHTS = {
    "Normal": 10,
    "Suivi": 30,
    "Recommandé": 8,
    "Express": 8,
    "Point relais Mondial Relay": 14,
    "So   Colissimo": 1,
}

FIRST_NAMES = ("Hélène", "Gaëlle", "François", "Jérôme", "Éloïse", "Noël", "Zoé", "Agnès", "Benoît", "Clément",
               "Cécile", "Maël", "Léa", "Chloé", "Théo", "Loïc", "Anaïs", "Jean-René")  # fmt: skip
LAST_NAMES = ("Lefèvre", "Dubois", "Müller", "Côté", "Lemaître", "Barthélemy", "Gérard", "Fontaine", "Mercier",
              "Rousseau", "Bérenger", "N'Diaye", "Da Silva", "Le Goff", "Chevalier", "Hervé-Gruyer")  # fmt: skip
STREETS = ("12 rue de la République", "3 allée des Peupliers", "45 boulevard Haussmann",
           "7 impasse du Château-d'Eau", "18 avenue Jean-Jaurès", "2 place de l'Église", "9 chemin des Écoliers",
           "104 route de Fontainebleau", "5 quai Saint-Étienne")  # fmt: skip
ADDRESS2 = ("", "", "", "Bâtiment B", "Appartement 12, 3e étage", "Résidence Les Érables", "Chez Mme Lefèvre")
CITIES = (("75011", "Paris"), ("69003", "Lyon"), ("13008", "Marseille"), ("31000", "Toulouse"),
          ("44000", "Nantes"), ("33000", "Bordeaux"), ("59800", "Lille"), ("67000", "Strasbourg"),
          ("06000", "Nice"), ("35000", "Rennes"), ("74400", "Chamonix-Mont-Blanc"), ("60200", "Compiègne"),
          ("20000", "Ajaccio"), ("97400", "Saint-Denis"))  # fmt: skip
HEADLINES = ("Cafetière à piston 1 L", "Livre « Les Misérables » \u2013 édition poche", "Câble USB-C tressé 2 m",
             "Thé vert bio 100 g", "Lampe de chevet en céramique", "Jeu de société « Dés & Défis »",
             "Crème hydratante à l'aloe vera", "Écouteurs sans fil", "Bœuf bourguignon \u2013 livre de recettes",
             "Coque iPhone <transparente>")  # fmt: skip
RELAY_SHOPS = ("Tabac Presse de la Gare", "Épicerie Chez Loïc", "Pressing Müller", "Librairie L'Écume des Pages")


class GenerateOptions(ControlBody):
    """Body of `POST /_sandbox/sellers/{login}/sales/generate`."""

    count: int = Field(default=10, ge=1, le=20_000)
    seed: int = 0
    # Chosen uniformly, any strings (custom modes, spacing or case variants); default: a realistic mix.
    shipping_types: list[str] | None = None
    so_colissimo_relay_rate: float = Field(default=0.0, ge=0, le=1)  # So Colissimo sales naming a relay
    skus: list[str] | None = None  # default: the seller's inventory SKUs, else SKU-00001...
    max_age_hours: float = Field(default=24.0, ge=0)
    min_age_hours: float = Field(default=0.0, ge=0)
    item_status: str | None = None  # default: TO_CONFIRM mostly, sometimes REQUESTED or REMINDED
    multi_unit_rate: float = Field(default=0.2, ge=0, le=1)
    multi_sku_rate: float = Field(default=0.25, ge=0, le=1)
    empty_sku_rate: float = Field(default=0.03, ge=0, le=1)
    nego_rate: float = Field(default=0.03, ge=0, le=1)


def _ascii(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(c for c in decomposed if c.isascii() and c.isalnum())


def _address(rng: random.Random, *, first: str, last: str) -> SbAddress:
    zipcode, city = rng.choice(CITIES)
    alpha2 = "RE" if zipcode.startswith("974") else rng.choice(("FX", "FX", "FX", "FR"))
    phone = rng.choice(("06 12 34 56 78", "+33612345678", "0145678910", ""))
    return SbAddress(
        civility=rng.choice(("M.", "Mme", "Mlle")),
        firstname=first,
        lastname=last,
        address1=rng.choice(STREETS),
        address2=rng.choice(ADDRESS2),
        zipcode=zipcode,
        city=city,
        country="La Réunion" if alpha2 == "RE" else "France",
        countryalpha2=alpha2,
        phonenumber1=phone,
        phonenumber2=rng.choice(("", "", "09 87 65 43 21")),
    )


def _relay(rng: random.Random, *, first: str, last: str) -> SbRelayPoint:
    zipcode, city = rng.choice(CITIES[:12])
    return SbRelayPoint(
        id=f"FR-{rng.randint(0, 999_999):06d}",
        name=rng.choice(RELAY_SHOPS),
        address=rng.choice(STREETS),
        zipcode=zipcode,
        city=city,
        civility=rng.choice(("M.", "Mme")),
        firstname=first,
        lastname=last,
        contractlevel=rng.choice(("", "24R", "24L")),
    )


def _shipping_type(rng: random.Random, options: GenerateOptions) -> str:
    if options.shipping_types:
        return rng.choice(options.shipping_types)
    weights = [DEFAULT_WEIGHTS.get(t, 3) for t in ALL_TYPES]
    return rng.choices(ALL_TYPES, weights=weights)[0]


def _blocks(
    rng: random.Random, options: GenerateOptions, shipping_type: str, *, first: str, last: str
) -> tuple[bool, SbRelayPoint | None]:
    """Whether the sale has a delivery address, and its relay point, by shipping type."""
    blocks = address_blocks(shipping_type)
    if blocks is AddressBlocks.RELAY:
        return False, _relay(rng, first=first, last=last)
    # No draw unless asked: a seed gives the same sales as before the option existed.
    rate = options.so_colissimo_relay_rate
    if rate and may_name_a_relay(shipping_type) and rng.random() < rate:
        return False, _relay(rng, first=first, last=last)
    return blocks is AddressBlocks.HOME, None


def generate_sales(world: RakutenWorld, seller: Seller, options: GenerateOptions) -> list[SbSale]:
    """Generate and add `options.count` sales to `seller`; the same seed gives the same sales."""
    rng = random.Random(options.seed)
    skus = options.skus or [a.sku for a in seller.adverts[:500] if a.sku] or [f"SKU-{n:05d}" for n in range(1, 41)]
    now = world.now()
    sales = []
    for _ in range(options.count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        shipping_type = _shipping_type(rng, options)
        home = _address(rng, first=first, last=last)
        billing = _address(rng, first=first, last=last)
        delivery, relay = _blocks(rng, options, shipping_type, first=first, last=last)
        age = timedelta(
            hours=rng.uniform(options.min_age_hours, max(options.min_age_hours, options.max_age_hours))
        )
        items = []
        distinct = 1 + (rng.random() < options.multi_sku_rate) * rng.randint(1, 2)
        for sku in rng.sample(skus, k=min(distinct, len(skus))):
            units = 1 + (rng.random() < options.multi_unit_rate) * rng.randint(1, 3)
            empty = rng.random() < options.empty_sku_rate
            nego = rng.random() < options.nego_rate
            price = Decimal(rng.randint(199, 15_999)) / 100
            headline = rng.choice(HEADLINES)
            advert = seller.adverts_by_sku.get(sku)
            advert_id = advert.advert_id if advert else world.next_advert_id()
            for _unit in range(units):
                status = options.item_status or rng.choices(("TO_CONFIRM", "REQUESTED", "REMINDED"), (8, 1, 1))[0]
                items.append(
                    SbItem(
                        item_id=world.next_item_id(),
                        sku="" if empty else sku,
                        advert_id=advert_id,
                        headline=headline,
                        status=status,
                        price=price,
                        is_nego=nego,
                        ean=str(rng.randint(10**12, 10**13 - 1)),
                    )
                )
        sale = SbSale(
            purchase_id=world.next_purchase_id(),
            purchased_at=now - age,
            shipping_type=shipping_type,
            buyer_login=f"{first}.{last}".lower().replace(" ", "") + str(rng.randint(1, 99)),
            buyer_email=rng.choice((f"{_ascii(first)}.{_ascii(last)}@example.fr", "")),
            delivery_address=home if delivery else None,
            billing_address=billing,
            relay_point=relay,
            items=items,
        )
        sales.append(world.add_sale(seller, sale))
    return sales
