"""Secrets never leave the environment: a run that fails to deliver names the channel, not its token."""

from __future__ import annotations

import pytest
from conftest import recent_days
from test_alerts_asset import check, metadata, write_metrics

from spd_assets.definitions import build_defs

TOKEN = "T0KEN-b3c9f1d2e8a7"


def everything_the_run_recorded(instance, result) -> str:
    run = instance.get_run_by_id(result.run_id)
    records = instance.all_logs(result.run_id)
    return "\n".join([str(run.run_config), str(run.tags), *(repr(r) for r in records)])


@pytest.mark.parametrize("answer", ["500", "refused"])
def test_a_failed_delivery_never_prints_the_webhook_token(
    answer, settings, instance, httpserver_ipv4, monkeypatch, capfd
) -> None:
    if answer == "500":
        httpserver_ipv4.expect_request(f"/services/{TOKEN}").respond_with_data("boom", status=500)
        url = httpserver_ipv4.url_for(f"/services/{TOKEN}")
    else:
        url = f"http://127.0.0.1:9/services/{TOKEN}"  # the discard port: nothing listens there
    monkeypatch.setenv("SPD_WEBHOOK_URL", url)
    monkeypatch.setenv("SPD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SPD_SMTP_PORT", "9")
    monkeypatch.setenv("SPD_SMTP_TO", "team@example.com")
    monkeypatch.setenv("SPD_SMTP_USER", "spd")
    monkeypatch.setenv("SPD_SMTP_PASSWORD", TOKEN + "-pw")
    days = recent_days(70)
    write_metrics(settings.data_dir, days, {("SKU-A", days[-1]): 0.5})

    result = check(days[-1], build_defs(settings), instance)

    assert result.success  # a channel down never fails the pipeline
    sent = metadata(result)["sent"]
    assert sent["webhook"] == 0 and sent["email"] == 0 and sent["log"] > 0
    recorded = everything_the_run_recorded(instance, result) + "".join(capfd.readouterr())
    reason = "webhook answered HTTP 500" if answer == "500" else "webhook unreachable"
    assert reason in recorded and "email via 127.0.0.1:9 failed" in recorded  # the failure is reported...
    assert TOKEN not in recorded  # ...without the URL's token or the SMTP password
