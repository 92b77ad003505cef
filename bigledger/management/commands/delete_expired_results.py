"""Delete every job's expired results now, instead of a sweep's share a minute: to catch up
once BATCH_RESULTS_RETENTION_DAYS is first set on an installation with years of jobs, or to
apply a shorter retention once (docs/operations.md, Settings)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from batch.jobs.sweep import delete_expired_results


class Command(BaseCommand):
    help = (
        "Delete the results (with stored operations and file cells) of jobs finished longer "
        "ago than BATCH_RESULTS_RETENTION_DAYS, or --days; the jobs and their counts stay."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, help="The retention for this run, instead of the setting's."
        )

    def handle(self, *args, days: int | None = None, **options):
        days = settings.BATCH_RESULTS_RETENTION_DAYS if days is None else days
        if days <= 0:
            raise CommandError(
                "Results are kept for good (BATCH_RESULTS_RETENTION_DAYS is 0): name the days "
                "to keep with --days."
            )
        total = 0
        while deleted := delete_expired_results(days=days):
            total += deleted
            self.stdout.write(f"{total:,} jobs' results deleted so far")
        self.stdout.write(
            f"Done: results of jobs finished over {days} days ago: {total:,} deleted."
        )
