"""Names from someone else's file stay in their folder; lookups of impossible names answer False."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_gui_agent.agent.files.paths import PathEscape, inside, is_dir_quietly, is_file_quietly, is_plain_name


@pytest.mark.parametrize(
    "name, words",
    [
        ("../secret.png", "climbs out"),
        ("a/../../secret.png", "climbs out"),
        ("/etc/passwd", "absolute path"),
        ("C:\\\\Windows\\\\x.png", "absolute path"),
        ("..\\\\secret.png", "climbs out"),
        ("", "not a file name"),
        ("a\x00b", "not a file name"),
        ("x" * 300 + ".png", "longer than 255 bytes"),
        ("out/link.png", "leads out"),
    ],
)
def test_names_that_leave_the_folder_are_refused(tmp_path: Path, name: str, words: str) -> None:
    folder = tmp_path / "data"
    (folder / "out").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"private")
    (folder / "out" / "link.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(PathEscape, match=words):
        inside(folder, name)


def test_names_inside_the_folder_are_kept(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(b"")
    (tmp_path / "alias.png").symlink_to(tmp_path / "imgs" / "a.png")  # a link that stays inside is fine
    assert inside(tmp_path, "imgs/a.png") == tmp_path / "imgs" / "a.png"
    assert inside(tmp_path, "alias.png") == tmp_path / "alias.png"
    assert inside(tmp_path, "not-there-yet.png") == tmp_path / "not-there-yet.png"


def test_plain_names_and_quiet_lookups() -> None:
    assert is_plain_name("20261206-114304-open-the-menu") and not is_plain_name("../x") and not is_plain_name("..")
    assert not is_plain_name("a\x00") and not is_plain_name("y" * 256)
    too_long = Path("open " + "a" * 300 + "/x.yaml")
    assert not is_file_quietly(too_long) and not is_dir_quietly(too_long)
