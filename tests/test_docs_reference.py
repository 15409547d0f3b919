"""The generated reference docs match the code: a new setting, command or route without regenerated docs fails."""

from aetherius import docgen


def test_reference_docs_are_current():
    stale = docgen.stale()
    assert not stale, f"regenerate with `aetherius docs`: {[str(p) for p in stale]}"


def test_every_setting_has_an_env_var_row():
    text = docgen.render_config()
    for env in ("AETHERIUS_KAFKA__BOOTSTRAP", "AETHERIUS_PIPELINE__DEDUP_WINDOW_SECONDS", "AETHERIUS_CLUSTERS",
                "AETHERIUS_TASKS__DAILY_BUDGET_USD", "AETHERIUS_WEBHOOK__BEARER_TOKEN"):
        assert f"`{env}`" in text


def test_every_command_is_documented():
    from aetherius.cli import build_parser

    text = docgen.render_cli()
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        assert f"## `aetherius {name}`" in text
