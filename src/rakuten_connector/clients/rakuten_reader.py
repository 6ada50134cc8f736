"""Safe, streaming reading of Rakuten's XML answers.

Every document goes through `DocumentReader`: bytes are fed as they arrive to an lxml push parser built with
DTDs, entities and network off, and a document that declares a DOCTYPE is refused before lxml sees it.
Elements named by `tag` (sales, adverts, report products) are converted and dropped as soon as they are
complete, so memory stays flat whatever the size of the answer. Encodings come from the XML declaration
(ISO-8859-1, windows-1252, UTF-8), else from the HTTP charset; one no codec knows is an invalid answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Generic, TypeVar

from lxml import etree

from rakuten_connector.clients.rakuten_errors import RakutenInvalidResponse
from rakuten_connector.clients.rakuten_xml import Element, raise_for_error_document

T = TypeVar("T")

_MAX_PROLOG = 64 * 1024
_ROOT_START = re.compile(rb"<[^?!]")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


class DocumentReader(Generic[T]):
    """Feed bytes, get converted `tag` elements as they complete; `close()` gives the (small) rest.

    `fallback_encoding` (e.g. the HTTP charset) is used only when the document declares none.
    """

    def __init__(
        self,
        tag: str | None = None,
        convert: Callable[[Element], T] | None = None,
        *,
        fallback_encoding: str | None = None,
    ) -> None:
        self._tag = tag
        self._convert = convert
        self.fallback_encoding = fallback_encoding
        self.rest: Element | None = None  # set by close()
        self._prolog = b""
        self._parser: etree.XMLParser | None = None
        self._previous: Element | None = None

    def feed(self, data: bytes) -> list[T]:
        if not data:
            return []
        try:
            if self._parser is None:
                self._prolog += data
                root_start = _ROOT_START.search(self._prolog)
                if root_start is None:
                    if len(self._prolog) > _MAX_PROLOG:
                        raise RakutenInvalidResponse("Rakuten answered a document without a root element")
                    return []
                data, self._prolog = self._prolog, b""
                self._parser = self._start(data[: root_start.start()])
            self._parser.feed(data)
        except etree.XMLSyntaxError as exc:
            raise RakutenInvalidResponse(f"Rakuten answered unreadable XML: {exc.msg}") from None
        except LookupError:  # an HTTP charset no codec knows
            raise RakutenInvalidResponse("Rakuten answered in an unknown character set") from None
        return self._drain()

    def close(self, now: datetime) -> Element:
        """End of the document: the root (without the streamed elements), after the error check."""
        if self._parser is None:
            raise RakutenInvalidResponse("Rakuten answered an empty or truncated document")
        try:
            root: Element = self._parser.close()
        except etree.XMLSyntaxError as exc:
            raise RakutenInvalidResponse(f"Rakuten answered unreadable XML: {exc.msg}") from None
        if getattr(root.getroottree().docinfo, "doctype", ""):
            raise RakutenInvalidResponse("Rakuten answered a document with a DTD: refused")
        raise_for_error_document(root, now)
        self.rest = root
        return root

    def _start(self, prolog: bytes) -> etree.XMLParser:
        if b"<!doctype" in prolog.lower():
            raise RakutenInvalidResponse("Rakuten answered a document with a DTD: refused")
        encoding = None
        if not _DECLARED_ENCODING.match(prolog):
            encoding = self.fallback_encoding
        # The safe settings, spelled out (lxml < 6.1 could read local files through its defaults).
        if self._tag is None:
            return etree.XMLParser(
                encoding=encoding, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
            )
        return etree.XMLPullParser(
            events=("end",),
            tag=self._tag,
            encoding=encoding,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )

    def _drain(self) -> list[T]:
        if not isinstance(self._parser, etree.XMLPullParser) or self._convert is None:
            return []
        out: list[T] = []
        for _, element in self._parser.read_events():
            assert isinstance(element, etree._Element)
            out.append(self._convert(element))
            element.clear()
            # Dropping the previous one (never the element just ended) is what lxml allows during parsing.
            if self._previous is not None and (parent := self._previous.getparent()) is not None:
                parent.remove(self._previous)
            self._previous = element
        return out


def read_document(content: bytes, now: datetime, *, fallback_encoding: str | None = None) -> Element:
    """A whole (small) answer: its root, after the error check."""
    reader: DocumentReader[None] = DocumentReader(fallback_encoding=fallback_encoding)
    reader.feed(content)
    return reader.close(now)


def read_stream(
    chunks: Iterable[bytes],
    tag: str,
    convert: Callable[[Element], T],
    now: datetime,
    on_rest: Callable[[Element], None] | None = None,
) -> Iterator[T]:
    """Synchronous streaming (tests, benchmarks): the converted elements; `on_rest` gets what remains."""
    reader = DocumentReader(tag, convert)
    for chunk in chunks:
        yield from reader.feed(chunk)
    rest = reader.close(now)
    if on_rest is not None:
        on_rest(rest)
