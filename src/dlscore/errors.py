"""Input errors that name the patient, the file or column, and the fix."""

from __future__ import annotations


class InputError(Exception):
    """One bad input: ``patient``, ``where`` (file or column), ``problem`` and ``fix``."""

    def __init__(self, problem: str, fix: str, patient: str | None = None, where: str | None = None):
        self.patient, self.where, self.problem, self.fix = patient, where, problem, fix
        super().__init__(self.line())

    def line(self) -> str:
        who = f"patient {self.patient}: " if self.patient else ""
        at = f"{self.where}: " if self.where else ""
        return f"{who}{at}{self.problem}. Fix: {self.fix}"


class ManifestError(Exception):
    """All problems found in a manifest, one line each, raised together."""

    def __init__(self, problems: list[InputError], source: str = "manifest"):
        self.problems = problems
        lines = "\n".join(f"  - {p.line()}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in {source}:\n{lines}")
