"""An error that carries every problem found, so a user fixes them in one round."""

from __future__ import annotations


class ProblemsError(Exception):
    """`problems` lists each reason, each naming its place (a file position, a node)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
