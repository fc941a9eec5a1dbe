"""The console in a real headless Chromium (Debian's package, driven by Selenium through its chromedriver) on the
real stack: search 陈 and open a result; the 360° view shows every attribute with its source and the department
that says otherwise; the lifecycle graph draws one mark per event; the tracker lists the deliveries and the read
just made; an invalid check digit is explained; the English switch; the business dashboards; the operator
replays a reason in dry run. Each test saves a screenshot under the
state folder (``<stack_dir>/screenshots/``)."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from foundation.settings import Settings
from pobi.api import ObjectApi
from pobi.console.desk import ReplayDesk
from pobi.console.readlog import ReadLog
from pobi.demo.traffic import valid_id_number
from pobi.objects import object_service
from schemas.envelope import SourceRef, build_envelope
from schemas.registry import default_registry
from sinks.clickhouse.stage import SinkStage
from streams.fanout.stage import FanoutStage
from tests.samples import SAMPLE_ROWS
from tests.stream_helpers import running_stage, wait_for_group, whole_hub
from topics.producer import Publisher

pytestmark = pytest.mark.stack
DATASETS = ["person", "enterprise", "licence", "approval_case"]
PERSON = SAMPLE_ROWS["person"]["id_number"]
WRONG_CHECK_DIGIT = PERSON[:-1] + ("5" if PERSON[-1] != "5" else "6")


def _publish(settings: Settings) -> None:
    """陈志明 as public security registers him, then civil affairs with another phone number; two more 陈; the
    enterprise he represents and its licence."""
    now = int(time.time() * 1000)
    rows: list[tuple[str, str, str, dict[str, Any]]] = [
        ("person", "public-security", "c", SAMPLE_ROWS["person"]),
        ("person", "public-security", "u", SAMPLE_ROWS["person"] | {"address": "福州市鼓楼区五四路 2 号"}),
        ("person", "civil-affairs", "u", SAMPLE_ROWS["person"] | {"phone": "13905910009"}),
        ("person", "public-security", "c", SAMPLE_ROWS["person"] | {
            "id_number": valid_id_number("350102", date(1985, 12, 12), 3), "name": "陈美玲", "birth_date": None}),
        ("enterprise", "market-regulation", "c", SAMPLE_ROWS["enterprise"]),
        ("licence", "housing", "c", SAMPLE_ROWS["licence"]),
        # a case applied for and approved two days later (within half its 20-day statutory limit)
        ("approval_case", "market-regulation", "c", SAMPLE_ROWS["approval_case"]),
        ("approval_case", "market-regulation", "u", SAMPLE_ROWS["approval_case"] | {
            "stage": "approved", "stage_time": "2026-11-28T09:30:00+08:00"}),
        # and a record the normaliser refuses: its letter waits on the operator's desk
        ("person", "public-security", "c", SAMPLE_ROWS["person"] | {"id_number": WRONG_CHECK_DIGIT}),
    ]
    with Publisher(settings) as publisher:
        for n, (dataset, department, op, row) in enumerate(rows):
            publisher.send_event(dataset, build_envelope(
                default_registry().latest(dataset), event_id=f"console-{n}", op=op,
                source=SourceRef(department, "system"), position=str(n), ts_ms=now - (len(rows) - n) * 60_000,
                before=None, after=row), topic=settings.topics.ingest(dataset))


@contextmanager
def _console_on(settings: Settings, **api: Any) -> Iterator[str]:
    """The demo-like data through every stage on ``settings``' stack, and the API with the console; its URL. The
    sink keeps running meanwhile, so reads reach ClickHouse."""
    _publish(settings)
    sink = SinkStage(settings, datasets=DATASETS)
    reads = ReadLog(settings)
    reads.setup()
    with running_stage(settings, DATASETS), \
            running_stage(settings, DATASETS, stage=FanoutStage(settings, datasets=DATASETS)), \
            running_stage(settings, DATASETS, stage=sink):
        wait_for_group(settings, "pobi-normalize", [settings.topics.ingest(d) for d in DATASETS])
        wait_for_group(settings, "pobi-fanout", [settings.topics.norm(d) for d in DATASETS])
        wait_for_group(settings, "pobi-sink", sink.topics())
        server = ObjectApi(object_service(settings, connections=4), "127.0.0.1", 0, reads=reads,
                           desk=ReplayDesk(settings), **api)
        server.start()
        try:
            yield f"{'https' if 'tls' in api else 'http'}://127.0.0.1:{server.port}"
        finally:
            server.stop()
            reads.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, live_stack: object) -> Iterator[tuple[str, Settings]]:
    settings, _writer = whole_hub(uuid.uuid4().hex[:10], tmp_path_factory.mktemp("secrets"), DATASETS)
    with _console_on(settings) as url:
        yield url, settings


@pytest.fixture(scope="module")
def secure_console(secure_stack: Settings) -> Iterator[tuple[str, Settings]]:
    """The same on the secure stack: HTTPS, the API's bearer token, a viewer and an operator who log in."""
    from foundation.secrets import ensure_password, hub_key
    from pobi.console.access import ConsoleUsers, Sessions
    from pobi.stack.tls import tls_files

    settings, _writer = whole_hub(uuid.uuid4().hex[:10], None, DATASETS, base=secure_stack)
    for role, user in (("viewer", "clerk"), ("operator", "oncall")):
        ensure_password(settings, f"console/{role}", user)
    files = tls_files(settings)
    with _console_on(settings, tls=(str(files.server_cert), str(files.server_key)), token="t0ken-" + "x" * 20,
                     users=ConsoleUsers(settings), sessions=Sessions(hub_key(settings))) as url:
        yield url, settings


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from pobi.stack.install import apt_install

    fonts = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Chinese glyphs for the screenshots
    if not (shutil.which("chromium") and shutil.which("chromedriver") and fonts.exists()):
        apt_install(["chromium", "chromium-driver", "fonts-wqy-microhei"], tmp_path_factory.mktemp("apt") / "apt.log")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    # the flags a closed network needs (no background lookups) and a root user needs (no sandbox)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 "--ignore-certificate-errors",  # the secure stack's own CA is not in this throwaway profile
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = check()
        except Exception:  # an element not there yet
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("the console did not show it in time")
        time.sleep(0.2)


def _screenshot(browser: Any, settings: Settings, name: str) -> Path:
    folder = settings.stack_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000
    return path


def _open_person(browser: Any, url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/console/")
    box = browser.find_element(By.ID, "search")
    box.clear()
    box.send_keys("陈")
    results = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results a.result"))
    assert len(results) >= 2  # 陈志明 and 陈美玲 (and the enterprise his name is on)
    next(r for r in results if PERSON in r.text).click()
    _wait(lambda: browser.find_element(By.ID, "entity").is_displayed())


def test_search_and_the_360_view_with_every_source(console: tuple[str, Settings], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = console
    _open_person(browser, url)
    view = object_service(settings).object(PERSON)
    rows = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#attributes tr")[1:])
    # a row is headed by the field's Chinese name and the field ("联系电话 phone")
    shown = {r.find_elements(By.TAG_NAME, "td")[0].text.split()[-1]: [c.text for c in r.find_elements(
        By.TAG_NAME, "td")] for r in rows}
    assert set(shown) == set(view["attributes"])  # every attribute…
    assert all(cells[2] for cells in shown.values())  # …with the department that said it
    assert shown["phone"][0] == "联系电话 phone" and shown["name"][0] == "姓名 name"
    assert shown["phone"][1] == "13905910009" and shown["phone"][2] == "civil-affairs"  # the newest word
    assert "public-security" in shown["phone"][4] and SAMPLE_ROWS["person"]["phone"] in shown["phone"][4]
    related = browser.find_element(By.ID, "related").text
    assert SAMPLE_ROWS["enterprise"]["uscc"] in related  # the enterprise he represents, as a link
    _screenshot(browser, settings, "360-view")


def test_the_lifecycle_draws_one_mark_per_event(console: tuple[str, Settings], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = console
    _open_person(browser, url)
    browser.find_element(By.CSS_SELECTOR, "[data-tab=lifecycle]").click()
    events = object_service(settings).timeline(PERSON)["events"]
    marks = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#lifecycle circle.event-mark"))
    assert len(events) == 3 and sorted(m.get_attribute("data-event") for m in marks) == sorted(
        e["event_id"] for e in events)
    lanes = {t.text for t in browser.find_elements(By.CSS_SELECTOR, "#lifecycle text.lane")}
    assert lanes == {"public-security · person", "civil-affairs · person"}
    marks[0].click()
    assert marks[0].get_attribute("data-event") in browser.find_element(By.ID, "event-detail").text
    browser.find_element(By.ID, "zoom-in").click()
    _screenshot(browser, settings, "lifecycle")


def test_a_case_s_lifecycle_draws_its_stages_against_its_limits(console: tuple[str, Settings],
                                                                browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = console
    case = SAMPLE_ROWS["approval_case"]
    browser.get(f"{url}/console/#/entity/{case['case_id']}")
    _wait(lambda: browser.find_element(By.ID, "entity").is_displayed())
    browser.find_element(By.CSS_SELECTOR, "[data-tab=lifecycle]").click()
    stages = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#lifecycle circle.stage-mark"))
    assert sorted(m.get_attribute("data-stage") for m in stages) == ["applied", "approved"]
    limits = browser.find_elements(By.CSS_SELECTOR, "#lifecycle line.limit")
    assert len(limits) == 2  # promised (5 days) and statutory (20 days), counted from the application
    x = {m.get_attribute("data-stage"): float(m.get_attribute("cx")) for m in stages}
    promised, statutory = sorted(float(line.get_attribute("x1")) for line in limits)
    assert x["applied"] < x["approved"] < promised < statutory  # decided in two days: within both
    _screenshot(browser, settings, "case-lifecycle")


def test_the_tracker_lists_the_deliveries_and_the_read_just_made(console: tuple[str, Settings],
                                                                 browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = console
    started = int(time.time() * 1000)
    _open_person(browser, url)  # a read: recorded on audit.read, written to ClickHouse by the sink
    deliveries = object_service(settings).tracker(PERSON)["deliveries"]
    assert deliveries and {d["subscriber"] for d in deliveries} == {"fuzhou-city"}

    def read_shown() -> bool:
        browser.refresh()
        _wait(lambda: browser.find_element(By.ID, "entity").is_displayed())
        browser.find_element(By.CSS_SELECTOR, "[data-tab=tracker]").click()
        text = browser.find_element(By.ID, "reads").text
        return "console@127.0.0.1" in text and "object" in text

    _wait(read_shown, timeout_s=60)
    reads = object_service(settings).reads(PERSON)["reads"]
    assert any(r["ts_ms"] >= started and r["channel"] == "console" and r["view"] == "object" for r in reads)
    delivered = browser.find_elements(By.CSS_SELECTOR, "#deliveries tr")[1:]
    assert len(delivered) == len(deliveries) and "fuzhou-city" in delivered[0].text
    _screenshot(browser, settings, "tracker")


def test_a_wrong_check_digit_is_explained_and_english_is_one_click_away(console: tuple[str, Settings],
                                                                        browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = console
    browser.get(f"{url}/console/")
    browser.find_element(By.ID, "search").send_keys(WRONG_CHECK_DIGIT)
    message = _wait(lambda: browser.find_element(By.ID, "message").text)
    assert "not an ID number" in message and f"should be {PERSON[-1]}" in message  # the digit it should have
    browser.find_element(By.ID, "language").click()
    assert browser.find_element(By.CSS_SELECTOR, "[data-tab=tracker]").get_attribute("textContent") == \
        "Data tracker"
    _screenshot(browser, settings, "check-digit")


def test_the_dashboards_show_timeliness_licences_and_deliveries(console: tuple[str, Settings],
                                                                browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = console
    browser.get(f"{url}/console/#/dashboards")
    cases = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#dash-timeliness tr")[1:])
    case = next(r for r in cases if SAMPLE_ROWS["approval_case"]["item_code"] in r.text)
    cells = [c.text for c in case.find_elements(By.TAG_NAME, "td")]
    assert cells[2] == "1" and cells[3] == "2.0" and cells[6] == "100%"  # decided in 2 days of 20: within half
    licences = browser.find_element(By.ID, "dash-licences").text
    assert SAMPLE_ROWS["licence"]["licence_type"] in licences
    assert "fuzhou-city" in browser.find_element(By.ID, "dash-deliveries").text
    _screenshot(browser, settings, "dashboards")


def test_the_operator_replays_a_reason_in_dry_run_first(console: tuple[str, Settings], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = console
    browser.get(f"{url}/console/#/desk")
    reasons = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#desk-reasons tr[data-reason]"))
    lag = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
           for r in _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#desk-lag tr")[1:])}
    assert lag["normalize"] == "0" and lag["fanout"] == "0"  # every stage caught up with this namespace
    refused = next(r for r in reasons if r.get_attribute("data-stage") == "normalize")
    reason = refused.get_attribute("data-reason")
    assert reason.startswith("id_number")
    refused.click()
    letters = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#desk-letters tr")[1:])
    assert len(letters) == 1 and settings.topics.ingest("person") in letters[0].text, [x.text for x in letters]
    assert browser.find_element(By.ID, "replay-real").get_attribute("disabled")  # a dry run first
    browser.find_element(By.ID, "replay-dry").click()
    report = _wait(lambda: browser.find_element(By.ID, "replay-report").text)
    assert "1" in report and ("试运行" in report or "Dry run" in report)
    assert not browser.find_element(By.ID, "replay-real").get_attribute("disabled")
    _screenshot(browser, settings, "operator-desk")


def _log_in(browser: Any, url: str, settings: Settings, user: str, role: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{url}/console/")
    _wait(lambda: browser.find_element(By.ID, "login").is_displayed())
    browser.find_element(By.ID, "login-user").send_keys(user)
    browser.find_element(By.ID, "login-password").send_keys(
        settings.password_path(f"console/{role}", user).read_text().strip())
    browser.find_element(By.ID, "login-submit").click()
    _wait(lambda: browser.find_element(By.ID, "who").is_displayed())


def test_on_the_secure_profile_a_viewer_logs_in_sees_less_and_cannot_open_the_desk(
        secure_console: tuple[str, Settings], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    url, settings = secure_console
    browser.get(f"{url}/console/")
    browser.delete_all_cookies()
    _log_in(browser, url, settings, "clerk", "viewer")
    assert "clerk" in browser.find_element(By.ID, "who").text
    assert not browser.find_element(By.ID, "login").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, '.pages a[href="#/desk"]').is_displayed()
    box = browser.find_element(By.ID, "search")
    box.send_keys("陈")
    results = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#results a.result"))
    person = next(r for r in results if PERSON in r.text)
    # a person's name partially shown; an enterprise's legal representative is public (as the registry says)
    assert person.text.startswith("陈**") and "陈志明" not in person.text
    person.click()
    rows = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#attributes tr")[1:])
    shown = {r.find_elements(By.TAG_NAME, "td")[0].text.split()[-1]: r.find_elements(By.TAG_NAME, "td")[1].text
             for r in rows}
    assert shown["name"] == "陈**" and shown["phone"] == "139****0009" and shown["id_number"] == "350102********1234"
    _screenshot(browser, settings, "secure-viewer")
    browser.get(f"{url}/console/#/desk")
    message = _wait(lambda: browser.find_element(By.ID, "message").text)
    assert "operators" in message and not browser.find_elements(By.CSS_SELECTOR, "#desk-reasons tr[data-reason]")

    browser.find_element(By.ID, "logout").click()
    _log_in(browser, url, settings, "oncall", "operator")
    browser.get(f"{url}/console/#/desk")
    reasons = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#desk-reasons tr[data-reason]"))
    assert any(r.get_attribute("data-stage") == "normalize" for r in reasons)
    _screenshot(browser, settings, "secure-operator-desk")
