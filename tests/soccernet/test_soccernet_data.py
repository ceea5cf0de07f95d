"""SoccerNet data acquisition: the real SoccerNet + huggingface_hub code against a local Hub.

Downloads run in a subprocess (the Hub client reads HF_ENDPOINT when imported) and talk to
``hub_server.HubServer``, which records what the client asked for.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hub_server import HubServer, Request, run_python

from colab_utils.calibration.annotations import verify_calibration_split
from colab_utils.soccernet.archives import CorruptArchiveError, UnsafeArchiveError, extract_zip
from colab_utils.soccernet.download import download_task

REPO = "SoccerNet/SN-Calibration-2023"
SAMPLE_CLASSES = (
    "Side line top",
    "Middle line",
    "Circle central",
    "Goal left post left ",
    "Big rect. left top",
)

PREPARE = """
import json, sys
from pathlib import Path
from colab_utils.calibration.annotations import prepare_calibration
try:
    reports = prepare_calibration(Path(sys.argv[1]), sys.argv[2].split(","))
    print("RESULT " + json.dumps({split: len(report.pairs) for split, report in reports.items()}))
except Exception as err:
    kind = next(c.__name__ for c in type(err).__mro__ if c.__module__ == "builtins")  # e.g. PermissionError
    print("ERROR " + json.dumps([kind, str(err)]))
"""

DOWNLOAD = """
import json, sys
from pathlib import Path
from colab_utils.soccernet.download import download_task
try:
    zips = download_task(sys.argv[1], sys.argv[2].split(","), Path(sys.argv[3]))
    print("RESULT " + json.dumps({split: str(path) for split, path in zips.items()}))
except Exception as err:
    kind = next(c.__name__ for c in type(err).__mro__ if c.__module__ == "builtins")  # e.g. PermissionError
    print("ERROR " + json.dumps([kind, str(err)]))
"""


def make_calibration_dataset(
    root: Path, splits: dict[str, int], seed: int = 0, image_noise: bool = False
) -> None:
    """Write ``root/calibration-2023/<split>.zip`` the way SoccerNet packs calibration-2023.

    Same call as ``colab_utils.calibration.synthetic.generate_calibration_dataset``: once
    that lands, the ``calibration_repo`` fixture switches to it by changing one line.
    ``image_noise`` makes big, incompressible images, for a zip larger than the client's 10 MiB
    download chunk (only then does a cut connection resume with a Range request).
    """
    rng = np.random.default_rng(seed)
    folder = root / "calibration-2023"
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in splits.items():
        with zipfile.ZipFile(folder / f"{split}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for index in range(count):
                shape = (540, 960, 3) if image_noise else (90, 160, 3)
                image = rng.integers(0, 256, shape, dtype=np.uint8)
                jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes()
                archive.writestr(f"{split}/{index:05d}.jpg", jpeg)
                archive.writestr(f"{split}/{index:05d}.json", json.dumps(_annotation(rng)))
            archive.writestr(f"{split}/per_match_info.json", json.dumps({"match": {"stadium": "x"}}))


def _annotation(rng: np.random.Generator) -> dict[str, list[dict[str, float]]]:
    names = rng.choice(SAMPLE_CLASSES, size=3, replace=False)
    return {str(n): [{"x": float(x), "y": float(y)} for x, y in rng.uniform(0, 1, (2, 2))] for n in names}


def _repo_files(root: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (root / "calibration-2023").glob("*.zip")}


def _run(code: str, hub: HubServer, tmp_path: Path, *args: str) -> tuple[dict | None, list | None, str]:
    done = run_python(code, hub.endpoint, tmp_path / "hf_home", *args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    result = [json.loads(line[7:]) for line in lines if line.startswith("RESULT ")]
    error = [json.loads(line[6:]) for line in lines if line.startswith("ERROR ")]
    return (result or [None])[0], (error or [None])[0], done.stdout + done.stderr


def _file_of(request: Request) -> str:
    return request.path.rsplit("/", 1)[-1]


def _tree_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def calibration_repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A hosted calibration-2023: train (5 pairs), valid (3) and a test zip nobody asks for."""
    source = tmp_path_factory.mktemp("source")
    make_calibration_dataset(source, {"train": 5, "valid": 3, "test": 2}, seed=1)
    return _repo_files(source)


def test_prepare_downloads_extracts_verifies_then_reruns_for_free(calibration_repo, tmp_path):
    data = tmp_path / "data"
    with HubServer({REPO: calibration_repo}) as hub:
        result, error, output = _run(PREPARE, hub, tmp_path, str(data), "train,valid")
        assert error is None, output
        assert result == {"train": 5, "valid": 3}
        assert sorted(hub.kinds()) == ["get", "get", "head", "head", "revision", "tree"]
        assert {_file_of(r) for r in hub.requests if r.kind == "get"} == {"train.zip", "valid.zip"}
        assert not any(r.authorization for r in hub.requests)
        assert sorted(p.name for p in (data / "calibration-2023" / "train").iterdir()) == sorted(
            [f"{i:05d}.{ext}" for i in range(5) for ext in ("jpg", "json")] + ["per_match_info.json"]
        )
        zips = data / "zips" / "calibration-2023"
        assert (zips / "valid.zip").read_bytes() == calibration_repo["valid.zip"]

        extracted = _tree_state(data / "calibration-2023")
        stale = zips / ".cache" / "huggingface" / "download" / "abc.0123.deadbeef.incomplete"
        stale.write_bytes(b"x" * 1000)
        hub.clear()
        result, error, output = _run(PREPARE, hub, tmp_path, str(data), "train,valid")
        assert (result, error) == ({"train": 5, "valid": 3}, None)
        assert hub.kinds() == ["revision"]
        assert _tree_state(data / "calibration-2023") == extracted
        assert "nothing downloaded, nothing extracted" in output
        assert not stale.exists()

        # A zip cut short behind the Hub client's back (e.g. a Drive copy with its original time):
        # the client trusts it, so only our check can notice.
        original = (zips / "train.zip").stat()
        (zips / "train.zip").write_bytes(calibration_repo["train.zip"][:-100])
        os.utime(zips / "train.zip", ns=(original.st_atime_ns, original.st_mtime_ns))
        hub.clear()
        result, error, output = _run(PREPARE, hub, tmp_path, str(data), "train,valid")
        assert (result, error) == ({"train": 5, "valid": 3}, None)
        assert "Removed damaged" in output
        assert [(r.kind, _file_of(r)) for r in hub.requests if r.kind != "revision"] == [
            ("head", "train.zip"),
            ("get", "train.zip"),
        ]
        assert (zips / "train.zip").read_bytes() == calibration_repo["train.zip"]
        assert _tree_state(data / "calibration-2023") == extracted

    # The Hub is gone (server closed): complete zips are enough to carry on.
    result, error, output = _run(PREPARE, hub, tmp_path, str(data), "train,valid")
    assert (result, error) == ({"train": 5, "valid": 3}, None), output
    assert "nothing downloaded, nothing extracted" in output


@pytest.mark.parametrize(
    ("status", "error_code", "expected"),
    [(401, None, "wants a login"), (403, "GatedRepo", "is gated"), (403, None, "refused access")],
)
def test_refused_access_says_how_to_get_it(calibration_repo, tmp_path, status, error_code, expected):
    with HubServer({REPO: calibration_repo}) as hub:
        hub.fail_with(status, error_code)
        _, error, output = _run(DOWNLOAD, hub, tmp_path, "calibration-2023", "train", str(tmp_path / "zips"))
    assert error is not None, output
    kind, message = error
    assert kind == "PermissionError"
    assert expected in message and "HF_TOKEN" in message
    assert f"https://huggingface.co/datasets/{REPO}" in message


def test_download_cut_for_good_is_safe_to_rerun(calibration_repo, tmp_path):
    zips = tmp_path / "zips"
    with HubServer({REPO: calibration_repo}) as hub:
        hub.cut_downloads(after_bytes=200, filename="valid.zip")
        _, error, output = _run(DOWNLOAD, hub, tmp_path, "calibration-2023", "train,valid", str(zips))
        assert error is not None, output
        assert error[0] == "ConnectionError"
        assert "safe to run this cell again" in error[1]
        assert (zips / "calibration-2023" / "train.zip").read_bytes() == calibration_repo["train.zip"]
        assert not (zips / "calibration-2023" / "valid.zip").exists()

        hub.heal()
        hub.clear()
        result, error, output = _run(DOWNLOAD, hub, tmp_path, "calibration-2023", "train,valid", str(zips))
        assert error is None, output
        assert [_file_of(r) for r in hub.requests if r.kind in ("head", "get")] == [
            "valid.zip",
            "valid.zip",
        ]
        assert Path(result["valid"]).read_bytes() == calibration_repo["valid.zip"]


def test_connection_cut_once_is_resumed_with_a_range_request(tmp_path):
    source = tmp_path / "source"
    make_calibration_dataset(source, {"train": 11}, image_noise=True)
    files = _repo_files(source)
    assert len(files["train.zip"]) > 10 * 2**20 + 1000
    with HubServer({REPO: files}) as hub:
        hub.cut_downloads(after_bytes=10 * 2**20 + 1000, filename="train.zip", times=1)
        result, error, output = _run(DOWNLOAD, hub, tmp_path, "calibration-2023", "train", str(tmp_path))
    assert error is None, output
    ranges = [r.range for r in hub.requests if r.kind == "get"]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    assert Path(result["train"]).read_bytes() == files["train.zip"]


def test_missing_file_on_the_hub_is_reported(calibration_repo, tmp_path):
    hosted = {name: data for name, data in calibration_repo.items() if name != "valid.zip"}
    with HubServer({REPO: hosted}) as hub:
        _, error, output = _run(DOWNLOAD, hub, tmp_path, "calibration-2023", "train,valid", str(tmp_path))
    assert error is not None, output
    assert error[0] == "FileNotFoundError"
    assert "valid.zip" in error[1] and REPO in error[1]


def test_camera_calibration_is_refused_with_the_right_name(tmp_path):
    with pytest.raises(ValueError, match="Use 'calibration-2023'") as raised:
        download_task("camera-calibration", ["train"], tmp_path)
    assert "tracking-2023" in str(raised.value)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("task", "split", "names"),
    [
        ("calibration-2023", "validation", ["Did you mean 'valid'", "train, valid, test, challenge"]),
        ("tracking-2023", "valid", ["Valid splits: train, test, challenge"]),
    ],
)
def test_unknown_split_lists_the_valid_ones(tmp_path, task, split, names):
    with pytest.raises(ValueError) as raised:
        download_task(task, ["train", split], tmp_path)
    for name in names:
        assert name in str(raised.value)


def _zip_with(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("layout", ["split folder", "flat"])
def test_extract_puts_files_under_the_split_and_reuses_them(tmp_path, layout):
    prefix = "train/" if layout == "split folder" else ""
    members = {f"{prefix}00000.jpg": b"a" * 300, f"{prefix}00000.json": b"{}", f"{prefix}sub/x.txt": b"x"}
    archive = _zip_with(tmp_path / "train.zip", members)
    target = tmp_path / "out"

    first = extract_zip(archive, target)
    assert (first.extracted, first.reused) == (3, 0)
    assert (target / "train" / "00000.jpg").read_bytes() == b"a" * 300
    assert (target / "train" / "sub" / "x.txt").read_bytes() == b"x"

    (target / "train" / "00000.jpg").write_bytes(b"a" * 120)  # cut short by an earlier, killed run
    again = extract_zip(archive, target)
    assert (again.extracted, again.reused) == (1, 2)
    assert (target / "train" / "00000.jpg").read_bytes() == b"a" * 300
    assert sorted(p.name for p in (target / "train").iterdir()) == ["00000.jpg", "00000.json", "sub"]


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "flipped byte, stored"])
def test_damaged_zip_says_delete_and_run_again(tmp_path, damage):
    compression = zipfile.ZIP_STORED if "stored" in damage else zipfile.ZIP_DEFLATED
    payload = np.random.default_rng(0).integers(0, 4, 50_000, dtype=np.uint8).tobytes()
    archive = _zip_with(tmp_path / "valid.zip", {"valid/00000.jpg": payload}, compression)
    data = bytearray(archive.read_bytes())
    if damage == "truncated":
        del data[len(data) // 2 :]
    else:
        data[len(data) // 3] ^= 0xFF
    archive.write_bytes(bytes(data))

    with pytest.raises(CorruptArchiveError) as raised:
        extract_zip(archive, tmp_path / "out")
    message = str(raised.value)
    assert str(archive) in message and "Delete it" in message and "run this cell again" in message
    assert not (tmp_path / "out" / "valid" / "00000.jpg").exists()


@pytest.mark.parametrize("evil", ["../evil.txt", "train/../../evil.txt", "/tmp/colab_utils_evil.txt", "link"])
def test_escaping_members_are_refused_before_anything_is_written(tmp_path, evil):
    archive_path = tmp_path / "train.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("train/00000.json", "{}")
        if evil == "link":
            info = zipfile.ZipInfo("train/link")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
        else:
            archive.writestr(evil, "pwned")
    target = tmp_path / "deep" / "out"

    with pytest.raises(UnsafeArchiveError) as raised:
        extract_zip(archive_path, target)
    assert str(archive_path) in str(raised.value)
    assert ("train/link" if evil == "link" else evil) in str(raised.value)
    assert not target.exists()
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()
    assert not Path("/tmp/colab_utils_evil.txt").exists()


def test_verify_counts_and_skips_what_cannot_be_trained_on(tmp_path):
    split = tmp_path / "valid"
    split.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (54, 96, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", noise)[1].tobytes()
    good = {"Side line top": [{"x": 0.1, "y": 0.2}, {"x": 0.9, "y": 0.25}], "Goal left post left ": []}

    def pair(stem: str, annotation: object | None, image: bytes | None = jpeg) -> None:
        if image is not None:
            (split / f"{stem}.jpg").write_bytes(image)
        if annotation is not None:
            text = annotation if isinstance(annotation, str) else json.dumps(annotation)
            (split / f"{stem}.json").write_text(text)

    for stem in ("00000", "00001", "00002"):
        pair(stem, good)
    pair("00003", {**good, "Goal unknown": [{"x": 0.5, "y": 0.5}], "Line unknown": []})
    pair("00004", '{"Side line top": [{"x": 0.1')
    pair("00005", {"Side line top": [{"x": 0.1}]})
    pair("00006", ["not", "a", "dict"])
    pair("00007", {**good, "Goal left post left": [{"x": 0.1, "y": 0.1}]})  # gamestate-2024's spelling
    pair("00008", {"Penalty spot": [{"x": 0.1, "y": 0.1}], "Goal left post left": []})
    pair("00009", good, image=b"not an image at all")
    pair("00010", good, image=jpeg[: len(jpeg) * 3 // 4])  # OpenCV decodes this, greying the rest
    pair("00011", None)
    pair("00012", good, image=None)
    (split / "per_match_info.json").write_text("{not json, and skipped because of its name")

    report = verify_calibration_split(split)

    assert [image.stem for image, _ in report.pairs] == ["00000", "00001", "00002", "00003", "00007"]
    assert [p.stem for p in report.corrupt_json] == ["00004"]
    assert [p.stem for p in report.malformed_json] == ["00005", "00006"]
    assert [p.stem for p in report.unknown_class_files] == ["00008"]
    assert report.unknown_classes == {"Penalty spot": 1}
    assert [p.stem for p in report.unreadable_images] == ["00009", "00010"]
    assert [p.stem for p in report.unlabelled] == ["00011"]
    assert [p.stem for p in report.json_without_image] == ["00012"]
    assert report.ignored_classes == {"Goal unknown": 1, "Line unknown": 1}
    assert report.summary().startswith(
        "valid: 5 pairs, 1 corrupt JSON skipped, 2 malformed JSON skipped, 1 JSON with unknown classes "
        "skipped, 2 unreadable image(s) skipped, 1 JSON without image skipped, 1 unlabelled image(s)"
    )
