"""What can be told and how: event kinds and channels."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    TASK_QUEUED = "task_queued"  # a task entered a group's queue
    TASK_ASSIGNED = "task_assigned"
    TASK_DELEGATED = "task_delegated"
    TASK_RETURNED = "task_returned"  # a delegate gave the task back to its owner
    CASE_ENDED = "case_ended"  # a case the recipient started completed or was terminated
    MENTIONED = "mentioned"  # @name in a task comment
    DEADLINE_NEAR = "deadline_near"
    DEADLINE_BREACHED = "deadline_breached"
    PROCESS_NOTICE = "process_notice"  # a designer's notification: a send task or message event (template named)


class Channel(StrEnum):
    IN_APP = "in_app"  # the notification centre (the bell)
    EMAIL = "email"
    WEBHOOK = "webhook"  # a group's chat robot: WeCom, DingTalk or a generic signed POST
    SMS = "sms"


class WebhookKind(StrEnum):
    GENERIC = "generic"
    WECOM = "wecom"
    DINGTALK = "dingtalk"


# The daily digest's mail: not an event a person chooses channels for, so not an EventKind.
DIGEST_KIND = "digest"
# A person's digest naming this takes every kind.
EVERY_KIND = "*"

# What a person gets who chose nothing and whose groups set no default.
DEFAULT_CHANNELS: tuple[Channel, ...] = (Channel.IN_APP, Channel.EMAIL)
# Channels a person may choose (webhooks belong to groups, not people).
PERSONAL_CHANNELS = (Channel.IN_APP, Channel.EMAIL, Channel.SMS)
# Kinds that go to a group's webhooks as well as to its members.
GROUP_KINDS = frozenset({EventKind.TASK_QUEUED, EventKind.DEADLINE_NEAR, EventKind.DEADLINE_BREACHED,
                         EventKind.PROCESS_NOTICE})
PROCESS_NOTICE = EventKind.PROCESS_NOTICE.value
# Kinds that wait out quiet hours for working time; a breach is told at once.
WAITS_FOR_WORKING_TIME = frozenset({EventKind.DEADLINE_NEAR})
