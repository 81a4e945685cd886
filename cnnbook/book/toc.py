"""The book's table of contents (``_toc.yml``): its chapters, in order."""

from pathlib import Path

import yaml

APPENDIX = "Appendix"  # the _toc.yml part of reference pages, which have no exercises


def chapters(root, appendix=False) -> list[Path]:
    """The chapter files of the book's _toc.yml, in order; the Appendix part's only if asked."""
    toc_path = Path(root) / "_toc.yml"
    if not toc_path.is_file():
        raise ValueError(f"{toc_path} does not exist; give the book's root folder")
    toc = yaml.safe_load(toc_path.read_text())
    parts = toc.get("parts", [toc])
    return [
        Path(root) / f"{chapter['file']}.md"
        for part in parts
        if appendix or part.get("caption") != APPENDIX
        for chapter in part.get("chapters", [])
    ]
