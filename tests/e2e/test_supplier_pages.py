"""`/supplier/` on a phone (issue 14): headless Chromium at 390×844 walks the supplier's pages
from sign-in to an accepted offer and a loan in `repaying` — and on to its settlement with the
surplus released — while the outside world acts as it does: two banks make their offers through
the API, the purchaser confirms the payee account in the procurement simulator, the treasury
pays through its simulator. The platform is the end-to-end module's (the API on a real port,
the dev server, a worker with the real activities, the simulators calling back).

On every page: nothing is asked of any other host (a tripwire proxy takes everything the browser
would send elsewhere), no script or CSP error, no sideways scrolling, and every control is at
least 44 px tall. Screenshots of each step are saved under the test's tmp directory (printed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from domain.contracts import Supplier
from store.principals import ensure_credentials, generate_credentials
from tests.api.lifecycle import bank_headers, until
from tests.api.supplier_sign_in import latest_code
from tests.api.test_end_to_end import stack
from tests.e2e.browser import Page, chromium
from tests.e2e.test_docs_offline import Tripwire, asked_by_page
from tests.e2e.test_docs_offline import chromium as chromium_binary
from tests.fixtures.simulators import supplier_credit_code

__all__ = ["chromium_binary", "stack"]  # fixtures shared with their modules

pytestmark = pytest.mark.e2e

HOST = "zcd-supplier.gov.internal"  # the API under a name of its own, as a phone reaches it
CHECKS = """(() => {
  const small = [...document.querySelectorAll('button, a.button, a.card, summary, input, .tabs a')]
    .filter(e => e.offsetParent !== null)
    .map(e => [e.tagName + (e.id ? '#' + e.id : '') + ' ' + (e.textContent || '').trim().slice(0, 12),
               Math.round(e.getBoundingClientRect().height)])
    .filter(([, h]) => h < 44);
  const wide = document.documentElement.scrollWidth > window.innerWidth;
  const outside = [...document.querySelectorAll('[src], [href]')]
    .map(e => e.getAttribute('src') || e.getAttribute('href')).filter(u => /^(https?:)?\\/\\//.test(u));
  return {small, wide, outside, width: window.innerWidth};
})()"""


@pytest.fixture
async def tripwire() -> AsyncIterator[Tripwire]:
    wire = Tripwire()
    await wire.start()
    yield wire
    await wire.close()


@pytest.fixture(scope="module")
async def abc_bank(stack: dict[str, Any], db_pool: asyncpg.Pool) -> dict[str, str]:
    keys = generate_credentials(["ABC"])
    await ensure_credentials(db_pool, keys)
    return {"Authorization": f"Bearer {keys['banks']['ABC']}"}


class Walk:
    """The pages as the supplier sees them, checked and photographed at each step."""

    def __init__(self, page: Page, out: Path) -> None:
        self.page, self.out = page, out
        self.shots: list[Path] = []

    async def step(self, name: str, *, refused: int | None = None) -> None:
        """Check the page and photograph it; `refused`: the status of an answer the step provoked
        on purpose (the browser logs it as an error), the one console error allowed."""
        checks = await self.page.evaluate(CHECKS)
        assert checks["width"] == 390, checks
        assert not checks["wide"], f"{name}: the page scrolls sideways"
        assert not checks["small"], f"{name}: controls under 44 px tall: {checks['small']}"
        assert not checks["outside"], f"{name}: the page names another host: {checks['outside']}"
        expected = f"the server responded with a status of {refused} " if refused else None
        problems = [p for p in self.page.problems() if expected is None or expected not in p]
        assert problems == [], f"{name}: {problems}"
        self.shots.append(await self.page.screenshot(self.out / f"{len(self.shots) + 1:02d}-{name}.png"))

    async def text(self) -> str:
        return str(await self.page.evaluate("document.body.innerText"))


def until_shown(expires_at: str) -> str:
    """How the pages show an expiry: a midnight (Wuxi time) as 24:00 of the day before."""
    at = datetime.fromisoformat(expires_at)
    if (at.hour, at.minute) == (0, 0):
        return f"{(at.date() - timedelta(days=1)).isoformat()} 24:00"
    return at.strftime("%Y-%m-%d %H:%M")


async def test_a_supplier_gets_financed_on_a_phone(
    stack: dict[str, Any],
    abc_bank: dict[str, str],
    chromium_binary: str,
    tripwire: Tripwire,
    tmp_path: Path,
    db_pool: asyncpg.Pool,
) -> None:
    http: httpx.AsyncClient = stack["http"]
    sims = stack["sims"]
    icbc = bank_headers(stack)
    credit_code = supplier_credit_code()
    contract = await sims.new_contract(supplier=Supplier(credit_code=credit_code, name="无锡某某科技有限公司"))
    port = str(http.base_url).rstrip("/").rsplit(":", 1)[1]
    url = f"http://{HOST}:{port}/supplier/"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    flags = (
        f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{tripwire.port}",
        f"--proxy-bypass-list={HOST}",
    )
    async with chromium(chromium_binary, tmp_path / "profile", *flags) as browser:
        page = await browser.phone_page()
        walk = Walk(page, shots)

        # sign in: the credit code, then the six digits the SMS brought
        await page.goto(url)
        await page.wait_for("location.hash === '#/login' && document.querySelector('#credit-code')")
        await walk.step("sign-in")
        await page.type("#credit-code", credit_code)
        await page.tap("#ask-code")
        await page.wait_for("!document.querySelector('#enter').hidden", what="the code field")
        code = await latest_code(sims, credit_code)  # read off the phone
        await page.type("#sms-code", code)
        await walk.step("code-entered")
        await page.tap("#sign-in")

        # the contract, with what each bank would lend
        await page.wait_for(f"document.querySelector('[data-contract=\"{contract.contract_no}\"]')")
        assert "¥900,000.00" in await walk.text()  # 0.90 × 1,000,000.00, as verification computes it
        await walk.step("contracts")
        await page.tap("summary")
        await page.wait_for("document.querySelector('details').open")
        assert (await walk.text()).count("¥900,000.00") >= 23  # every seeded bank's STD product
        await walk.step("every-bank")

        # a financing request
        await page.tap(f'[data-contract="{contract.contract_no}"] a.button')
        await page.wait_for("document.querySelector('#request')")
        await page.type("#amount", "800000.00")
        await page.type("#account-no", "6222025000000001")
        await page.type("#account-name", "无锡某某科技有限公司")
        await walk.step("request-form")
        await page.tap("#post-request")
        request_id = str(await page.wait_for("location.hash.startsWith('#/requests/') && location.hash.slice(11)"))
        await page.wait_for("document.querySelector('#no-offers')")
        posted = (await http.get(f"/v1/financing-requests/{request_id}", headers=icbc)).json()
        assert await page.evaluate("document.querySelector('#expires-at').innerText") == until_shown(
            posted["expires_at"]
        )
        await walk.step("waiting-for-offers")

        # two banks answer through the API: ICBC with a term that ends before the money comes
        offers = f"/v1/financing-requests/{request_id}/offers"
        short = {"approved_amount": "800000.00", "annual_rate": "0.0360", "term_days": 60}
        made = await http.post(offers, json=short, headers=icbc)
        assert made.status_code == 201 and made.json()["maturity_warning"] is not None, made.text
        seen = (await http.get(f"/v1/financing-requests/{request_id}", headers=abc_bank)).json()
        fitting = {"approved_amount": "800000.00", "annual_rate": "0.0385", "term_days": seen["suggested_term_days"]}
        abc = await http.post(offers, json=fitting, headers=abc_bank)
        assert abc.status_code == 201 and abc.json()["maturity_warning"] is None, abc.text
        await page.tap("#refresh")
        await page.wait_for("document.querySelectorAll('.offer').length === 2", what="two offers")
        warned = await page.evaluate(
            f"document.querySelector('[data-offer=\"{made.json()['offer_id']}\"] .warning')?.innerText"
        )
        assert warned and "2027-03-31" in warned and "建议期限" in warned
        await walk.step("offers")

        # pick the offer that fits: a first tap asks to confirm, the second submits
        pick = f'button.pick[data-offer="{abc.json()["offer_id"]}"]'
        await page.tap(pick)
        await page.wait_for(f"document.querySelector('{pick}').textContent.includes('确认')")
        await walk.step("confirm-offer")
        await page.tap(pick)
        application_id = str(
            await page.wait_for("location.hash.startsWith('#/applications/') && location.hash.slice(15)")
        )
        await page.wait_for("document.querySelector('#stage')?.dataset.stage === 'account_lock'")
        shown = await walk.text()
        assert "¥800,000.00" in shown and "3.85%" in shown and f"{fitting['term_days']} 天" in shown
        await walk.step("accepted-account-lock")
        view = (await http.get(f"/v1/applications/{application_id}", headers=abc_bank)).json()
        assert view["stage"] == "account_lock" and view["offer_id"] == abc.json()["offer_id"]

        # the purchaser confirms the payee account: the loan is paid out
        path = f"/sim/contracts/{contract.contract_no}/account-change"
        assert (await sims.hook("procurement", "POST", path, {"decision": "confirmed"})).status_code < 300
        await until(http, f"/v1/applications/{application_id}", abc_bank, "repaying")
        await page.tap("#refresh")
        await page.wait_for("document.querySelector('#stage')?.dataset.stage === 'repaying'")
        assert "尚无还款" in await walk.text()
        await walk.step("repaying")

        # the treasury pays part of the contract: applied while the loan keeps repaying
        part = await sims.hook(
            "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "300000.00"}
        )
        assert part.json()["platform_status"] == "accepted", part.text
        for _ in range(100):
            loan = (await http.get(f"/v1/applications/{application_id}", headers=abc_bank)).json()
            if loan["principal_repaid"] != "0.00":
                break
            await page.evaluate("new Promise(r => setTimeout(r, 100))")  # polling the platform, bounded
        await page.tap("#refresh")
        await page.wait_for("document.body.innerText.includes('财政回款')", what="the repayment on the page")
        assert await page.evaluate("document.querySelector('#stage').dataset.stage") == "repaying"
        await walk.step("repaying-after-a-payment")

        # the rest: settled, and what is left over released to the supplier
        rest = await sims.hook(
            "treasury", "POST", "/sim/pay", {"contract_no": contract.contract_no, "amount": "700000.00"}
        )
        assert rest.json()["platform_status"] == "accepted", rest.text
        settled = await until(http, f"/v1/applications/{application_id}", abc_bank, "settled")
        await page.tap("#refresh")
        await page.wait_for("document.querySelector('#stage')?.dataset.stage === 'settled'")
        surplus = await page.evaluate("document.querySelector('#surplus').innerText")
        whole, fen = settled["surplus_released"].split(".")
        assert surplus == f"¥{int(whole):,}.{fen}"
        await walk.step("settled-surplus")

        await page.tap(".tabs a[data-tab='applications']")
        await page.wait_for(f"document.body.innerText.includes('{contract.contract_no}')")
        await walk.step("my-loans")

        # another contract, whose request nobody took up in time: the page left open on it says so
        later = await sims.new_contract(supplier=contract.supplier)
        token = await page.evaluate("sessionStorage.getItem('zcd_supplier_token')")
        supplier = {"Authorization": f"Bearer {token}"}
        body = {
            "contract_no": later.contract_no,
            "requested_amount": "500000.00",
            "collection_account": {"account_no": "6222025000000002", "account_name": "无锡某某科技有限公司"},
        }
        posted_later = await http.post("/v1/supplier/financing-requests", json=body, headers=supplier)
        assert posted_later.status_code == 201, posted_later.text
        later_id = posted_later.json()["request_id"]
        terms = {"approved_amount": "500000.00", "annual_rate": "0.0385", "term_days": 240}
        later_offer = await http.post(f"/v1/financing-requests/{later_id}/offers", json=terms, headers=icbc)
        assert later_offer.status_code == 201, later_offer.text
        await page.evaluate(f"location.hash = '#/requests/{later_id}'")
        await page.wait_for("document.querySelector('button.pick') && document.querySelector('#expires-at')")
        # ... and its working days go by (moved in the database: nothing sleeps)
        await db_pool.execute(
            "UPDATE financing_requests SET created_at = now() - interval '8 days', "
            "expires_at = now() - interval '1 second' WHERE request_id = $1",
            later_id,
        )
        late_pick = f'button.pick[data-offer="{later_offer.json()["offer_id"]}"]'
        await page.tap(late_pick)
        await page.wait_for(f"document.querySelector('{late_pick}').textContent.includes('确认')")
        await page.tap(late_pick)  # refused 409: the page shows the request as it is now
        await page.wait_for("document.querySelector('#expired-words')", what="the request shown expired")
        assert await page.evaluate("document.querySelector('#request-status').innerText") == "已过期"
        assert await page.evaluate("document.querySelectorAll('button.pick, #cancel-request, #expires-at').length") == 0
        assert "已失效" in await walk.text()  # the bank's offer lapsed with it
        await walk.step("request-expired", refused=409)
        await page.tap(".tabs a[data-tab='contracts']")
        card = f'[data-contract="{later.contract_no}"]'
        await page.wait_for(f"document.querySelector('{card} a.button')?.textContent === '申请融资'", what="free again")

    assert asked_by_page(tripwire.requests) == [], f"the pages asked the outside world: {tripwire.requests}"
    print("\nscreenshots:\n" + "\n".join(str(p) for p in walk.shots))
    assert all(p.stat().st_size > 20_000 for p in walk.shots)
