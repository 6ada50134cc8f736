"""Parsing speed and memory of the Rakuten client's XML reader.

Parses a generated 5,000-sale getcurrentsales answer and a generated 100,000-advert export, fed in 64 KiB
chunks as the client reads them from the network, and prints sales/s, adverts/s and the peak memory growth
during each parse (process RSS sampled every few milliseconds: libxml2's memory is not seen by tracemalloc).
Target: the export parses with less than 50 MB of memory growth.

    .venv/bin/python benchmarks/rakuten_parse.py [--sales 5000] [--adverts 100000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from _memory import PeakRss

from rakuten_connector.clients.rakuten_reader import read_stream
from rakuten_connector.clients.rakuten_xml import ADVERT_TAG, SALE_TAG, parse_advert, parse_sale
from rakuten_connector.sandbox.rakuten.faker import GenerateOptions, generate_sales
from rakuten_connector.sandbox.rakuten.render import render_sales
from rakuten_connector.sandbox.rakuten.state import RakutenWorld

CHUNK = 64 * 1024
T = TypeVar("T")


def read_chunks(path: Path) -> Iterator[bytes]:
    """The answer as the client gets it from the network: chunk by chunk, never whole."""
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


def write_sales_document(path: Path, count: int) -> None:
    world = RakutenWorld()
    seller = world.add_seller("bench", "token")
    sales = generate_sales(world, seller, GenerateOptions(count=count, seed=1, item_status="ACCEPTED"))
    path.write_bytes(
        render_sales("getcurrentsales", "bench", "2017-08-07", seller.seller_id, sales, next_token="")
    )


def write_export_document(path: Path, count: int) -> None:
    """An export answer like Rakuten's (ISO-8859-1, default namespace, CDATA), written without a tree."""

    def parts() -> Iterator[str]:
        yield (
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            '<inventoryresult xmlns="https://fr.shopping.rakuten.com/res/schema/export">\n'
            "  <request><version>2018-06-29</version><user>bench</user></request>\n"
            f"  <response><lastversion>2018-06-29</lastversion><nbresults>{count}</nbresults><nexttoken/>\n"
            "    <advertlist>\n"
        )
        for n in range(count):
            yield (
                f"      <advert><advertid>{700000000 + n}</advertid><sku><![CDATA[\n        SKU-{n:07d}\n      ]]></sku>"
                f"<stock>{n % 97}</stock><price><amount>{n % 500}.90</amount><currency>EUR</currency></price>"
                "<quality>N</quality><unlimitedquantity>N</unlimitedquantity>"
                "<product><headline><![CDATA[Cafetière à piston 1 L]]></headline><productid>123</productid></product>"
                "</advert>\n"
            )
        yield "    </advertlist>\n  </response>\n</inventoryresult>\n"

    with path.open("w", encoding="iso-8859-1") as file:
        file.writelines(parts())


def measure(chunks: Iterator[bytes], tag: str, convert: Callable[..., T]) -> tuple[int, float, float]:
    now = datetime.now(UTC)
    count = 0
    with PeakRss() as memory:
        started = time.perf_counter()
        for _ in read_stream(chunks, tag, convert, now):
            count += 1  # nothing kept: what a streaming consumer does
        seconds = time.perf_counter() - started
    return count, seconds, memory.growth_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=5_000)
    parser.add_argument("--adverts", type=int, default=100_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sales_path, export_path = Path(tmp) / "sales.xml", Path(tmp) / "export.xml"
        # Generated in child processes, so that the memory they used is not reused by the parse measured here.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(write_sales_document, sales_path, args.sales).result()
            pool.submit(write_export_document, export_path, args.adverts).result()

        count, seconds, growth = measure(read_chunks(export_path), ADVERT_TAG, parse_advert)
        print(
            f"export: {count} adverts, {export_path.stat().st_size / 1e6:.1f} MB, {seconds:.2f} s, "
            f"{count / seconds:,.0f} adverts/s, peak memory growth {growth:.1f} MB (target < 50 MB)"
        )
        count, seconds, growth = measure(read_chunks(sales_path), SALE_TAG, parse_sale)
        print(
            f"getcurrentsales: {count} sales, {sales_path.stat().st_size / 1e6:.1f} MB, {seconds:.2f} s, "
            f"{count / seconds:,.0f} sales/s, peak memory growth {growth:.1f} MB"
        )


if __name__ == "__main__":
    main()
