"""The command line in the shell's language (issue 21, item 1): help, results and errors in
Simplified Chinese under a Chinese locale, English otherwise."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pathodesk.cli import build_parser
from pathodesk.cli.language import cli_locale
from pathodesk.config import Settings

HAN = re.compile(r"[\u4e00-\u9fff]")


def pathodesk(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PATHODESK_LOCALE", "LANGUAGE", "LC_ALL")}
    return subprocess.run(
        [sys.executable, "-m", "pathodesk.cli", "--data-dir", str(settings.data_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**environment, **env},
    )


def test_a_chinese_shell_gets_chinese_help_and_errors(settings: Settings, tmp_path: Path) -> None:
    help_text = pathodesk(settings, "ingest", "--help", LANG="zh_CN.UTF-8").stdout
    assert (
        help_text.startswith("用法：")
        and "导入切片文件" in help_text
        and "患者编号（不存在时创建）" in help_text
    )
    assert "显示本帮助并退出" in help_text

    missing = pathodesk(settings, "ingest", str(tmp_path / "gone.svs"), LANG="zh_CN.UTF-8")
    assert missing.returncode == 1 and f"失败：{tmp_path / 'gone.svs'}：不是文件" in missing.stderr

    wrong = pathodesk(
        settings, "analyze", "x.svs", "--disease-type", "lung", "--out", "x.txt", LANG="zh_CN.UTF-8"
    )
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "pathodesk: --out 必须以 .xml（ASAP XML）或 .geojson（QuPath GeoJSON）结尾"

    unknown = pathodesk(settings, "ingest", PATHODESK_LOCALE="zh_CN", LANG="en_US.UTF-8")
    assert "缺少以下必需参数：paths" in unknown.stderr  # argparse's own words, and the setting wins


def test_english_where_the_shell_names_no_language_of_ours(settings: Settings) -> None:
    for env in ({"LANG": "C.UTF-8"}, {"LANG": "fr_FR.UTF-8"}, {"LANGUAGE": "de:en", "LANG": "de_DE.UTF-8"}):
        result = pathodesk(settings, "ingest", "--help", **env)
        assert result.stdout.startswith("usage:") and "ingest slide files" in result.stdout, env
        assert not HAN.search(result.stdout)


def test_every_help_text_of_every_command_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a Chinese shell shows for each sub-command: its description, group titles and the
    help of every argument that has one, all in Chinese."""
    monkeypatch.setenv("PATHODESK_LOCALE", "zh_CN")
    cli_locale.cache_clear()
    try:
        parser = build_parser()
    finally:
        monkeypatch.undo()
        cli_locale.cache_clear()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert len(commands) > 15
    untranslated = []
    for name, command in commands.items():
        texts = [command.description, *(group.title for group in command._action_groups)]
        texts += [action.help for action in command._actions if action.help not in (None, argparse.SUPPRESS)]
        untranslated += [f"{name}: {text}" for text in texts if text and not HAN.search(text)]
    assert untranslated == []
