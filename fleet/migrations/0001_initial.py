"""The fleet's models moved here from the clusters app: state only, the tables keep their names.

Content types (and so admin permissions) are relabelled, so nothing granted on them is lost.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED_MODELS = ["cell", "broker", "topicminuteusage", "samplercheckpoint", "throughputsnapshot"]


def relabel_content_types(apps, schema_editor, *, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED_MODELS:
        if content_type.objects.using(db).filter(app_label=target, model=model).exists():
            continue
        content_type.objects.using(db).filter(app_label=source, model=model).update(
            app_label=target
        )


def forwards(apps, schema_editor):
    relabel_content_types(apps, schema_editor, source="clusters", target="fleet")


def backwards(apps, schema_editor):
    relabel_content_types(apps, schema_editor, source="fleet", target="clusters")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("clusters", "0004_access_keys_policies"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Cell",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.SlugField(unique=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("local", "Local (launched on this host)"),
                                    ("compose", "docker-compose"),
                                    ("external", "External"),
                                ],
                                default="local",
                                max_length=16,
                            ),
                        ),
                        ("kafka_cluster_id", models.CharField(blank=True, max_length=64)),
                        ("bootstrap_servers", models.CharField(max_length=500)),
                        ("client_bootstrap_servers", models.CharField(blank=True, max_length=500)),
                        ("credentials_path", models.CharField(max_length=500)),
                        ("ca_path", models.CharField(max_length=500)),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("healthy", "Healthy"),
                                    ("degraded", "Degraded"),
                                    ("down", "Down"),
                                ],
                                default="healthy",
                                max_length=16,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        "db_table": "clusters_cell",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="SamplerCheckpoint",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("counters", models.JSONField(default=dict)),
                        ("taken_at", models.DateTimeField()),
                        (
                            "cell",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sampler_checkpoint",
                                to="fleet.cell",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "clusters_samplercheckpoint",
                    },
                ),
                migrations.CreateModel(
                    name="ThroughputSnapshot",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("clusters", models.JSONField(default=dict)),
                        ("taken_at", models.DateTimeField()),
                        (
                            "cell",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="throughput",
                                to="fleet.cell",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "clusters_throughputsnapshot",
                    },
                ),
                migrations.CreateModel(
                    name="Broker",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("node_id", models.PositiveIntegerField()),
                        ("host", models.CharField(max_length=255)),
                        ("port", models.PositiveIntegerField()),
                        ("metrics_url", models.URLField(max_length=300)),
                        ("pid", models.PositiveIntegerField(blank=True, null=True)),
                        (
                            "state",
                            models.CharField(
                                choices=[("up", "Up"), ("down", "Down")], default="up", max_length=8
                            ),
                        ),
                        ("last_seen_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "cell",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="brokers",
                                to="fleet.cell",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "clusters_broker",
                        "ordering": ["cell__name", "node_id"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("cell", "node_id"), name="broker_unique_cell_node"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="TopicMinuteUsage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "topic",
                            models.CharField(
                                help_text="Short name (without the wire prefix).", max_length=255
                            ),
                        ),
                        (
                            "minute",
                            models.DateTimeField(
                                help_text="Start of the minute, aware UTC, seconds zero."
                            ),
                        ),
                        ("bytes_in", models.BigIntegerField(default=0)),
                        ("bytes_out", models.BigIntegerField(default=0)),
                        ("messages_in", models.BigIntegerField(default=0)),
                        ("storage_bytes", models.BigIntegerField(default=0)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "cluster",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="minute_usage",
                                to="clusters.cluster",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "clusters_topicminuteusage",
                        "ordering": ["minute", "topic"],
                        "indexes": [
                            models.Index(
                                fields=["cluster", "minute"], name="topicminuteusage_cl_min"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("cluster", "topic", "minute"),
                                name="topicminuteusage_unique_minute",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("bytes_in__gte", 0),
                                    ("bytes_out__gte", 0),
                                    ("messages_in__gte", 0),
                                    ("storage_bytes__gte", 0),
                                ),
                                name="topicminuteusage_non_negative",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
