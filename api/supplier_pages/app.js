// 政采贷 · 企业端: the supplier's pages, a small single page over the platform's own API
// (/v1/supplier/*), served by the API itself: no framework, no CDN, nothing fetched elsewhere.
// Money is shown from the API's decimal strings as they are (never through a float).
"use strict";

const TOKEN = "zcd_supplier_token";
const view = document.getElementById("view");

const STAGES = {
  verifying: "核验中", bank_review: "银行审核", account_lock: "回款账户锁定", disbursing: "放款中",
  repaying: "还款中", overdue: "已逾期", settled: "已结清", rejected: "未获批准", withdrawn: "已撤回",
  expired: "已过期", failed: "未成功", written_off: "已核销",
};
const REQUEST_STATUS = {
  open: "等待银行报价", accepting: "正在提交", accepted: "已选定报价", cancelled: "已撤回", expired: "已过期",
};
const OFFER_STATUS = { open: "可选择", accepted: "已选择", lapsed: "已失效", replaced: "已更新" };
const CONTRACT_STATUS = { draft: "草稿", effective: "履行中", terminated: "已终止", completed: "已完成" };
const PATH = ["account_lock", "disbursing", "repaying", "settled"];
// what the supplier is waiting for, or how it ended, in its own words (the API's are for banks and ops)
const WAITING = {
  verifying: "正在向采购系统核验合同", bank_review: "等待银行审核",
  account_lock: "等待采购单位确认把合同回款账户变更为您的收款账户",
  disbursing: "等待银行放款", overdue: "贷款已逾期，请尽快还款：逾期部分按罚息利率计息",
};
const ENDED = {
  settled: "贷款已全部还清，余款已释放给企业。", rejected: "银行未批准此申请。", withdrawn: "申请已撤回。",
  expired: "银行未在期限内审核，申请已过期。", written_off: "贷款已被银行核销。",
  failed: "融资未能完成（例如采购单位未同意变更回款账户），已办理的手续均已撤销。",
};

// ---- formatting ----------------------------------------------------------------------------

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function yuan(amount) { // "800000.00" -> "¥800,000.00", digits moved as text
  if (amount === null || amount === undefined) return "—";
  const [whole, fen = "00"] = String(amount).replace("-", "").split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (String(amount).startsWith("-") ? "-¥" : "¥") + grouped + "." + fen.padEnd(2, "0");
}

function percent(rate) { // "0.0385" -> "3.85%", the decimal point moved two places as text
  if (!rate) return "—";
  let [whole, frac = ""] = String(rate).split(".");
  frac = frac.padEnd(2, "0");
  let digits = (whole + frac.slice(0, 2)).replace(/^0+(?=\d)/, "");
  let rest = frac.slice(2).replace(/0+$/, "");
  return digits + (rest ? "." + rest : "") + "%";
}

function moreMoney(a, b) { // compares two non-negative decimal strings of two places, as text
  const [wa, fa] = String(a).split("."), [wb, fb] = String(b).split(".");
  if (wa.length !== wb.length) return wa.length > wb.length;
  return wa + fa > wb + fb;
}

function day(iso) { return iso ? String(iso).slice(0, 10) : "—"; }

// "2026-10-16T00:00:00+08:00" -> "2026-10-15 24:00": the API gives instants in +08:00 (Wuxi time), so the
// date and hour are read as text; a request open to the end of a working day expires at its midnight
function until(iso) {
  if (!iso) return "—";
  const text = String(iso);
  const [date, time] = [text.slice(0, 10), text.slice(11, 16)];
  if (time !== "00:00") return date + " " + time;
  const [y, m, d] = date.split("-").map(Number);
  const before = new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
  return before + " 24:00";
}

function row(label, value) { return `<div class="row"><span>${esc(label)}</span><span>${value}</span></div>`; }

// ---- talking to the API --------------------------------------------------------------------

function token() { return sessionStorage.getItem(TOKEN); }

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (response.status === 401 && token() && !path.startsWith("/v1/supplier/sessions")) {
    sessionStorage.removeItem(TOKEN);
    location.hash = "#/login";
  }
  return { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
}

function problemText(answer) {
  const code = answer.data && answer.data.code;
  const words = {
    unauthenticated: "验证码错误或已失效，请重新获取。",
    too_many_attempts: `尝试次数过多，账号已暂时锁定，请约 ${Math.ceil((answer.retryAfter || 900) / 60)} 分钟后再试。`,
    validation_error: "填写的内容不符合要求：",
    contract_not_found: "采购系统中没有这份合同。",
    contract_already_financed: "这份合同已有进行中的融资或融资需求。",
    invalid_state: "当前状态下不能这样操作（可能已被处理），请刷新后再看。",
    not_found: "没有找到。",
    upstream_unavailable: "相关系统暂时无法连接，请稍后重试。",
  }[code] || "操作未成功，请稍后重试。";
  const detail = code === "validation_error" && answer.data.detail ? esc(answer.data.detail) : "";
  return `<p class="notice" role="alert">${esc(words)}${detail}</p>`;
}

function show(html) { view.innerHTML = html; window.scrollTo(0, 0); }

function busy(button, text) { button.disabled = true; button.textContent = text; }

// ---- sign in -------------------------------------------------------------------------------

function signInPage(message) {
  show(`
    <h2>企业登录</h2>
    <p class="muted">使用统一社会信用代码登录，验证码将发送到贵单位登记的手机号。</p>
    ${message || ""}
    <form id="ask">
      <label for="credit-code">统一社会信用代码</label>
      <input id="credit-code" name="credit_code" maxlength="18" autocomplete="username" autocapitalize="characters"
             spellcheck="false" placeholder="18 位代码" value="${esc(sessionStorage.getItem("zcd_credit_code") || "")}">
      <button id="ask-code" type="submit">获取验证码</button>
    </form>
    <form id="enter" hidden>
      <label for="sms-code">短信验证码</label>
      <input id="sms-code" name="code" inputmode="numeric" pattern="[0-9]*" maxlength="6" autocomplete="one-time-code"
             placeholder="6 位数字">
      <p class="muted">验证码 5 分钟内有效，仅可使用一次。</p>
      <button id="sign-in" type="submit">登录</button>
    </form>
    <div id="login-message"></div>`);
  const ask = document.getElementById("ask");
  const enter = document.getElementById("enter");
  const message_ = document.getElementById("login-message");
  ask.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = document.getElementById("credit-code").value.trim().toUpperCase();
    const button = document.getElementById("ask-code");
    busy(button, "发送中…");
    const answer = await api("POST", "/v1/supplier/login-codes", { credit_code: code });
    button.disabled = false;
    button.textContent = "重新获取验证码";
    if (answer.status === 202) {
      sessionStorage.setItem("zcd_credit_code", code);
      enter.hidden = false;
      message_.innerHTML = `<p class="good">验证码已发送（如该代码已登记手机号）。</p>`;
      document.getElementById("sms-code").focus();
    } else {
      message_.innerHTML = problemText(answer);
    }
  });
  enter.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("sign-in");
    busy(button, "登录中…");
    const answer = await api("POST", "/v1/supplier/sessions", {
      credit_code: sessionStorage.getItem("zcd_credit_code"),
      code: document.getElementById("sms-code").value.trim(),
    });
    button.disabled = false;
    button.textContent = "登录";
    if (answer.status === 201) {
      sessionStorage.setItem(TOKEN, answer.data.token);
      location.hash = "#/contracts";
    } else {
      message_.innerHTML = problemText(answer);
    }
  });
}

// ---- contracts -----------------------------------------------------------------------------

async function contractsPage() {
  const answer = await api("GET", "/v1/supplier/contracts");
  if (answer.status !== 200) return show(problemText(answer));
  const items = answer.data.items;
  window.zcdContracts = Object.fromEntries(items.map((c) => [c.contract_no, c]));
  show(`<h2>我的合同</h2>` + (items.length ? items.map(contractCard).join("") :
    `<p class="muted">采购系统中还没有贵单位的合同。</p>`));
}

function contractCard(c) {
  const best = c.offers.reduce((top, o) => (!top || moreMoney(o.eligible_maximum, top.eligible_maximum) ? o : top), null);
  let action = "";
  if (c.financing) {
    action = `<a class="button secondary" href="#/applications/${esc(c.financing.application_id)}">查看融资进度（${esc(STAGES[c.financing.stage] || c.financing.stage)}）</a>`;
  } else if (c.financing_request) {
    action = `<a class="button secondary" href="#/requests/${esc(c.financing_request.request_id)}">查看银行报价（${c.financing_request.offers} 个）</a>`;
  } else if (c.financeable) {
    action = `<a class="button" href="#/request/${encodeURIComponent(c.contract_no)}">申请融资</a>`;
  } else {
    action = `<p class="muted">暂不可融资：${esc(c.not_financeable_because || "")}</p>`;
  }
  const advice = c.term_advice && c.financeable ? `<p class="muted">预计 ${esc(day(c.term_advice.expected_payment_date))} 回款，建议贷款期限不少于 ${c.term_advice.suggested_term_days} 天。</p>` : "";
  return `
    <section class="card contract" data-contract="${esc(c.contract_no)}">
      <h3>${esc(c.project_name)}</h3>
      <p class="muted">${esc(c.purchaser.name)} · ${esc(c.purchaser.district)} · ${esc(CONTRACT_STATUS[c.status] || c.status)}</p>
      ${row("合同金额", yuan(c.amount))}
      ${row("已回款", yuan(c.paid_amount))}
      ${row("预计回款日", esc(day(c.expected_payment_date)))}
      ${best ? row("最高可贷", `<b>${yuan(best.eligible_maximum)}</b>`) : ""}
      ${advice}
      <details>
        <summary>各银行可贷额度（${c.offers.length} 家）</summary>
        <ul class="banks">${c.offers.map((o) => `<li><span>${esc(o.bank_name)}<br><small class="muted">年利率 ${percent(o.min_rate)}–${percent(o.max_rate)} · 最长 ${o.max_term_days} 天</small></span><b>${yuan(o.eligible_maximum)}</b></li>`).join("")}</ul>
      </details>
      ${action}
    </section>`;
}

// ---- a new financing request ------------------------------------------------------------------

async function newRequestPage(contractNo) {
  let c = (window.zcdContracts || {})[contractNo];
  if (!c) {
    const answer = await api("GET", "/v1/supplier/contracts");
    if (answer.status !== 200) return show(problemText(answer));
    c = answer.data.items.find((item) => item.contract_no === contractNo);
    if (!c) return show(`<p class="notice">没有这份合同。</p>`);
  }
  const most = c.offers.map((o) => o.eligible_maximum).reduce((top, m) => (!top || moreMoney(m, top) ? m : top), "");
  show(`
    <h2>申请融资</h2>
    <section class="card">
      <h3>${esc(c.project_name)}</h3>
      ${row("合同编号", esc(c.contract_no))}
      ${row("最高可贷", yuan(most))}
      ${row("预计回款日", esc(day(c.expected_payment_date)))}
    </section>
    <form id="request">
      <label for="amount">申请金额（元）</label>
      <input id="amount" inputmode="decimal" value="${esc(most)}" placeholder="例如 800000.00">
      <label for="account-no">收款账户（回款将锁定至此账户）</label>
      <input id="account-no" inputmode="numeric" placeholder="银行账号">
      <label for="account-name">账户名称</label>
      <input id="account-name" value="${esc(sessionStorage.getItem("zcd_account_name") || "")}" placeholder="单位全称">
      <p class="muted">提交后，全市合作银行都能看到这份需求并给出报价，您从中选择一家。</p>
      <button id="post-request" type="submit">提交融资需求</button>
    </form>
    <div id="request-message"></div>`);
  document.getElementById("request").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("post-request");
    busy(button, "提交中…");
    let amount = document.getElementById("amount").value.trim().replace(/,/g, "");
    if (/^\d+$/.test(amount)) amount += ".00";
    if (/^\d+\.\d$/.test(amount)) amount += "0";
    const name = document.getElementById("account-name").value.trim();
    sessionStorage.setItem("zcd_account_name", name);
    const answer = await api("POST", "/v1/supplier/financing-requests", {
      contract_no: c.contract_no,
      requested_amount: amount,
      collection_account: { account_no: document.getElementById("account-no").value.trim(), account_name: name },
    });
    button.disabled = false;
    button.textContent = "提交融资需求";
    if (answer.status === 201) location.hash = "#/requests/" + answer.data.request_id;
    else document.getElementById("request-message").innerHTML = problemText(answer);
  });
}

// ---- requests and offers ----------------------------------------------------------------------

async function requestsPage() {
  const answer = await api("GET", "/v1/supplier/financing-requests");
  if (answer.status !== 200) return show(problemText(answer));
  const items = answer.data.items;
  show(`<h2>融资需求</h2>` + (items.length ? items.map((r) => `
    <a class="card linked" href="#/requests/${esc(r.request_id)}">
      <h3>${esc(r.contract.project_name)}</h3>
      ${row("申请金额", yuan(r.requested_amount))}
      ${row("状态", `<span class="badge">${esc(REQUEST_STATUS[r.status] || r.status)}</span>`)}
      ${r.status === "open" ? row("有效期至", esc(until(r.expires_at))) : ""}
      ${row("银行报价", `${r.offers.filter((o) => o.status === "open").length} 个可选`)}
    </a>`).join("") : `<p class="muted">还没有融资需求。在“我的合同”中点“申请融资”。</p>`));
}

async function requestPage(requestId) {
  const answer = await api("GET", "/v1/supplier/financing-requests/" + encodeURIComponent(requestId));
  if (answer.status !== 200) return show(problemText(answer));
  const r = answer.data;
  const offers = [...r.offers].sort((a, b) => (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1) ||
    (a.annual_rate < b.annual_rate ? -1 : a.annual_rate > b.annual_rate ? 1 : 0));
  const open = r.status === "open";
  show(`
    <h2>银行报价</h2>
    <section class="card">
      <h3>${esc(r.contract.project_name)}</h3>
      ${row("申请金额", yuan(r.requested_amount))}
      ${row("预计回款日", esc(day(r.contract.expected_payment_date)))}
      ${row("状态", `<span class="badge${r.status === "expired" ? " red" : ""}" id="request-status">${esc(open && offers.some((o) => o.status === "open") ? "请选择报价" : REQUEST_STATUS[r.status] || r.status)}</span>`)}
      ${open ? row("有效期至", `<span id="expires-at">${esc(until(r.expires_at))}</span>`) : ""}
      ${open ? `<p class="muted">到期仍未选择报价的，融资需求自动过期，银行报价随之失效。</p>` : ""}
      ${r.status === "expired" ? `<p class="notice" id="expired-words">融资需求已过有效期（${esc(until(r.expires_at))}），银行报价已失效。如仍需融资，可在“我的合同”中重新申请。</p>` : ""}
      ${r.suggested_term_days && open ? `<p class="muted">建议贷款期限不少于 ${r.suggested_term_days} 天，使到期日晚于预计回款日。</p>` : ""}
      ${r.application_id ? `<a class="button" href="#/applications/${esc(r.application_id)}">查看融资进度</a>` : ""}
    </section>
    ${offers.length ? offers.map((o) => offerCard(o, open)).join("") : `<p class="muted" id="no-offers">银行正在评估，报价会显示在这里。</p>`}
    <button class="secondary" id="refresh" type="button">刷新报价</button>
    ${open ? `<button class="secondary" id="cancel-request" type="button">撤回融资需求</button>` : ""}
    <div id="offer-message"></div>`);
  document.getElementById("refresh").addEventListener("click", () => requestPage(requestId));
  const cancel = document.getElementById("cancel-request");
  if (cancel) cancel.addEventListener("click", async () => {
    if (cancel.dataset.sure !== "yes") { cancel.dataset.sure = "yes"; cancel.textContent = "确认撤回？再点一次"; return; }
    const done = await api("POST", `/v1/supplier/financing-requests/${encodeURIComponent(requestId)}/cancel`);
    if (done.status === 200) requestPage(requestId);
    else await refused(requestId, done);
  });
  for (const button of view.querySelectorAll("button.pick")) {
    button.addEventListener("click", async () => {
      if (button.dataset.sure !== "yes") {
        button.dataset.sure = "yes";
        button.textContent = "确认选择此报价";
        return;
      }
      busy(button, "正在提交给银行…");
      const done = await api("POST", `/v1/supplier/financing-requests/${encodeURIComponent(requestId)}/accept`,
        { offer_id: button.dataset.offer });
      if (done.status === 201) location.hash = "#/applications/" + done.data.application_id;
      else if (done.status === 409) await refused(requestId, done);
      else { document.getElementById("offer-message").innerHTML = problemText(done); button.disabled = false; button.textContent = "选择此报价"; }
    });
  }
}

// the request changed meanwhile (e.g. it expired while the page was open): show it as it is now, and why
async function refused(requestId, answer) {
  if (answer.status === 409) await requestPage(requestId);
  if (document.getElementById("expired-words")) return; // the page says it already
  const message = document.getElementById("offer-message");
  if (message) message.innerHTML = problemText(answer);
}

function offerCard(o, open) {
  const warning = o.maturity_warning ? `<p class="warning" role="note">⚠ ${esc(o.maturity_warning.message)}</p>` : "";
  return `
    <section class="card offer" data-offer="${esc(o.offer_id)}">
      <h3>${esc(o.bank_name || o.bank_code)} <span class="badge ${o.status === "open" ? "ok" : ""}">${esc(OFFER_STATUS[o.status] || o.status)}</span></h3>
      <div class="big">${yuan(o.approved_amount)}</div>
      ${row("年利率", percent(o.annual_rate))}
      ${row("期限", `${o.term_days} 天`)}
      ${row("预计到期日", esc(day(o.estimated_maturity_date)))}
      ${warning}
      ${open && o.status === "open" ? `<button class="pick" type="button" data-offer="${esc(o.offer_id)}">选择此报价</button>` : ""}
    </section>`;
}

// ---- applications and loans -------------------------------------------------------------------

async function applicationsPage() {
  const answer = await api("GET", "/v1/supplier/applications");
  if (answer.status !== 200) return show(problemText(answer));
  const items = answer.data.items;
  show(`<h2>我的贷款</h2>` + (items.length ? items.map((a) => `
    <a class="card linked" href="#/applications/${esc(a.application_id)}">
      <h3>合同 ${esc(a.contract_no)}</h3>
      ${row("银行", esc(a.bank_code))}
      ${row("金额", yuan(a.approved_amount || a.requested_amount))}
      ${row("状态", `<span class="badge">${esc(STAGES[a.stage] || a.stage)}</span>`)}
    </a>`).join("") : `<p class="muted">还没有贷款申请。</p>`));
}

async function applicationPage(applicationId) {
  const answer = await api("GET", "/v1/supplier/applications/" + encodeURIComponent(applicationId));
  if (answer.status !== 200) return show(problemText(answer));
  const a = answer.data;
  const at = PATH.indexOf(a.stage);
  const steps = `<ol class="steps">${PATH.map((s, i) => `<li class="${at > i || a.stage === "settled" ? "done" : at === i ? "now" : ""}">${esc(STAGES[s])}</li>`).join("")}</ol>`;
  const repaid = (a.messages || []).filter((m) => m.outcome === "applied" && m.amount);
  const profile = a.credit_profile;
  show(`
    <h2>融资进度</h2>
    <section class="card" id="stage" data-stage="${esc(a.stage)}">
      <h3>${esc(STAGES[a.stage] || a.stage)} <span class="badge ${a.stage === "settled" ? "ok" : a.needs_attention ? "red" : ""}">${esc(a.bank_code)}</span></h3>
      ${PATH.includes(a.stage) ? steps : ""}
      <p class="muted" id="stage-words">${esc(stageWords(a))}</p>
      ${row("批准金额", yuan(a.approved_amount))}
      ${row("年利率", percent(a.annual_rate))}
      ${row("期限", a.term_days ? `${a.term_days} 天` : "—")}
      ${row("放款日", esc(day(a.disbursed_on)))}
      ${row("到期日", esc(day(a.maturity_date)))}
    </section>
    <section class="card" id="loan">
      <h3>还款情况</h3>
      ${row("未还本金", yuan(a.outstanding_principal))}
      ${row("已还本金", yuan(a.principal_repaid))}
      ${row("已付利息", yuan(a.interest_paid))}
      ${row("已付罚息", yuan(a.penalty_paid))}
      ${row("释放给企业的余款", `<b id="surplus">${yuan(a.surplus_released)}</b>`)}
      ${repaid.length ? `<ul class="timeline">${repaid.map((m) => `<li>${esc(day(m.applied_at || m.received_at))} ${m.kind === "treasury_payment" ? "财政回款" : "企业还款"} ${yuan(m.amount)}：本金 ${yuan(m.principal)} · 利息 ${yuan(m.interest)}${m.surplus && m.surplus !== "0.00" ? ` · 余款 ${yuan(m.surplus)}` : ""}</li>`).join("")}</ul>` : `<p class="muted">尚无还款。财政资金到账后将自动还款，余款释放给企业。</p>`}
    </section>
    ${profile ? `<section class="card"><h3>信用画像 ${esc(profile.grade)} · ${profile.score} 分</h3><ul class="reasons">${profile.reasons.slice(1).map((r) => `<li>${esc(r)}</li>`).join("")}</ul></section>` : ""}
    <section class="card"><h3>进度记录</h3><ul class="timeline">${a.timeline.filter((t) => !t.note).map((t) => `<li>${esc(String(t.at).slice(0, 16).replace("T", " "))} ${esc(STAGES[t.stage] || t.stage)}</li>`).join("")}</ul></section>
    <button class="secondary" id="refresh" type="button">刷新</button>`);
  document.getElementById("refresh").addEventListener("click", () => applicationPage(applicationId));
}

function stageWords(a) {
  if (a.stage === "repaying") return `请于 ${day(a.maturity_date)} 前还清；财政回款到账后将自动还款。`;
  return WAITING[a.stage] || ENDED[a.stage] || "";
}

// ---- routing -------------------------------------------------------------------------------

async function route() {
  const [, page, arg] = (location.hash || "#/contracts").split("/");
  const signedIn = Boolean(token());
  document.getElementById("tabs").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  if (!signedIn && page !== "login") { location.hash = "#/login"; return; }
  for (const tab of document.querySelectorAll(".tabs a")) {
    tab.classList.toggle("on", tab.dataset.tab === page || (page === "request" && tab.dataset.tab === "contracts"));
  }
  const id = arg ? decodeURIComponent(arg) : null;
  if (page === "login") return signInPage();
  if (page === "contracts") return contractsPage();
  if (page === "request" && id) return newRequestPage(id);
  if (page === "requests") return id ? requestPage(id) : requestsPage();
  if (page === "applications") return id ? applicationPage(id) : applicationsPage();
  location.hash = "#/contracts";
}

document.getElementById("sign-out").addEventListener("click", async () => {
  await api("POST", "/v1/supplier/sign-out");
  sessionStorage.removeItem(TOKEN);
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
