"""Cells, brokers and the sampler's rows moved to the fleet app (state only: same tables)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0004_access_keys_policies"),
        ("fleet", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="cluster",
                    name="cell",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="clusters",
                        to="fleet.cell",
                    ),
                ),
                migrations.RemoveField(
                    model_name="broker",
                    name="cell",
                ),
                migrations.RemoveField(
                    model_name="throughputsnapshot",
                    name="cell",
                ),
                migrations.RemoveField(
                    model_name="samplercheckpoint",
                    name="cell",
                ),
                migrations.RemoveField(
                    model_name="topicminuteusage",
                    name="cluster",
                ),
                migrations.DeleteModel(
                    name="Broker",
                ),
                migrations.DeleteModel(
                    name="ThroughputSnapshot",
                ),
                migrations.DeleteModel(
                    name="SamplerCheckpoint",
                ),
                migrations.DeleteModel(
                    name="Cell",
                ),
                migrations.DeleteModel(
                    name="TopicMinuteUsage",
                ),
            ],
            database_operations=[],
        ),
    ]
