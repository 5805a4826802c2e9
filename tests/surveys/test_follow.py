"""The pure follower: AMI conversations (shaped like the trunk capture) and the facts they give."""

from __future__ import annotations

from pathlib import Path

from telephony.ami.codec import AmiCodec, Frame
from telephony.surveys.follow import Answered, Ended, Fact, Follower
from telephony.surveys.journal_scan import scan_journal
from telephony.surveys.policy import AttemptResult

CID = "hotline-survey-0a1b"
DIAL = "IAX2/carrier/15197530914"

ANSWERED_AND_RATED = f"""\
Event: OriginateResponse
ActionID: hotline-7
Response: Success
Channel: IAX2/carrier-00000012
Context: survey
Exten: s
Reason: 4
Uniqueid: {CID}
CallerIDNum: 12345
CallerIDName: 12345 Hotline

Event: UserEvent
Channel: IAX2/carrier-00000012
Uniqueid: {CID}
Linkedid: {CID}
UserEvent: SurveyResult
Campaign: callback
Result: 3
ReadStatus: OK

Event: UserEvent
Channel: IAX2/carrier-00000012
Uniqueid: {CID}
Linkedid: {CID}
UserEvent: SurveyComment
File: survey-comments/{CID}.wav

Event: Hangup
Channel: IAX2/carrier-00000012
Uniqueid: {CID}
Linkedid: {CID}
Cause: 16
Cause-txt: Normal Clearing

"""

BUSY = f"""\
Event: Hangup
Channel: IAX2/carrier-00000013
Uniqueid: {CID}
Linkedid: {CID}
Cause: 17
Cause-txt: User busy

Event: OriginateResponse
ActionID: hotline-8
Response: Failure
Channel: {DIAL}
Context: survey
Exten: s
Reason: 5
Uniqueid: <unknown>
CallerIDNum: 12345
CallerIDName: 12345 Hotline

"""


def frames(text: str) -> list[Frame]:
    codec = AmiCodec()
    codec.receive_data(text.encode())
    return list(codec)


def feed(follower: Follower, text: str) -> list[Fact]:
    facts: list[Fact] = []
    for frame in frames(text):
        facts += follower.feed(frame.name, frame.headers)
    return facts


def test_an_answered_call_is_followed_by_its_channel_id_to_the_rating_and_comment() -> None:
    follower = Follower()
    follower.watch(CID, DIAL)
    facts = feed(follower, ANSWERED_AND_RATED)
    assert facts[0] == Answered(CID)
    assert isinstance(facts[1], Ended)
    outcome = facts[1].outcome
    assert (outcome.result, outcome.rating, outcome.hangup_cause) == (
        AttemptResult.COMPLETED,
        3,
        16,
    )
    assert outcome.comment == f"survey-comments/{CID}.wav"
    assert not follower.watches


def test_a_failed_originate_is_matched_by_action_id_and_dial_string_even_if_it_came_first() -> None:
    follower = Follower()
    follower.watch(CID, DIAL)
    assert feed(follower, BUSY) == []  # the ActionID is not known yet
    facts = follower.set_action_id(CID, "hotline-8")
    assert len(facts) == 1 and isinstance(facts[0], Ended)
    assert (facts[0].outcome.result, facts[0].outcome.reason) == (AttemptResult.BUSY, 5)


def test_another_daemons_response_with_the_same_action_id_is_not_ours() -> None:
    follower = Follower()
    follower.watch(CID, DIAL)
    follower.set_action_id(CID, "hotline-8")
    other = BUSY.replace(DIAL, "IAX2/carrier/13900000000").split("\n\n", 1)[1]
    assert feed(follower, other) == []
    assert CID in follower.watches


def test_answered_then_hung_up_without_a_key_is_refused_and_no_key_is_no_key() -> None:
    follower = Follower()
    follower.watch(CID, DIAL)
    answer, _, rest = ANSWERED_AND_RATED.partition("Event: UserEvent")
    hangup = "Event: Hangup" + rest.split("Event: Hangup", 1)[1]
    facts = feed(follower, answer + hangup)
    assert isinstance(facts[-1], Ended) and facts[-1].outcome.result is AttemptResult.REFUSED

    follower.watch(CID, DIAL)
    silent = ANSWERED_AND_RATED.replace(
        "Result: 3\nReadStatus: OK", "Result: none\nReadStatus: TIMEOUT"
    )
    facts = feed(follower, silent)
    assert isinstance(facts[-1], Ended) and facts[-1].outcome.result is AttemptResult.NO_KEY


def test_an_adopted_unanswered_call_ends_by_its_hangup_cause() -> None:
    follower = Follower()
    follower.watch(CID, DIAL, adopted=True)
    facts = feed(follower, BUSY.split("\n\n", 1)[0] + "\n\n")
    assert isinstance(facts[0], Ended) and facts[0].outcome.result is AttemptResult.BUSY


def test_the_journal_gives_back_an_end_the_database_never_got(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    journal.mkdir()
    noise = "Event: VarSet\nChannel: PJSIP/x-1\nUniqueid: 1.1\nVariable: A\nValue: b\n\n"
    (journal / "sim-20261202-080000-1.ami").write_text(
        "Asterisk Call Manager/9.0.0\r\n" + noise + ANSWERED_AND_RATED
    )
    (journal / "other-20261202-080000-1.ami").write_text(BUSY)
    outcome, seen = scan_journal(
        journal, "sim", since=0.0, channel_id=CID, dial=DIAL, action_id="hotline-7"
    )
    assert seen and outcome is not None
    assert (outcome.result, outcome.rating) == (AttemptResult.COMPLETED, 3)
    assert scan_journal(journal, "sim", since=0.0, channel_id="x", dial=DIAL, action_id=None) == (
        None,
        False,
    )
