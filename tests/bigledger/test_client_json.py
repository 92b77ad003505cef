"""How deeply client JSON nests, found without parsing it: brackets inside strings, escaped
quotes and escaped backslashes do not count, and the limit refuses through ValueError."""

import pytest

from bigledger.client_json import MAX_NESTING, TooDeeplyNested, check_nesting, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ('"[[["', 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}]}', 4),
        ('["[[[", {"a": "}}}"}]', 2),
        (r'["\"[[[", [[1]]]', 3),  # an escaped quote does not end the string
        (r'{"a\\": [[["]]]"]]]}', 4),  # an escaped backslash does not escape the quote
        (r'["\\\"[", [[[1]]]]', 4),
        ('["x", "y[", [1]]', 2),
        ("[" * 1000 + "]" * 1000, 1000),
    ],
)
def test_nesting_depth_counts_only_brackets_outside_strings(text, depth):
    assert nesting_depth(text) == depth
    assert nesting_depth(text.encode()) == depth


def test_check_nesting_allows_the_limit_and_refuses_one_level_more():
    check_nesting("[" * MAX_NESTING + "]" * MAX_NESTING)

    with pytest.raises(TooDeeplyNested, match=f"deeper than {MAX_NESTING} levels"):
        check_nesting("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1))


def test_strings_full_of_brackets_do_not_count_as_nesting():
    check_nesting(b'["' + b"[" * 10_000 + b'"]')


def test_too_deeply_nested_is_a_value_error_as_json_parse_errors_are():
    assert issubclass(TooDeeplyNested, ValueError)
