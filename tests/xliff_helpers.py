"""What the XLIFF transfer tests check outputs with: the OASIS schemas, and the inline
codes of an element as a comparable list."""

from __future__ import annotations

from collections import Counter
from functools import cache

from lxml import etree

from tests.paths import DATA as TEST_DATA
from tests.paths import EXAMPLES as EXAMPLES_FOLDER

DATA = TEST_DATA / "xliff"
SCHEMAS = DATA / "schemas"
EXAMPLES = EXAMPLES_FOLDER / "data" / "xliff"
NAMESPACES = {
    1: "urn:oasis:names:tc:xliff:document:1.2",
    2: "urn:oasis:names:tc:xliff:document:2.0",
}


class _LocalXmlSchema(etree.Resolver):
    """Both schemas import the W3C xml.xsd by URL; the committed copy answers offline."""

    def resolve(self, url, public_id, context):
        if url.endswith("xml.xsd"):
            return self.resolve_filename(str(SCHEMAS / "xml.xsd"), context)
        return None


@cache
def schema(version: int) -> etree.XMLSchema:
    name = "xliff-core-1.2-strict.xsd" if version == 1 else "xliff-core-2.0.xsd"
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXmlSchema())
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name), parser))


def assert_valid(data: bytes, version: int) -> etree._ElementTree:
    """Parse ``data`` with a real XML parser and validate it against the OASIS schema."""
    tree = etree.ElementTree(etree.fromstring(data, etree.XMLParser(no_network=True)))
    checker = schema(version)
    assert checker.validate(tree), [str(error) for error in checker.error_log]
    return tree


# Inline elements whose content is translatable text (the rest hold native code).
CONTENT_CODES = ("g", "pc", "mrk")


def codes(element: etree._Element) -> Counter:
    """Every inline element under ``element``: (name, attributes, native code inside)."""
    found: Counter = Counter()
    for node in element.iter():
        if node is element or not isinstance(node.tag, str):
            continue
        name = etree.QName(node).localname
        inside = "" if name in CONTENT_CODES else node.text or ""
        found[name, tuple(sorted(node.attrib.items())), inside] += 1
    return found


def inner_xml(element: etree._Element) -> str:
    """The content of ``element`` as written, without its own tags and namespaces."""
    text = etree.tostring(element, encoding="unicode", with_tail=False)
    text = text.replace(f' xmlns="{NAMESPACES[1]}"', "").replace(f' xmlns="{NAMESPACES[2]}"', "")
    return text[text.index(">") + 1 : text.rindex("</")]
