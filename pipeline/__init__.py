"""clb: the CLB0.01 collaborative-leadership self-assessment, run across a partnership."""

import os

# lxml is here for the guard and the fast reader (a form's sheets parse and check in C). openpyxl would
# switch its own reading and writing to lxml when it finds it installed, changing the bytes of every
# workbook we write and the parser behind the reference reader; it keeps its standard-library path,
# the one checked against LibreOffice, Gnumeric and defusedxml, while this is set before it is imported.
os.environ.setdefault("OPENPYXL_LXML", "False")
