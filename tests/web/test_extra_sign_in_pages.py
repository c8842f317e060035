"""加签 from the task page, in both languages at desktop and phone width: the RCC director asks the CSD
head to sign a return's approval before them; the director's own decision is refused in the page's
language while the sign is open; the CSD head finds the task in their inbox, answers 同意 with an
opinion (a 拒绝 without one is stopped in the page) and the approval record says who asked whom, when
and why, and what the signer answered. Signing after: the director's decision is held until the
signer answers, and a rejection gives the decision back to the director."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import PDF
from tests.web.conftest import DESKTOP, PHONE, no_horizontal_scroll, screenshot
from tests.web.page_api import INSPECTION, RETURN_REQUEST, call, stage_file, start_case, task_id_of, work

REASON = "金额较大，请部长会签 / a large amount: please co-sign"
OPINION = "发票无误，同意 / the invoice is in order"
WORDS = {
    "zh": {"card": "加签", "signer": "加签人", "position": "加签方式", "reason": "原因", "ask": "加签",
           "before": "前加签（先由对方审批，再由我决定）", "after": "后加签（我决定后，对方同意才生效）",
           "waiting": "正在等待 csd_head 加签", "approve_return": "同意退换", "refused": "此任务正在等待 csd_head 加签",
           "step": "RCC 主任批准退换货", "asked_card": "请您加签", "asked": "rcc_director 请您为此步骤加签",
           "yes": "同意", "no": "拒绝", "opinion": "审批意见", "opinion_needed": "拒绝需要填写意见。",
           "asked_before": "前加签：您先审批，再由 rcc_director 决定",
           "added": "为「RCC 主任批准退换货」加签：csd_head", "sign_before": "前加签",
           "decided": "加签审批「RCC 主任批准退换货」", "held": "正在等待 csd_head 同意"},
    "en": {"card": "Add a signer", "signer": "Signer", "position": "When they sign", "reason": "Reason",
           "ask": "Ask to sign", "before": "Before me (they sign first, then I decide)",
           "after": "After me (my decision goes through once they approve)",
           "waiting": "Waiting for csd_head to sign first", "approve_return": "Approve the return",
           "refused": "This task waits for csd_head to sign", "step": "RCC director approves",
           "asked_card": "You are asked to sign", "asked": "rcc_director asks you to sign this step",
           "yes": "Approve", "no": "Reject", "opinion": "Opinion", "opinion_needed": "A rejection needs an opinion.",
           "asked_before": "Before: you sign first, then rcc_director decides",
           "added": "asked csd_head to sign “RCC director approves”", "sign_before": "Sign before",
           "decided": "signed “RCC director approves”", "held": "it waits for csd_head to approve"},
}


def _at_director(as_user: Callable[..., Page], key: str) -> str:
    outlet = as_user("outlet")
    instance_id = start_case(outlet, "return_exchange", {**RETURN_REQUEST, "invoice": [stage_file(outlet, "发票.pdf", PDF)]}, key)
    work(outlet, key, "inspect_product", INSPECTION)
    return instance_id


def _ask(director: Page, words: dict[str, str], position: str) -> None:
    card = director.get_by_role("region", name=words["card"], exact=True)
    expect(card.get_by_label(words["signer"])).to_contain_text("csd_head")
    expect(card.get_by_label(words["signer"]).locator("option", has_text="rcc_director")).to_have_count(0)  # not oneself
    card.get_by_label(words["signer"]).select_option("csd_head")
    card.get_by_label(words["position"]).select_option(label=words[position])
    card.get_by_label(words["reason"]).fill(REASON)
    card.get_by_role("button", name=words["ask"], exact=True).click()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_signer_before_is_asked_and_answers_on_the_task_page(as_user: Callable[..., Page], lang: str,
                                                               viewport: str) -> None:
    key, words, size = f"TH-WEB-SIGN-{lang}-{viewport}", WORDS[lang], PHONE if viewport == "phone" else DESKTOP
    instance_id = _at_director(as_user, key)
    director = as_user("rcc_director", lang=lang, viewport=size)
    task_id = task_id_of(director, key, "rcc_director_approval")
    call(director, "POST", f"/api/tasks/{task_id}/claim")
    director.goto(f"/tasks/{task_id}")
    _ask(director, words, "before")
    expect(director.get_by_test_id("sign-waiting")).to_contain_text(words["waiting"])
    expect(director.get_by_test_id("sign-waiting")).to_contain_text(REASON)
    expect(director.get_by_role("region", name=words["card"], exact=True)).to_have_count(0)  # one open sign at a time
    assert no_horizontal_scroll(director)
    # Deciding before the signer has signed is refused, in the page's language, and changes nothing.
    director.get_by_role("button", name=words["approve_return"]).click()
    expect(director.locator("#flash")).to_contain_text(words["refused"])
    if lang == "zh" and viewport == "desktop":
        screenshot(director, "task-extra-sign-zh")

    head = as_user("csd_head", lang=lang, viewport=size)
    head.goto(f"/tasks?q={key}")  # the task is in the signer's inbox, though the director holds it
    head.get_by_role("link", name=words["step"]).click()
    asked = head.get_by_role("region", name=words["asked_card"])
    expect(asked).to_contain_text(words["asked"])
    expect(asked.get_by_test_id("sign-position")).to_have_text(words["asked_before"])
    expect(asked.get_by_test_id("sign-reason")).to_have_text(REASON)
    assert no_horizontal_scroll(head)
    requests: list[str] = []
    head.on("request", lambda request: requests.append(request.url) if "/extra-signs/" in request.url else None)
    asked.get_by_role("button", name=words["no"], exact=True).click()  # 拒绝 without an opinion: stopped here
    expect(asked.locator(".server-error")).to_have_text(words["opinion_needed"])
    expect(asked.get_by_label(words["opinion"])).to_have_attribute("aria-invalid", "true")
    assert requests == []
    asked.get_by_label(words["opinion"]).fill(OPINION)
    expect(asked.locator(".server-error")).to_have_count(0)
    if lang == "zh" and viewport == "phone":
        screenshot(head, "phone-sign-asked-zh")
    asked.get_by_role("button", name=words["yes"], exact=True).click()
    expect(head).to_have_url(re.compile(rf"/instances/{instance_id}$"))

    record = head.get_by_test_id("approval-record")
    added = record.locator("li[data-kind=sign_added]")
    expect(added.locator(".who")).to_have_text("rcc_director")  # who asked whom (in "what"), when, why
    expect(added.locator(".what")).to_have_text(words["added"])
    expect(added.get_by_test_id("outcome")).to_have_text(words["sign_before"])
    expect(added).to_contain_text(REASON)
    decided = record.locator("li[data-kind=sign_decided]")
    expect(decided.locator(".who")).to_have_text("csd_head")
    expect(decided.locator(".what")).to_have_text(words["decided"])
    expect(decided.get_by_test_id("outcome")).to_have_text(words["yes"])
    expect(decided).to_contain_text(OPINION)
    for entry in (added, decided):  # when: each entry carries its time
        expect(entry.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    # Signed: the director decides, as before, and the case moves on.
    director.reload()
    expect(director.get_by_test_id("sign-waiting")).to_have_count(0)
    director.get_by_role("button", name=words["approve_return"]).click()
    expect(director).to_have_url(re.compile(r"/tasks\?done="))
    waiting = [t["element_id"] for t in call(director, "GET", f"/api/instances/{instance_id}")["waiting_tasks"]]
    assert waiting == ["carry_out_return"]


def test_a_signer_after_holds_the_decision_and_a_rejection_gives_it_back(as_user: Callable[..., Page]) -> None:
    key, words = "TH-WEB-SIGN-AFTER", WORDS["en"]
    instance_id = _at_director(as_user, key)
    director = as_user("rcc_director")
    task_id = task_id_of(director, key, "rcc_director_approval")
    call(director, "POST", f"/api/tasks/{task_id}/claim")
    director.goto(f"/tasks/{task_id}")
    _ask(director, words, "after")
    director.get_by_role("button", name=words["approve_return"]).click()  # held, not refused
    expect(director).to_have_url(re.compile(r"/tasks\?done="))
    director.goto(f"/tasks/{task_id}")
    expect(director.get_by_test_id("sign-waiting")).to_contain_text(words["held"])

    head = as_user("csd_head")
    head.goto(f"/tasks/{task_id}")
    asked = head.get_by_role("region", name=words["asked_card"])
    expect(asked).to_contain_text("rcc_director has decided")
    asked.get_by_label(words["opinion"]).fill("先补发票 / the invoice first")
    asked.get_by_role("button", name=words["no"], exact=True).click()
    expect(head).to_have_url(re.compile(rf"/instances/{instance_id}$"))
    expect(head.get_by_test_id("approval-record").locator("li[data-kind=sign_decided]")).to_contain_text(
        "the invoice first")
    # The held decision is dropped: the step is the director's to decide again.
    director.goto(f"/tasks/{task_id}")
    expect(director.get_by_test_id("sign-waiting")).to_have_count(0)
    expect(director.get_by_role("region", name=words["card"], exact=True)).to_be_visible()  # may ask again
    waiting = [t["element_id"] for t in call(director, "GET", f"/api/instances/{instance_id}")["waiting_tasks"]]
    assert waiting == ["rcc_director_approval"]
