"""URL parsing and masking, for any password: the parser reads what libpq
reads, and no error, display form or suggestion ever holds the password."""

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from diagnostics.inputs import mask_url_text
from diagnostics.secret import redact
from diagnostics.urls import UrlError, parse_pg_url, suggest_pg_url

# printable passwords, long enough to be told apart from the rest of the URL
passwords = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=6, max_size=24).map(lambda s: "Zq" + s)


@settings(max_examples=300, deadline=None)
@given(passwords)
def test_percent_encoded_password_round_trips(pw):
    u = parse_pg_url(f"postgres://app:{quote(pw, safe='')}@db.example.com:5432/appdb?sslmode=disable")
    assert u.password.reveal() == pw
    assert (u.user, u.host, u.port, u.dbname, u.sslmode) == ("app", "db.example.com", 5432, "appdb", "disable")
    assert pw not in u.masked() and pw not in redact(str(u.conninfo_kwargs()))


@settings(max_examples=500, deadline=None)
@given(passwords, st.sampled_from(["@db.example.com:5432/appdb", "@db.example.com/appdb?sslmode=require", "", "/appdb"]))
def test_raw_password_never_shown(pw, rest):
    url = f"postgres://app:{pw}{rest}"
    # "Zq" starts every password and appears nowhere else: no piece of it may show
    display = mask_url_text(url)
    assert "Zq" not in display
    try:
        parsed = parse_pg_url(url)
    except UrlError as err:
        for text in (str(err), err.part, err.hint):
            assert "Zq" not in text, text
        _kind, suggestion = suggest_pg_url(url, err)
        assert "Zq" not in suggestion
        return
    assert "Zq" not in parsed.masked()
