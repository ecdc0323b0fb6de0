"""burst.adapters.yamlload: libyaml's loader when present, the pure-Python one's answers."""

from __future__ import annotations

import pytest
import yaml

from burst.adapters import yamlload

DOCUMENT = """\
pods:
  - {name: ml/a, requests: {xilinx/aws-vu9p-f1: 2}, node_selector: {zone: "1"}}
  - name: ml/b
    accelerators: {com.inaccel.xgboost.exact: 3}
    tolerations: [{key: k, operator: Exists}]
policy: {max_boards: 8, max_price_per_hour: 12.5, expanders: [priority, price]}
flags: [yes, no, true, ~, 0x10, 1_000, 2026-01-01]
"""


def test_the_c_loader_is_used_where_pyyaml_has_it() -> None:
    assert yamlload.Loader is (yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)


def test_documents_read_as_the_pure_python_safe_loader_reads_them() -> None:
    assert yamlload.load(DOCUMENT) == yaml.safe_load(DOCUMENT)
    assert yamlload.load_all(f"{DOCUMENT}---\n---\na: 1\n") == list(
        yaml.safe_load_all(f"{DOCUMENT}---\n---\na: 1\n")
    )


@pytest.mark.parametrize("text", ["pods: [", "a: 1\n  b: 2\n", "a: [1, 2\nb: 3\n"])
def test_bad_yaml_fails_as_the_pure_python_loader_fails(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError) as got:
        yamlload.load(text)
    assert str(got.value) == str(expected.value)
    with pytest.raises(yaml.YAMLError) as got_all:
        yamlload.load_all(text)
    assert str(got_all.value) == str(expected.value)
