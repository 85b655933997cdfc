"""The mailspec command line: usage, help, exit codes that do not depend on a protocol."""
from conftest import run_mailspec


def test_help_exits_zero_and_lists_commands(mailspec):
    r = run_mailspec(["--help"])
    assert r.rc == 0
    assert "parse" in r.stdout


def test_no_arguments_is_usage_error(mailspec):
    r = run_mailspec([])
    assert r.rc == 2
    assert "usage" in r.stderr


def test_unknown_command(mailspec):
    r = run_mailspec(["frobnicate"])
    assert r.rc == 2
    assert "unknown command" in r.stderr


def test_parse_help(mailspec):
    r = run_mailspec(["parse", "--help"])
    assert r.rc == 0
    assert "bare-lf" in r.stdout


def test_parse_unknown_protocol(mailspec):
    r = run_mailspec(["parse", "gopher", "commands"], b"")
    assert r.rc == 2
    assert "unknown protocol" in r.stderr


def test_parse_bad_limit(mailspec):
    r = run_mailspec(["parse", "smtp", "commands", "--limit", "nope=3"], b"")
    assert r.rc == 2
    r = run_mailspec(["parse", "smtp", "commands", "--limit", "smtp_command_line=x"], b"")
    assert r.rc == 2


def test_parse_missing_file(mailspec):
    r = run_mailspec(["parse", "smtp", "commands", "/nonexistent/file"])
    assert r.rc == 2
    assert "cannot open" in r.stderr


def test_list_limits(mailspec):
    r = run_mailspec(["parse", "--list-limits"])
    assert r.rc == 0
    assert "smtp_command_line    512" in r.stdout
