"""How values are shown in the CLI's tables."""

from __future__ import annotations

from rakuten_connector.cli.output import cell


def test_text_from_outside_cannot_drive_the_terminal_nor_read_as_markup() -> None:
    shown = cell("parcel\x1b[2J\x1b]0;owned\x07.updated [bold]x[/bold]").plain
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert shown.endswith("[bold]x[/bold]")
    assert cell("tabs\tand\nlines stay").plain == "tabs\tand\nlines stay"
