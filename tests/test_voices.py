"""Two voices from one truth: every outcome icpbot can end in, walked through both voices.

Every verdict function (each of its branches), the guard's refusals, the service's own outcomes,
the classifier's own, each category's labels and default words, and every status of every
shipped selector map: each has the operator's text and a customer's text, and the customer's
text, in every shipped language (from the catalogs), holds none of the operator's words: no
command, flag, signal, file, run id, "scenario" or "the customer".
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest

from bot.config.selector_map import SelectorMap, load_selector_map
from bot.config.selector_models import Barrier
from bot.errors import (
    BrowserNotFound,
    ConfigError,
    GuardRefused,
    PacingTimeout,
    Problem,
    ReleaseRefused,
    SelectorError,
)
from bot.i18n import LANGUAGES
from bot.i18n.catalogs import translations
from bot.outcome import verdicts
from bot.outcome.classify import classify_reply
from bot.outcome.model import CustomerVoice, Outcome
from bot.privacy import mask_mobile
from bot.safety.budget import GuardDecision, check_submission
from bot.safety.guard import Claim, claim
from bot.safety.ledger import Ledger
from bot.serve.outcomes import (
    Unreadable,
    cannot_start_outcome,
    interrupted_outcome,
    restarted_outcome,
)
from bot.types import CATEGORY_LABELS, CUSTOMER_DEFAULTS, Action, CaptchaMode, Category

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MAPS = sorted((REPO / "selectors").glob("*.yaml"))
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

#: The operator's words, which a customer must never read (case-insensitive).
FORBIDDEN = [
    r"--",
    r"\bicpbot\b",
    r"\bscenarios?\b",
    r"\brun ?ids?\b",
    r"\bruns?\b",
    r"\bSIG(TERM|INT|KILL)\b",
    r"\bsignal",
    r"\bCtrl-?C\b",
    r"\bcustomers?\b",
    r"\boperators?\b",
    r"\b[\w-]+\.(json|ya?ml|png|log|zip|html?|csv|txt|py)\b",
    r"\bfolders?\b",
    r"\bfiles?\b",
    r"\bhead(ed|less)\b",
    r"\bselectors?\b",
    r"\bledger\b",
    r"\bexit code",
    r"`",
    r"\bcaptcha\b",
    r"\bHTTP\b",
    r"\bvalidStatus\b",
    r"\benvelope\b",
    r"\bendpoints?\b",
    r"\bplaywright\b",
    r"\bchromium\b",
    r"\bbrowser\b",
    r"\bbudget\b",
    r"\bqueue",
    r"\ballow-risky",
    r"\bresubmit",
    r"\bJSON\b",
    r"\btoken\b",
]
#: The same words in Chinese (the translations must not bring them back).
FORBIDDEN_ZH = ["场景", "运行", "操作员", "客户", "命令", "参数", "文件", "浏览器", "信号", "脚本"]
_FORBIDDEN = re.compile("|".join(f"(?:{p})" for p in FORBIDDEN + FORBIDDEN_ZH), re.IGNORECASE)


def operator_words(text: str) -> list[str]:
    """The operator's words found in ``text`` (empty: none)."""
    return [m.group(0) for m in _FORBIDDEN.finditer(text)]


def customer_reads(text: str) -> dict[str, str]:
    """``text`` (a catalog id) as the customer reads it, in each shipped language."""
    return {lang: translations(lang).gettext(text) for lang in LANGUAGES}


# -- every outcome ---------------------------------------------------------------------------


def _verdicts() -> Iterator[tuple[str, Outcome]]:
    """Each verdict function, through each of its branches."""
    yield "document_error", verdicts.document_error(500, "")
    yield "document_error", verdicts.document_error(403, "当前访问疑似黑客攻击")
    yield "document_error", verdicts.document_error(429, "")
    kinds: tuple[Barrier, ...] = ("blocked", "rate_limited")
    wheres: tuple[Literal["page", "submission"], ...] = ("page", "submission")
    for kind in kinds:
        for where in wheres:
            yield "barrier", verdicts.barrier(kind, where, http_status=403)
    yield "session_expired", verdicts.session_expired(submitted="no")
    yield "session_expired", verdicts.session_expired(submitted="yes")
    for headed in (False, True):
        yield "captcha_required", verdicts.captcha_required(headed, CaptchaMode.manual)
        yield "captcha_required", verdicts.captcha_required(headed, CaptchaMode.manual, 300)
        yield "captcha_required", verdicts.captcha_required(headed, CaptchaMode.none)
    yield "unknown_unexpected", verdicts.unknown_unexpected(["/x/submit"])
    yield "check_closed", verdicts.check_closed()
    for sent in (False, True):
        yield "error_outcome", verdicts.error_outcome(GuardRefused("r", "n"), sent)
        yield "error_outcome", verdicts.error_outcome(SelectorError("verify_code", []), sent)
        yield "error_outcome", verdicts.error_outcome(ConfigError("bad map"), sent)
        yield "error_outcome", verdicts.error_outcome(BrowserNotFound("none"), sent)
        yield "interrupted", verdicts.interrupted("page_loaded", sent)
        yield "interrupted", verdicts.interrupted("submit_clicked", sent, by="SIGTERM")
        yield "browser_gone", verdicts.browser_gone(RuntimeError("closed"), sent)
        yield "internal_error", verdicts.internal_error(KeyError("x"), sent)
    yield "not_finished", verdicts.not_finished()
    yield "not_released", verdicts.not_released(PacingTimeout(180))
    yield "not_released", verdicts.not_released(ReleaseRefused("the run is no longer ours"))
    yield "not_released", verdicts.not_released(RuntimeError("lost"))
    yield "not_released", verdicts.not_released(None)
    yield "invalid_input", verdicts.invalid_input([Problem("a.yaml", 3, "inputs.mobile", "bad")])
    yield "page_not_loading", verdicts.page_not_loading(TimeoutError("30 s"))
    yield "no_reaction", verdicts.no_reaction(30)
    yield "page_validation", verdicts.page_validation("手机号不能为空", alert=False)
    yield "page_validation", verdicts.page_validation(None, alert=True)
    yield "site_message_before_send", verdicts.site_message_before_send("系统繁忙")
    yield "no_reply", verdicts.no_reply(None)
    yield "http_error", verdicts.http_error(500, "error", {})
    yield "bad_reply", verdicts.bad_reply({})
    yield "envelope_error", verdicts.envelope_error(500, "系统繁忙", None, {})


def _refused(decision: GuardDecision) -> Outcome:
    """A refusal of the budget as the guard words it (``bot.safety.guard.claim``)."""
    assert not decision.allowed
    assert decision.customer is not None
    return verdicts.outcome(Category.refused, "refused", decision.reason, decision.next_step,
                            customer=decision.customer)  # fmt: skip


def _refusals(tmp_path: Path) -> Iterator[tuple[str, Outcome]]:
    """The guard's refusals, from a real ledger."""
    with Ledger(tmp_path / "state") as ledger:
        person = ledger.person_key("13912345678", "30721X")

        def take(code: str) -> Claim:
            return claim(ledger, person, "verify", scenario="s", run_id="r",
                         mobile_masked=mask_mobile("13912345678"), code=code, now=NOW)  # fmt: skip

        def refusal(got: Claim) -> Outcome:
            assert got.refusal is not None
            return got.refusal

        first = take("111111")
        yield "in_flight", refusal(take("222222"))
        first.mark_sending()
        first.finish(Category.wrong_info, 2)
        yield "code_rejected", refusal(take("111111"))
        good = take("333333")
        good.mark_sending()
        good.finish(Category.success, 3)
        yield "already_verified", refusal(take("333333"))
        late = NOW - timedelta(hours=30)
        yield (
            "expired",
            _refused(check_submission(ledger, person, "verify", now=NOW, sms_received_at=late)),
        )
        for n in range(4):
            attempt = ledger.begin(person, "verify", scenario="s", run_id=f"f{n}",
                                   mobile_masked="139****5678")  # fmt: skip
            ledger.finish(attempt, "wrong_info", site_status=2)
            decision = check_submission(ledger, person, "verify", now=NOW)
            if not decision.allowed:
                yield f"budget-{n}", _refused(decision)
        yield "unknown_action", _refused(check_submission(ledger, person, "sing", now=NOW))
        # A claim that may no longer submit (here: its hold ended) refuses at the click.
        other = ledger.person_key("13912345679", "30721X")
        lapsed = claim(ledger, other, "verify", scenario="s", run_id="l", code="444444",
                       mobile_masked=mask_mobile("13912345679"), now=NOW)  # fmt: skip
        lapsed.release()
        with pytest.raises(GuardRefused) as lost:
            lapsed.mark_sending()
        yield "claim_lost", verdicts.error_outcome(lost.value, False)


def _classified(smap: SelectorMap) -> Iterator[tuple[str, Outcome]]:
    """The classifier's own verdicts, and every status of the map for every form it answers."""
    yield "unrecognised_banner", classify_reply(smap, Action.verify, None, "别的什么")
    yield "unknown", classify_reply(smap, Action.verify, None, None)
    yield "unknown_status", classify_reply(smap, Action.verify, 77, None)
    for entry in smap.statuses:
        for action in entry.actions:
            yield f"{smap.site}:{entry.status}", classify_reply(smap, action, entry.status, None)


def _service() -> Iterator[tuple[str, Outcome]]:
    """The service's own outcomes, stored as dicts: read back as result.json is."""
    for name, stored in (
        ("interrupted", interrupted_outcome()),
        ("restarted", restarted_outcome()),
        ("unreadable", cannot_start_outcome(Unreadable("gone"), link=True)),
        ("bad_selector_map", cannot_start_outcome(ConfigError("bad map"), link=False)),
        ("no_run_folder", cannot_start_outcome(OSError(13, "denied"), link=False)),
        ("cannot_start", cannot_start_outcome(RuntimeError("bug"), link=True)),
    ):
        fields = {k: v for k, v in stored.items() if k not in ("banner_zh", "run_id")}
        yield name, Outcome.model_validate(fields)


def every_outcome(tmp_path: Path) -> list[tuple[str, Outcome]]:
    found = [*_verdicts(), *_refusals(tmp_path), *_service()]
    for path in SHIPPED_MAPS:
        found += _classified(load_selector_map(path))
    return found


# -- the checks ------------------------------------------------------------------------------


def test_the_forbidden_list_catches_the_operators_words() -> None:
    """The words the issue found on the customer's page are caught (the list can fail)."""
    for said in (
        "Run a verify scenario for the other person",
        "Check the three values with the customer before trying again",
        "an internal run id 20240501T120000Z-a-1f2e",
        "Interrupted by the operator (Ctrl-C)",
        "Interrupted by SIGTERM (a stop request)",
        "Run again headed (--headed) and complete the check; icpbot waits for you.",
        "the earlier run's result folder has the proof (result.json)",
    ):
        assert operator_words(said), said
    assert not operator_words("Press Verify to try again. Contact your hosting provider.")
    assert operator_words("请联系客户，再运行一次场景。") == ["客户", "运行", "场景"]


def test_every_verdict_function_is_walked(tmp_path: Path) -> None:
    """A new verdict function must join the walk (and so be given a customer's voice)."""
    functions = {
        name
        for name in verdicts.__all__
        if inspect.isfunction(getattr(verdicts, name))
        and inspect.signature(getattr(verdicts, name)).return_annotation in ("Outcome", Outcome)
    } - {"outcome"}  # the builder itself: every caller gives both voices
    walked = {name for name, _ in _verdicts()}
    assert functions == walked


def test_every_outcome_has_both_voices(tmp_path: Path) -> None:
    outcomes = every_outcome(tmp_path)
    assert {o.category for _, o in outcomes} == set(Category)
    for name, outcome in outcomes:
        assert outcome.message, name
        assert outcome.next_step, name
        voice = outcome.customer
        assert voice.message != outcome.message, name
        for text in (voice.message, voice.next_step):
            assert text.strip() == text, (name, text)
            assert text.endswith("."), (name, text)
            for lang, read in customer_reads(text).items():
                assert operator_words(read) == [], (name, lang, read)


def test_the_guard_and_service_give_their_own_words(tmp_path: Path) -> None:
    """Refusals and the service's outcomes say what happened, not only their category's."""
    for name, outcome in [*_refusals(tmp_path), *_service()]:
        default = CustomerVoice.default(outcome.category)
        assert outcome.customer != default, name


def test_every_category_has_labels_and_words_in_both_voices() -> None:
    assert set(CATEGORY_LABELS) == set(CUSTOMER_DEFAULTS) == set(Category)
    for category in Category:
        label = CATEGORY_LABELS[category]
        assert label.operator, category
        assert label.customer, category
        for text in (label.customer, *CUSTOMER_DEFAULTS[category]):
            for lang, read in customer_reads(text).items():
                assert operator_words(read) == [], (category, lang, read)
            if text != label.customer:
                assert customer_reads(text)["zh-Hans"] != text, f"not translated: {text}"


@pytest.mark.parametrize("path", SHIPPED_MAPS, ids=lambda p: p.name)
def test_shipped_maps_give_every_status_the_customers_words(path: Path) -> None:
    """A shipped map says each status to the customer itself (a map of one's own may leave it
    out: its categories' words are used)."""
    for entry in load_selector_map(path).statuses:
        assert entry.customer is not None, entry.name


def test_a_map_without_customer_words_uses_its_categories(tmp_path: Path) -> None:
    text = (REPO / "selectors" / "miit.yaml").read_text(encoding="utf-8")
    bare = re.sub(r"\n    customer:\n(      .*\n)+", "\n", text)
    assert "customer:" not in bare
    (tmp_path / "bare.yaml").write_text(bare, encoding="utf-8")
    smap = load_selector_map(tmp_path / "bare.yaml")
    out = classify_reply(smap, Action.verify, 2, None)
    assert out.customer == CustomerVoice.default(Category.wrong_info)
    assert out.message == smap.statuses[3].message  # the operator's voice is the map's


def test_result_json_keeps_the_operators_voice() -> None:
    """result.json and the console say what they said; the customer's voice rides along."""
    out = verdicts.captcha_required(False, CaptchaMode.manual, 300)
    dumped = out.model_dump(mode="json")
    assert dumped["message"].startswith("The site's security check was not completed")
    assert dumped["customer"]["message"] == out.customer.message
    assert Outcome.model_validate_json(out.model_dump_json()) == out
    # A result.json written before the customer's voice existed still reads, with the default.
    del dumped["customer"]
    assert Outcome.model_validate(dumped).customer == CustomerVoice.default(
        Category.captcha_required
    )
