"""Survey figures for reports: satisfaction (the KPI definition of telephony.reports.kpi), reach.

- **queued** — surveys of the period's contacts; **attempted** — those called at least once.
- **reached** — attempted surveys whose citizen answered at least once; **reach rate** =
  reached / attempted.
- **rated** — valid answers (1, 2, 3); **response rate** = rated / attempted.
- **satisfaction rate** — (satisfied + basically satisfied) / rated, computed by
  :class:`~telephony.reports.kpi.Tally` so it is the very figure of the live status and the report.
- **follow-ups** — dissatisfied answers waiting for re-handling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Literal

from telephony.reports.kpi import Tally, ratio

Group = Literal["total", "agent", "queue", "day"]


@dataclass(slots=True)
class SurveyTally:
    """Counters of one group of surveys."""

    queued: int = 0
    attempted: int = 0
    reached: int = 0
    follow_ups: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    ratings: Tally = field(default_factory=Tally)

    def add(self, row: Mapping[str, Any]) -> None:
        """Count one survey row (storage.surveys.figure_rows)."""
        self.queued += 1
        state = str(row["state"])
        self.by_state[state] = self.by_state.get(state, 0) + 1
        if row["attempts"]:
            self.attempted += 1
        if row["answered_attempts"] or row["rating"] is not None:
            self.reached += 1
        if row["follow_up"]:
            self.follow_ups += 1
        self.ratings.add_rating(row["rating"])

    def figures(self) -> dict[str, Any]:
        """The published figures of this group (ratios as fractions, None when undefined)."""
        kpi = self.ratings.figures()
        return {
            "queued": self.queued,
            "attempted": self.attempted,
            "reached": self.reached,
            "rated": kpi.survey_answers,
            "satisfied": self.ratings.satisfied,
            "basically_satisfied": self.ratings.basically_satisfied,
            "dissatisfied": self.ratings.dissatisfied,
            "follow_ups": self.follow_ups,
            "reach_rate": ratio(self.reached, self.attempted),
            "response_rate": ratio(kpi.survey_answers, self.attempted),
            "satisfaction_rate": kpi.satisfaction_rate,
            "by_state": dict(sorted(self.by_state.items())),
        }


def group_key(row: Mapping[str, Any], by: Group, zone: tzinfo) -> str:
    """The group a survey row falls in."""
    if by == "agent":
        return str(row["agent"] or "-")
    if by == "queue":
        return str(row["queue"] or "-")
    if by == "day":
        ended: datetime = row["contact_ended_at"]
        return ended.astimezone(zone).date().isoformat()
    return "total"


def survey_figures(
    rows: Iterable[Mapping[str, Any]], by: Group, zone: tzinfo
) -> dict[str, dict[str, Any]]:
    """Figures per group, groups in order."""
    tallies: dict[str, SurveyTally] = {}
    for row in rows:
        tallies.setdefault(group_key(row, by, zone), SurveyTally()).add(row)
    return {key: tallies[key].figures() for key in sorted(tallies)}


__all__ = ["Group", "SurveyTally", "group_key", "survey_figures"]
