"""Card-entry failure rate and change point."""

from __future__ import annotations

from forensics.detectors import payment

from . import scenario as S
from .frames import access, ts


def test_entries_and_rate():
    e = payment.card_entries(S.ACCESS)
    assert e.height == 5 and e["failed"].sum() == 3
    r = payment.failure_rate(e, "1d")
    assert r["rate"].to_list() == [0.0, 0.0, 1.0]


def test_change_point():
    cp = payment.failure_change_point(payment.card_entries(S.ACCESS))
    assert cp["ts"] == ts("2018-05-05 06:00:00")
    assert (cp["n_before"], cp["n_after"], cp["rate_before"], cp["rate_after"]) == (2, 3, 0.0, 1.0)


def test_change_point_with_noise():
    rows = []
    for i in range(40):
        status = 200 if i in (5, 17) or i >= 30 else 302
        rows.append({"ts": f"2018-05-01 {i // 4:02d}:{(i % 4) * 15:02d}:00", "client_ip": "1.1.1.1", "method": "POST",
                     "target": "/shopping/load_payment_module.php", "status": status})
    cp = payment.failure_change_point(payment.card_entries(access(rows)))
    assert cp["n_before"] == 30


def test_no_failures_no_change_point():
    rows = [{"ts": "2018-05-01 00:00:00", "client_ip": "1.1.1.1", "method": "POST", "target": "/shopping/load_payment_module.php", "status": 302}]
    assert payment.failure_change_point(payment.card_entries(access(rows))) is None
    assert payment.failure_change_point(payment.card_entries(access(rows).head(0))) is None
