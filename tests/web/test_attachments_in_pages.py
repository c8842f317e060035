"""Attachments on the pages, in Chinese at desktop width: a photo uploaded from the task page shows as a
thumbnail there and on the case page; the return request's start page asks for the invoice file."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.api.conftest import PDF
from tests.api.test_return_exchange import REQUEST
from tests.web.conftest import fill_form, screenshot
from tests.web.page_api import stage_file, start_case, task_id_of


def _photo(path: Path) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 120, 200)).save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_a_photo_uploaded_from_the_task_page_shows_as_a_thumbnail(as_user: Callable[..., Page],
                                                                  tmp_path: Path) -> None:
    key = "TH-WEB-PHOTO"
    engineer = as_user("hb002.engineer", lang="zh")
    instance_id = start_case(engineer, "return_exchange",
                             {**REQUEST, "invoice": [stage_file(engineer, "发票.pdf", PDF)]}, key)
    engineer.goto(f"/tasks/{task_id_of(engineer, key, 'inspect_product')}")
    files = engineer.get_by_role("region", name="附件")
    expect(files.get_by_test_id("download")).to_have_text(["发票.pdf"])

    files.get_by_label(re.compile("添加附件")).set_input_files(str(_photo(tmp_path / "漏水照片.jpg")))
    files.get_by_role("button", name="上传").click()
    thumbnail = engineer.get_by_test_id("thumbnail")
    expect(thumbnail).to_have_count(1)
    expect(thumbnail).to_have_attribute("alt", "漏水照片.jpg")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 320  # the server's small picture
    box = thumbnail.bounding_box()
    assert box is not None and box["width"] <= 96
    expect(engineer.get_by_test_id("download")).to_have_text(["发票.pdf", "漏水照片.jpg"])
    record = engineer.get_by_test_id("approval-record")
    expect(record.locator("li[data-kind=attachment]")).to_contain_text("在「网点检测产品」添加了附件")
    expect(record.locator("li[data-kind=started]").get_by_test_id("record-file")).to_have_text("发票.pdf")
    screenshot(engineer, "task-attachments-zh")

    # A file of no allowed type is refused in the page's language, naming what is allowed.
    text = tmp_path / "说明.txt"
    text.write_text("不是图片")
    files.get_by_label(re.compile("添加附件")).set_input_files(str(text))
    files.get_by_role("button", name="上传").click()
    expect(engineer.locator("#flash")).to_contain_text("文件内容不是允许的类型")

    engineer.goto(f"/instances/{instance_id}")
    expect(engineer.get_by_test_id("thumbnail")).to_have_count(1)
    download = engineer.get_by_test_id("download").filter(has_text="漏水照片.jpg")
    with engineer.expect_download() as started:
        download.click()
    assert started.value.suggested_filename == "漏水照片.jpg"


def test_the_return_request_page_asks_for_the_invoice_file(as_user: Callable[..., Page], tmp_path: Path) -> None:
    page = as_user("hb002.engineer", lang="zh")
    page.goto("/start/return_exchange")
    invoice = page.get_by_label("购货发票", exact=True)
    expect(invoice).to_have_attribute("type", "file")
    fill_form(page, {k: v for k, v in REQUEST.items() if k != "region_class"} | {"region_class": "B"})
    page.get_by_role("button", name="发起", exact=True).click()
    expect(page.locator(".attachment-field .server-error")).to_have_text("请添加文件")

    scan = tmp_path / "发票扫描.pdf"
    scan.write_bytes(PDF)
    invoice.set_input_files(str(scan))
    page.get_by_role("button", name="发起", exact=True).click()
    expect(page).to_have_url(re.compile(r"/instances/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("download")).to_have_text(["发票扫描.pdf"])
    expect(page.get_by_test_id("approval-record").locator("li[data-kind=started]")).to_contain_text("发票扫描.pdf")
