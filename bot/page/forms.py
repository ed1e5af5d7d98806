"""The two forms of the SMS block as page objects: :class:`VerifyTab` and :class:`ResendTab`.

They know the order of the fields and which selector-map elements hold them; everything about how
to find an element is in the map (``selectors/<site>.yaml``), so a redesign of the page is a data
change. Page objects never submit twice: :meth:`FormTab.click_submit` clicks once and the
:class:`bot.submission.SubmissionGate` stops any second request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from playwright.async_api import Locator, Page

from bot.config.scenario import Inputs
from bot.errors import ConfigError
from bot.page.locate import Resolver
from bot.privacy import logger
from bot.types import Action

__all__ = ["FormTab", "ResendTab", "VerifyTab", "form_for"]


@dataclass
class FormTab:
    """One tab card of the SMS block: select it, fill it in the page's order, click 提交 once."""

    resolver: Resolver
    action: ClassVar[Action]
    tab_element: ClassVar[str]
    card_element: ClassVar[str]
    submit_element: ClassVar[str]
    #: (input field, selector-map element) in the page's order
    fields: ClassVar[tuple[tuple[str, str], ...]]

    @property
    def page(self) -> Page:
        return self.resolver.page

    async def select(self) -> None:
        """Show this tab's card: click the tab unless the card is already the visible one.

        The cards are recognised by their fields, so an open card needs no tab (and a redesigned
        tab strip does not stop a verify on the default tab). Switching clears both forms.
        """
        card = await self.resolver.present(self.card_element)
        if card is None:
            await (await self.resolver.resolve(self.tab_element)).click()
            await self.resolver.pin(self.card_element)
        else:
            self.resolver.keep(self.card_element, card)

    def field_values(self, inputs: Inputs) -> list[tuple[str, str, str]]:
        values: list[tuple[str, str, str]] = []
        for field_name, element in self.fields:
            value = getattr(inputs, field_name)
            if value is None:
                raise ConfigError(f"the {self.action} form needs {field_name}")
            values.append((field_name, element, value.reveal()))  # a Secret: its characters
        return values

    async def fill(
        self,
        inputs: Inputs,
        on_field: Callable[[str, Locator], None] | None = None,
        *,
        prefilled: bool = False,
    ) -> list[Locator]:
        """Fill every field; returns their locators. ``on_field(name, locator)`` is called for
        each field before it is typed into (to mask it in screenshots). ``prefilled``: the page
        was filled ahead (:meth:`prefill`): a field that holds its value already is kept."""
        filled: list[Locator] = []
        for field_name, element, value in self.field_values(inputs):
            box = await self.resolver.resolve(element)
            if on_field is not None:
                on_field(field_name, box)
            if prefilled and await box.input_value() == value:
                filled.append(box)
                continue
            await box.fill(value)
            # maxlength or an input filter on the page may have changed what was typed.
            if await box.input_value() != value:
                raise ConfigError(
                    f"the page did not accept the {field_name} as typed (maxlength or input filter)"
                )
            logger.debug("filled {}", field_name)
            filled.append(box)
        return filled

    async def prefill(self, inputs: Inputs) -> None:
        """Fill the fields whose value is known now (a warm page: the mobile and the ID digits
        before the code comes); the run's :meth:`fill` types every field again, masking each."""
        for field_name, element in self.fields:
            value = getattr(inputs, field_name)
            if value is not None:
                await (await self.resolver.resolve(element)).fill(value.reveal())

    async def submit_button(self) -> Locator:
        return await self.resolver.resolve(self.submit_element)

    async def click_submit(self, button: Locator) -> None:
        """One click, no retry: Playwright's click retries only until the click is dispatched."""
        await button.click(no_wait_after=True)


@dataclass
class VerifyTab(FormTab):
    action = Action.verify
    tab_element = "verify_tab"
    card_element = "verify_card"
    submit_element = "verify_submit"
    fields = (("code", "verify_code"), ("mobile", "verify_mobile"), ("id_last6", "verify_id_last6"))


@dataclass
class ResendTab(FormTab):
    action = Action.resend
    tab_element = "resend_tab"
    card_element = "resend_card"
    submit_element = "resend_submit"
    fields = (("mobile", "resend_mobile"), ("id_last6", "resend_id_last6"))


def form_for(action: Action, resolver: Resolver) -> FormTab:
    return VerifyTab(resolver) if action is Action.verify else ResendTab(resolver)
