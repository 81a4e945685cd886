"""9-mer peptides with their binding class to HLA-A*02:01, as predicted by netMHCpan-4.0 (the
data of Jessen's "Deep learning for cancer immunotherapy"), found offline through the registry.
Introduced in chapter 12.

The file is a table with a header: ``peptide`` (nine of the 20 amino acids), ``label_chr``
(NB, WB or SB), ``label_num`` (0, 1 or 2, the same class) and ``data_type`` (train or test).
`read` checks every row and names the file and line of the first one that is wrong.
"""

import numpy as np

from cnnbook.datasets import registry

AMINO_ACIDS = "ARNDCQEGHILKMFPSTWYV"  # the 20 standard amino acids, in BLOSUM62's order
LENGTH = 9  # residues per peptide
CLASSES = ("NB", "WB", "SB")  # non-binder, weak binder, strong binder: label_num 0, 1, 2
COLUMNS = ("peptide", "label_chr", "label_num", "data_type")
SPLITS = ("train", "test")


def _row_error(path, line, problem):
    return registry.DataFileError(
        f"{path}, line {line}: {problem}. The file was left in place: fix that row or replace "
        "the file with an unmodified copy."
    )


def _parse_row(path, line, text):
    """(peptide, class number, split) of one data row, or DataFileError naming file and line."""
    fields = text.rstrip("\r\n").split("\t")
    if len(fields) != len(COLUMNS):
        raise _row_error(
            path, line, f"{len(fields)} tab-separated fields, expected {len(COLUMNS)} {COLUMNS}"
        )
    peptide, label_chr, label_num, data_type = fields
    if len(peptide) != LENGTH:
        raise _row_error(
            path, line, f"peptide {peptide!r} has {len(peptide)} letters, expected {LENGTH}"
        )
    unknown = sorted(set(peptide) - set(AMINO_ACIDS))
    if unknown:
        raise _row_error(
            path,
            line,
            f"peptide {peptide!r} has {', '.join(map(repr, unknown))}, not one of the 20 amino "
            f"acids {AMINO_ACIDS}",
        )
    if label_chr not in CLASSES:
        raise _row_error(path, line, f"unknown class {label_chr!r}, expected one of {CLASSES}")
    if label_num != str(CLASSES.index(label_chr)):
        raise _row_error(
            path,
            line,
            f"label_num {label_num!r} does not match class {label_chr!r} "
            f"(expected {CLASSES.index(label_chr)})",
        )
    if data_type not in SPLITS:
        raise _row_error(path, line, f"data_type {data_type!r}, expected one of {SPLITS}")
    return peptide, CLASSES.index(label_chr), data_type


def read(path):
    """Read a peptide table: ((x_train, y_train), (x_test, y_test)), x as (n,) strings and y as
    (n,) class numbers (0 NB, 1 WB, 2 SB); DataFileError naming the line of a malformed row."""
    with open(path, encoding="utf-8") as stream:
        header = stream.readline().rstrip("\r\n").split("\t")
        if tuple(header) != COLUMNS:
            raise _row_error(path, 1, f"the header is {header}, expected {list(COLUMNS)}")
        rows = {split: ([], []) for split in SPLITS}
        for line, text in enumerate(stream, start=2):
            peptide, label, split = _parse_row(path, line, text)
            rows[split][0].append(peptide)
            rows[split][1].append(label)
    return tuple((np.array(x, dtype=str), np.array(y, dtype="int64")) for x, y in rows.values())


def load_data():
    """The peptides as ((x_train, y_train), (x_test, y_test)), with the data's own split
    (21,384 / 2,376): x holds 9-letter strings, y class numbers (0 NB, 1 WB, 2 SB)."""
    return read(registry.path("peptides"))
