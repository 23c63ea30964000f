from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from bot.runtime.settings import ConfigFileMissing, load_settings

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database.url == "sqlite+aiosqlite:///data/zhengfeng.db"
    assert settings.telegram.api_base_url == "https://api.telegram.org/bot"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.telegram.token is None


def test_example_file_is_valid_and_documents_every_key() -> None:
    example = ROOT / "config.example.toml"
    settings = load_settings(example)
    text = example.read_text()
    for section, model in settings:
        if isinstance(model, BaseModel):
            for key in type(model).model_fields:
                assert f"{key} =" in text, f"[{section}] {key} is not documented"
        else:
            assert f"{section} =" in text, f"{section} is not documented"


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "Asia/Urumqi"\n[telegram]\napi_base_url = "http://file/bot"\n')
    monkeypatch.setenv("ZHENGFENG_TELEGRAM__API_BASE_URL", "http://127.0.0.1:8081/bot")
    monkeypatch.setenv("ZHENGFENG_TELEGRAM__TOKEN", "123:abc")
    monkeypatch.setenv("ZHENGFENG_ADMIN_IDS", "[111, 222]")
    settings = load_settings(config)
    assert settings.telegram.api_base_url == "http://127.0.0.1:8081/bot"
    assert settings.timezone == "Asia/Urumqi"
    assert settings.admin_ids == [111, 222]
    assert settings.telegram.token is not None
    assert "123:abc" not in repr(settings), "the token must not leak into logs or tracebacks"


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileMissing):
        load_settings(tmp_path / "missing.toml")


def test_bad_values_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('timezone = "Mars/Olympus"\n')
    with pytest.raises(ValidationError):
        load_settings(config)
