"""A tool's output folder: it replaces or removes only the files it wrote there, whatever its
manifest says, and never writes through a link."""

import json

import pytest

from cnnbook.course import output


def test_a_manifest_cannot_make_the_tool_remove_what_it_did_not_write(tmp_path):
    folder, outside = tmp_path / "out", tmp_path / "mine.txt"
    (folder / ".git").mkdir(parents=True)
    outside.write_text("mine")
    (folder / ".git" / "config").write_text("mine")
    (folder / "notes.txt").write_text("mine")
    names = ["../mine.txt", str(outside), ".git/config", "notes.txt"]
    (folder / "listed.json").write_text(json.dumps(names))
    output.Output(folder, "listed.json", "a tool", ours=lambda name: name != "notes.txt")
    assert outside.read_text() == "mine" and (folder / ".git" / "config").read_text() == "mine"
    assert (folder / "notes.txt").read_text() == "mine"


def test_what_it_wrote_is_replaced_and_left_over_folders_go(tmp_path):
    first = output.Output(tmp_path, "listed.json", "a tool")
    first.write("a/b/c.bin", b"\x00\x01")
    first.write("d.txt", "text")
    assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == b"\x00\x01"
    output.Output(tmp_path, "listed.json", "a tool").write("d.txt", "again")
    assert not (tmp_path / "a").exists() and (tmp_path / "d.txt").read_text() == "again"


def test_it_refuses_a_file_of_the_users_and_a_path_through_a_link(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "linked").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "out" / "README.md").write_text("mine")
    folder = output.Output(tmp_path / "out", "listed.json", "a tool")
    with pytest.raises(ValueError, match="README.md exists and was not written by `a tool`"):
        folder.write("README.md", "ours")
    with pytest.raises(ValueError, match="lies behind a link"):
        folder.write("linked/x.txt", "ours")
    with pytest.raises(ValueError, match="is not a file a tool writes"):
        folder.write("../x.txt", "ours")
    assert (tmp_path / "out" / "README.md").read_text() == "mine"
    assert list((tmp_path / "elsewhere").iterdir()) == []
