"""The notebooks of notebooks/ run end to end: each one asserts what matters in its own cells
(the looked-up kernel equals NumPy, the cost model ranks better than chance, the job tuned every
workload), and any cell that raises fails the test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["quickstart", "cost_model", "fleet_results"]
# one after another: two of them start a local Ray, and CI has two cores
pytestmark = pytest.mark.xdist_group("notebooks")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path, monkeypatch):
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    # The kernel inherits this environment: the notebooks' temporary directories go under
    # tmp_path, Ray's stay where they were (its socket paths have a length limit).
    monkeypatch.setenv("RAY_TMPDIR", os.environ.get("RAY_TMPDIR") or tempfile.gettempdir())
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on 127.0.0.1 only
    monkeypatch.delenv("RAY_ADDRESS", raising=False)  # the fleet notebook runs its job here
    client = nbclient.NotebookClient(
        book,
        kernel_name="python3",  # jupyter_client runs it on this interpreter (sys.executable)
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOKS)}},  # the cwd, as in Jupyter
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{name}.ipynb: {e}", pytrace=False)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name):
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(book)
    dirty = [i for i, c in enumerate(book.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]  # fmt: skip
    assert not dirty, (
        f"{name}.ipynb has outputs in cells {dirty}: clear them before committing "
        "(Jupyter: Edit > Clear Outputs of All Cells)"
    )
