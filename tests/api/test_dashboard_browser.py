"""The dashboard in a real headless Chromium (Debian's chromium + chromedriver, driven by selenium): find a failed
publication, press retry, see it published; abort a waiting job; a read-only session sees no retry or abort button."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable

import pytest
from aiohttp.test_utils import TestServer

from adolf.api.app import create_app
from adolf.api.tokens import create_token
from tests.support.factories import USER_ID, make_draft

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if os.environ.get("ADOLF_REQUIRE_BROWSER") and not (CHROMIUM and CHROMEDRIVER):
    raise RuntimeError("ADOLF_REQUIRE_BROWSER is set but chromium / chromedriver are missing")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


async def until(check: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(check)
        if found:
            return found
        assert time.monotonic() < deadline, f"the dashboard never showed {what}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def dashboard(db, redis, client):
    server = TestServer(create_app(db, client))
    await server.start_server()
    driver = await asyncio.to_thread(browser)
    yield driver, str(server.make_url("/dashboard"))
    await asyncio.to_thread(driver.quit)
    await server.close()


def sign_in(driver, url: str, token: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "use-token").click()


def rows(driver, status: str) -> list:
    """The publish job's rows of that status (none while the page is redrawing the table)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return [
            row
            for row in driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr.job")
            if row.find_elements(By.CSS_SELECTOR, f"td.status-{status}")
            and "content_factory.tasks.publish_content" in row.text
        ]
    except StaleElementReferenceException:
        return []


def press_retry(driver) -> str | None:
    """Press the failed publication's retry button; its row's text, or None while the table is being redrawn."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        [row] = rows(driver, "failed")
        text = row.text
        row.find_element(By.CSS_SELECTOR, "button.retry").click()
        return text
    except (StaleElementReferenceException, ValueError):
        return None


async def test_retry_a_failed_publication_from_the_dashboard(dashboard, db, client, burst, marketplace):
    from selenium.webdriver.common.by import By

    driver, url = dashboard
    await marketplace.seed("wb", {"sku": "UI-1", "title": "Old", "description": "Old"})
    await marketplace.fault(kind="validation", marketplace="wb", sku="UI-1", path_contains="update", times=0)
    draft = await make_draft(db, marketplace="wb", sku="UI-1")
    await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    await burst(["content_high"])
    await marketplace.control("DELETE", "/faults")  # the seller fixed the card

    await asyncio.to_thread(sign_in, driver, url, await create_token(db, user_id=USER_ID))
    await until(lambda: rows(driver, "failed"), "the failed publication")
    lanes = await until(lambda: driver.find_elements(By.CSS_SELECTOR, "#lanes tbody tr"), "the lanes")
    assert any("no worker polls this lane" in lane.text for lane in lanes)
    pressed = await until(lambda: press_retry(driver), "a retry button to press")
    assert "VALIDATION_ERROR" in pressed
    await until(lambda: "retry queued" in driver.find_element(By.ID, "notice").text, "the retry queued")
    await burst(["content_high"])
    await until(lambda: rows(driver, "success"), "the publication published", timeout=30)
    assert (await db.fetchval("SELECT status FROM publications WHERE draft_id = $1", draft.id)) == "published"


async def test_a_read_only_session_sees_no_retry_button(dashboard, db, client, burst):
    from selenium.webdriver.common.by import By

    driver, url = dashboard
    from uuid import uuid4

    await client.publish_content(draft_id=uuid4(), user_id=USER_ID)  # DRAFT_NOT_FOUND: a failed run
    await burst(["content_high"])
    await asyncio.to_thread(sign_in, driver, url, await create_token(db, user_id=USER_ID, read_only=True))
    await until(lambda: rows(driver, "failed"), "the failed run")
    await until(lambda: "read-only" in driver.find_element(By.ID, "whoami").text, "the read-only marker")
    assert driver.find_elements(By.CSS_SELECTOR, "button.retry") == []


def press_abort(driver, job_id: str) -> bool:
    """Press the abort button of that job's row and accept the confirmation; False while the table is redrawn."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        row = driver.find_element(By.CSS_SELECTOR, f'#active tbody tr[data-job-id="{job_id}"]')
        row.find_element(By.CSS_SELECTOR, "button.abort").click()
    except (NoSuchElementException, StaleElementReferenceException):
        return False
    driver.switch_to.alert.accept()
    return True


async def test_abort_a_waiting_job_from_the_dashboard_and_read_only_sees_no_abort(dashboard, db, client, burst):
    from selenium.webdriver.common.by import By

    driver, url = dashboard
    job = await client.sync_publication_status()
    await client.enqueue("content_factory.tasks.cleanup_old_drafts", _defer_by=3600)
    await asyncio.to_thread(sign_in, driver, url, await create_token(db, user_id=USER_ID, read_only=True))
    await until(lambda: driver.find_elements(By.CSS_SELECTOR, "#active tbody tr"), "the waiting jobs")
    await until(lambda: "read-only" in driver.find_element(By.ID, "whoami").text, "the read-only marker")
    assert driver.find_elements(By.CSS_SELECTOR, "button.abort") == []

    await asyncio.to_thread(sign_in, driver, url, await create_token(db, user_id=USER_ID))
    await until(lambda: press_abort(driver, job.job_id), "an abort button to press")
    await until(lambda: "abort requested" in driver.find_element(By.ID, "notice").text, "the abort requested")
    await burst(["content_default"])
    assert (await client.job_info(job.job_id))["error_code"] == "ABORTED"
    await until(
        lambda: any("ABORTED" in row.text for row in driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr.job")),
        "the aborted run in the history",
    )
