"""Driving a case through Tixi's engine layer as people would (no HTTP), timing every step.

Each step is one transaction through `engine.db.transaction`: start, claim, complete; the queue
look-up that finds the next task (complete_task answers with the task it finished) is a read
(`engine.db.reading`), as the API's GET /api/tasks is.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import reading, transaction
from engine.identity import Actor
from engine.instances import start_instance
from engine.task_queue import list_tasks
from engine.tasks import claim_task, complete_task
from engine.timers import fire_instance_timers

OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))
# What each user task of the benchmark processes is completed with (valid for its form).
FORM_DATA: dict[str, dict[str, Any]] = {
    "review": {"rcc_approved": True, "site_inspection_notes": "现场整洁 / site in order"},
    "confirm": {"agreement_confirmed": True, "signatory_name": "王伟"},
    "work": {"rcc_approved": True},
}
T = TypeVar("T")


class StepTimer:
    """Runs each step in its own transaction (a read outside one) and keeps its duration (commit included) by kind."""

    READS = frozenset({"list"})

    def __init__(self, factory: sessionmaker[Session], clock: FrozenClock) -> None:
        self.factory, self.clock = factory, clock
        self.samples: dict[str, list[float]] = defaultdict(list)

    def step(self, kind: str, work: Callable[[Session], T]) -> T:
        self.clock.advance(timedelta(seconds=1))
        began = time.perf_counter()
        if kind in self.READS:
            with self.factory() as session, reading(session):
                result = work(session)
        else:
            with transaction(self.factory) as session:
                result = work(session)
        self.samples[kind].append(time.perf_counter() - began)
        return result


def run_two_task_case(timer: StepTimer, catalog: FormCatalog, *, claim_in_complete: bool = False) -> None:
    """Start minimal_two_tasks, then claim and complete its review and its confirmation.

    `claim_in_complete`: each task claimed and completed in one transaction (`claim=True`, the
    HTTP API's `"claim": true`), one step of kind "claim+complete".
    """
    clock = timer.clock
    business_key = f"bench-{uuid.uuid4().hex[:12]}"
    started = timer.step("start", lambda s: start_instance(s, clock, catalog, actor=OUTLET,
                                                           definition_key="minimal_two_tasks",
                                                           business_key=business_key))
    work_task(timer, catalog, DIRECTOR, started.waiting_tasks[0].task_id, FORM_DATA["review"], claim_in_complete)
    queue = timer.step("list", lambda s: list_tasks(s, actor=OUTLET, business_key=business_key, limit=1))
    work_task(timer, catalog, OUTLET, queue.items[0].task_id, FORM_DATA["confirm"], claim_in_complete)


def work_task(timer: StepTimer, catalog: FormCatalog, actor: Actor, task_id: uuid.UUID, data: dict[str, Any],
              claim_in_complete: bool = False) -> None:
    clock = timer.clock
    if claim_in_complete:
        timer.step("claim+complete", lambda s: complete_task(s, clock, catalog, actor=actor, task_id=task_id,
                                                             data=data, claim=True))
        return
    timer.step("claim", lambda s: claim_task(s, clock, actor=actor, task_id=task_id))
    timer.step("complete", lambda s: complete_task(s, clock, catalog, actor=actor, task_id=task_id, data=data))


@dataclass(frozen=True)
class Shape:
    """A service process run down one path: who starts it with what, then who works which task with what.

    A step whose user is "timer" advances the clock by `data["days"]` and fires the instance's due timers.
    """

    key: str
    files: tuple[str, ...]  # deployed together (called processes beside their caller)
    starter: str
    variables: dict[str, Any]
    steps: tuple[tuple[str, str, dict[str, Any]], ...]


def _actor(username: str) -> Actor:
    return Actor(username, frozenset({username}))  # the demo user of each group is named after it


def run_shape_case(timer: StepTimer, catalog: FormCatalog, shape: Shape) -> uuid.UUID:
    """One instance of `shape` through the engine layer: start, then per task list the queue, claim, complete."""
    clock = timer.clock
    business_key = f"bench-{uuid.uuid4().hex[:12]}"
    started = timer.step("start", lambda s: start_instance(s, clock, catalog, actor=_actor(shape.starter),
                                                           definition_key=shape.key, business_key=business_key,
                                                           variables=dict(shape.variables)))
    instance_id = started.summary.instance_id
    for username, element_id, given in shape.steps:
        data = {k: f"B-{instance_id.hex[:12]}" if v == NEW_OUTLET else v for k, v in given.items()}
        if username == "timer":
            clock.advance(timedelta(days=data["days"]))
            timer.step("timer", lambda s: fire_instance_timers(s, clock, instance_id=instance_id))
            continue
        actor = _actor(username)
        queue = timer.step("list", lambda s, a=actor: list_tasks(s, actor=a, business_key=business_key))
        task = next(t for t in queue.items if t.element_id == element_id)
        if task.assignee != username:
            timer.step("claim", lambda s, a=actor, t=task: claim_task(s, clock, actor=a, task_id=t.task_id))
        timer.step("complete", lambda s, a=actor, t=task, d=data: complete_task(s, clock, catalog, actor=a,
                                                                                task_id=t.task_id, data=d))
    return instance_id


# Each onboarding enters a new outlet in the register: its code is made per case (run_shape_case).
NEW_OUTLET = "<new outlet>"
MINIMAL = Shape("minimal_two_tasks", ("minimal_two_tasks.bpmn",), "outlet", {},
                (("rcc_director", "review", FORM_DATA["review"]), ("outlet", "confirm", FORM_DATA["confirm"])))
# The paths and form data of tests/api/test_outlet_onboarding.py and test_complaint_handling.py.
ONBOARDING = Shape(
    "outlet_onboarding", ("outlet_onboarding.bpmn",), "outlet",
    {"outlet_name": "华东家电维修中心", "applicant_name": "王伟", "contact_phone": "021-55501234",
     "address": "上海市浦东新区张江路 88 号", "region": "east", "region_class": "A", "legal_entity": True,
     "legal_entity_name": "上海华东家电维修有限公司",
     "premises": {"office_area_m2": 60, "repair_area_m2": 120, "has_reception_area": True},
     "equipment": {"installation": True, "repair": True, "office": True},
     "staff": {"installers": 4, "engineers": 3, "reception": 2, "settlement": 1, "parts_management": 1,
               "repair_workers": 5},
     "estimated_annual_repairs": 1800},
    (("rcc_director", "rcc_review", {"rcc_approved": True, "site_inspection_notes": "现场整洁，设备齐全"}),
     ("tech_section", "tech_review", {"tech_approved": True, "tech_comments": "技术力量满足要求"}),
     ("csd_head", "csd_approval", {"csd_approved": True, "csd_comments": "同意设立"}),
     ("rcc_director", "issue_agreement", {"outlet_code": NEW_OUTLET, "agreement_no": "TX-2026-001",
                                          "issued_on": "2026-01-20", "outlet_class": "A"}),
     ("outlet", "confirm_agreement", {"agreement_confirmed": True, "signatory_name": "王伟"}),
     ("training", "engineer_certification", {"certified_engineers": [{"name": "李强", "certificate_no": "ENG-001"}],
                                             "all_certified": True}),
     ("timer", "probation_period", {"days": 95}),
     ("rcc_director", "probation_assessment", {"probation_passed": True, "assessment_score": 92,
                                               "assessment_notes": "合格"})),
)
_RATINGS = {f"rating_{d}": 4 for d in ("tangibles", "reliability", "responsiveness", "assurance", "empathy", "recovery")}
COMPLAINT = Shape(
    "complaint_handling", ("complaint_handling.bpmn", "return_visit.bpmn"), "rcc_agent",
    {"complaint_channel": "hotline_800", "complainant_type": "customer", "customer_name": "张三",
     "customer_phone": "138-0013-8000", "customer_address": "上海市徐汇区漕溪北路 100 号", "product_model": "KFR-35GW",
     "serial_number": "SN-2025-000123", "complaint_category": "product_quality", "complaint_severity": "normal",
     "region": "east", "region_class": "A", "complaint_description": "空调不制冷 / the air conditioner does not cool"},
    (("rcc_agent", "dispatch_outlet", {"outlet_code": "HD-001"}),
     ("outlet", "onsite_repair", {"declined": False, "onsite_resolved": True, "onsite_visit_date": "2026-01-05",
                                  "fault_found": "冷媒泄漏 / refrigerant leak", "repair_actions": "补焊并加注冷媒",
                                  "resolution_summary": "已修复 / repaired"}),
     ("rcc_visitor", "conduct_return_visit", {"visit_channel": "phone", "customer_reached": True, **_RATINGS,
                                              "customer_satisfied": True, "visit_comments": "满意 / satisfied"}),
     ("tech_section", "quality_feedback", {"defect_category": "component", "affected_batch": "B-2025-11",
                                           "mass_failure_suspected": False,
                                           "feedback_notes": "冷凝器焊点缺陷 / condenser weld defect"})),
)
SHAPES = {shape.key: shape for shape in (MINIMAL, COMPLAINT, ONBOARDING)}
