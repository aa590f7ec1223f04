"""Variant checkpoint folders are valid names on every file system, Windows' included."""

from __future__ import annotations

from kgtransfer.transfer.compare import run_folders


def test_windows_device_names_and_long_labels_get_a_digest():
    """``aux`` (an auxiliary-loss variant, say) is a device on Windows: the folder could not be made there."""
    labels = ["aux", "CON", "nul.v2", "com1", "Lpt9", "x" * 300, "auxiliary", "console"]
    folders = run_folders(labels)
    for label in ("aux", "CON", "nul.v2", "com1", "Lpt9"):
        assert folders[label] != label
        stem = folders[label].split(".")[0].lower()
        assert stem not in {
            "con",
            "prn",
            "aux",
            "nul",
            *(f"com{i}" for i in range(10)),
            *(f"lpt{i}" for i in range(10)),
        }
    assert len(folders["x" * 300]) <= 80 and folders["x" * 300] != run_folders(["x" * 301])["x" * 301]
    assert folders["auxiliary"] == "auxiliary" and folders["console"] == "console"
    assert len(set(folders.values())) == len(labels)


def test_a_label_that_ends_in_a_dot_gets_a_digest():
    """Windows drops a trailing dot: ``full.`` was its own folder, which is ``full``'s there."""
    folders = run_folders(["full", "full.", "v2..", "a.b"])
    assert folders["full"] == "full" and folders["a.b"] == "a.b"
    for label in ("full.", "v2.."):
        assert not folders[label].endswith(".") and folders[label].rstrip(".").lower() != label.rstrip(".").lower()
    assert len({f.rstrip(".").lower() for f in folders.values()}) == len(folders)
