"""The Connectors tab's generated form: Connect's validate answer → grouped fields, and back.

Connect answers `PUT /connector-plugins/<class>/config/validate` with a ConfigInfos document:
every config the runtime and the plugin define (`definition`: name, type, required,
default_value, importance, documentation, group, order_in_group, width, display_name,
dependents) and what it made of the values sent (`value`: value, errors, recommended_values,
visible). `build_form` turns that into groups of fields for the template; `config_from_form`
turns a submitted form back into the config dict the services take.

Pure: no Connect, no database, no request, so it is tested with captured ConfigInfos documents.

Secrets: a PASSWORD field is a write-only input. Its value is never put back into a form, and
an empty one is left out of the config (on edit: keep the stored secret).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.errors import ValidationFailed

FIELD_PREFIX = "cfg."  # input name of a config key: "cfg.database.hostname"
EXTRA_FIELD = "extra"  # textarea of `key=value` lines for keys the plugin does not define

# Keys the page itself sets (the name field, the chosen plugin): never a generated input.
PAGE_KEYS = frozenset({"name", "connector.class"})
# Keys that are the platform's business (plugin versions, where offsets go, reload policy):
# not offered, so a tenant is not invited to set what the services refuse anyway.
HIDDEN_KEYS = frozenset(
    {
        "connector.plugin.version",
        "key.converter.plugin.version",
        "value.converter.plugin.version",
        "header.converter.plugin.version",
        "config.action.reload",
        "offsets.storage.topic",
        # Set by the runtime on each converter it makes ("key" or "value"), never by a person.
        "key.converter.converter.type",
        "value.converter.converter.type",
        "header.converter.converter.type",
    }
)

# Groups every connector has (Connect's runtime): after the plugin's own, which matter first.
RUNTIME_GROUPS = (
    "Common",
    "Transforms",
    "Predicates",
    "Error Handling",
    "Topic Creation",
    "Exactly Once Support",
    "offsets.topic",
)
NUMBER_TYPES = frozenset({"INT", "SHORT", "LONG", "DOUBLE"})
_REQUIRED_HINTS = ("value is required", "missing required configuration")
_WIDTH_COLUMNS = {"SHORT": "col-md-4", "MEDIUM": "col-md-6", "LONG": "col-12", "NONE": "col-md-6"}


@dataclass(frozen=True)
class ConfigField:
    """One generated input."""

    name: str
    label: str
    type: str  # Connect's type: BOOLEAN STRING INT SHORT LONG DOUBLE LIST CLASS PASSWORD
    widget: str  # "text", "number", "password", "select", "boolean"
    required: bool
    importance: str
    help: str
    default: str  # rendered default ("" when none), shown as a placeholder
    value: str  # what the input shows; always "" for a secret
    choices: tuple[str, ...] = ()  # the select's options, or the text input's suggestions
    errors: tuple[str, ...] = ()
    width: str = "MEDIUM"
    secret_stored: bool = False  # edit: a secret is stored and kept when left empty
    secret_entered: bool = False  # a secret was typed before this re-render: type it again

    @property
    def input_name(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def html_id(self) -> str:
        return "cfg-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)

    @property
    def column(self) -> str:
        return _WIDTH_COLUMNS.get(self.width, "col-md-6")

    @property
    def secret(self) -> bool:
        return self.type == "PASSWORD"

    @property
    def step(self) -> str:
        return "any" if self.type == "DOUBLE" else "1"

    @property
    def primary(self) -> bool:
        """Shown open: required, important, in error or set; the rest folds away."""
        return bool(
            self.required
            or self.importance == "HIGH"
            or self.errors
            or self.value
            or self.secret_stored
            or self.secret_entered
        )


@dataclass(frozen=True)
class ConfigGroup:
    name: str
    fields: tuple[ConfigField, ...]

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "other"

    @property
    def primary_fields(self) -> list[ConfigField]:
        return [f for f in self.fields if f.primary]

    @property
    def more_fields(self) -> list[ConfigField]:
        return [f for f in self.fields if not f.primary]

    @property
    def error_count(self) -> int:
        return sum(1 for f in self.fields if f.errors)


@dataclass(frozen=True)
class ConnectorForm:
    plugin_class: str
    groups: tuple[ConfigGroup, ...]
    error_count: int  # fields in error (Connect's count, plus ours), 0 when not shown
    errors: tuple[str, ...] = ()  # errors of keys that have no field here
    extra: str = ""  # the `key=value` lines of keys the plugin does not define
    secret_names: frozenset[str] = field(default_factory=frozenset)

    @property
    def fields(self) -> list[ConfigField]:
        return [f for g in self.groups for f in g.fields]

    def get_field(self, name: str) -> ConfigField | None:
        return next((f for f in self.fields if f.name == name), None)


def _text(value: Any) -> str:
    """A definition's or value's JSON as the text an input holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _widget(kind: str, choices: tuple[str, ...]) -> str:
    if kind == "PASSWORD":
        return "password"
    if kind == "BOOLEAN":
        return "boolean"
    if kind == "STRING" and choices:
        return "select"
    if kind in NUMBER_TYPES:
        return "number"
    return "text"


_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def _help(definition: Mapping[str, Any], kind: str) -> str:
    """The plugin's documentation as plain text (some plugins write HTML tags in it)."""
    text = " ".join(_TAG.sub("", str(definition.get("documentation") or "")).split())
    if text and not text.endswith((".", "!", "?", ")")):
        text += "."
    if kind == "LIST" and "comma" not in text.lower():
        text = (text + " " if text else "") + "Comma-separated."
    return text


def secret_names(infos: Mapping[str, Any]) -> frozenset[str]:
    """The PASSWORD-type keys of a plugin: write-only on every page."""
    return frozenset(
        str(item["definition"]["name"])
        for item in infos.get("configs") or ()
        if (item.get("definition") or {}).get("type") == "PASSWORD"
    )


def build_form(
    infos: Mapping[str, Any],
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, Iterable[str]] | None = None,
    show_errors: bool = True,
    stored_secrets: Iterable[str] = (),
    entered_secrets: Iterable[str] = (),
    offered: Callable[[str], bool] | None = None,
) -> ConnectorForm:
    """Group Connect's definitions into fields, in Connect's group and in-group order.

    `values` is what the person typed (or the connector's stored config): fields show it, not
    Connect's echo (which fills in defaults). `errors` are ours (the services' rules, by config
    key), shown beside Connect's own. `show_errors=False` is the blank form: nothing typed yet,
    so "a value is required" only marks the field required. Secrets are never shown.
    `offered(key)` False: the platform refuses that key, so it gets no input (a value already
    set stays visible among the extra lines).
    """
    values = dict(values or {})
    ours = {k: [str(m) for m in ms] for k, ms in (errors or {}).items()}
    stored, entered = set(stored_secrets), set(entered_secrets)
    group_order = [str(g) for g in infos.get("groups") or ()]
    grouped: dict[str, list[tuple[int, int, ConfigField]]] = {}
    defined: set[str] = set()
    hidden_errors: list[str] = []

    for position, item in enumerate(infos.get("configs") or ()):
        definition = item.get("definition") or {}
        value = item.get("value") or {}
        name = str(definition.get("name") or value.get("name") or "")
        if not name:
            continue
        if name in PAGE_KEYS:  # the page's own inputs, with their own errors
            continue
        kind = str(definition.get("type") or "STRING").upper()
        connect_errors = [str(e) for e in value.get("errors") or ()]
        field_errors = (connect_errors if show_errors else []) + ours.pop(name, [])
        if name in HIDDEN_KEYS or (offered is not None and not offered(name)):
            hidden_errors += [f"{name}: {e}" for e in field_errors]
            continue
        defined.add(name)
        current = "" if kind == "PASSWORD" else _text(values.get(name, ""))
        if value.get("visible") is False and not (current or field_errors):
            continue
        # Required with no default, unless the runtime filled it in (an echo nobody typed).
        filled_by_runtime = value.get("value") not in (None, "") and not values.get(name)
        needed = (
            bool(definition.get("required"))
            and definition.get("default_value") is None
            and not filled_by_runtime
        )
        needed = needed or any(h in e.lower() for e in connect_errors for h in _REQUIRED_HINTS)
        choices = tuple(_text(v) for v in value.get("recommended_values") or ())
        if kind == "BOOLEAN":
            current = current.strip().lower()
        elif kind == "STRING" and choices and current and current not in choices:
            choices = (*choices, current)  # a typed value the plugin did not recommend
        group = str(definition.get("group") or "Plugin settings")
        order = definition.get("order_in_group", definition.get("order"))
        fld = ConfigField(
            name=name,
            label=str(definition.get("display_name") or name),
            type=kind,
            widget=_widget(kind, choices),
            required=needed,
            importance=str(definition.get("importance") or "LOW").upper(),
            help=_help(definition, kind),
            default="" if kind == "PASSWORD" else _text(definition.get("default_value")),
            value=current,
            choices=choices,
            errors=tuple(field_errors),
            width=str(definition.get("width") or "MEDIUM").upper(),
            secret_stored=kind == "PASSWORD" and name in stored,
            secret_entered=kind == "PASSWORD" and name in entered,
        )
        rank = order if isinstance(order, int) and order >= 0 else 10_000
        grouped.setdefault(group, []).append((rank, position, fld))

    for group in grouped:
        if group not in group_order:
            group_order.append(group)
    group_order.sort(key=lambda g: g in RUNTIME_GROUPS)  # stable: plugin's groups first
    groups = tuple(
        ConfigGroup(name=g, fields=tuple(f for _, _, f in sorted(grouped[g], key=lambda t: t[:2])))
        for g in group_order
        if grouped.get(g)
    )
    # Keys with no input stay editable as text (a transform's own settings…), secrets excepted.
    secrets = secret_names(infos)
    extra_keys = sorted(k for k in values if k not in defined | PAGE_KEYS | secrets)
    extra = "\n".join(f"{k}={values[k]}" for k in extra_keys)
    form_errors = hidden_errors + [f"{k}: {m}" for k, ms in ours.items() for m in ms]
    error_count = sum(1 for g in groups for f in g.fields if f.errors) + len(form_errors)
    return ConnectorForm(
        plugin_class=str(infos.get("name") or ""),
        groups=groups,
        error_count=error_count,
        errors=tuple(form_errors),
        extra=extra,
        secret_names=secrets,
    )


def parse_extra(text: str) -> dict[str, str]:
    """`key=value` lines (blank lines and `#` comments skipped) as a dict."""
    config: dict[str, str] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"Line {number}: write one setting per line as key=value.")
            continue
        config[key] = value.strip()
    if problems:
        raise ValidationFailed({EXTRA_FIELD: problems})
    return config


def config_from_form(data: Mapping[str, Any]) -> dict[str, str]:
    """The config a submitted form asks for: its `cfg.*` inputs and the extra lines.

    An empty input is left out, so Connect's default applies (and, on edit, a stored secret
    is kept). The generated inputs win over an extra line naming the same key.
    """
    config = parse_extra(str(data.get(EXTRA_FIELD) or ""))
    for key in data:
        if not key.startswith(FIELD_PREFIX):
            continue
        name = key[len(FIELD_PREFIX) :]
        value = str(data.get(key) or "").strip()
        if name and name not in PAGE_KEYS and value:
            config[name] = value
    return config


def entered_secrets(config: Mapping[str, str], infos: Mapping[str, Any]) -> frozenset[str]:
    """The secrets a submitted config carried (the re-rendered form asks for them again)."""
    return frozenset(k for k in secret_names(infos) if config.get(k))


def without_secrets(config: Mapping[str, str], infos: Mapping[str, Any]) -> dict[str, str]:
    """`config` with every PASSWORD-type key removed: what may go back into a page."""
    secrets = secret_names(infos)
    return {k: v for k, v in config.items() if k not in secrets}
