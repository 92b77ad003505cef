"""The batch admin: jobs with progress, results, retry and cancel; import screens; exports."""

from . import jobs  # noqa: F401  (registers the job and webhook admins)
