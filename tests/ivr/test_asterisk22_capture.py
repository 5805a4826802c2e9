"""hotline's IVR as recorded on a real Asterisk 22: replaying the journals gives the records the
callers' actions call for (see tests/fixtures/captures/ivr_asterisk22/README.md)."""

from __future__ import annotations

from telephony.ami.codec import AmiCodec
from telephony.calls.clock import StreamClock
from telephony.calls.record import CallRecord
from telephony.calls.tracker import CallTracker, TrackerConfig
from telephony.pipeline import Pipeline
from tests.paths import CAPTURES

DIR = CAPTURES / "ivr_asterisk22"

# From the README: what each caller did, and so what their record must say.
EXPECTED = {
    "1796202652.26": ([], "hotline", "answered"),
    "1796202712.30": (["1"], "hotline", "answered"),
    "1796202754.34": ([], None, "abandoned_ivr"),
    "1796202819.36": (["2", "2"], None, "abandoned_ivr"),
    "1796202844.38": (["2", "1"], None, "self_service"),
    "1796202867.40": (["4"], None, "self_service"),
}


def test_replayed_records_match_what_the_callers_did() -> None:
    records: list[CallRecord] = []
    pipeline = Pipeline(CallTracker(TrackerConfig(pbx="ast22")), StreamClock("UTC"), records.extend)
    for path in sorted(DIR.glob("*.ami")):
        codec = AmiCodec()
        codec.receive_data(path.read_bytes())
        codec.receive_data(b"")
        for frame in codec:
            pipeline.feed(frame)
    pipeline.finish()
    got = {r.linkedid: (list(r.ivr_path), r.queue, r.outcome.value) for r in records}
    assert got == EXPECTED


def test_the_capture_shows_the_lease_and_the_break() -> None:
    text = b"".join(p.read_bytes() for p in sorted(DIR.glob("*.ami"))).decode()
    assert "Command: SET VARIABLE TIMEOUT(absolute)" in text
    assert "Command: ASYNCAGI BREAK" in text
    assert "AppData: hotline heartbeat is 61 s old: straight to an operator" in text
    assert "UserEvent: HotlineCallback" in text
