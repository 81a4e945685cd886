"""The student materials a chapter page links: its exercise notebook with the public checks, as
one zip served by the book itself, and a link that opens the notebook on Binder or a JupyterHub.

``cnnbook assign`` writes each chapter's notebook and checks to
``_build/assignments/student/NN_name/`` (``make book`` runs it with ``--students-only`` first).
The book's extension (`cnnbook.book.sphinx_extension`) only finds those folders: it zips each
into ``exercises/NN_name.zip`` of the built site and links it at the top of the chapter's
Exercises section. A launch link needs a public git repository holding the student materials
that ``cnnbook publish`` writes, one ``NN_name/`` folder per chapter at its root; the book names
it in ``_config.yml`` (README.md, "Publishing for students").
"""

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

STUDENT_FOLDER = Path("_build") / "assignments" / "student"  # under the book's root
SITE_FOLDER = "exercises"  # the zips' folder in the built site
BINDERHUB = "https://mybinder.org"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # one date for every entry: the same folder gives the same zip


def student_notebooks(folder) -> dict[str, Path]:
    """The chapters that have an exercise notebook in folder (``student/``): name -> folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {
        path.name: path
        for path in sorted(folder.iterdir())
        if (path / f"{path.name}.ipynb").is_file()
    }


def handed_out(folder) -> list[Path]:
    """The files of a chapter's student folder that students get (no caches, no hidden files)."""
    folder = Path(folder)
    return [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__"
            for part in path.relative_to(folder).parts
        )
    ]


def write_zip(folder, target) -> Path:
    """Zip a chapter's student folder into target, its files under the folder's name."""
    folder, target = Path(folder), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in handed_out(folder):
            name = posixpath.join(folder.name, path.relative_to(folder).as_posix())
            entry = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, path.read_bytes())
    return target


def zip_href(docname: str) -> str:
    """The link from a chapter's page (docname such as 'chapters/02_pooling') to its zip."""
    name = posixpath.basename(docname)
    return posixpath.relpath(f"{SITE_FOLDER}/{name}.zip", posixpath.dirname(docname) or ".")


def launch_url(repository, notebook, branch="main", jupyterhub="", binderhub=BINDERHUB) -> str:
    """The link that opens notebook (its path in the repository, such as
    '02_pooling/02_pooling.ipynb') in JupyterLab: on the JupyterHub at jupyterhub through
    nbgitpuller when one is given, else on the BinderHub at binderhub (mybinder.org)."""
    parts = urlsplit(repository or "")
    path = parts.path.strip("/").removesuffix(".git")
    if parts.scheme != "https" or not parts.netloc or not path:
        raise ValueError(
            f"cnnbook_materials_repository {repository!r} is not the https address of a git "
            "repository; give one such as https://github.com/OWNER/REPO"
        )
    for setting, value in (
        ("cnnbook_jupyterhub_url", jupyterhub),
        ("cnnbook_binderhub_url", binderhub),
    ):
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(
                f"{setting} {value!r} is not an address; give one such as https://..."
            )
    if not branch:
        raise ValueError("cnnbook_materials_branch is empty; give the branch, such as main")
    if jupyterhub:
        folder = posixpath.basename(path)  # where nbgitpuller clones the repository
        query = urlencode(
            {"repo": repository, "branch": branch, "urlpath": f"lab/tree/{folder}/{notebook}"}
        )
        return f"{jupyterhub.rstrip('/')}/hub/user-redirect/git-pull?{query}"
    if parts.netloc == "github.com" and path.count("/") == 1:
        spec = f"gh/{path}/{quote(branch, safe='')}"
    else:
        spec = f"git/{quote(repository, safe='')}/{quote(branch, safe='')}"
    return f"{binderhub.rstrip('/')}/v2/{spec}?{urlencode({'labpath': notebook})}"
