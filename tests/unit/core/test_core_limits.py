"""AWS's limits come from botocore's model (read on first use) and AWS's documented prose."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from ota_deploy.core import aws_model, limits


def test_rules_read_the_model_and_the_documented_limits() -> None:
    rule = limits.rules()
    assert rule.job_id_max == aws_model.shape("JobId").max == 64
    assert rule.stream_id_max == 128 and rule.thing_name_max == 128
    assert (rule.file_id_min, rule.file_id_max) == (0, 255)
    assert (rule.max_per_minute_min, rule.max_per_minute_max) == (1, 1000)
    assert (rule.base_rate_min, rule.base_rate_max) == (1, 1000)
    assert (rule.increment_factor_min, rule.increment_factor_max) == (Decimal("1.1"), 5)
    assert rule.threshold_max == 100 and (rule.expires_min, rule.expires_max) == (60, 3600)
    assert (rule.in_progress_timeout_min, rule.in_progress_timeout_max) == (1, 10080)
    assert rule.description_max == 2028 and rule.document_source_max == 1350
    assert rule.job_document_bytes_max == aws_model.documented("job_document_bytes_max")
    assert rule.job_targets_max == aws_model.documented("job_targets_max") == 100
    assert (rule.role_arn_min, rule.role_arn_max) == (20, 2048)
    assert set(rule.target_selections) == set(aws_model.shape("TargetSelection").enum)
    assert set(rule.failure_types) == set(aws_model.shape("JobExecutionFailureType").enum)
    assert rule.job_id_re.fullmatch("Job_1-a") and not rule.job_id_re.fullmatch("a b")
    assert limits.rules() is rule  # read once


def test_rules_are_read_through_rules_only() -> None:
    # the module-level constant names are gone: a misspelled rule is an AttributeError that
    # mypy reports, not a name a bridge resolves at run time
    assert limits.rules().job_id_max == 64 and limits.rules().stream_id_re.fullmatch("s-1")
    assert limits.rules().thing_name_re.pattern == "[a-zA-Z0-9:_-]+"
    assert not hasattr(limits, "JOB_ID_MAX") and not hasattr(limits, "STREAM_ID_RE")
    assert limits.check_stream_id("fw-1") is None
    assert "at most 128" in str(limits.check_stream_id("s" * 129))
    assert "characters AWS does not allow" in str(limits.check_stream_id("a b"))


def test_importing_the_config_and_plan_does_not_load_the_model() -> None:
    code = (
        "import ota_deploy.config.loader, ota_deploy.core.plan, ota_deploy.deploy.inputs\n"
        "from ota_deploy.core import aws_model\n"
        "print(aws_model.service_model.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
