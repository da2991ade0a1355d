"""A skipped test says what is really missing."""
import shutil

import pytest

from conftest import groovy_missing


def test_no_java_is_named_as_such(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without java
    assert groovy_missing([tmp_path / "groovy-4.0.26.jar"]) == "Java is not installed"


@pytest.mark.skipif(shutil.which("java") is None, reason="Java is not installed")
def test_java_present_but_the_jar_missing_names_the_jar(tmp_path):
    why = groovy_missing([tmp_path / "groovy-4.0.26.jar"])
    assert "Java" not in why and "groovy-4.0.26.jar" in why and "P2G_GROOVY_LIB" in why


@pytest.mark.skipif(shutil.which("java") is None, reason="Java is not installed")
def test_nothing_missing(tmp_path):
    jar = tmp_path / "groovy-4.0.26.jar"
    jar.write_bytes(b"")
    assert groovy_missing([jar]) is None
