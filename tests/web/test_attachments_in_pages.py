"""Attachments on the pages, in both languages at desktop and phone width: a photo uploaded from the
task page shows as a thumbnail there and on the case page; the return request's start page asks for
the invoice file."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.api.conftest import PDF
from tests.api.test_return_exchange import REQUEST
from tests.web.conftest import DESKTOP, PHONE, fill_form, no_horizontal_scroll, screenshot
from tests.web.page_api import RETURN_REQUEST, stage_file, start_case, task_id_of

WORDS = {
    "zh": {"files": "附件", "add": "添加附件", "upload": "上传", "added_at": "在「网点检测产品」添加了附件",
           "refused": "文件内容不是允许的类型", "invoice": "购货发票", "start": "发起", "missing": "请添加文件"},
    "en": {"files": "Attachments", "add": "Add a file (photo", "upload": "Upload",
           "added_at": "added a file at “Outlet inspects the product”", "refused": "The file's content is not an allowed type",
           "invoice": "Purchase invoice", "start": "Start", "missing": "Add a file"},
}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}


def _photo(path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 120, 200)).save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_a_photo_uploaded_from_the_task_page_shows_as_a_thumbnail(as_user: Callable[..., Page], tmp_path: Path,
                                                                  lang: str, viewport: str) -> None:
    key, words = f"TH-WEB-PHOTO-{lang}-{viewport}", WORDS[lang]
    engineer = as_user("hb002.engineer", lang=lang, viewport=VIEWPORTS[viewport])
    instance_id = start_case(engineer, "return_exchange",
                             {**RETURN_REQUEST, "invoice": [stage_file(engineer, "发票.pdf", PDF)]}, key)
    engineer.goto(f"/tasks/{task_id_of(engineer, key, 'inspect_product')}")
    files = engineer.get_by_role("region", name=words["files"])
    expect(files.get_by_test_id("download")).to_have_text(["发票.pdf"])

    files.get_by_label(re.compile(re.escape(words["add"]))).set_input_files(str(_photo(tmp_path / "漏水照片.jpg")))
    files.get_by_role("button", name=words["upload"]).click()
    thumbnail = engineer.get_by_test_id("thumbnail")
    expect(thumbnail).to_have_count(1)
    expect(thumbnail).to_have_attribute("alt", "漏水照片.jpg")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 320  # the server's small picture
    box = thumbnail.bounding_box()
    assert box is not None and box["width"] <= 96
    expect(engineer.get_by_test_id("download")).to_have_text(["发票.pdf", "漏水照片.jpg"])
    record = engineer.get_by_test_id("approval-record")
    expect(record.locator("li[data-kind=attachment]")).to_contain_text(words["added_at"])
    expect(record.locator("li[data-kind=started]").get_by_test_id("record-file")).to_have_text("发票.pdf")
    assert no_horizontal_scroll(engineer)
    if (lang, viewport) == ("zh", "desktop"):
        screenshot(engineer, "task-attachments-zh")

    # A file of no allowed type is refused in the page's language, naming what is allowed.
    text = tmp_path / "说明.txt"
    text.write_text("不是图片")
    files.get_by_label(re.compile(re.escape(words["add"]))).set_input_files(str(text))
    files.get_by_role("button", name=words["upload"]).click()
    expect(engineer.locator("#flash")).to_contain_text(words["refused"])

    engineer.goto(f"/instances/{instance_id}")
    expect(engineer.get_by_test_id("thumbnail")).to_have_count(1)
    download = engineer.get_by_test_id("download").filter(has_text="漏水照片.jpg")
    with engineer.expect_download() as started:
        download.click()
    assert started.value.suggested_filename == "漏水照片.jpg"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_return_request_page_asks_for_the_invoice_file(as_user: Callable[..., Page], tmp_path: Path,
                                                           lang: str, viewport: str) -> None:
    words = WORDS[lang]
    page = as_user("hb002.engineer", lang=lang, viewport=VIEWPORTS[viewport])
    page.goto("/start/return_exchange")
    invoice = page.get_by_label(words["invoice"], exact=True)
    expect(invoice).to_have_attribute("type", "file")
    fill_form(page, {k: v for k, v in REQUEST.items() if k != "region_class"} | {"region_class": "B"})
    page.get_by_role("button", name=words["start"], exact=True).click()
    expect(page.locator(".attachment-field .server-error")).to_have_text(words["missing"])
    assert no_horizontal_scroll(page)

    scan = tmp_path / "发票扫描.pdf"
    scan.write_bytes(PDF)
    invoice.set_input_files(str(scan))
    page.get_by_role("button", name=words["start"], exact=True).click()
    expect(page).to_have_url(re.compile(r"/instances/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("download")).to_have_text(["发票扫描.pdf"])
    expect(page.get_by_test_id("approval-record").locator("li[data-kind=started]")).to_contain_text("发票扫描.pdf")
