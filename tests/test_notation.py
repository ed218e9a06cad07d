"""The notation table (NOTATION.md) is the one the notebooks and the package use: check it."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def notation_rows():
    text = (ROOT / "NOTATION.md").read_text()
    block = text.split("<!-- notation -->")[1].split("<!-- /notation -->")[0]
    rows = [r for r in block.splitlines() if r.startswith("|") and "---" not in r][1:]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows]


def package_source():
    return "\n".join(p.read_text() for p in (ROOT / "sgns_helpers").glob("*.py"))


def notebook_code():
    code = {}
    for nb in sorted((ROOT / "notebooks").glob("[0-9]*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code[nb.name] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return code


def test_every_code_name_in_the_table_is_used_by_the_package():
    rows = notation_rows()
    assert len(rows) >= 12
    source = package_source()
    for row in rows:
        names = re.findall(r"`([A-Za-z_][A-Za-z_0-9]*)`", row[1])
        assert names, f"no code name in the row {row}"
        for name in names:
            assert re.search(rf"\b{name}\b", source), f"{name} (NOTATION.md) is not in sgns_helpers"


def test_no_score_is_called_sigma():
    """Scores are s_pos and s_neg; σ is only the sigmoid."""
    pattern = re.compile(r"\bsigma_(pos|neg)\b")
    for where, text in [("sgns_helpers", package_source()), *notebook_code().items()]:
        assert not pattern.search(text), f"{where} calls a score sigma_pos/sigma_neg"
