"""The cnnbook command hands reproduce, bench and publish their own options."""

import pytest

from cnnbook import cli, recipes


def test_reproduce_list_shows_every_model(capsys):
    assert cli.main(["reproduce", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(recipes.RECIPES)


@pytest.mark.parametrize("program", ["reproduce", "bench", "publish"])
def test_programs_bring_their_own_help(program, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([program, "--help"])
    assert exit_.value.code == 0
    assert f"usage: cnnbook {program}" in capsys.readouterr().out
