"""Make data/sample_corpus.txt.gz: the King James Bible as one line of text8-format text.

Source: Debian's packages ``bible-kjv`` (the ``bible`` program) and ``bible-kjv-text`` (its
compressed text, ``/usr/lib/bible.data``), version 4.38. The KJV text is in the public domain.
The program prints every verse as ``<reference> <text>``, one verse a line; this script drops
the references (e.g. ``Ge1:1``, ``1Sa3:10``), joins the verses into running text and normalises
it like text8 (``sgns_helpers.corpus.to_text8``: lowercase, digits spelled out, every other
character a separator). The result is written gzipped with mtime 0, so the same input gives the
same bytes.

Regenerate (as root on Debian; or unpack the two packages anywhere with
``apt-get download bible-kjv bible-kjv-text`` and ``dpkg -x FILE.deb DIR``, then pass
``--bible DIR/usr/bin/bible --bible-data DIR/usr/lib``)::

    apt-get install bible-kjv
    python data/make_sample_corpus.py

Or from a saved dump of the verses (``bible -f Gen1:1-Rev22:21 > kjv.txt``)::

    python data/make_sample_corpus.py --verses kjv.txt
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

from sgns_helpers.corpus import to_text8
from sgns_helpers.files import atomic_write

HERE = Path(__file__).resolve().parent
WHOLE_BIBLE = "Gen1:1-Rev22:21"
# A verse line: an optional book number, the book's abbreviation, chapter:verse, one space.
REFERENCE = re.compile(r"^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ ", re.MULTILINE)
EXPECTED_VERSES = 31_102


def dump_verses(bible: str, data_dir: str | None) -> str:
    """Every verse, one a line with its reference, as printed by Debian's ``bible`` program."""
    exe = shutil.which(bible) or (bible if Path(bible).is_file() else None)
    if exe is None:
        sys.exit(f"error: the program {bible!r} was not found; install Debian's bible-kjv package "
                 f"(apt-get install bible-kjv) or pass --verses with a saved dump")
    cmd = [exe, "-f"] + (["-p", data_dir] if data_dir else []) + [WHOLE_BIBLE]
    return subprocess.run(cmd, check=True, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL).stdout


def verses_to_text8(dump: str) -> str:
    """Drop the verse references, join the verses and normalise the text like text8."""
    n_refs = len(REFERENCE.findall(dump))
    n_lines = len(dump.splitlines())
    if n_refs != n_lines or n_refs != EXPECTED_VERSES:
        sys.exit(f"error: expected {EXPECTED_VERSES:,} verse lines each starting with a reference, "
                 f"found {n_lines:,} lines and {n_refs:,} references; is this a `bible -f` dump?")
    return to_text8(REFERENCE.sub("", dump))


def write_gzip(text: str, out: Path) -> bytes:
    """Write ``text`` gzipped with mtime 0 and no file name (reproducible bytes); return them."""
    data = gzip.compress(text.encode("ascii"), compresslevel=9, mtime=0)
    with atomic_write(out) as f:
        f.write(data)
    return data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bible", default="bible", help="the bible program (default: on PATH)")
    parser.add_argument("--bible-data", default=None,
                        help="folder holding bible.data (default: the program's own search path)")
    parser.add_argument("--verses", default=None, help="a saved `bible -f` dump instead of the program")
    parser.add_argument("--out", default=str(HERE / "sample_corpus.txt.gz"))
    args = parser.parse_args(argv)

    dump = (Path(args.verses).read_text(encoding="ascii") if args.verses
            else dump_verses(args.bible, args.bible_data))
    text = verses_to_text8(dump)
    data = write_gzip(text, Path(args.out))
    words = text.split()
    print(f"{args.out}: {len(words):,} words, {len(set(words)):,} types, "
          f"{len(text):,} bytes of text, {len(data):,} bytes gzipped")
    print(f"sha256 of the text: {hashlib.sha256(text.encode('ascii')).hexdigest()}")
    print(f"sha256 of the file: {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
