"""A job is retried at most once (a partial unique constraint on retry_of), and managing
webhook endpoints is a permission of its own (manage_webhooks)."""

from django.conf import settings
from django.db import migrations, models


def detach_second_retries(apps, schema_editor):
    """Before the constraint: where a job was already retried more than once, the first
    retry keeps the link and the later ones (their records posted again) lose it."""
    BatchJob = apps.get_model("batch", "BatchJob")
    retried = (
        BatchJob.objects.filter(retry_of__isnull=False)
        .order_by()
        .values("retry_of")
        .annotate(first=models.Min("pk"), count=models.Count("pk"))
        .filter(count__gt=1)
    )
    for group in retried:
        BatchJob.objects.filter(retry_of=group["retry_of"]).exclude(pk=group["first"]).update(
            retry_of=None
        )


def grant_manage_webhooks(apps, schema_editor):
    """Whoever could register endpoints before (add_webhookendpoint) keeps managing them.
    Permissions are otherwise created after migrating, so this one is made here."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    content_type = ContentType.objects.filter(app_label="batch", model="webhookendpoint").first()
    if content_type is None:  # a new database: no one holds anything yet
        return
    could_add = Permission.objects.filter(
        content_type=content_type, codename="add_webhookendpoint"
    ).first()
    if could_add is None:
        return
    manage, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="manage_webhooks",
        defaults={"name": "Can register, list and delete webhook endpoints"},
    )
    UserPermission = apps.get_model(settings.AUTH_USER_MODEL).user_permissions.through
    user_ids = UserPermission.objects.filter(permission=could_add).values_list("user_id", flat=True)
    UserPermission.objects.bulk_create(
        [UserPermission(user_id=user_id, permission=manage) for user_id in user_ids],
        ignore_conflicts=True,
    )
    GroupPermission = apps.get_model("auth", "Group").permissions.through
    group_ids = GroupPermission.objects.filter(permission=could_add).values_list(
        "group_id", flat=True
    )
    GroupPermission.objects.bulk_create(
        [GroupPermission(group_id=group_id, permission=manage) for group_id in group_ids],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("batch", "0003_webhooks"),
        ("bigledger", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(detach_second_retries, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="batchjob",
            constraint=models.UniqueConstraint(
                condition=models.Q(("retry_of__isnull", False)),
                fields=("retry_of",),
                name="batchjob_retried_once",
            ),
        ),
        migrations.AlterModelOptions(
            name="webhookendpoint",
            options={
                "ordering": ["created_at", "pk"],
                "permissions": [
                    ("manage_webhooks", "Can register, list and delete webhook endpoints")
                ],
            },
        ),
        migrations.RunPython(grant_manage_webhooks, migrations.RunPython.noop),
    ]
