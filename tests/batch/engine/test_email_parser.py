"""The Email parser remembers each domain's verdict; it takes and refuses exactly the
addresses Django's validate_email does, however often a domain comes back."""

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email as django_validate_email

from batch.engine.parsers import Email, FieldError

ADDRESSES = [
    "a@example.com",
    "A.B+tag@Example.COM",
    "bad..dots@example.com",
    "no-at-sign.example.com",
    "a@localhost",
    "a@[192.168.0.1]",
    "a@[::1]",
    "a@[999.1.1.1]",
    "a@exa_mple.com",
    "a@-example.com",
    "a@example.com.",
    "a@example",
    "a@bücher.de",
    '"quoted user"@example.com',
    "user@" + "x" * 64 + ".com",
    "a@@example.com",
    "a b@example.com",
]


def django_takes(address: str) -> bool:
    try:
        django_validate_email(address)
    except ValidationError:
        return False
    return True


def parser_takes(address: str) -> bool:
    try:
        Email()(address)
    except FieldError:
        return False
    return True


@pytest.mark.parametrize("address", ADDRESSES)
def test_email_takes_what_django_takes(address):
    assert parser_takes(address) == django_takes(address)


def test_a_remembered_domain_does_not_pass_a_bad_user_part():
    assert parser_takes("good@example.org")
    assert not parser_takes("bad user@example.org")
    assert not parser_takes("bad..user@example.org")
    assert parser_takes("good@example.org")


def test_a_refused_domain_stays_refused():
    assert not parser_takes("a@exa_mple.org")
    assert not parser_takes("b@exa_mple.org")
