"""The join data copied to other regions: level-triggered, every region tried, a failure
raised after the others (burst.loop.replicate), over in-memory JoinStores."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from burst.core.errors import AwsError, ConfigError
from burst.loop.config import CONFIG_VAR, load
from burst.loop.replicate import Region, replicate
from burst.ports.aws import JoinData

PARAMETER = "/fpga-burst/onprem/join"
DATA = JoinData("10.8.0.1:6443", "abcdef.0123456789abcdef", ("sha256:00",),
                datetime(2026, 12, 2, 6, 0, tzinfo=UTC))


@dataclass
class Store:
    """One region's parameter store; `broken` makes every call fail as KMS would."""

    values: dict[str, JoinData] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)  # the key each write used
    broken: bool = False

    def read_join_data(self, name: str) -> JoinData | None:
        if self.broken:
            raise AwsError("GetParameter", "AccessDeniedException", "no key")
        return self.values.get(name)

    def publish_join_data(self, name: str, data: JoinData, kms_key_id: str) -> None:
        self.values[name] = data
        self.writes.append(kms_key_id)


def test_a_region_without_the_data_gets_it_under_its_key_and_a_current_one_is_left() -> None:
    home, london, sydney = Store({PARAMETER: DATA}), Store(), Store({PARAMETER: DATA})
    outcome = replicate(home, PARAMETER, {"eu-west-2": Region(london, "alias/lon"),
                                          "ap-southeast-2": Region(sydney, "alias/syd")})
    assert outcome == {"ap-southeast-2": "up to date", "eu-west-2": "published"}
    assert london.values[PARAMETER] == DATA and london.writes == ["alias/lon"]
    assert sydney.writes == []


def test_stale_data_is_overwritten_and_nothing_is_copied_before_home_has_data() -> None:
    stale = JoinData(DATA.endpoint, "zzzzzz.0123456789abcdef", DATA.ca_cert_hashes,
                     DATA.expiration)
    london = Store({PARAMETER: stale})
    assert replicate(Store({PARAMETER: DATA}), PARAMETER,
                     {"eu-west-2": Region(london, "k")}) == {"eu-west-2": "published"}
    assert london.values[PARAMETER] == DATA
    assert replicate(Store(), PARAMETER, {"eu-west-2": Region(Store(), "k")}) == {
        "eu-west-2": "nothing to copy"}


def test_a_failing_region_does_not_stop_the_others_and_its_error_is_raised() -> None:
    home, broken, sydney = Store({PARAMETER: DATA}), Store(broken=True), Store()
    with pytest.raises(AwsError, match="AccessDeniedException"):
        replicate(home, PARAMETER, {"ap-northeast-1": Region(broken, "k"),
                                    "ap-southeast-2": Region(sydney, "k")})
    assert sydney.values[PARAMETER] == DATA


def _runtime(regions: Any) -> dict[str, str]:
    return {"FPGA_BURST_CLUSTER_NAME": "onprem", CONFIG_VAR: json.dumps({"regions": regions})}


def test_the_functions_read_the_other_regions_and_their_keys() -> None:
    cfg = load(_runtime({"eu-west-2": {"join_key_id": "alias/x"}}))
    assert cfg.regions == {"eu-west-2": "alias/x"}
    assert load({"FPGA_BURST_CLUSTER_NAME": "onprem"}).regions == {}


@pytest.mark.parametrize(
    ("regions", "field"),
    [
        pytest.param({"eu-west-9": {"join_key_id": "k"}}, "regions.eu-west-9", id="unknown"),
        pytest.param({"eu-west-2": {}}, "regions.eu-west-2.join_key_id", id="no-key"),
        pytest.param({"eu-west-2": {"join_key_id": "k", "vpc": "x"}}, "regions.eu-west-2.vpc",
                     id="unknown-setting"),
        pytest.param({"eu-west-2": "k"}, "regions.eu-west-2", id="not-an-object"),
    ],
)
def test_a_bad_regions_section_names_the_field(regions: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(_runtime(regions))
    assert caught.value.field == field
