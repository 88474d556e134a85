"""Secret placeholders: resolved only for the device, redacted everywhere else."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen_gui_agent.agent.runtime.secrets import MissingSecret, RedactingFilter, Secrets, placeholder, referenced_names
from qwen_gui_agent.tools.actions import Click, Point, Type
from qwen_gui_agent.tools.errors import ActionParseError


def test_referenced_names_in_order_without_repeats():
    texts = ["log in with {{secret:USER}} and {{ secret:PASS }}", "again {{secret:USER}}", "no {{secret:}} here"]
    assert referenced_names(texts) == ("USER", "PASS")


def test_from_environment_takes_only_the_named_values():
    secrets = Secrets.from_environment(["PASS"], {"PASS": "hunter2", "OTHER": "x"})
    assert dict(secrets.values) == {"PASS": "hunter2"}
    assert "hunter2" not in repr(secrets)


def test_missing_secret_names_every_missing_one():
    with pytest.raises(MissingSecret) as caught:
        Secrets.from_environment(["A", "B", "C"], {"B": "set", "C": ""})
    assert caught.value.names == ("A", "C")
    assert "A, C" in str(caught.value)


def test_resolve_action_puts_the_value_into_type_only():
    secrets = Secrets({"PASS": "s3cr3t"})
    typed = secrets.resolve_action(Type(text="pw: {{secret:PASS}}", submit=True))
    assert typed == Type(text="pw: s3cr3t", submit=True)
    click = Click(point=Point(x=1, y=2))
    assert secrets.resolve_action(click) is click


def test_unknown_secret_is_a_model_mistake_fed_back():
    secrets = Secrets({"PASS": "v@lue"})
    with pytest.raises(ActionParseError) as caught:
        secrets.resolve_action(Type(text="{{secret:TOKEN}}"))
    assert "TOKEN" in caught.value.feedback()
    assert "{{secret:PASS}}" in caught.value.feedback()
    assert "v@lue" not in caught.value.feedback()


def test_redact_replaces_longest_value_first():
    secrets = Secrets({"SHORT": "abc", "LONG": "abcdef"})
    assert secrets.redact("xx abcdef yy abc") == "xx {{secret:LONG}} yy {{secret:SHORT}}"


def test_redact_data_walks_nested_structures():
    secrets = Secrets({"P": "pw1"})
    data = {"a": ["type pw1", {"b": "pw1pw1"}], "n": 3, "none": None}
    assert secrets.redact_data(data) == {
        "a": ["type {{secret:P}}", {"b": "{{secret:P}}{{secret:P}}"}],
        "n": 3,
        "none": None,
    }


@given(value=st.text(min_size=1).filter(lambda v: "{{" not in v and "}}" not in v), prefix=st.text(), suffix=st.text())
def test_redacted_text_never_holds_the_value(value, prefix, suffix):
    secrets = Secrets({"S": value})
    redacted = secrets.redact(prefix + value + suffix)
    # The value may still be spelled by what surrounds it only if the placeholder itself contains it.
    if value not in placeholder("S"):
        assert value not in redacted


def test_logging_filter_redacts_formatted_messages(caplog):
    logger = logging.getLogger("test.secrets")
    redacting = RedactingFilter(Secrets({"P": "topsecret"}))
    logger.addFilter(redacting)
    try:
        with caplog.at_level(logging.INFO, logger="test.secrets"):
            logger.info("typed %s into the field", "topsecret")
            try:
                raise RuntimeError("xdotool failed to type topsecret")
            except RuntimeError:
                logger.exception("typing failed")
    finally:
        logger.removeFilter(redacting)
    assert "topsecret" not in caplog.text
    assert "{{secret:P}}" in caplog.text


def test_secrets_cannot_be_changed_after_creation():
    secrets = Secrets({"P": "x"})
    with pytest.raises(TypeError):
        secrets.values["P"] = "y"  # type: ignore[index]
