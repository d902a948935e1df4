"""Loading policy files and choosing the one in force for a school, a cohort and a day."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from sanzheng_shared.policy.model import GraduationPolicy

DEFAULT_DIR = Path(str(resources.files("sanzheng_shared.policy") / "files"))


class PolicyError(Exception):
    """A policy file that cannot be used: the service refuses to start."""


def load_file(path: Path) -> GraduationPolicy:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"policy file {path}: cannot read it as YAML: {exc}") from None
    try:
        return GraduationPolicy.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise PolicyError(f"policy file {path}: {problems}") from None


class PolicyBook:
    """Every policy file, with the rule that picks one: in force on the day, matching the
    school and cohort, most specific first, then the most recent."""

    def __init__(self, policies: list[GraduationPolicy]) -> None:
        versions = [p.version for p in policies]
        dupes = {v for v in versions if versions.count(v) > 1}
        if dupes:
            raise PolicyError(f"policy version(s) defined twice: {sorted(dupes)}")
        self.policies = policies
        self._picked: dict[tuple[str | None, int | None, date], GraduationPolicy] = {}
        self._picked_from: list[GraduationPolicy] = policies

    @classmethod
    def load(cls, extra_dir: Path | None = None) -> PolicyBook:
        files = sorted(DEFAULT_DIR.glob("*.yaml"))
        if extra_dir is not None:
            if not extra_dir.is_dir():
                raise PolicyError(f"policy directory {extra_dir} does not exist")
            files += sorted(extra_dir.glob("*.yaml")) + sorted(extra_dir.glob("*.yml"))
        return cls([load_file(f) for f in files])

    def for_student(self, school: str | None, cohort: int | None, day: date) -> GraduationPolicy:
        """Picked once per (school, cohort, day): every event of a batch asks again."""
        if self._picked_from is not self.policies:  # the list was replaced: pick afresh
            self._picked, self._picked_from = {}, self.policies
        key = (school, cohort, day)
        found = self._picked.get(key)
        if found is None:
            found = self._picked[key] = self._pick(school, cohort, day)
        return found

    def _pick(self, school: str | None, cohort: int | None, day: date) -> GraduationPolicy:
        candidates = [
            p
            for p in self.policies
            if p.in_force.covers(day) and p.applies_to.matches(school, cohort)
        ]
        if not candidates:
            candidates = [p for p in self.policies if p.applies_to.specificity == 0]
        if not candidates:
            raise PolicyError(f"no policy in force for school {school}, cohort {cohort}, {day}")
        return max(candidates, key=lambda p: (p.applies_to.specificity, p.in_force.from_))
