from launchdeck.core.redact import MASK, Scrubber, redact_dsn, redact_url


def test_url_password_and_token_params_are_masked():
    url = "https://ops:hunter22@example.com/health?token=abc123&region=eu&api_key=zzz"
    shown = redact_url(url)
    assert "hunter22" not in shown and "abc123" not in shown and "zzz" not in shown
    assert shown.startswith(f"https://ops:{MASK}@example.com/health?")
    assert "region=eu" in shown


def test_url_without_secrets_is_unchanged():
    assert redact_url("http://127.0.0.1:8080/health") == "http://127.0.0.1:8080/health"


def test_dsn_in_both_forms():
    assert "s3cret" not in redact_dsn("postgresql://app:s3cret@db:5432/shop")
    keyval = redact_dsn("host=db user=app password=s3cret dbname=shop")
    assert "s3cret" not in keyval and "dbname=shop" in keyval
    assert "s 3" not in redact_dsn("host=db password='s 3' dbname=x")


def test_scrubber_masks_every_known_secret_longest_first():
    scrub = Scrubber(["abc", "abcdef", ""])
    assert scrub("token abcdef and abc") == f"token {MASK} and {MASK}"
    assert Scrubber()("nothing to hide") == "nothing to hide"


def test_session_values_and_fragment_tokens_are_masked_and_anchors_kept():
    from launchdeck.core.redact import redact_url

    assert redact_url("https://u:pw@h/x?session=abc&ok=1#token=zzz") == "https://u:***@h/x?session=***&ok=1#token=***"
    assert redact_url("https://h/cb#access_token=zzz&state=1") == "https://h/cb#access_token=***&state=1"
    assert redact_url("https://h/x?PHPSESSID=1&sid=2") == "https://h/x?PHPSESSID=***&sid=***"
    assert redact_url("https://h/docs#install") == "https://h/docs#install"
