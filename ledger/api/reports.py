"""What the report endpoints read from the query string and how they write their answers.

Dates are ISO calendar dates (YYYY-MM-DD); a date that is not one, or a period that ends
before it starts, is refused as a whole with 400 VALIDATION_ERROR naming the parameter."""

import re
from datetime import date

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers

from bigledger.api.fields import Money

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def query_date(params, name: str) -> date | None:
    """The query parameter `name` as a date, None when absent."""
    text = params.get(name)
    if text is None:
        return None
    try:
        if not ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise exceptions.ValidationError(
            {name: ["Must be a date in the form YYYY-MM-DD."]}
        ) from None


def report_period(params) -> tuple[date | None, date | None]:
    """(from, to) of a trial balance: `asOf` is the same as `to` and may not be combined
    with `from` or `to`."""
    as_of, start, end = (query_date(params, name) for name in ("asOf", "from", "to"))
    if as_of is not None and (start is not None or end is not None):
        raise exceptions.ValidationError(
            {"asOf": ["Give either asOf, or from and/or to, not both."]}
        )
    end = as_of or end
    if start is not None and end is not None and start > end:
        raise exceptions.ValidationError({"from": ["Must not be after to."]})
    return start, end


def report_date(params) -> date:
    """`asOf`, today (in the project's time zone) when absent."""
    return query_date(params, "asOf") or timezone.localdate()


def date_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, OpenApiTypes.DATE, OpenApiParameter.QUERY, required=False, description=description
    )


TRIAL_BALANCE_PARAMETERS = [
    date_parameter("asOf", "Balances as of this date: postings dated on or before it."),
    date_parameter("from", "Movements from this date (inclusive)."),
    date_parameter("to", "Movements up to this date (inclusive); the same as asOf."),
]
AS_OF_PARAMETERS = [date_parameter("asOf", "The report's date; today when absent.")]


class AgingBucketsSerializer(serializers.Serializer):
    """Amounts by days past due, from a list of five in ledger.selectors' bucket order."""

    current = Money(help_text="Not yet due.")
    days1To30 = Money(help_text="1–30 days past due.")
    days31To60 = Money(help_text="31–60 days past due.")
    days61To90 = Money(help_text="61–90 days past due.")
    over90 = Money(help_text="More than 90 days past due.")

    def to_representation(self, instance):
        return super().to_representation(dict(zip(self.fields, instance, strict=True)))


class AgedPartySerializer(serializers.Serializer):
    """Serialises ledger.selectors.AgedParty."""

    partyId = serializers.CharField(source="party.public_id", read_only=True)
    number = serializers.CharField(source="party.number", read_only=True)
    name = serializers.CharField(source="party.name", read_only=True)
    buckets = AgingBucketsSerializer(read_only=True)
    paidAhead = Money(
        source="paid_ahead",
        help_text="Paid by payments dated on or before asOf toward documents dated after it.",
    )
    total = Money(help_text="The buckets' sum less paidAhead.")


class AgedBalancesSerializer(serializers.Serializer):
    """Serialises ledger.selectors.AgedBalances."""

    asOf = serializers.DateField(source="as_of", read_only=True)
    parties = AgedPartySerializer(many=True, read_only=True)
    buckets = AgingBucketsSerializer(read_only=True)
    paidAhead = Money(source="paid_ahead")
    total = Money()
