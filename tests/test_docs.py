"""The front door: a README a newcomer reads in minutes, whose links all land, in front of a documentation site
whose every page is reachable (`make docs` builds the site strictly; `.ci/run` runs it)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")


def test_the_readme_opens_with_the_two_commands_and_stays_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300
    opening = "\n".join(lines[:6])
    assert "make demo" in opening and "make test" in opening


def test_every_relative_link_of_the_readme_and_the_docs_lands_on_a_file():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target, _ in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            assert (page.parent / target).is_file(), f"{page.name} links to {target}, which does not exist"


def test_every_docs_page_is_in_the_sites_navigation():
    def listed(entries):
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            yield from listed(value) if isinstance(value, list) else [value]

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True
    assert set(listed(config["nav"])) == {p.name for p in (ROOT / "docs").glob("*.md")}
