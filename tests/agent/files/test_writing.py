"""An atomic replace never writes through a link planted where its temporary file would go."""

from __future__ import annotations

from pathlib import Path

from qwen_gui_agent.agent.files.writing import replace_text


def test_a_planted_temporary_link_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("labels.json.tmp", ".labels.json.tmp"):
        (folder / name).symlink_to(victim)
    replace_text(folder / "labels.json", '{"corrections": {}}')
    assert victim.read_text() == "mine"
    assert (folder / "labels.json").read_text() == '{"corrections": {}}'
    assert sorted(p.name for p in folder.iterdir()) == [".labels.json.tmp", "labels.json", "labels.json.tmp"]


def test_a_link_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    (tmp_path / "report.html").symlink_to(victim)
    replace_text(tmp_path / "report.html", "<html>")
    assert victim.read_text() == "mine" and not (tmp_path / "report.html").is_symlink()
    assert oct((tmp_path / "report.html").stat().st_mode & 0o777) in ("0o644", "0o664", "0o600", "0o640")
