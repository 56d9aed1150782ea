"""gauntlet.harness.redaction: registered literal secrets and patterns for unregistered ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gauntlet.harness import redaction
from gauntlet.harness.redaction import MASK, Redactor


@pytest.fixture
def r() -> Redactor:
    return Redactor()


# --- registered literals ------------------------------------------------------------------------

def test_registered_value_is_masked_everywhere_it_appears(r):
    r.register("s3cr3t-value-42")
    assert r.text("x s3cr3t-value-42 y s3cr3t-value-42") == f"x {MASK} y {MASK}"


def test_unregistered_plain_text_is_unchanged(r):
    text = "the cluster has 3 nodes; region us-east-1; status CONTINUOUS"
    assert r.text(text) == text


def test_short_values_are_not_registered(r):
    r.register("abc", "abcde", "", None)
    assert r.text("abc abcde") == "abc abcde"
    assert r._literal is None


def test_six_characters_is_long_enough(r):
    r.register("abcdef")
    assert r.text("-abcdef-") == f"-{MASK}-"


def test_regex_metacharacters_in_secrets_are_literal(r):
    r.register("p@ss.w*rd+(1)")
    assert r.text("login p@ss.w*rd+(1) ok") == f"login {MASK} ok"
    # the dot and star are not wildcards
    assert r.text("login pXssXwwwrd1 ok") == "login pXssXwwwrd1 ok"


def test_longer_secret_wins_over_its_prefix(r):
    r.register("abcdef")
    r.register("abcdefghijkl")
    assert r.text("[abcdefghijkl]") == f"[{MASK}]"
    assert r.text("[abcdef]") == f"[{MASK}]"


def test_register_accumulates(r):
    r.register("first-secret")
    r.register("second-secret")
    assert r.text("first-secret second-secret") == f"{MASK} {MASK}"


def test_register_environment_reads_named_variables(r, monkeypatch):
    monkeypatch.setenv("GAUNTLET_TEST_SECRET_A", "env-secret-value")
    monkeypatch.setenv("GAUNTLET_TEST_SECRET_B", "tiny")
    monkeypatch.delenv("GAUNTLET_TEST_SECRET_C", raising=False)
    r.register_environment(["GAUNTLET_TEST_SECRET_A", "GAUNTLET_TEST_SECRET_B",
                            "GAUNTLET_TEST_SECRET_C"])
    assert r.text("a=env-secret-value b=tiny") == f"a={MASK} b=tiny"


def test_register_environment_defaults_include_aws_secret(r, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY")
    r.register_environment()
    assert "wJalrXUtnFEMI" not in r.text("value wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY here")


def test_empty_text_is_returned_as_is(r):
    r.register("something-secret")
    assert r.text("") == ""


# --- patterns: access key ids -------------------------------------------------------------------

@pytest.mark.parametrize("key_id", ["AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A",
                                    "AKIA0123456789ABCDEF"])
def test_access_key_ids_are_masked(r, key_id):
    assert r.text(f"id {key_id} used") == f"id {MASK} used"


@pytest.mark.parametrize("not_a_key", [
    "AKIAIOSFODNN7EXAMPL",     # 15 after the prefix
    "AKIAIOSFODNN7EXAMPLEX",   # 17 after the prefix
    "AKIAiosfodnn7example",    # lower case
    "XAKIAIOSFODNN7EXAMPLE",   # part of a longer word
    "AKIDIOSFODNN7EXAMPLE",    # another prefix
])
def test_near_miss_key_ids_are_left_alone(r, not_a_key):
    assert r.text(f"id {not_a_key} used") == f"id {not_a_key} used"


def test_key_id_at_punctuation_boundaries(r):
    assert r.text('("AKIAIOSFODNN7EXAMPLE",)') == f'("{MASK}",)'


# --- patterns: key = value ----------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("password=hunter22", f"password={MASK}"),
    ("password = hunter22 rest", f"password = {MASK} rest"),
    ("PASSWORD=hunter22", f"PASSWORD={MASK}"),
    ("passwd: hunter22", f"passwd: {MASK}"),
    ('"password": "hunter22"', f'"password": "{MASK}"'),
    ("'token': 'abcd1234'", f"'token': '{MASK}'"),
    ("token: eyJhbGciOiJSUzI1NiJ9.abc", f"token: {MASK}"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key = {MASK}"),
    ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", f"AWS_SECRET_ACCESS_KEY={MASK}"),
    ("secretAccessKey: wJalrXUtnFEMI", f"secretAccessKey: {MASK}"),
    ("SessionToken=FwoGZXIvYXdzEJr", f"SessionToken={MASK}"),
    ("aws_session_token=FwoGZXIvYXdzEJr", f"aws_session_token={MASK}"),
    ("client_secret=abcd-efgh", f"client_secret={MASK}"),
    ("api_key=k-123456", f"api_key={MASK}"),
    ("apikey:k-123456", f"apikey:{MASK}"),
])
def test_secret_looking_keys_have_their_values_masked(r, text, expected):
    assert r.text(text) == expected


def test_json_object_with_several_secrets_stays_parseable(r):
    import json

    text = json.dumps({"user": "admin", "password": "hunter22", "token": "tok-123456",
                       "region": "us-east-1"})
    redacted = json.loads(r.text(text))
    assert redacted == {"user": "admin", "password": MASK, "token": MASK, "region": "us-east-1"}


def test_value_stops_at_delimiters(r):
    assert r.text("password=hunter22,user=bob") == f"password={MASK},user=bob"
    assert r.text("{password: hunter22}") == f"{{password: {MASK}}}"


def test_very_short_values_after_keys_are_not_masked(r):
    # fewer than 4 characters are not considered a secret value
    assert r.text("password=abc") == "password=abc"


def test_non_secret_keys_are_left_alone(r):
    text = "user=admin region=us-east-1 name: lab"
    assert r.text(text) == text


# --- patterns: bearer tokens and private keys ---------------------------------------------------

def test_bearer_token_is_masked(r):
    out = r.text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc-DEF_123")
    assert out == f"Authorization: {MASK}"


def test_bearer_with_short_word_is_not_masked(r):
    assert r.text("Bearer of bad news") == "Bearer of bad news"


@pytest.mark.parametrize("kind", ["RSA ", "OPENSSH ", "EC ", ""])
def test_pem_private_keys_are_masked_whole(r, kind):
    pem = (f"-----BEGIN {kind}PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1x2y3z\nabcdEFGH/+==\n"
           f"-----END {kind}PRIVATE KEY-----")
    out = r.text(f"key:\n{pem}\nafter")
    assert out == f"key:\n{MASK}\nafter"
    assert "MIIEpAIBAAKCAQEA" not in out


def test_public_keys_and_certificates_are_not_masked(r):
    cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----"
    assert r.text(cert) == cert


def test_two_pem_keys_are_masked_separately_keeping_text_between(r):
    pem = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"
    assert r.text(f"{pem}\nmiddle\n{pem}") == f"{MASK}\nmiddle\n{MASK}"


# --- data() -------------------------------------------------------------------------------------

def test_data_recurses_into_dicts_lists_and_tuples(r):
    r.register("literal-secret")
    value = {
        "a": "uses literal-secret here",
        "nested": {"list": ["AKIAIOSFODNN7EXAMPLE", 5, None, ("password=hunter22", 1.5)]},
        "count": 3,
        "flag": True,
    }
    out = r.data(value)
    assert out == {
        "a": f"uses {MASK} here",
        "nested": {"list": [MASK, 5, None, [f"password={MASK}", 1.5]]},
        "count": 3,
        "flag": True,
    }
    # the input is not modified
    assert value["a"] == "uses literal-secret here"


def test_data_of_scalars(r):
    assert r.data(7) == 7
    assert r.data(None) is None
    assert r.data("Bearer abcdefghijkl") == MASK


def test_data_leaves_dict_keys_unchanged(r):
    r.register("literal-secret")
    assert r.data({"literal-secret": "x"}) == {"literal-secret": "x"}


def test_data_masks_values_under_secret_looking_keys(r):
    out = r.data({"password": "hunter2secret", "token": "tok-1234567"})
    assert "hunter2secret" not in str(out)
    assert "tok-1234567" not in str(out)


# --- properties ---------------------------------------------------------------------------------

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_"


@settings(max_examples=150, deadline=None)
@given(secret=st.text(_ALPHABET, min_size=6, max_size=30),
       prefix=st.text(_ALPHABET + " :=\n", max_size=30),
       suffix=st.text(_ALPHABET + " :=\n", max_size=30))
def test_property_a_registered_secret_never_survives(secret, prefix, suffix):
    r = Redactor()
    r.register(secret)
    out = r.text(prefix + secret + suffix)
    assert secret not in out
    assert MASK in out


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_property_redaction_is_idempotent(text):
    r = Redactor()
    r.register("registered-secret")
    once = r.text(text)
    assert r.text(once) == once


def test_process_wide_redactor_exists():
    assert isinstance(redaction.redactor, Redactor)
