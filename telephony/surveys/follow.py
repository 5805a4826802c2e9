"""Following survey calls through AMI events, pure: frames in, answered / ended facts out.

Theory of operation. Each attempt is watched by its ChannelId, which the dialer chose and sent in
the Originate: Asterisk gives the new channel that Uniqueid, so every later event of the call
names it. Three things need more than the Uniqueid:

- a *failed* Originate has no channel: its ``OriginateResponse`` says ``Uniqueid: <unknown>``
  and is recognised by the Originate's ActionID together with the dial string we sent (ActionIDs
  of two daemons on one PBX may coincide; their dial strings for one survey do not);
- an ``OriginateResponse`` may be read before the dialer learnt its ActionID (the response to
  the action and the event travel separately), so unmatched ones wait briefly in a small buffer;
- a PBX that ignores ``ChannelId`` still names the channel in a successful ``OriginateResponse``;
  that Uniqueid is then followed too.

The rating comes from ``UserEvent: SurveyResult`` (``Result`` or ``Rating`` 1/2/3; ``none`` means
no key) raised by the survey context, an optional comment file from ``UserEvent: SurveyComment``;
the call ends with the ``Hangup`` of the channel, or with a failed ``OriginateResponse``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from telephony.surveys.policy import (
    REASON_ANSWERED,
    AttemptOutcome,
    AttemptResult,
    rating_of,
    result_of_reason,
)

RESULT_EVENTS = frozenset({"SurveyResult", "HotlineSurvey"})
COMMENT_EVENT = "SurveyComment"
_BUFFERED_RESPONSES = 256
# Q.850 causes of an unanswered channel whose OriginateResponse was missed (adopted after a
# restart): 17 user busy; 18/19 no answer; 21 call rejected; anything else failed.
_CAUSES = {
    17: AttemptResult.BUSY,
    18: AttemptResult.NO_ANSWER,
    19: AttemptResult.NO_ANSWER,
    21: AttemptResult.NO_ANSWER,
}


@dataclass(frozen=True, slots=True)
class Answered:
    """The citizen picked up."""

    channel_id: str


@dataclass(frozen=True, slots=True)
class Ended:
    """The attempt is over."""

    channel_id: str
    outcome: AttemptOutcome


Fact = Answered | Ended


@dataclass(slots=True)
class Watch:
    """One attempt being followed."""

    channel_id: str
    dial: str
    action_id: str | None = None
    uniqueids: set[str] = field(default_factory=set)
    answered: bool = False
    adopted: bool = False  # picked up again after a restart: its OriginateResponse may be gone
    seen: bool = False  # any frame of this call was seen
    rating: int | None = None
    no_key: bool = False
    comment: str | None = None
    hangup_cause: int | None = None


class Follower:
    """Watches attempts and turns AMI frames into :data:`Fact` values."""

    def __init__(self) -> None:
        self.watches: dict[str, Watch] = {}
        self._by_uid: dict[str, Watch] = {}
        self._early: OrderedDict[str, list[Mapping[str, str]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.watches)

    def watch(self, channel_id: str, dial: str, *, adopted: bool = False) -> Watch:
        """Start following an attempt."""
        w = Watch(channel_id, dial, adopted=adopted)
        self.watches[channel_id] = w
        self._add_uid(w, channel_id)
        return w

    def forget(self, channel_id: str) -> Watch | None:
        """Stop following an attempt."""
        w = self.watches.pop(channel_id, None)
        if w is not None:
            for uid in w.uniqueids:
                self._by_uid.pop(uid, None)
        return w

    def _add_uid(self, w: Watch, uid: str) -> None:
        w.uniqueids.add(uid)
        self._by_uid[uid] = w

    def set_action_id(self, channel_id: str, action_id: str | None) -> list[Fact]:
        """The Originate's ActionID is known: match any response that came before it."""
        w = self.watches.get(channel_id)
        if w is None or not action_id:
            return []
        w.action_id = action_id
        facts: list[Fact] = []
        early = self._early.pop(action_id, [])
        rest = []
        for headers in early:
            if self._response_is_for(w, headers):
                facts += self._on_response(w, headers)
            else:
                rest.append(headers)
        if rest:
            self._early[action_id] = rest
        return facts

    # --- frames ------------------------------------------------------------------------------

    def feed(self, name: str, headers: Mapping[str, str]) -> list[Fact]:
        """One AMI event (``name`` = its ``Event``); the facts it establishes."""
        if not self.watches:
            return []
        if name == "OriginateResponse":
            return self._originate_response(headers)
        if name == "UserEvent":
            return self._user_event(headers)
        if name == "Hangup":
            w = self._by_uid.get(headers.get("Uniqueid", ""))
            return self._hangup(w, headers) if w is not None else []
        w = self._by_uid.get(headers.get("Uniqueid", ""))
        if w is not None:
            w.seen = True
            up = name == "Newstate" and headers.get("ChannelState") == "6"
            if up and w.adopted and not w.answered:
                w.answered = True
                return [Answered(w.channel_id)]
        return []

    def _response_is_for(self, w: Watch, headers: Mapping[str, str]) -> bool:
        uid = headers.get("Uniqueid", "")
        if uid in w.uniqueids:
            return True
        channel = headers.get("Channel", "")
        return channel == w.dial or channel.startswith(w.dial + "-")

    def _originate_response(self, headers: Mapping[str, str]) -> list[Fact]:
        uid = headers.get("Uniqueid", "")
        aid = headers.get("ActionID", "")
        w = self._by_uid.get(uid)
        if w is None:
            for candidate in self.watches.values():
                if candidate.action_id == aid and self._response_is_for(candidate, headers):
                    w = candidate
                    break
        if w is None:
            if aid:
                self._early.setdefault(aid, []).append(dict(headers))
                self._early.move_to_end(aid)
                while len(self._early) > _BUFFERED_RESPONSES:
                    self._early.popitem(last=False)
            return []
        return self._on_response(w, headers)

    def _on_response(self, w: Watch, headers: Mapping[str, str]) -> list[Fact]:
        w.seen = True
        try:
            reason = int(headers.get("Reason", "0"))
        except ValueError:
            reason = 0
        ok = headers.get("Response", "") == "Success" and reason == REASON_ANSWERED
        if ok:
            uid = headers.get("Uniqueid", "")
            if uid and not uid.startswith("<"):
                self._add_uid(w, uid)
            if w.answered:
                return []
            w.answered = True
            return [Answered(w.channel_id)]
        if w.answered:  # a late failure after an answer: the Hangup decides
            return []
        return self._end(w, AttemptOutcome(result_of_reason(reason), reason=reason))

    def _user_event(self, headers: Mapping[str, str]) -> list[Fact]:
        name = headers.get("UserEvent", "")
        if name not in RESULT_EVENTS and name != COMMENT_EVENT:
            return []
        w = self._by_uid.get(headers.get("Uniqueid", "")) or self._by_uid.get(
            headers.get("Linkedid", "")
        )
        if w is None:
            w = self.watches.get(headers.get("SurveyChannel", ""))
        if w is None:
            return []
        w.seen = True
        if name == COMMENT_EVENT:
            w.comment = headers.get("File") or w.comment
            return []
        raw = headers.get("Rating") or headers.get("Result")
        rating = rating_of(raw)
        if rating is not None:
            w.rating = rating
        elif (raw or "").strip().lower() in ("", "none", "timeout"):
            w.no_key = True
        return []

    def _hangup(self, w: Watch, headers: Mapping[str, str]) -> list[Fact]:
        w.seen = True
        try:
            w.hangup_cause = int(headers.get("Cause", ""))
        except ValueError:
            w.hangup_cause = None
        if w.answered or w.rating is not None:
            return self._end(w, self.answered_outcome(w))
        if w.adopted:
            result = _CAUSES.get(w.hangup_cause or 0, AttemptResult.FAILED)
            return self._end(w, AttemptOutcome(result, hangup_cause=w.hangup_cause))
        return []  # the OriginateResponse (failure) follows and says why

    @staticmethod
    def answered_outcome(w: Watch) -> AttemptOutcome:
        """How an answered call ended, from what was seen of it."""
        if w.rating is not None:
            result = AttemptResult.COMPLETED
        elif w.no_key:
            result = AttemptResult.NO_KEY
        else:
            result = AttemptResult.REFUSED
        return AttemptOutcome(
            result,
            reason=REASON_ANSWERED,
            hangup_cause=w.hangup_cause,
            rating=w.rating,
            comment=w.comment,
        )

    def _end(self, w: Watch, outcome: AttemptOutcome) -> list[Fact]:
        self.forget(w.channel_id)
        return [Ended(w.channel_id, outcome)]
