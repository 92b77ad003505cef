"""Field parsers: small callable objects that turn one raw value (JSON, or a file's cell
text) into a clean value or raise FieldError.

A parser's limits are public attributes (`Text(100).max_length`, `Choice(...).choices`) and
its `kind` says what it takes, so the API schema (batch/api/openapi/fields.py) and the
spreadsheet columns (batch/files/columns.py) read the very object that enforces them — as
django-import-export's widgets carry their settings. A new kind of field is a new subclass
of Parser, and those two readers learn it there."""

import datetime
import functools
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from batch.engine.codes import FieldCode
from batch.engine.countries import COUNTRY_CODES
from batch.engine.unicode import NOT_UNICODE, is_encodable

# The largest single amount a record may carry. Far below what a Decimal(18, 2) column
# holds, so a document's total, a customer's balance and a report's sums stay representable.
MAX_AMOUNT = Decimal("999999999999.99")
# The dates the API takes. Wide for any book, and far enough inside Python's calendar
# (years 1 to 9999) that a due date or any other date arithmetic can never leave it.
EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)
# A number sent as a JSON string: an optional sign, ASCII digits, and an optional decimal
# point followed by digits. Thousands separators, decimal commas, exponents and any other
# digits than 0-9 are refused; locale formats belong to file imports (batch.files.mapping).
PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


class FieldError(Exception):
    """One field's value is wrong: the code and message land in the record's details."""

    def __init__(self, code: FieldCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Kind(StrEnum):
    """What a field takes, as the API schema and the spreadsheet columns tell it."""

    TEXT = "text"
    EMAIL = "email"
    PHONE = "phone"
    COUNTRY = "country"
    REFERENCE = "reference"
    DATE = "date"
    MONEY = "money"
    NUMBER = "number"
    INTEGER = "integer"
    CHOICE = "choice"
    BOOLEAN = "boolean"


class Parser(ABC):
    """Base of every field parser. Subclasses set `kind`, keep their limits in public
    attributes (never only in local variables: the published API is read from them) and
    return the clean value from `__call__` or raise FieldError."""

    kind: ClassVar[Kind]

    @abstractmethod
    def __call__(self, value: Any) -> Any:
        """The clean value of a raw JSON value or cell text; FieldError when it is wrong."""

    @abstractmethod
    def describe(self) -> str:
        """What the field takes, in a few words a person filling a spreadsheet can act on
        ("text, up to 100 characters")."""

    def __repr__(self) -> str:
        settings = ", ".join(
            f"{name}={value!r}" for name, value in vars(self).items() if not name.startswith("_")
        )
        return f"{type(self).__name__}({settings})"


class Text(Parser):
    """A string of at most `max_length` characters (None: no limit), trimmed; numbers are
    taken as their text. `blank=False` refuses an empty string. Text PostgreSQL cannot
    store or UTF-8 cannot encode (NUL, a lone surrogate) is INVALID_VALUE."""

    kind = Kind.TEXT

    def __init__(self, max_length: int | None, *, blank: bool = True):
        self.max_length = max_length
        self.blank = blank

    def __call__(self, value: Any) -> str:
        # A str, as nearly every value is, is taken without a call; ASCII is encodable.
        value = (value if value.__class__ is str else self._text(value)).strip()
        if "\x00" in value:  # PostgreSQL cannot store NUL in text
            raise FieldError(FieldCode.INVALID_VALUE, "Must not contain NUL characters.")
        if not value.isascii() and not is_encodable(value):
            raise FieldError(FieldCode.INVALID_VALUE, NOT_UNICODE)
        if not value and not self.blank:
            raise FieldError(FieldCode.REQUIRED, "Must not be blank.")
        if self.max_length is not None and len(value) > self.max_length:
            raise FieldError(FieldCode.MAX_LENGTH, f"At most {self.max_length} characters.")
        return value

    def describe(self) -> str:
        return f"text, up to {self.max_length} characters" if self.max_length else "text"

    def _text(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise FieldError(FieldCode.INVALID_TYPE, "Must be a string.")
        try:
            return str(value)
        except ValueError:  # a JSON integer of more digits than Python writes out
            if self.max_length is None:
                raise FieldError(FieldCode.INVALID_VALUE, "Too many digits.") from None
            raise FieldError(
                FieldCode.MAX_LENGTH, f"At most {self.max_length} characters."
            ) from None


class _EmailValidator(EmailValidator):
    """Django's email check, each domain's verdict remembered: a batch's addresses share a
    few domains, and matching the domain pattern was most of the check's time (13 µs an
    address). The patterns are compiled here, not looked up through a lazy object each time."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)

    def validate_domain_part(self, domain_part: str) -> bool:
        return _valid_domain(domain_part)


@functools.lru_cache(maxsize=4096)
def _valid_domain(domain_part: str) -> bool:
    return EmailValidator().validate_domain_part(domain_part)


validate_email = _EmailValidator()


class Email(Text):
    """An email address of at most 254 characters, or blank."""

    kind = Kind.EMAIL

    def __init__(self):
        super().__init__(254)

    def __call__(self, value: Any) -> str:
        value = super().__call__(value)
        if not value:
            return value
        try:
            validate_email(value)
        except ValidationError:
            raise FieldError(FieldCode.INVALID_EMAIL, "Email format is invalid") from None
        return value

    def describe(self) -> str:
        return "email address"


_PHONE_JUNK = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"\+?\d{7,15}")


class Phone(Text):
    """An optional + and 7 to 15 digits, or blank; spaces, dashes, dots and brackets are
    dropped from the clean value."""

    kind = Kind.PHONE

    def __init__(self):
        super().__init__(30)

    def __call__(self, value: Any) -> str:
        value = super().__call__(value)
        if not value:
            return value
        compact = _PHONE_JUNK.sub("", value)
        if not _PHONE.fullmatch(compact):
            raise FieldError(
                FieldCode.INVALID_PHONE, "Phone must be digits with an optional +, 7 to 15 digits."
            )
        return compact

    def describe(self) -> str:
        return "phone number: digits with an optional leading +, 7 to 15 digits"


class Reference(Text):
    """A public id or a natural key; resolved against the database later, in bulk."""

    kind = Kind.REFERENCE

    def __init__(self):
        super().__init__(100, blank=False)

    def describe(self) -> str:
        return "public id or code of an existing record"


EXTERNAL_ID_LENGTH = 255


class ExternalId(Text):
    """A record's id in another system: up to 255 characters, case-sensitive, trimmed;
    blank (or null) clears it."""

    def __init__(self):
        super().__init__(EXTERNAL_ID_LENGTH)

    def __call__(self, value: Any) -> str | None:
        return super().__call__(value) or None

    def describe(self) -> str:
        return f"your own id of the record, up to {EXTERNAL_ID_LENGTH} characters"


class ExternalReference(Text):
    """Names an existing record by its external id."""

    kind = Kind.REFERENCE

    def __init__(self):
        super().__init__(EXTERNAL_ID_LENGTH, blank=False)

    def describe(self) -> str:
        return "external id of an existing record"


class Country(Text):
    """An ISO 3166-1 alpha-2 code, in any case; the clean value is upper case."""

    kind = Kind.COUNTRY

    def __init__(self):
        super().__init__(2)
        self.choices = tuple(sorted(COUNTRY_CODES))

    def __call__(self, value: Any) -> str:
        code = super().__call__(value).upper()
        if code not in COUNTRY_CODES:
            raise FieldError(FieldCode.INVALID_CHOICE, "Country must be an ISO 3166 alpha-2 code.")
        return code

    def describe(self) -> str:
        return "2-letter ISO country code, e.g. MY"


class ExactNumber(Parser):
    """A decimal of at most `places` decimal places and at most `maximum` in size (None:
    what a DecimalField(18, places) holds), at least `minimum` (None: any sign) and above
    zero when `positive`; every problem is answered with `code` and a message that starts
    with `what`. JSON numbers are taken in any JSON form (1500, 1.5e3); a string must be a
    plain decimal (PLAIN_DECIMAL), so "1,5" is refused rather than read as 15. Floats are
    refused, as they are not exact."""

    def __init__(
        self,
        *,
        places: int,
        minimum: Decimal | None,
        positive: bool,
        what: str,
        code: FieldCode,
        maximum: Decimal | None = None,
    ):
        self.places = places
        self._step = Decimal(1).scaleb(-places)
        self.minimum = minimum
        self.maximum = column_maximum(places) if maximum is None else maximum
        self.positive = positive
        self.what = what
        self.code = code

    def __call__(self, value: Any) -> Decimal:
        number = self._exact(value)
        if self.positive and number <= 0:
            raise FieldError(self.code, f"{self.what} must be positive.")
        if self.minimum is not None and number < self.minimum:
            raise FieldError(self.code, f"{self.what} must be non-negative.")
        return number

    def _exact(self, value: Any) -> Decimal:
        what, places = self.what, self.places
        number = self._decimal(value)
        if not number.is_finite():
            raise FieldError(self.code, f"{what} must be a finite number.")
        if number.copy_abs() > self.maximum:  # exact: no context to overflow, before quantize()
            raise FieldError(self.code, f"{what} must be {self._bounds()}.")
        quantized = number.quantize(self._step)  # exact: the maximum bounds its digits
        if quantized != number:
            raise FieldError(self.code, f"{what} allows at most {places} decimal places.")
        return quantized

    def _decimal(self, value: Any) -> Decimal:
        if isinstance(value, bool | float):
            # Floats never reach here from our JSON parser; refuse them from anywhere else.
            raise FieldError(self.code, f"{self.what} must be an exact number.")
        if isinstance(value, Decimal | int):
            return Decimal(value)
        if not isinstance(value, str) or not value.strip():
            raise FieldError(self.code, f"{self.what} must be a number.")
        text = value.strip()
        if not PLAIN_DECIMAL.fullmatch(text):
            raise FieldError(
                self.code,
                f"{self.what} must be a plain decimal number like 1234.56, not '{shown(text)}'.",
            )
        return Decimal(text)

    def _bounds(self) -> str:
        if self.minimum is None and not self.positive:
            return f"between -{self.maximum} and {self.maximum}"
        return f"at most {self.maximum}"

    def _sign(self) -> str:
        if self.positive:
            return "greater than 0"
        return "may be negative" if self.minimum is None else f"{self.minimum} or more"


def column_maximum(places: int) -> Decimal:
    """The largest number a DecimalField(18, places) holds: 99999999999999.9999 for 4."""
    return Decimal(10) ** (18 - places) - Decimal(1).scaleb(-places)


def shown(text: str, limit: int = 40) -> str:
    """A value a client sent, as an error message quotes it: cut short when it is long."""
    return text if len(text) <= limit else f"{text[:limit]}…"


class Money(ExactNumber):
    """An amount with at most 2 decimal places and at most MAX_AMOUNT in size, 0 or more
    unless `minimum` says otherwise (None: any sign); problems are INVALID_AMOUNT."""

    kind = Kind.MONEY

    def __init__(
        self, *, minimum: Decimal | None = Decimal(0), positive: bool = False, what="Amount"
    ):
        super().__init__(
            places=2,
            minimum=minimum,
            positive=positive,
            what=what,
            code=FieldCode.INVALID_AMOUNT,
            maximum=MAX_AMOUNT,
        )

    def describe(self) -> str:
        return f"amount, up to {self.places} decimal places, {self._sign()}"


class Quantity(ExactNumber):
    """A count or measure, never negative, with at most `places` decimal places; problems
    are INVALID_NUMBER unless `code` says otherwise."""

    kind = Kind.NUMBER

    def __init__(
        self,
        *,
        positive: bool = False,
        places: int = 4,
        what="Quantity",
        code: FieldCode = FieldCode.INVALID_NUMBER,
    ):
        super().__init__(places=places, minimum=Decimal(0), positive=positive, what=what, code=code)

    def describe(self) -> str:
        return f"number, up to {self.places} decimal places, {self._sign()}"


class Integer(Parser):
    """A whole number from `minimum` to `maximum`; "30" and 30.0 are taken, 30.5 is not, and
    a string must be a plain decimal (PLAIN_DECIMAL)."""

    kind = Kind.INTEGER

    def __init__(self, minimum: int, maximum: int, *, what="Value"):
        self.minimum = minimum
        self.maximum = maximum
        self.what = what

    def __call__(self, value: Any) -> int:
        number = self._decimal(value)
        if not number.is_finite() or number != number.to_integral_value():
            raise FieldError(FieldCode.INVALID_NUMBER, f"{self.what} must be a whole number.")
        if not self.minimum <= number <= self.maximum:
            raise FieldError(
                FieldCode.INVALID_NUMBER,
                f"{self.what} must be between {self.minimum} and {self.maximum}.",
            )
        return int(number)

    def _decimal(self, value: Any) -> Decimal:
        whole = f"{self.what} must be a whole number."
        if isinstance(value, bool):
            raise FieldError(FieldCode.INVALID_NUMBER, whole)
        if isinstance(value, str):
            text = value.strip()
            if not PLAIN_DECIMAL.fullmatch(text):
                message = f"{self.what} must be a whole number, not '{shown(text)}'."
                raise FieldError(FieldCode.INVALID_NUMBER, message)
            return Decimal(text)
        try:
            return Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise FieldError(FieldCode.INVALID_NUMBER, whole) from None

    def describe(self) -> str:
        return f"whole number from {self.minimum} to {self.maximum}"


class Date(Parser):
    """A date as YYYY-MM-DD, from `minimum` to `maximum` (EARLIEST_DATE to LATEST_DATE
    unless told otherwise); a longer ISO timestamp is cut to its date."""

    kind = Kind.DATE

    def __init__(
        self, *, minimum: datetime.date = EARLIEST_DATE, maximum: datetime.date = LATEST_DATE
    ):
        self.minimum = minimum
        self.maximum = maximum

    def __call__(self, value: Any) -> datetime.date:
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value.strip()[:10])
            except ValueError:
                raise FieldError(
                    FieldCode.INVALID_DATE, "Date must be a valid YYYY-MM-DD."
                ) from None
        elif isinstance(value, datetime.datetime):
            value = value.date()
        elif not isinstance(value, datetime.date):
            raise FieldError(FieldCode.INVALID_DATE, "Date must be a string YYYY-MM-DD.")
        if not self.minimum <= value <= self.maximum:
            raise FieldError(
                FieldCode.INVALID_DATE,
                f"Date must be from {self.minimum.isoformat()} to {self.maximum.isoformat()}.",
            )
        return value

    def describe(self) -> str:
        return "date YYYY-MM-DD"


class Choice(Parser):
    """One of `choices`, matched in any case; the clean value is spelled as in `choices`."""

    kind = Kind.CHOICE

    def __init__(self, options: Iterable[str]):
        self.choices = tuple(options)
        self._by_lower = {option.lower(): option for option in self.choices}

    def __call__(self, value: Any) -> str:
        found = self._by_lower.get(value.strip().lower()) if isinstance(value, str) else None
        if found is None:
            raise FieldError(
                FieldCode.INVALID_CHOICE, f"Must be one of: {', '.join(self.choices)}."
            )
        return found

    def describe(self) -> str:
        return "one of: " + ", ".join(self.choices)


_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n", ""})


class Boolean(Parser):
    """true/false, or as a file writes them: yes/no, y/n, 1/0; a blank cell is false."""

    kind = Kind.BOOLEAN

    def __call__(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise FieldError(FieldCode.INVALID_TYPE, "Must be true or false.")

    def describe(self) -> str:
        return "true/false"
