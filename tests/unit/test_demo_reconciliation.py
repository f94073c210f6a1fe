"""`zcd demo`'s reconciliation over plain data: the platform's figures per application, the
bank simulator's disbursements and the change of /v1/stats must agree to the fen, and each
kind of disagreement is named."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from demo.plan import CYCLE, EXPECTED_STAGE, Scenario, plan_financings
from demo.reconciliation import LoanRecord, book_disagreements, loan_disagreements, reconcile
from domain.credit_code import is_valid_credit_code
from outside_world.money import one_day_interest

D = Decimal


def settled() -> LoanRecord:
    return LoanRecord(
        application_id="app-1",
        contract_no="DEMO-1",
        bank_code="ICBC",
        district="梁溪区",
        stage="settled",
        expected_stage="settled",
        demo_approved=D("700000.00"),
        approved=D("700000.00"),
        disbursed_on="2026-11-27",
        outstanding=D("0.00"),
        principal_repaid=D("700000.00"),
        bank_disbursements=[D("700000.00")],
    )


def repaying() -> LoanRecord:
    return LoanRecord(
        application_id="app-2",
        contract_no="DEMO-2",
        bank_code="BOC",
        district="江阴市",
        stage="repaying",
        expected_stage="repaying",
        demo_approved=D("300000.00"),
        approved=D("300000.00"),
        disbursed_on="2026-11-27",
        outstanding=D("180032.10"),
        principal_repaid=D("119967.90"),
        bank_disbursements=[D("300000.00")],
    )


def waiting() -> LoanRecord:
    return LoanRecord(
        application_id="app-3",
        contract_no="DEMO-3",
        bank_code="ICBC",
        district="江阴市",
        stage="bank_review",
        expected_stage="bank_review",
        demo_approved=None,
        approved=None,
        disbursed_on=None,
        outstanding=D("0.00"),
        principal_repaid=D("0.00"),
    )


BEFORE: dict[str, Any] = {
    "credit_granted": "1000000.00",
    "financing_disbursed": "800000.00",
    "outstanding": "500000.00",
    "applications": {"settled": 1, "repaying": 1, "bank_review": 0},
    "by_bank": [
        {
            "bank_code": "ICBC",
            "credit_granted": "1000000.00",
            "financing_disbursed": "800000.00",
            "outstanding": "500000.00",
        },
        {"bank_code": "BOC", "credit_granted": "0.00", "financing_disbursed": "0.00", "outstanding": "0.00"},
    ],
    "by_district": [
        {
            "district": "梁溪区",
            "credit_granted": "1000000.00",
            "financing_disbursed": "800000.00",
            "outstanding": "500000.00",
        },
        {"district": "江阴市", "credit_granted": "0.00", "financing_disbursed": "0.00", "outstanding": "0.00"},
    ],
}


def after_run(**tweak: str) -> dict[str, Any]:
    """BEFORE moved by exactly settled() + repaying() + waiting(); `tweak` overrides totals."""
    after: dict[str, Any] = {
        "credit_granted": "2000000.00",
        "financing_disbursed": "1800000.00",
        "outstanding": "680032.10",
        "applications": {"settled": 2, "repaying": 2, "bank_review": 1},
        "by_bank": [
            {
                "bank_code": "ICBC",
                "credit_granted": "1700000.00",
                "financing_disbursed": "1500000.00",
                "outstanding": "500000.00",
            },
            {
                "bank_code": "BOC",
                "credit_granted": "300000.00",
                "financing_disbursed": "300000.00",
                "outstanding": "180032.10",
            },
        ],
        "by_district": [
            {
                "district": "梁溪区",
                "credit_granted": "1700000.00",
                "financing_disbursed": "1500000.00",
                "outstanding": "500000.00",
            },
            {
                "district": "江阴市",
                "credit_granted": "300000.00",
                "financing_disbursed": "300000.00",
                "outstanding": "180032.10",
            },
        ],
    }
    return after | tweak


RUN = [settled(), repaying(), waiting()]


def test_three_records_that_agree_give_no_disagreement() -> None:
    assert reconcile(RUN, BEFORE, after_run()) == []


def test_a_missing_disbursement_is_named() -> None:
    missing = replace(repaying(), bank_disbursements=[])
    found = reconcile([settled(), missing, waiting()], BEFORE, after_run())
    assert any("app-2" in line and "0 disbursements" in line for line in found), found
    # and the bureau's financing_disbursed no longer matches what the bank paid out
    assert any(line.startswith("stats platform-wide financing_disbursed") for line in found), found


def test_a_double_disbursement_is_named() -> None:
    double = replace(settled(), bank_disbursements=[D("700000.00"), D("700000.00")])
    found = loan_disagreements(double)
    assert found == ["app-1 (DEMO-1): the bank executed 2 disbursements [700000.00, 700000.00], expected exactly 1"]


def test_a_payout_of_another_amount_is_named() -> None:
    found = loan_disagreements(replace(settled(), bank_disbursements=[D("699999.99")]))
    assert found == ["app-1 (DEMO-1): the bank paid out 699999.99, the platform disbursed 700000.00"]


def test_a_payout_for_a_loan_never_disbursed_is_named() -> None:
    found = loan_disagreements(replace(waiting(), bank_disbursements=[D("100.00")]))
    assert found == ["app-3 (DEMO-3): not disbursed on the platform, but the bank paid out [100.00]"]


def test_a_stats_delta_off_by_a_fen_is_named() -> None:
    found = reconcile(RUN, BEFORE, after_run(outstanding="680032.11"))
    assert found == ["stats platform-wide outstanding moved by 180032.11, this run accounts for 180032.10"]


def test_a_bank_breakdown_off_by_a_fen_is_named() -> None:
    after = after_run()
    after["by_bank"][1] = {**after["by_bank"][1], "credit_granted": "299999.99"}
    assert reconcile(RUN, BEFORE, after) == [
        "stats by_bank BOC credit_granted moved by 299999.99, this run accounts for 300000.00"
    ]


def test_a_stage_count_that_did_not_move_is_named() -> None:
    after = after_run()
    after["applications"] = {**after["applications"], "bank_review": 0}
    assert reconcile(RUN, BEFORE, after) == ["stats applications[bank_review] moved by 0, this run left 1 there"]


def test_balances_that_do_not_add_up_to_the_loan_are_named() -> None:
    found = loan_disagreements(replace(repaying(), outstanding=D("180032.11")))
    assert found == ["app-2 (DEMO-2): outstanding 180032.11 + repaid 119967.90 ≠ disbursed 300000.00"]


def test_an_approval_the_platform_lost_or_a_stage_off_plan_is_named() -> None:
    lost = replace(settled(), approved=None, disbursed_on=None, bank_disbursements=[], principal_repaid=D("0.00"))
    found = loan_disagreements(lost)
    assert "app-1 (DEMO-1): platform approved nothing, the bank approved 700000.00" in found
    assert "app-1 (DEMO-1): stage settled without a disbursement date" in found
    assert loan_disagreements(replace(waiting(), stage="expired")) == [
        "app-3 (DEMO-3): stage expired, expected bank_review"
    ]


def test_the_plan_is_deterministic_and_shows_every_scenario_in_ten() -> None:
    banks = {"ICBC": "k1", "BOC": "k2", "CCB": "k3"}
    first, again = plan_financings(10, 7, banks, "RUN1"), plan_financings(10, 7, banks, "RUN1")
    assert first == again
    assert {p.scenario for p in first} == set(Scenario) and len(CYCLE) == 10
    assert plan_financings(10, 8, banks, "RUN1") != first
    for plan in plan_financings(50, 7, banks, "RUN2"):
        assert is_valid_credit_code(plan.supplier_code)
        assert plan.contract_no.startswith("DEMO-RUN2-")
        # within product STD's eligible maximum (90 % of the unpaid contract), to the fen
        assert D("0.01") <= plan.approved <= plan.requested <= plan.contract_amount * D("0.90")
        assert plan.approved == plan.approved.quantize(D("0.01"))
        assert D("0.0300") <= plan.annual_rate <= D("0.0600")
        assert plan.scenario in EXPECTED_STAGE


def test_one_day_of_interest_is_rounded_half_up_to_the_fen() -> None:
    # API.md's example: one day on 700,000.00 at 3.85 % a year, actual/360
    assert one_day_interest(D("700000.00"), D("0.0385")) == D("74.86")


def book(code: str, disbursed: str, outstanding: str, loans: int, **stages: int) -> dict[str, Any]:
    return {
        "bank_code": code,
        "financing_disbursed": disbursed,
        "outstanding": outstanding,
        "loans": loans,
        "applications": stages,
        "out_of_order": [],
    }


STATS: dict[str, Any] = {
    "applications": {"settled": 1, "repaying": 1, "bank_review": 1},
    "by_bank": [
        {"bank_code": "ICBC", "financing_disbursed": "700000.00", "outstanding": "0.00", "loans": 1},
        {"bank_code": "BOC", "financing_disbursed": "300000.00", "outstanding": "180032.10", "loans": 1},
    ],
}
BOOKS = [
    book("ICBC", "700000.00", "0.00", 1, settled=1, bank_review=1),
    book("BOC", "300000.00", "180032.10", 1, repaying=1),
]


def test_books_from_events_that_agree_with_stats_give_no_disagreement() -> None:
    assert book_disagreements(BOOKS, STATS) == []


def test_a_book_off_by_a_fen_or_a_loan_is_named() -> None:
    off = [BOOKS[0], book("BOC", "300000.00", "180032.11", 2, repaying=1)]
    assert book_disagreements(off, STATS) == [
        "book BOC outstanding 180032.11 from events, /v1/stats says 180032.10",
        "book BOC loans 2 from events, /v1/stats says 1",
    ]


def test_stage_counts_are_compared_only_when_every_bank_follows_its_feed() -> None:
    lagging = [BOOKS[0], book("BOC", "300000.00", "180032.10", 1, disbursing=1)]
    assert book_disagreements(lagging, STATS) == [
        "books applications[disbursing] 1 from events, /v1/stats says 0",
        "books applications[repaying] 0 from events, /v1/stats says 1",
    ]
    assert book_disagreements(lagging[:1], STATS) == []  # BOC's feed not followed: no sum to compare


def test_a_stage_change_the_book_could_not_follow_is_named() -> None:
    confused = [BOOKS[0] | {"out_of_order": ["7: A bank_review→account_lock, book had verifying"]}, BOOKS[1]]
    assert book_disagreements(confused, STATS) == ["book ICBC: 7: A bank_review→account_lock, book had verifying"]
