"""The form catalog: JSON Schemas in `forms/`, checked once and used to validate submissions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from engine import show_if
from engine.computed_fields import check_declarations as check_computed
from engine.config import DEFAULT_FORMS_DIR as DEFAULT_FORMS_DIR  # where the project's forms/ are
from engine.config import DEFAULT_NOTIFICATION_TEMPLATES_DIR
from engine.errors import FormDataError, NotFoundError
from engine.internal_fields import InternalFields
from engine.outcomes import check_declaration


@dataclass(frozen=True)
class FieldError:
    field: str  # JSON pointer-ish dotted path; "" for the form as a whole
    message: str
    # What was wrong as the JSON Schema keyword that refused it ("required", "minLength", ...) and that
    # keyword's number (or a type's name): a page says it in its own language (api/web/static/js/schema_form.js).
    kind: str
    limit: int | float | str | None = None


class FormCatalog:
    def __init__(self, directory: Path, *, notification_templates_dir: Path = DEFAULT_NOTIFICATION_TEMPLATES_DIR) -> None:
        self._directory = directory
        # Designers' notification templates are checked at deploy against the folder the dispatcher renders from.
        self.notification_templates_dir = notification_templates_dir
        self._schemas: dict[str, dict[str, Any]] = {}
        self._validators: dict[str, Draft202012Validator] = {}
        for path in sorted(directory.glob("*.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as error:
                raise ValueError(f"form {path.name} is not a valid JSON Schema: {error.message}") from None
            try:
                check_declaration(schema)
                show_if.check_declaration(schema)
            except ValueError as error:
                raise ValueError(f"form {path.name}: {error}") from None
            self._schemas[path.stem] = schema
            # Validated with the conditions compiled in; the page and the admin API get the form as written.
            self._validators[path.stem] = Draft202012Validator(show_if.compiled(schema), format_checker=FormatChecker())
        check_computed(self._schemas)  # a computed field names a date some form asks for
        self.internal = InternalFields.of(self._schemas)  # the fields kept from outlet staff

    def keys(self) -> list[str]:
        return sorted(self._schemas)

    def exists(self, key: str) -> bool:
        return key in self._schemas

    def schema(self, key: str) -> dict[str, Any]:
        """Raises: NotFoundError."""
        if key not in self._schemas:
            raise NotFoundError(f"no form '{key}'")
        return self._schemas[key]

    def check(self, key: str, data: dict[str, Any]) -> None:
        """Validate submitted data against the form.

        Raises: FormDataError listing every field that is wrong.
        """
        self.schema(key)
        check_with(self._validators[key], key, data)


def check_with(validator: Draft202012Validator, key: str, data: dict[str, Any]) -> None:
    """Raises: FormDataError listing every field of `data` that `validator` refuses."""
    errors = [_field_error(e) for e in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))]
    if errors:
        raise FormDataError(
            f"{len(errors)} field(s) do not match form '{key}'",
            form=key,
            errors=[{"field": e.field, "message": e.message, "kind": e.kind,
                     **({"limit": e.limit} if e.limit is not None else {})} for e in errors],
        )


def _field_error(error: Any) -> FieldError:
    hidden = show_if.hidden_message(error)
    limit = error.validator_value
    said = (isinstance(limit, int | float) and not isinstance(limit, bool)) or (error.validator == "type" and
                                                                                 isinstance(limit, str))
    return FieldError(_field_path(error.absolute_path, error), hidden or error.message,
                      "hidden" if hidden else str(error.validator), limit if said else None)


def _field_path(path: Any, error: Any) -> str:
    parts = [str(p) for p in path]
    if error.validator == "required":
        # "'x' is a required property": name the missing field itself, not its parent.
        missing = error.message.split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return ".".join(parts)
