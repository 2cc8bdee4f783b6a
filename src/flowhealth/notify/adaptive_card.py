"""The Adaptive Card (1.5) elements flowhealth's Teams cards use, as typed dicts of their JSON."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class TextBlock(TypedDict):
    type: Literal["TextBlock"]
    text: str
    wrap: bool
    weight: NotRequired[Literal["Bolder"]]
    size: NotRequired[Literal["Large"]]
    color: NotRequired[str]
    isSubtle: NotRequired[bool]


class Fact(TypedDict):
    title: str
    value: str


class FactSet(TypedDict):
    type: Literal["FactSet"]
    facts: list[Fact]


class TableCell(TypedDict):
    type: Literal["TableCell"]
    items: list[TextBlock]


class TableRow(TypedDict):
    type: Literal["TableRow"]
    cells: list[TableCell]
    style: NotRequired[str]


class TableColumn(TypedDict):
    width: int


class Table(TypedDict):
    type: Literal["Table"]
    columns: list[TableColumn]
    rows: list[TableRow]
    firstRowAsHeader: bool


class Container(TypedDict):
    type: Literal["Container"]
    style: str
    items: list[Element]


Element = TextBlock | FactSet | Table | Container


class OpenUrl(TypedDict):
    type: Literal["Action.OpenUrl"]
    title: str
    url: str


class TeamsWidth(TypedDict):
    width: Literal["Full"]


# "$schema" is no Python name, hence the functional form.
AdaptiveCard = TypedDict(
    "AdaptiveCard",
    {
        "$schema": str,
        "type": Literal["AdaptiveCard"],
        "version": str,
        "body": list[Element],
        "msteams": TeamsWidth,
        "actions": NotRequired[list[OpenUrl]],
    },
)


class Attachment(TypedDict):
    contentType: Literal["application/vnd.microsoft.card.adaptive"]
    contentUrl: None
    content: AdaptiveCard


class Envelope(TypedDict):
    """What a Workflows webhook expects: a message with the card as its one attachment."""

    type: Literal["message"]
    attachments: list[Attachment]


def text_block(
    text: str, *, bold: bool = False, large: bool = False, color: str | None = None, subtle: bool = False
) -> TextBlock:
    """A wrapping TextBlock, optionally bold, large, coloured or subtle."""
    block: TextBlock = {"type": "TextBlock", "text": text, "wrap": True}
    if bold:
        block["weight"] = "Bolder"
    if large:
        block["size"] = "Large"
    if color is not None:
        block["color"] = color
    if subtle:
        block["isSubtle"] = True
    return block
