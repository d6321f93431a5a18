"""Sphinx extension: the built book needs no network to be read.

Loaded by ``_config.yml`` (``sphinx: local_extensions``). It does two things:

1. **MathJax 3 from the book's own static files.** ``_config.yml`` sets ``mathjax_path`` to a path
   relative to ``_static`` (``mathjax/tex-mml-chtml.js``); after the HTML build this extension copies
   MathJax's ``es5`` folder there from the ``django-static-mathjax`` package (MathJax 3.2.2, the
   final 3.x release, the same build Sphinx loads from a CDN by default; the package has no
   dependencies and needs no Django). ``mathjax3_config`` keeps working: Sphinx writes it into
   every page before the script. If ``mathjax_path`` is a URL, nothing is copied.
2. **The Colab badge from the book's own static files.** Each chapter starts with an "Open in
   Colab" badge image served by colab.research.google.com; in the book it is replaced by a local
   copy (``tools/static/colab-badge.svg``) so that no image is missing offline. The notebooks
   themselves keep the remote badge (GitHub and Colab show it).
3. **One copy of each script.** sphinx-thebe's inline configuration script reaches every page twice,
   and declaring ``const THEBE_JS_URL`` twice is an error in the browser's console; a script that a
   page lists twice is written once.
"""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

STATIC = Path(__file__).resolve().parent / "static"
# Remote images in the chapters -> the file under _static that replaces them in the book.
LOCAL_IMAGES = {"https://colab.research.google.com/assets/colab-badge.svg": "colab-badge.svg"}


def mathjax_es5() -> Path:
    """The folder of MathJax 3's browser build inside the installed ``django-static-mathjax``.

    Raises:
        ExtensionError: the package is missing or does not hold MathJax 3's ``es5`` build.
    """
    try:
        import mathjax  # the import name of django-static-mathjax
    except ImportError as error:
        raise ExtensionError(
            "offline MathJax needs the django-static-mathjax package: pip install -e '.[book]' (or make book)"
        ) from error
    es5 = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise ExtensionError(f"no MathJax 3 build at {es5}: expected django-static-mathjax>=3.2,<4")
    return es5


def local_mathjax_dir(mathjax_path: str) -> str | None:
    """The folder under ``_static`` that ``mathjax_path`` names, or None for a URL."""
    if "://" in mathjax_path or mathjax_path.startswith("/"):
        return None
    folder = posixpath.dirname(mathjax_path)
    if not folder:
        raise ExtensionError(
            f"mathjax_path={mathjax_path!r}: put MathJax in a folder under _static, e.g. 'mathjax/tex-mml-chtml.js'"
        )
    return folder


def add_static_path(app: Sphinx, config) -> None:
    """Serve ``tools/static`` (the local badge) from ``_static``; fail early without MathJax."""
    config.html_static_path.append(str(STATIC))
    if local_mathjax_dir(config.mathjax_path):
        mathjax_es5()


def use_local_images(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Point every image listed in ``LOCAL_IMAGES`` at its copy under ``_static``."""
    static = posixpath.relpath("_static", posixpath.dirname(docname) or ".")
    for image in doctree.findall(nodes.image):
        local = LOCAL_IMAGES.get(image.get("uri", ""))
        if local:
            image["uri"] = posixpath.join(static, local)
            image["candidates"] = {"*": image["uri"]}


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """After a successful HTML build, copy MathJax 3 to where ``mathjax_path`` points."""
    if exception is not None or app.builder.format != "html":
        return
    folder = local_mathjax_dir(app.config.mathjax_path)
    if folder:
        shutil.copytree(mathjax_es5(), Path(app.outdir) / "_static" / folder, dirs_exist_ok=True)


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Keep the first of identical entries (same file or body, same attributes) in the page's scripts.

    A script without a file is listed once with ``filename=None`` and once with ``""``: both mean none.
    """
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", str(script)) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    if "script_files" in context:
        context["script_files"][:] = unique


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", add_static_path)
    app.connect("doctree-resolved", use_local_images)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    app.connect("build-finished", copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
