"""Go/No-Go changes become webhook messages only when settled, and only from one dashboard."""

from datetime import datetime, timedelta, timezone

from launchdeck.core.model import Reading, Status, Verdict
from launchdeck.engine.announce import Announcer, SpeakerLock

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def verdict(*statuses: Status) -> Verdict:
    return Verdict.from_readings([Reading("services", f"s{i}", status, f"reason {i}", {}, T0, 0.0)
                                  for i, status in enumerate(statuses)])


def announcer(tmp_path, hold=30.0) -> Announcer:
    return Announcer("shop", "production", hold, SpeakerLock(tmp_path / "ledger.jsonl.notify.lock"))


def test_the_first_complete_verdict_is_the_baseline_and_a_short_flap_is_not_news(tmp_path):
    speaker = announcer(tmp_path)
    assert speaker.observe(verdict(Status.CRIT), complete=False, now=T0) is None, "not every target read yet"
    text, fields = speaker.observe(verdict(Status.OK), complete=True, now=T0)
    assert text == "shop (production): watching: GO" and fields["previous"] is None
    assert speaker.observe(verdict(Status.CRIT), True, T0 + timedelta(seconds=1)) is None  # pending
    assert speaker.observe(verdict(Status.OK), True, T0 + timedelta(seconds=20)) is None  # back: a flap
    assert speaker.observe(verdict(Status.CRIT), True, T0 + timedelta(seconds=40)) is None  # pending again
    text, fields = speaker.observe(verdict(Status.CRIT, Status.OK), True, T0 + timedelta(seconds=71))
    assert text.startswith("shop (production): GO → NO-GO\n• services/s0 crit: reason 0")
    assert fields["verdict"] == "no-go" and fields["previous"] == "go" and fields["status"] == "crit"
    assert speaker.observe(verdict(Status.CRIT), True, T0 + timedelta(seconds=200)) is None, "said once"


def test_only_the_dashboard_holding_the_lock_speaks_and_the_next_one_takes_over(tmp_path):
    first, second = announcer(tmp_path, hold=0), announcer(tmp_path, hold=0)
    assert first.observe(verdict(Status.OK), True, T0) is not None
    assert second.observe(verdict(Status.OK), True, T0) is None, "two dashboards, one message"
    first.lock.release()  # its process ended
    assert second.observe(verdict(Status.WARN), True, T0 + timedelta(seconds=1)) is not None


def test_a_directory_where_the_lock_should_be_keeps_it_quiet_not_crashing(tmp_path):
    (tmp_path / "ledger.jsonl.notify.lock").mkdir()
    assert announcer(tmp_path, hold=0).observe(verdict(Status.OK), True, T0) is None


def test_many_reasons_are_cut_to_three_with_a_count(tmp_path):
    text, fields = announcer(tmp_path).observe(verdict(*[Status.CRIT] * 5), True, T0)
    assert text.count("\n• ") == 3 and text.endswith("(+2 more)") and len(fields["reasons"]) == 5
