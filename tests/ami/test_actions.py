"""Typed actions: their wire form, and the link's one sender over real TCP (the simulator)."""

from __future__ import annotations

from telephony.ami import actions as act
from telephony.ami.encode import encode_action


def _wire(action: act.Action) -> str:
    return encode_action(action.name, "t-1", action.headers()).decode()


def test_originate_wire_form_repeats_variables_and_omits_unset_headers() -> None:
    action = act.Originate(
        channel="IAX2/carrier/13800138000",
        context="hotline-survey",
        exten="s",
        priority="1",
        timeout_ms=18000,
        caller_id='"12345" <12345>',
        variables={"HOTLINE_SURVEY_ID": "42", "HOTLINE_SURVEY_FOR": "pbx1:1.1"},
        channel_id="hotline-survey-42-1",
    )
    text = _wire(action)
    assert text.startswith("Action: Originate\r\nActionID: t-1\r\n")
    assert "Channel: IAX2/carrier/13800138000\r\n" in text
    assert "Timeout: 18000\r\n" in text
    assert "Async: true\r\n" in text
    assert "ChannelId: hotline-survey-42-1\r\n" in text
    assert "Variable: HOTLINE_SURVEY_ID=42\r\nVariable: HOTLINE_SURVEY_FOR=pbx1:1.1\r\n" in text
    assert "Application" not in text
    assert "Account" not in text
    assert text.endswith("\r\n\r\n")


def test_agi_setvar_hangup_userevent_headers() -> None:
    assert act.Agi("PJSIP/a-1", "GET DATA menu 5000 1", "c-1").headers() == {
        "Channel": "PJSIP/a-1",
        "Command": "GET DATA menu 5000 1",
        "CommandID": "c-1",
    }
    assert act.Setvar("HOTLINE_HEARTBEAT", "1796175744").headers() == {
        "Variable": "HOTLINE_HEARTBEAT",
        "Value": "1796175744",
    }
    assert act.Hangup("IAX2/x-1").headers() == {"Channel": "IAX2/x-1", "Cause": "16"}
    ue = act.UserEvent("HotlineMenu", {"Choice": "1", "Path": "9,1"})
    assert "UserEvent: HotlineMenu\r\nChoice: 1\r\nPath: 9,1\r\n" in _wire(ue)


def test_action_values_reject_line_breaks() -> None:
    import pytest

    with pytest.raises(ValueError, match="Channel"):
        _wire(act.Hangup("IAX2/x-1\r\nAction: Logoff"))
