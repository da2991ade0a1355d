"""Gene names on disk: gene-names.txt (one name per line) and the gene -> file name table.

Gene names are free text ('HLA-A', 'a/b', 'IFN γ', a 300-character probe id);
file names are not. A plain name (letters, digits, '.', '_', '-', up to 100
characters) is its own file name, so cnts-super/ERBB2.npy stays where users
and scorers look for it. Any other name gets a readable stem plus a hash of
the whole name, and every step that writes per-gene files records the table
beside them (artifacts/result.py), so two names never share a file.
"""
import hashlib
import re
from pathlib import Path
from typing import Dict, List

from ..errors import InputError

PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")
FORBIDDEN = re.compile(r"[\n\r\t\x00]")


def read_gene_names(path) -> List[str]:
    """One name per line, exactly as written (spaces are part of a name)."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def write_gene_names(path, genes) -> None:
    check_gene_names(genes, path)
    Path(path).write_text("".join(g + "\n" for g in genes), encoding="utf-8")


def check_gene_names(genes, source) -> None:
    """Names that cannot live one per line are refused (tables reject empty and duplicate names)."""
    for g in genes:
        if not g or FORBIDDEN.search(g):
            raise InputError(source, f"gene name {g!r} is empty or holds a tab, line break or NUL",
                             "rename that gene column")


def gene_file_names(genes) -> Dict[str, str]:
    """An injective gene -> file stem map, also on file systems that ignore case."""
    out, used = {}, set()
    for g in genes:
        stem = g if PLAIN.fullmatch(g) and g.casefold() not in used else _hashed(g)
        k = 1
        while stem.casefold() in used:  # two names with one hash: practically never, but never a clash
            stem, k = f"{_hashed(g)}-{k}", k + 1
        used.add(stem.casefold())
        out[g] = stem
    return out


def _hashed(gene: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", gene)[:60].lstrip(".") or "gene"
    return f"{readable}~{hashlib.sha1(gene.encode('utf-8')).hexdigest()[:10]}"


def write_gene_files(path, mapping: Dict[str, str]) -> None:
    """The gene -> file stem table, as a two-column TSV with a header."""
    lines = ["gene\tfile\n"] + [f"{g}\t{stem}\n" for g, stem in mapping.items()]
    Path(path).write_text("".join(lines), encoding="utf-8")


def read_gene_files(path) -> Dict[str, str]:
    rows = Path(path).read_text(encoding="utf-8").split("\n")[1:]
    return dict(row.split("\t", 1) for row in rows if row)
