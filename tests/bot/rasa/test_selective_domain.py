"""Rasa sends the domain only to the actions that read it (endpoints.yml,
enable_selective_domain): the forms' validation actions; every other call carries the
tracker alone."""

from __future__ import annotations

import yaml
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.rasa.endpoints import endpoints_file
from bot.settings import Settings

# rasa_sdk's FormValidationAction reads the form's required slots from the domain.
READ_THE_DOMAIN = {"validate_need_form", "validate_add_information_form"}


def test_only_the_form_validations_are_sent_the_domain(tmp_path):
    settings = Settings.from_env({"CX_VAR_DIR": str(tmp_path)})
    written = yaml.safe_load(endpoints_file(settings).read_text())["action_endpoint"]
    endpoint = EndpointConfig.from_dict(written)
    domain = Domain.load(str(settings.root / "domain.yml"))
    tracker = DialogueStateTracker.from_events("conv-1", [], domain.slots)
    sent_the_domain = {
        name
        for name in domain.user_actions
        if "domain" in RemoteAction(name, endpoint)._action_call_format(tracker, domain)
    }
    assert sent_the_domain == READ_THE_DOMAIN
