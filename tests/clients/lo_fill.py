"""Fill cells of a workbook in real LibreOffice and save it as .xlsx (or .ods, .xls, by the target's
suffix), as a leader would.

Run with the system Python that has LibreOffice's UNO bridge (Debian: python3-uno), not the project's
venv:  /usr/bin/python3 lo_fill.py IN.xlsx OUT.xlsx FILLS.json
FILLS maps a defined name to [kind, value], kind being "string", "formula" or "value". Cells are found
through the workbook's defined names, so this also proves LibreOffice keeps them on load.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException


def prop(name, value):
    item = PropertyValue()
    item.Name, item.Value = name, value
    return item


def main(source, target, fills_path):
    with open(fills_path, encoding="utf-8") as handle:
        fills = json.load(handle)
    profile = tempfile.mkdtemp(prefix="clb-lo-profile-")
    pipe = f"clb-{os.getpid()}"
    office = subprocess.Popen(
        [
            "soffice",
            "--headless",
            "--invisible",
            "--nologo",
            "--norestore",
            "--nodefault",
            f"-env:UserInstallation=file://{profile}",
            f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        for _ in range(240):
            try:
                context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except NoConnectException:
                time.sleep(0.25)
        else:
            raise SystemExit("LibreOffice did not start within 60 s")
        desktop = context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        document = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(os.path.abspath(source)), "_blank", 0, (prop("Hidden", True),)
        )
        names = document.NamedRanges
        for name, (kind, value) in fills.items():
            cell = names.getByName(name).getReferredCells().getCellByPosition(0, 0)
            if kind == "string":
                cell.setString(value)
            elif kind == "formula":
                cell.setFormula(value)
            else:
                cell.setValue(value)
        document.calculateAll()
        filters = {".ods": "calc8", ".xls": "MS Excel 97"}
        kind = filters.get(os.path.splitext(target)[1].lower(), "Calc MS Excel 2007 XML")
        document.storeToURL(uno.systemPathToFileUrl(os.path.abspath(target)), (prop("FilterName", kind),))
        document.close(True)
    finally:
        office.terminate()
        try:
            office.wait(timeout=20)
        except subprocess.TimeoutExpired:
            office.kill()
        subprocess.run(["rm", "-rf", profile], check=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
