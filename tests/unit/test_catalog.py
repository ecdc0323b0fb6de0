"""Instance table, board resource names and the bitstream repository import."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from burst.core.catalog import F1_BOARD, INSTANCE_TYPES, board_resource
from burst.tools.bitstreams import import_bitstreams
from burst.tools.cli import main

SAMPLE = Path(__file__).parents[1] / "data" / "bitstreams" / "math-vector-spec" / "bitstream.json"


@pytest.mark.parametrize(
    ("name", "boards", "price"),
    [
        ("f1.2xlarge", 1, 1.65),
        ("f1.4xlarge", 2, 3.30),
        ("f1.16xlarge", 8, 13.20),
        ("f2.6xlarge", 1, 1.98),
        ("f2.12xlarge", 2, 3.96),
        ("f2.48xlarge", 8, 15.84),
    ],
)
def test_builtin_instance_table_has_boards_and_prices(name: str, boards: int, price: float) -> None:
    assert sum(INSTANCE_TYPES[name].boards.values()) == boards
    assert INSTANCE_TYPES[name].price_per_hour == pytest.approx(price)


@pytest.mark.parametrize(
    ("vendor", "platform", "resource"),
    [
        ("xilinx", "aws-vu9p-f1-04261818", F1_BOARD),
        ("xilinx", "aws-vu9p-f1", F1_BOARD),
        ("Xilinx", "u250", "xilinx/u250"),
        ("xilinx", "u280-xdma-201920_3", "xilinx/u280-xdma-201920_3"),
    ],
)
def test_platform_names_map_to_the_resource_nodes_advertise(
    vendor: str, platform: str, resource: str
) -> None:
    assert board_resource(vendor, platform) == resource


def _write(root: Path, name: str, doc: object) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "bitstream.json").write_text(json.dumps(doc))


def _bitstream(
    bitstream_id: str, platform: str, kernels: list[tuple[str, object]]
) -> dict[str, object]:
    return {
        "bitstreamId": bitstream_id,
        "platform": {"vendor": "xilinx", "name": platform},
        "kernels": [{"kernelId": k, "name": n} for k, n in kernels],
    }


def test_import_counts_kernels_per_id_and_accepts_string_or_list_names(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "f1",
        _bitstream(
            "com.inaccel.xgboost", "aws-vu9p-f1-04261818", [("exact", "k0"), ("exact", ["k1"])]
        ),
    )
    _write(tmp_path, "u250", _bitstream("com.inaccel.xgboost", "u250", [("exact", "k")] * 4))
    result = import_bitstreams(tmp_path)
    assert result.problems == ()
    assert result.accelerators == {"com.inaccel.xgboost.exact": {F1_BOARD: 2, "xilinx/u250": 4}}


def test_import_reports_bad_files_by_path_and_keeps_the_good_ones(tmp_path: Path) -> None:
    _write(tmp_path, "good", _bitstream("a", "u280", [("k", "x")]))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "bitstream.json").write_text("{not json")
    _write(tmp_path, "nokernels", {"bitstreamId": "b", "platform": {"vendor": "x", "name": "y"}})
    shutil.copytree(SAMPLE.parent, tmp_path / "doc-sample")
    result = import_bitstreams(tmp_path)
    assert result.accelerators == {"a.k": {"xilinx/u280": 1}}
    problems = {p.path.parent.name: p.problem for p in result.problems}
    assert set(problems) == {"broken", "nokernels", "doc-sample"}
    assert "kernels" in problems["nokernels"]
    assert "not a valid resource name" in problems["doc-sample"]  # its platform is a placeholder


def test_cli_catalog_import_prints_a_scenario_catalog_and_names_skipped_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(
        tmp_path,
        "ok",
        _bitstream(
            "com.inaccel.math.vector",
            "aws-vu9p-f1-04261818",
            [("addition", ["a0"]), ("addition", ["a1"]), ("subtraction", "s")],
        ),
    )
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bitstream.json").write_text("[]")
    assert main(["catalog", "import", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out) == {
        "catalog": {
            "accelerators": {
                "com.inaccel.math.vector.addition": {F1_BOARD: 2},
                "com.inaccel.math.vector.subtraction": {F1_BOARD: 1},
            }
        }
    }
    assert f"{tmp_path / 'bad' / 'bitstream.json'}: not a JSON object" in err
