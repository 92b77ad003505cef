from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("batch", "0008_job_kinds_and_mapping_profiles"),
    ]

    operations = [
        migrations.AddField(
            model_name="batchchunk",
            name="file_cells",
            field=models.TextField(
                blank=True,
                help_text="From a file: JSON list, per operation, of its rows' original cells.",
                null=True,
            ),
        ),
    ]
