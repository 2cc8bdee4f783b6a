"""The promtool tests file, written by two processes for a big model.

The tests are most of `export prometheus-rules` (~3 KB of YAML per rule, twice the work of the
rules themselves). For a big model a forked helper (`forked`) writes the cases of the first
two thirds of the rules while this process writes the rule files and then the remaining cases,
so both cores finish at about the same time. The two parts are joined into the bytes one writer
makes of the whole file: the helper's part ends inside the `tests:` list and this process' part
continues it at the same indent. Anything the fast writer leaves to PyYAML (which could anchor an
object shared between the parts), or a helper that fails, and the whole file is written here.
"""

from __future__ import annotations

from typing import BinaryIO

from ..forked import Child
from ..model.model import Model
from .files import HEADER, render_yaml
from .prometheus import ExportLinks, Translated
from .rule_tests import promtool_cases, tests_document
from .yamlwriter import Unsupported, dump_block

# From this many rules the tests are written by two processes: below, a fork costs more than it saves.
FORK_RULES = 1_000
HELPER_SHARE = 2 / 3  # of the rules; this process writes the rule files first


class TestsFile:
    """Started before the rule files are written (the helper begins at once); `text` joins the parts."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self, model: Model, links: ExportLinks, translated: Translated, rule_files: list[str], command: str
    ) -> None:
        self.model, self.links, self.translated = model, links, translated
        self.rule_files, self.command = rule_files, command
        self.rules = sorted(model.rules)
        self.split = round(len(self.rules) * HELPER_SHARE)
        self.helper = Child.start(self._write_head) if len(self.rules) >= FORK_RULES else None

    def text(self) -> str:
        if self.helper is None:
            return self._whole()
        try:
            cases = promtool_cases(
                self.model, self.links, self.translated, self.rules[self.split :], sorted(self.model.flows)
            )
            tail = dump_block({"tests": cases}).split("\n", 1)[1]  # the items, without their `tests:` line
            head = self.helper.output()
        except Unsupported:
            return self._whole()
        finally:
            self.helper.close()  # stopped if the whole file is written here, reaped in any case
        if head is None:
            return self._whole()
        return head.decode("utf-8") + tail

    def _write_head(self, out: BinaryIO) -> None:
        cases = promtool_cases(self.model, self.links, self.translated, self.rules[: self.split], [])
        text = HEADER.format(command=self.command) + dump_block(tests_document(self.rule_files, cases))
        out.write(text.encode("utf-8"))

    def _whole(self) -> str:
        cases = promtool_cases(self.model, self.links, self.translated, self.rules, sorted(self.model.flows))
        return render_yaml(tests_document(self.rule_files, cases), self.command)
