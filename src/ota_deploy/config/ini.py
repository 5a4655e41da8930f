"""Read a dev.ini into plain strings per section, with line numbers, without DEFAULT propagation.

configparser copies every [DEFAULT] key into every other section. The manual's file keeps its
global keys in [DEFAULT] and has its own ``roleArn`` in [PRESIGNED_URL_CONFIG], so propagation
would both hide a missing section key (the global roleArn would fill it) and make every section
look as if it held unknown keys. Here [DEFAULT] is read as an ordinary section (configparser's
``default_section`` is set to a name no file uses), so each section holds exactly what the file
wrote in it. Option names are lowercased as configparser does; section names are matched
case-insensitively to the manual's (upper-case) names. No interpolation: values are literal.

Data flow: file bytes -> ConfigParser (syntax, duplicates) -> ``RawIni`` {SECTION: {key: value}}
plus a line index from a light scan of the same text, used only to point messages at a line.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass, field
from pathlib import Path

from ota_deploy.config import keys as K
from ota_deploy.core.errors import InputError, excerpt
from ota_deploy.core.textfile import read_user_text

_NO_DEFAULT = "\x00ota-deploy-no-default-section\x00"
_SECTION_LINE = re.compile(r"\[(?P<header>.+)\]")
_OPTION_LINE = re.compile(r"(?P<option>[^=:]*?)\s*[=:]")


@dataclass
class RawIni:
    """A dev.ini's text values: section (manual spelling) -> lowercase key -> value."""

    path: Path
    sections: dict[str, dict[str, str]]
    lines: dict[tuple[str, str], int] = field(default_factory=dict)  # (section, key) -> line
    section_lines: dict[str, int] = field(default_factory=dict)

    def has(self, section: str) -> bool:
        return section in self.sections

    def get(self, section: str, key: str) -> str | None:
        """The value of ``key`` (any case) written in ``section`` itself, or None."""
        return self.sections.get(section, {}).get(key.lower())

    def line(self, section: str, key: str | None = None) -> int | None:
        if key is None:
            return self.section_lines.get(section)
        return self.lines.get((section, key.lower()))


def _section_name(header: str) -> str:
    upper = header.strip().upper()
    return upper if upper in K.SECTION_KEYS else header.strip()


def _index_lines(text: str) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """First line of every (section, key) and of every section header."""
    key_lines: dict[tuple[str, str], int] = {}
    section_lines: dict[str, int] = {}
    section: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if line[0].isspace() and section is not None:
            continue  # a continuation line (or an indented key; good enough for messages)
        header = _SECTION_LINE.fullmatch(stripped)
        if header:
            section = _section_name(header.group("header"))
            section_lines.setdefault(section, number)
            continue
        option = _OPTION_LINE.match(stripped)
        if option and section is not None:
            key_lines.setdefault((section, option.group("option").strip().lower()), number)
    return key_lines, section_lines


def read_ini(path: Path) -> RawIni:
    """Parse ``path``; ``InputError`` naming the file (and line) for anything unreadable."""
    shown = str(path)
    text = read_user_text(path, "config file")
    parser = configparser.ConfigParser(default_section=_NO_DEFAULT, interpolation=None, strict=True)
    try:
        parser.read_string(text, source=shown)
    except configparser.MissingSectionHeaderError as err:
        raise InputError(
            "a key comes before any section header; start the file with [DEFAULT]",
            file=shown,
            line=err.lineno,
        ) from None
    except configparser.DuplicateSectionError as err:
        raise InputError(
            f"section [{excerpt(err.section)}] appears twice",
            file=shown,
            section=err.section,
            line=err.lineno,
        ) from None
    except configparser.DuplicateOptionError as err:
        raise InputError(
            "key appears twice in the same section",
            file=shown,
            section=err.section,
            key=K.canonical(_section_name(err.section), err.option),
            line=err.lineno,
        ) from None
    except configparser.ParsingError as err:
        lineno = err.errors[0][0] if err.errors else None
        raise InputError(
            "line is neither a [SECTION] header nor a 'key = value' line (or a comment)",
            file=shown,
            line=lineno,
        ) from None
    except configparser.Error as err:
        raise InputError(f"cannot parse config: {err.message}", file=shown) from None

    key_lines, section_lines = _index_lines(text)
    sections: dict[str, dict[str, str]] = {}
    for header in parser.sections():
        name = _section_name(header)
        if name in sections:
            raise InputError(
                f"section [{excerpt(name)}] appears twice "
                "(section names are matched ignoring case)",
                file=shown,
                section=name,
            )
        sections[name] = {k: (v or "").strip() for k, v in parser.items(header, raw=True)}
    return RawIni(path=path, sections=sections, lines=key_lines, section_lines=section_lines)
