"""Notification templates that designers deploy with their processes, and the deploy-time check of a notice.

A deployment (a .zip bundle, `tixi deploy <folder>`) may carry `<name>.txt` Jinja2 templates beside
its BPMN or in a `notification_templates/` subfolder. A notice (`camunda:property notify`) that names
one gets the template's text stored in its definition's elements (`source`), so it is versioned with
the definition: a running case renders with its own version's text, and a later deploy changes only
new cases. A template the deployment does not carry is looked up in the server's folder, as before.
Templates no notice names are left out (a README.txt in the folder is not a template).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from engine.identity import existing_usernames
from engine.notifications.designed import recipient_problem
from engine.notifications.rendering import designed_template_problem

TEMPLATE_SUFFIX = ".txt"
MAX_TEMPLATE_BYTES = 64 * 1024


@dataclass(frozen=True)
class DeployedTemplates:
    """An upload's templates by name (the file's stem), and why some cannot be used (named twice, not UTF-8, too large).

    A file's problem matters only if a notice names it: a folder's stray notes.txt stops nothing.
    """

    texts: dict[str, str]
    refused: dict[str, tuple[str, str]]  # name -> (file, problem)


def split_templates(files: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], DeployedTemplates]:
    """The BPMN/DMN files of an upload, and its templates."""
    documents: list[tuple[str, bytes]] = []
    texts: dict[str, str] = {}
    refused: dict[str, tuple[str, str]] = {}
    for filename, content in files:
        path = PurePosixPath(filename.replace("\\", "/"))
        name = path.stem
        if path.suffix.lower() != TEMPLATE_SUFFIX:
            documents.append((filename, content))
        elif name in texts or name in refused:
            texts.pop(name, None)
            refused[name] = (filename, f"two files hold template '{name}'; keep one / 有两个文件同为模板 '{name}'")
        elif len(content) > MAX_TEMPLATE_BYTES:
            refused[name] = (filename, f"template '{name}' is larger than {MAX_TEMPLATE_BYTES} bytes / 模板过大")
        else:
            try:
                texts[name] = content.decode("utf-8")
            except UnicodeDecodeError:
                refused[name] = (filename, f"template '{name}' must be UTF-8 encoded / 模板必须是 UTF-8 编码")
    return documents, DeployedTemplates(texts, refused)


@dataclass(frozen=True)
class NoticeCheck:
    """What a designer's notice is checked against: the deployment's templates, the server's, groups and users."""

    server_dir: Path
    deployed: DeployedTemplates
    groups: set[str]
    users: set[str]

    def problems(self, notice: dict[str, Any]) -> list[str]:
        """Its template renders in both languages, its recipients are readable and its groups and users exist."""
        found = []
        name = notice["template"]
        if name in self.deployed.refused:
            filename, refusal = self.deployed.refused[name]
            found.append(f"{filename}: {refusal}")
        elif template_problem := designed_template_problem(self.server_dir, name, self.deployed.texts.get(name)):
            found.append(template_problem)
        if not notice["to"]:
            found.append("a notification (camunda:property notify) needs notify_to: user:NAME, group:NAME or var:NAME")
        for recipient in notice["to"]:
            source, _, who = recipient.partition(":")
            if why := recipient_problem(recipient):
                found.append(why)
            elif source == "group" and who not in self.groups:
                found.append(f"notify_to group '{who}' does not exist / 通知的组 '{who}' 不存在")
            elif source == "user" and who not in self.users:
                found.append(f"notify_to user '{who}' does not exist / 通知的用户 '{who}' 不存在")
        return found


def named_users(session: Session, notices: Iterable[dict[str, Any]]) -> set[str]:
    """Which of the users the notices name exist (one query, only for those names)."""
    return existing_usernames(session, {r.partition(":")[2] for notice in notices for r in notice["to"]
                                        if r.startswith("user:")})


def with_sources(notices: dict[str, dict[str, Any]], deployed: DeployedTemplates) -> dict[str, dict[str, Any]]:
    """The notices to store: each one whose template came with the deployment carries its text."""
    texts = deployed.texts
    return {element_id: {**notice, "source": texts[notice["template"]]} if notice["template"] in texts
            else notice for element_id, notice in notices.items()}
