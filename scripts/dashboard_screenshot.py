"""Save a screenshot of the dashboard: `scripts/dashboard_screenshot.py URL TOKEN OUT.png [JOB_ID [JOB_NAME]]`.

Needs Debian's chromium and chromium-driver and the test extra (selenium). With JOB_ID, that job's detail is opened
before the picture is taken; with JOB_NAME, the history is searched for that job. docs/dashboard.png was made this
way from `scripts/run`'s demo and `adolf api`."""

from __future__ import annotations

import shutil
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main(url: str, token: str, out: str, job_id: str | None = None, job_name: str | None = None) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1200"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=options)
    try:
        driver.get(url)
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "use-token").click()
        deadline = time.monotonic() + 20
        while not driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr.job"):
            if time.monotonic() > deadline:
                sys.exit("the dashboard showed no jobs within 20 s")
            time.sleep(0.2)
        if job_name:
            driver.find_element(By.CSS_SELECTOR, '#filters input[name="name"]').send_keys(job_name)
            driver.find_element(By.CSS_SELECTOR, '#filters button[type="submit"]').click()
        if job_id:
            driver.execute_script("return showJob(arguments[0])", job_id)
        time.sleep(1.0)  # the search and the detail answer; a picture, not a test
        driver.execute_script("window.scrollTo(0, 0)")
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1500, min(max(height + 40, 900), 4000))
        driver.save_screenshot(out)
    finally:
        driver.quit()


if __name__ == "__main__":
    main(*sys.argv[1:6])
