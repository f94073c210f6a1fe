"""The bureau's pages as HTML, in Chinese, laid out for a 1366×768 office screen: the headline
figures, the charts (api/bureau/charts.py, inline SVG), the overdue book and what needs a
person. Everything on the page comes with it — styles, charts — so nothing is fetched from
anywhere; figures carry their exact value in `data-value` (what `/v1/stats` answers)."""

from __future__ import annotations

from decimal import Decimal

from api.bureau import charts
from api.bureau.charts import PALETTE, Series, esc, wan, yuan
from api.bureau.dashboard import Dashboard
from domain.money import money_str
from domain.statistics import TARGET_WORKING_DAYS

STAGE_NAMES = {
    "verifying": "核验中",
    "bank_review": "银行审批",
    "account_lock": "回款账户锁定",
    "disbursing": "放款中",
    "repaying": "还款中",
    "overdue": "逾期",
    "settled": "已结清",
    "rejected": "已拒绝",
    "withdrawn": "已撤回",
    "expired": "审批超时",
    "failed": "失败",
    "written_off": "已核销",
}
FUNNEL_NAMES = {
    "submitted": "提交申请",
    "reviewed": "进入银行审批",
    "approved": "银行批准授信",
    "locked": "回款账户锁定",
    "disbursed": "放款",
    "settled": "结清",
}

_STYLE = """
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "Microsoft YaHei", "PingFang SC", "WenQuanYi Micro Hei",
       "Noto Sans CJK SC", sans-serif; color: #1f2933; background: #f3f5f8; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; background: #17324d; color: #fff; }
header h1 { font-size: 18px; margin: 0; flex: 1; }
header a, header button { color: #fff; }
header form { margin: 0; display: flex; gap: 6px; align-items: center; }
header input { font: inherit; padding: 2px 4px; }
header button { font: inherit; background: #2f6fb0; border: 0; padding: 3px 10px; border-radius: 3px; cursor: pointer; }
main { max-width: 1346px; margin: 0 auto; padding: 12px 10px 30px; }
.figures { display: grid; grid-template-columns: repeat(6, 1fr); gap: 10px; margin-bottom: 12px; }
.figure { background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 2px #0002; }
.figure .name { color: #52606d; font-size: 13px; }
.figure .shown { font-size: 20px; font-weight: bold; color: #17324d; white-space: nowrap; }
.figure .sub { color: #7b8794; font-size: 12px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-bottom: 12px; }
section { background: #fff; border-radius: 6px; padding: 10px 14px; box-shadow: 0 1px 2px #0002; min-width: 0; }
section h2 { font-size: 15px; margin: 0 0 6px; color: #17324d; }
.chart { max-width: 100%; height: auto; display: block; }
.chart text { font-size: 12px; fill: #323f4b; }
.chart .legend { font-size: 12px; }
.chart .grid { stroke: #e4e7eb; }
.chart .target { stroke: #b04a4a; stroke-dasharray: 4 3; stroke-width: 2; }
.chart .target-label { fill: #b04a4a; }
.chart .empty { fill: #9aa5b1; font-size: 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
th { color: #52606d; font-weight: normal; background: #f8f9fb; }
td.stage, td.contract { white-space: nowrap; }
td.money { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.scroll { max-height: 320px; overflow: auto; }
.none { color: #9aa5b1; padding: 8px 0; }
.note { color: #7b8794; font-size: 12px; margin: 4px 0 0; }
"""


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def login_page(message: str | None = None) -> str:
    hours = 8
    notice = f'<p style="color:#b04a4a">{esc(message)}</p>' if message else ""
    body = (
        "<header><h1>无锡市政府采购合同融资（政采贷）· 金融局看板</h1></header><main>"
        '<section style="max-width:480px;margin:40px auto"><h2>登录</h2>'
        f"{notice}<p>请输入运营密钥（ops key）。登录后本浏览器 {hours} 小时内可查看看板。</p>"
        '<form method="post" action="/bureau/login"><p><label>运营密钥<br>'
        '<input type="password" name="ops_key" autocomplete="off" required autofocus '
        'style="width:100%;padding:6px;font:inherit"></label></p>'
        '<p><button type="submit" style="padding:6px 18px;font:inherit">登录</button></p></form>'
        "</section></main>"
    )
    return _page("金融局看板 · 登录", body)


def _figure(key: str, name: str, value: str, shown: str, sub: str = "") -> str:
    return (
        f'<div class="figure" data-figure="{esc(key)}" data-value="{esc(value)}">'
        f'<div class="name">{esc(name)}</div><div class="shown">{esc(shown)}</div>'
        f'<div class="sub">{esc(sub)}</div></div>'
    )


def _headline(d: Dashboard) -> str:
    f = d.figures
    days = f.disbursement_days
    median = days.median if days else "—"
    within = days.within_7_working_days if days else "—"
    within_shown = f"{(Decimal(within) * 100).quantize(Decimal('0.1'))}%" if days else "—"
    loans = sum(b.loans for b in f.by_bank)
    return (
        '<div class="figures">'
        + _figure(
            "credit_granted", "授信金额", money_str(f.credit_granted), yuan(f.credit_granted), wan(f.credit_granted)
        )
        + _figure(
            "financing_disbursed",
            "放款金额",
            money_str(f.financing_disbursed),
            yuan(f.financing_disbursed),
            f"{wan(f.financing_disbursed)} · {loans} 笔",
        )
        + _figure("outstanding", "在贷余额", money_str(f.outstanding), yuan(f.outstanding), wan(f.outstanding))
        + _figure("smes_served", "服务中小企业", str(f.smes_served), f"{f.smes_served} 家", "有放款的供应商")
        + _figure("disbursement_days.median", "放款用时中位数", median, f"{median} 个工作日", "从申请到放款")
        + _figure(
            "disbursement_days.within_7_working_days",
            f"{TARGET_WORKING_DAYS} 个工作日内放款",
            within,
            within_shown,
            f"目标 ≤ {TARGET_WORKING_DAYS} 个工作日",
        )
        + "</div>"
    )


def _monthly(d: Dashboard) -> str:
    months = [m.month for m in d.months]
    series = [
        Series("授信", [m.credit_granted for m in d.months], PALETTE[0]),
        Series("放款", [m.financing_disbursed for m in d.months], PALETTE[1]),
        Series("还款（本金）", [m.repaid for m in d.months], PALETTE[2]),
    ]
    chart = charts.grouped_bars([m[2:] for m in months], series, label="按月授信、放款、还款（万元）")
    return f'<section id="monthly"><h2>按月：授信、放款、还款（万元）</h2>{chart}</section>'


def _funnel(d: Dashboard) -> str:
    steps = [(FUNNEL_NAMES[key], count) for key, count in d.funnel]
    counts = d.figures.applications
    by_stage = " · ".join(f"{STAGE_NAMES[s]} {n}" for s, n in counts.items() if n)
    chart = charts.funnel(steps, label="阶段漏斗")
    note = f'<p class="note">当前各阶段：{esc(by_stage) if by_stage else "无"}</p>'
    return f'<section id="funnel"><h2>阶段漏斗与转化率</h2>{chart}{note}</section>'


def _by_bank(d: Dashboard) -> str:
    banks = d.figures.by_bank
    series = [
        Series("授信", [b.credit_granted for b in banks], PALETTE[0]),
        Series("放款", [b.financing_disbursed for b in banks], PALETTE[1]),
    ]
    chart = charts.horizontal_bars([b.bank_name for b in banks], series, label="各合作银行授信与放款", row_height=20)
    return f'<section id="by-bank"><h2>各合作银行（{len(banks)} 家）</h2>{chart}</section>'


def _by_district(d: Dashboard) -> str:
    districts = d.figures.by_district
    series = [
        Series("授信", [x.credit_granted for x in districts], PALETTE[0]),
        Series("放款", [x.financing_disbursed for x in districts], PALETTE[1]),
        Series("在贷余额", [x.outstanding for x in districts], PALETTE[4]),
    ]
    chart = charts.horizontal_bars([x.district for x in districts], series, label="各市（县）区", row_height=30)
    return f'<section id="by-district"><h2>各市（县）区</h2>{chart}</section>'


def _days(d: Dashboard) -> str:
    chart = charts.histogram(d.day_buckets, target=TARGET_WORKING_DAYS, label="放款用时分布")
    days = d.figures.disbursement_days
    note = (
        f"中位数 {days.median} 个工作日，{TARGET_WORKING_DAYS} 个工作日内放款占比 "
        f"{(Decimal(days.within_7_working_days) * 100).quantize(Decimal('0.1'))}%（按国务院公布的节假日安排计算工作日）"
        if days
        else "暂无放款"
    )
    title = f"放款用时（工作日）与 {TARGET_WORKING_DAYS} 个工作日目标"
    return f'<section id="days"><h2>{title}</h2>{chart}<p class="note">{esc(note)}</p></section>'


def _link(d: Dashboard, application_id: str) -> str:
    return f'<a href="{esc(d.workflow_link(application_id))}" target="_blank" rel="noopener">流程</a>'


def _overdue(d: Dashboard) -> str:
    if not d.overdue:
        rows = '<p class="none">当前没有逾期贷款。</p>'
        total = ""
    else:
        lines = []
        for loan in d.overdue:
            maturity = loan["maturity_date"]
            late = (d.today - maturity).days if maturity else 0
            lines.append(
                "<tr>"
                f"<td>{esc(loan['supplier_name'] or '')}<br><small>{esc(loan['contract_no'])}</small></td>"
                f"<td>{esc(loan['bank_name'])}</td><td>{esc(loan['district'] or '')}</td>"
                f'<td class="money">{esc(yuan(loan["outstanding_principal"]))}</td>'
                f'<td class="money">{esc(yuan(loan["penalty_due"]))}</td>'
                f"<td>{esc(str(maturity))}<br><small>逾期 {late} 天</small></td>"
                f"<td>{_link(d, loan['application_id'])}</td></tr>"
            )
        rows = (
            '<div class="scroll"><table><tr><th>供应商 / 合同</th><th>银行</th><th>区域</th><th>未还本金</th>'
            "<th>应付罚息</th><th>到期日</th><th></th></tr>" + "".join(lines) + "</table></div>"
        )
        owed = sum((loan["outstanding_principal"] for loan in d.overdue), Decimal("0.00"))
        total = f'<p class="note">共 {len(d.overdue)} 笔，未还本金 {esc(yuan(owed))}</p>'
    return f'<section id="overdue"><h2>逾期台账</h2>{rows}{total}</section>'


def _stuck(d: Dashboard) -> str:
    if not d.stuck:
        body = '<p class="none">目前没有需要人工处理的流程。</p>'
    else:
        lines = []
        for item in d.stuck:
            reasons = "；".join(item.reasons) or "—"
            lines.append(
                "<tr>"
                f"<td>{esc(item.contract_no)}<br><small>{esc(item.bank_code)} · {esc(item.district or '')}</small></td>"
                f'<td class="stage">{esc(STAGE_NAMES.get(item.stage.value, item.stage.value))}'
                f"<br><small>{item.working_days_in_stage} 个工作日</small></td>"
                f"<td>{esc(reasons)}</td><td>{_link(d, item.application_id)}</td></tr>"
            )
        more = (
            f'<p class="note">共 {d.stuck_total} 个，此处列出前 {len(d.stuck)} 个；全部见 GET /v1/ops/stuck。</p>'
            if d.stuck_total > len(d.stuck)
            else f'<p class="note">共 {d.stuck_total} 个。点“流程”在 Temporal UI 中打开该流程。</p>'
        )
        body = (
            '<div class="scroll"><table><tr><th>合同 / 银行 · 区域</th><th>阶段（已持续）</th>'
            "<th>原因</th><th></th></tr>" + "".join(lines) + f"</table></div>{more}"
        )
    return f'<section id="stuck"><h2>待人工处理</h2>{body}</section>'


def _header(d: Dashboard) -> str:
    first = d.period.first.isoformat() if d.period else ""
    last = d.period.last.isoformat() if d.period else ""
    shown = f"{first} 至 {last}" if d.period else "全部时间"
    query = f"?from={first}&to={last}" if d.period else ""
    return (
        "<header><h1>无锡市政府采购合同融资（政采贷）· 金融局看板"
        f' <small style="font-weight:normal;font-size:13px">统计期间：{esc(shown)}</small></h1>'
        '<form method="get" action="/bureau/">'
        f'<label>从 <input type="date" name="from" value="{esc(first)}"></label>'
        f'<label>至 <input type="date" name="to" value="{esc(last)}"></label>'
        '<button type="submit">查询</button> <a href="/bureau/">全部</a></form>'
        f'<a href="/bureau/export.csv{esc(query)}">导出 CSV</a>'
        f"<span>{esc(d.operator)}</span>"
        '<form method="post" action="/bureau/logout"><button type="submit">退出</button></form>'
        "</header>"
    )


def dashboard_page(d: Dashboard) -> str:
    body = (
        _header(d)
        + "<main>"
        + _headline(d)
        + f'<div class="grid2">{_monthly(d)}{_funnel(d)}</div>'
        + f'<div class="grid2">{_by_bank(d)}<div>{_by_district(d)}<div style="height:12px"></div>{_days(d)}</div></div>'
        + f'<div class="grid2">{_overdue(d)}{_stuck(d)}</div>'
        + '<p class="note">数据来自平台记录（与 GET /v1/stats 一致）；授信按银行批准之日、放款按放款日、'
        "余额按统计期末计。</p></main>"
    )
    return _page("金融局看板 · 政采贷", body)
