"""Sphinx configuration of the course website (`make site`): the committed notebooks as static pages.

The source folder is site/: index.md (the home page) and notebooks/, a symlink to ../notebooks, so
the pages land at html/index.html and html/notebooks/NN_name.html. Nothing is executed: the pages
show the outputs committed in the notebooks (nb_execution_mode = "off").

Everything the build writes goes under html/: the pages, html/.doctrees (sphinx-build -d) and
myst-nb's staging folder for output images, html/.jupyter_execute (see _keep_outputs_under_html).
MathJax is served from html/_static/mathjax, copied from the django-static-mathjax wheel
(MathJax 3.2.2, no dependencies), so formulas render with no network.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

SITE = Path(__file__).resolve().parent
REPO = SITE.parent
NOTEBOOKS = REPO / "notebooks"
OUT = REPO / "html"

project = "SGNS from scratch"
author = "the SGNS from scratch authors"
copyright = "the SGNS from scratch authors, MIT licence"

extensions = ["myst_nb"]
root_doc = "index"
# Only the home page and the numbered notebooks are pages (not README.md or check_site.py).
include_patterns = ["index.md", "notebooks/[0-9]*.ipynb"]
exclude_patterns = ["**.ipynb_checkpoints"]
templates_path = []

# --- notebooks: show the committed outputs, never execute -------------------------------------
nb_execution_mode = "off"
nb_execution_cache_path = str(OUT / ".jupyter_cache")  # unused with "off"; kept under html/ anyway
nb_merge_streams = True
# Notebook markdown is Jupyter markdown: $…$, $$…$$ (also inside a paragraph), \begin{…} blocks,
# GitHub tables, raw HTML anchors such as <a id="derivations"></a>.
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_dmath_double_inline = True
myst_heading_anchors = 3
# Jupyter renders "## 1. Title" headings without checking that levels are consecutive.
suppress_warnings = ["myst.header"]

# --- math: a local MathJax 3, no CDN ------------------------------------------------------------
MATHJAX_COMPONENT = "tex-chtml-full.js"  # all TeX packages (ams, boldsymbol, …) in one file
mathjax_path = f"mathjax/{MATHJAX_COMPONENT}"  # relative to html/_static
mathjax3_config = {"options": {}}  # myst-parser fills processHtmlClass
# MathJax files that the page may load: the component, the fonts, and what it loads on demand
# (the context menu, the assistive MathML of the a11y folder). The rest of the 24 MB stays out.
MATHJAX_FILES = [MATHJAX_COMPONENT, "a11y/*.js", "ui/*.js", "output/chtml/fonts/*.js",
                 "output/chtml/fonts/woff-v2/*.woff", "input/tex/extensions/*.js"]

# --- theme ----------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "SGNS from scratch"
html_static_path = []
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": False,
    "show_prev_next": True,
    "footer_content_items": ["copyright.html"],
}


def mathjax_dir() -> Path:
    """The es5/ folder of MathJax 3 shipped by the django-static-mathjax wheel (module `mathjax`)."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is missing: install the site extra (pip install -e '.[site]')")
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / MATHJAX_COMPONENT).is_file():
        raise RuntimeError(f"{es5 / MATHJAX_COMPONENT} is missing: reinstall django-static-mathjax")
    return es5


# --- what the home page says, read from the notebooks ----------------------------------------------
_CORPUS = re.compile(r"\bcorpus:?\s+([\w.\-]+\.(?:txt\.gz|txt|gz|zip|bz2|xz)|text8)\b")
_PROFILE = re.compile(r"""\bprofile(?::\s*|=')(\w+)""")


def _output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        elif "text/plain" in out.get("data", {}):
            parts.append("".join(out["data"]["text/plain"]))
    return "\n".join(parts)


def read_notebook(path: Path) -> dict:
    """Title, corpus, profile and run facts of one notebook, from its committed cells and outputs."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb.get("cells", [])
    title = path.stem
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            m = re.search(r"^#\s+(.+?)\s*$", "".join(cell.get("source", "")), re.M)
            if m:
                title = m.group(1)
                break
    # "08 · Evaluating word embeddings" -> "Evaluating word embeddings": the number is the file's.
    title = re.sub(r"^\d+\s*[·.:\-]\s*", "", title)
    code = [c for c in cells if c.get("cell_type") == "code"]
    text = "\n".join(_output_text(c) for c in code)
    counts = [c.get("execution_count") for c in code]
    corpora = list(dict.fromkeys(_CORPUS.findall(text)))
    return {
        "number": path.name.split("_", 1)[0],
        "docname": f"notebooks/{path.stem}",
        "title": title,
        "corpora": corpora,
        "profiles": sorted(set(_PROFILE.findall(text))),
        "has_outputs": any(c.get("outputs") for c in code),
        "errors": sum(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])),
        "clean_run": bool(code) and counts == list(range(1, len(code) + 1)),
    }


def _numbers(infos: list[dict]) -> str:
    nums = [i["number"] for i in infos]
    return "notebook " + nums[0] if len(nums) == 1 else "notebooks " + ", ".join(nums)


def course_map_markdown() -> str:
    infos = [read_notebook(p) for p in sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))]
    lines = []
    for i in infos:
        facts = []
        if i["corpora"]:
            facts.append("corpus " + ", ".join(f"`{c}`" for c in i["corpora"]))
        if i["profiles"]:
            facts.append(" / ".join(i["profiles"]) + " profile")
        if not i["has_outputs"]:
            facts.append("no committed outputs")
        if i["errors"]:
            facts.append(f"**{i['errors']} error output(s)**")
        note = f" ({'; '.join(facts)})" if facts else ""
        title = i["title"].replace("`", "").replace("<", r"\<")
        lines.append(f"* **{i['number']}** · {{doc}}`{title} <{i['docname']}>`{note}")
    course_map = "\n".join(lines)

    # Where the results come from: said from the notebooks' own outputs, nothing hard-coded.
    clean = [i for i in infos if i["has_outputs"] and i["clean_run"]]
    unclean = [i for i in infos if i["has_outputs"] and not i["clean_run"]]
    empty = [i for i in infos if not i["has_outputs"]]
    said = ["The outputs and figures on these pages are the ones committed in the notebooks; "
            "the site re-executes nothing."]
    if clean:
        profiles = sorted({p for i in clean for p in i["profiles"]})
        by_corpus: dict[str, list[dict]] = {}
        for i in clean:
            for c in i["corpora"]:
                by_corpus.setdefault(c, []).append(i)
        corpora = [f"`{c}` ({_numbers(v)})" for c, v in by_corpus.items()]
        no_corpus = [i for i in clean if not i["corpora"]]
        if no_corpus:
            corpora.append(f"none for {_numbers(no_corpus)}")
        said.append(
            ("They were" if len(clean) == len(infos) else f"Those of {_numbers(clean)} were")
            + " produced by a clean top-to-bottom run (execution counts 1, 2, 3, … in order)"
            + (f" in the {' and '.join(profiles)} profile" if profiles else "")
            + ", on the corpus named in each notebook: " + "; ".join(corpora) + ".")
    if unclean:
        said.append(f"The committed outputs of {_numbers(unclean)} are not those of one clean "
                    "top-to-bottom run (their execution counts are missing or out of order).")
    if empty:
        said.append(f"{_numbers(empty).capitalize()} {'has' if len(empty) == 1 else 'have'} no "
                    "committed outputs yet (code and text only).")
    return course_map + "\n\n" + " ".join(said) + "\n"


def _fill_index(app, docname: str, source: list[str]) -> None:
    if docname == root_doc:
        source[0] = source[0].replace("<!-- course-map -->", course_map_markdown())


def _keep_outputs_under_html(app) -> None:
    # myst-nb stages output images in <outdir>/../jupyter_execute, which is the repo root here:
    # move that folder inside html/ so that the build writes nothing outside it.
    cfg = app.env.mystnb_config
    app.env.mystnb_config = cfg.copy(output_folder=str(Path(app.outdir) / ".jupyter_execute"))


def _copy_mathjax(app, exc) -> None:
    if exc is not None or app.builder.format != "html":
        return
    src = mathjax_dir()
    dest = Path(app.outdir) / "_static" / "mathjax"
    for pattern in MATHJAX_FILES:
        for f in src.glob(pattern):
            target = dest / f.relative_to(src)
            st = f.stat()
            if target.exists() and target.stat().st_size == st.st_size \
                    and target.stat().st_mtime >= st.st_mtime:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)


def setup(app):
    mathjax_dir()  # fail at the start of the build, not at its end, if MathJax is missing
    app.connect("source-read", _fill_index)
    app.connect("builder-inited", _keep_outputs_under_html, priority=900)  # after myst-nb's
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True}
