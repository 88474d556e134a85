"""``--device`` and ``--allow`` as a policy: which device allows what, and refusals that name the flag to use."""

from __future__ import annotations

import pytest

from qwen_gui_agent.agent.mcp.policy import PolicyError, Refused, build_policy, describe


def test_read_is_the_default_and_act_is_asked_for():
    assert build_policy(["desktop"], []).access == {"desktop": "read"}
    assert build_policy(["desktop"], ["act"]).access == {"desktop": "act"}
    assert build_policy(["desktop"], ["act", "read"]).access == {"desktop": "read"}  # the last general one wins


def test_a_device_of_its_own_beats_the_general_level():
    policy = build_policy(
        ["desktop", "android:emulator-5554", "android:emulator-5556"],
        ["act=android:emulator-5554, android:emulator-5556", "read"],
    )
    assert policy.access == {"desktop": "read", "android:emulator-5554": "act", "android:emulator-5556": "act"}
    assert policy.default_device == "desktop"
    assert describe(policy) == "desktop (read), android:emulator-5554 (act), android:emulator-5556 (act)"


def test_a_refusal_names_the_flag_that_allows_the_call():
    policy = build_policy(["desktop", "desktop:2"], ["act=desktop:2"])
    policy.check("do", "act", "desktop:2")
    policy.check("screenshot", "read", "desktop")
    with pytest.raises(
        Refused,
        match=r"do acts on the device, and this server allows only read on desktop; "
        r"start agent mcp with --allow act \(every device\) or --allow act=desktop",
    ):
        policy.check("do", "act", "desktop")
    with pytest.raises(
        Refused,
        match=r"android:x is not a device this server serves \(it serves desktop, "
        r"desktop:2\); start agent mcp with --device android:x",
    ):
        policy.device_for("android:x")
    assert policy.device_for(None) == policy.device_for("  ") == "desktop"
    assert policy.device_for(" desktop:2 ") == "desktop:2"


@pytest.mark.parametrize(
    ("devices", "allow", "problem"),
    [
        (["desktop"], ["write"], "'write' is not a policy; use read, act"),
        (["desktop"], ["act="], "name the devices after '='"),
        (["desktop"], ["act=android:x"], "android:x is not a served device (desktop); add it to --device"),
        ([], ["read"], "no device to serve"),
    ],
)
def test_bad_values_are_bad_input(devices, allow, problem):
    with pytest.raises(PolicyError) as error:
        build_policy(devices, allow)
    assert problem in str(error.value)
