"""Label sets and the rules of SPEC F1.2, shared by every labeling type.

A label set is plain data (JSON in the store): labels, and for some types entities, relations,
classes and flags. Which parts a type uses, and how names are checked, comes from the type's
``LabelRules`` in the registry.

Size limits (bounded work per request; each refusal is a ValidationError naming the limit):

- at most ``MAX_LABELS`` (10,000) labels in a set, entity and relationship labels and the
  labels of every label class counted together (SPEC F1.2);
- a label, entity, relationship or attribute name: 1 to ``MAX_LABEL_NAME`` (1,024) characters;
  a label class name, and a label inside a class: 1 to ``MAX_CLASS_NAME`` (256);
- an attribute value: 1 to ``MAX_ATTRIBUTE_VALUE`` (1,024) characters;
- at most ``MAX_ATTRIBUTES`` (50) attributes on one label, ``MAX_ATTRIBUTE_VALUES`` (200)
  values in one attribute, and ``MAX_ATTRIBUTE_ENTRIES`` (10,000) attribute names and values
  in the whole set;
- a color is a hex color (#rgb or #rrggbb); a shortcut is one key.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .errors import ValidationError

MAX_LABEL_NAME = 1024
MAX_CLASS_NAME = 256
MAX_LABELS = 10_000
MAX_ATTRIBUTE_VALUE = 1024
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_VALUES = 200
MAX_ATTRIBUTE_ENTRIES = 10_000
DEFAULT_COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
                  "#bfef45", "#469990", "#9a6324", "#800000", "#808000", "#000075", "#ffe119"]
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


def _is_letter_or_digit(c: str) -> bool:
    """A letter or digit of any script; combining marks (Devanagari vowel signs, Thai tone marks,
    accents typed separately) are part of the letters they sit on."""
    return c.isalnum() or unicodedata.category(c).startswith("M")


@dataclass
class Label:
    name: str
    color: str = ""
    shortcut: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Relation:
    name: str
    source: str
    target: str
    color: str = ""


@dataclass
class LabelClass:
    name: str
    labels: list[str]


@dataclass
class LabelSet:
    labels: list[Label] = field(default_factory=list)
    entities: list[Label] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    classes: list[LabelClass] = field(default_factory=list)
    speech_content: bool = False

    def names(self) -> list[str]:
        return [label.name for label in self.labels]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> "LabelSet":
        if not isinstance(data, dict):
            raise ValidationError("a label file must hold a JSON object with a \"labels\" list")

        def label(item) -> Label:
            if isinstance(item, str):
                return Label(item)
            if not isinstance(item, dict) or "name" not in item:
                raise ValidationError(f"each label needs a \"name\": got {item!r}"[:300])
            attrs = item.get("attributes") or {}
            if not isinstance(attrs, dict) or not all(isinstance(v, list) for v in attrs.values()):
                raise ValidationError(f"attributes of label {item['name']!r} must map a name to a list of values")
            return Label(str(item["name"]), str(item.get("color") or ""), str(item.get("shortcut") or ""),
                         {str(k): [str(x) for x in v] for k, v in attrs.items()})

        for part in ("labels", "entities", "relations", "classes"):
            if not isinstance(data.get(part) or [], list):
                raise ValidationError(f"\"{part}\" in a label file must be a list")
        for r in data.get("relations") or []:
            if not isinstance(r, dict):
                raise ValidationError(f"each relation is an object with name, source and target: got {r!r}"[:300])
        for c in data.get("classes") or []:
            if not isinstance(c, dict) or not isinstance(c.get("labels") or [], list):
                raise ValidationError(f"each label class is an object with a name and a list of labels: got {c!r}"[:300])
        try:
            return cls(
                labels=[label(x) for x in data.get("labels") or []],
                entities=[label(x) for x in data.get("entities") or []],
                relations=[Relation(str(r["name"]), str(r["source"]), str(r["target"]), str(r.get("color") or ""))
                           for r in data.get("relations") or []],
                classes=[LabelClass(str(c["name"]), [str(x) for x in c.get("labels") or []])
                         for c in data.get("classes") or []],
                speech_content=bool(data.get("speech_content", False)),
            )
        except (KeyError, TypeError) as e:
            raise ValidationError(f"label file is missing a field: {e}") from None

    @classmethod
    def from_json(cls, text: str) -> "LabelSet":
        return cls.from_dict(json.loads(text))


def parse_labels_argument(value: str | None) -> LabelSet:
    """`--labels` of the CLI: a comma-separated list, or a JSON file (SPEC F8.4)."""
    if not value:
        return LabelSet()
    path = Path(value)
    if value.strip().endswith(".json") or _is_file(path):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationError(f"label file not found: {value}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValidationError(f"label file {value} is not valid JSON: {e}") from None
        return LabelSet.from_dict(data)
    return LabelSet(labels=[Label(name.strip()) for name in split_label_list(value) if name.strip()])


def split_label_list(text: str) -> list[str]:
    """Split a comma-separated label list; commas inside brackets stay in the name, so relation
    classes like `Cause-Effect(e1,e2)` survive."""
    names, depth, current = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}" and depth:
            depth -= 1
        if ch == "," and depth == 0:
            names.append("".join(current))
            current = []
        else:
            current.append(ch)
    names.append("".join(current))
    return names


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a long comma list is no file name (ENAMETOOLONG)
        return False


@dataclass(frozen=True)
class LabelRules:
    """How a labeling type checks its label set (SPEC F1.2)."""
    name_pattern: str = "any"  # "word": letters of any script, digits, - and _ only; "any": any text
    colors: bool = False  # labels get colors (defaults assigned when missing)
    attributes: bool = False  # detection-style attributes with values
    shortcuts: bool = False  # unique shortcut keys (the check-list types: text and sound classification)
    entities_relations: bool = False  # text triplet
    classes: bool = False  # speech paragraph multi-label mode
    max_name: int = MAX_LABEL_NAME


_VALUE_RULES = LabelRules(max_name=MAX_ATTRIBUTE_VALUE)


SHORTCUT_KEYS = "1234567890qwertyuiopasdfghjklzxcvbnm"


def default_shortcuts(labels: list[Label]) -> list[Label]:
    """Labels without a shortcut key get the first free one of 1-9, 0, then the letters (a label
    set from a comma list gets keys, as one from the editor does); past 36 labels, none."""
    free = [k for k in SHORTCUT_KEYS if k not in {lab.shortcut.lower() for lab in labels if lab.shortcut}]
    out = []
    for lab in labels:
        if not lab.shortcut and free:
            lab = replace(lab, shortcut=free.pop(0))
        out.append(lab)
    return out


def default_color(index: int) -> str:
    return DEFAULT_COLORS[index % len(DEFAULT_COLORS)]


def as_shown(labels: list[Label], rules: LabelRules) -> list[Label]:
    """Labels as a page shows them: a set saved before its type had shortcut keys or colors (image
    classification until issue 15) gets the keys and colors its next save will store (the same
    defaults, in the same order), so its buttons and keys work now."""
    out = list(labels)
    if rules.shortcuts:
        out = default_shortcuts(out)
    if rules.colors:
        out = [lab if lab.color else replace(lab, color=default_color(i)) for i, lab in enumerate(out)]
    return out


def check_label_name(name: str, rules: LabelRules, what: str = "label") -> str:
    if not isinstance(name, str):
        raise ValidationError(f"{what} name must be text")
    name = name.strip()
    if not name:
        raise ValidationError(f"{what} name is empty: names have 1 to {rules.max_name} characters")
    if len(name) > rules.max_name:
        raise ValidationError(
            f"{what} name has {len(name)} characters; the limit is {rules.max_name} (SPEC F1.2)")
    if any(ord(c) < 32 for c in name):
        raise ValidationError(f"{what} name {name[:40]!r} holds control characters")
    if rules.name_pattern == "word" and not all(_is_letter_or_digit(c) or c in "-_" for c in name):
        bad = sorted({c for c in name if not (_is_letter_or_digit(c) or c in "-_")})
        raise ValidationError(
            f"{what} name {name[:60]!r} may hold only letters, digits, '-' and '_' "
            f"(found {' '.join(repr(c) for c in bad[:5])})")
    if rules.name_pattern == "class" and not all(_is_letter_or_digit(c) or c in "._-" for c in name):
        raise ValidationError(
            f"{what} name {name[:60]!r} may hold only letters, digits, '.', '_' and '-'")
    return name


def check_color(color: str, owner: str) -> str:
    if not _HEX.match(color):
        raise ValidationError(f"color {color!r} of {owner!r} is not a hex color like #ff8800")
    return color.lower()


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValidationError(f"duplicate {what} name {n[:80]!r}: names must be unique")
        seen.add(n)


def validate_label_set(label_set: LabelSet, rules: LabelRules) -> LabelSet:
    """Return the normalised label set, or raise ValidationError naming the broken rule."""
    labels: list[Label] = []
    total = len(label_set.labels) + len(label_set.entities) + len(label_set.relations) + sum(
        len(c.labels) for c in label_set.classes)
    if total > MAX_LABELS:  # before checking each name: a huge set is refused at once
        raise ValidationError(f"{total} labels: a job has at most {MAX_LABELS:,}")
    entries = 0
    for i, lab in enumerate(label_set.labels):
        name = check_label_name(lab.name, rules)
        color = ""
        if rules.colors:
            color = check_color(lab.color, name) if lab.color else default_color(i)
        attributes: dict[str, list[str]] = {}
        if lab.attributes:
            if not rules.attributes:
                raise ValidationError(f"label {name[:60]!r}: this labeling type has no label attributes")
            if len(lab.attributes) > MAX_ATTRIBUTES:
                raise ValidationError(f"label {name[:60]!r} has {len(lab.attributes)} attributes; "
                                      f"a label has at most {MAX_ATTRIBUTES}")
            for attr, values in lab.attributes.items():
                attr_name = check_label_name(attr, rules, "attribute")
                if len(values) > MAX_ATTRIBUTE_VALUES:
                    raise ValidationError(f"attribute {attr_name[:60]!r} of label {name[:60]!r} has {len(values)} "
                                          f"values; an attribute has at most {MAX_ATTRIBUTE_VALUES}")
                entries += 1 + len(values)
                if entries > MAX_ATTRIBUTE_ENTRIES:
                    raise ValidationError(f"more than {MAX_ATTRIBUTE_ENTRIES:,} attribute names and values in "
                                          "the label set: use fewer attributes or values")
                vals = [check_label_name(v, _VALUE_RULES, "attribute value") for v in values]
                _unique(vals, f"value of attribute {attr_name!r}")
                attributes[attr_name] = vals
        shortcut = lab.shortcut.strip()
        if shortcut and not rules.shortcuts:
            shortcut = ""
        if shortcut and (len(shortcut) != 1 or not shortcut.isprintable() or shortcut.isspace()):
            raise ValidationError(f"shortcut of {name[:60]!r} must be a single key, got {shortcut!r}")
        labels.append(Label(name, color, shortcut, attributes))
    _unique([lab.name for lab in labels], "label")
    if rules.shortcuts:
        keys = [lab.shortcut.lower() for lab in labels if lab.shortcut]
        for k in set(keys):
            if keys.count(k) > 1:
                raise ValidationError(f"shortcut {k!r} is used by more than one label: shortcuts must be unique")
        labels = default_shortcuts(labels)

    entities: list[Label] = []
    relations: list[Relation] = []
    if rules.entities_relations and labels and not label_set.entities:
        # text triplet from a plain list ("--labels drug,effect", a comma list in the form): the
        # names are its entity labels (a triplet job has no other kind of plain label)
        label_set = replace(label_set, entities=labels)
        labels = []
    if label_set.entities or label_set.relations:
        if not rules.entities_relations:
            raise ValidationError("entity and relationship labels belong to text triplet jobs only")
        for i, ent in enumerate(label_set.entities):
            name = check_label_name(ent.name, rules, "entity label")
            entities.append(Label(name, check_color(ent.color, name) if ent.color else default_color(i)))
        _unique([e.name for e in entities], "entity label")
        if label_set.relations and len(entities) < 2:
            raise ValidationError("a relationship label needs at least two entity labels defined first")
        entity_names = {e.name for e in entities}
        for i, rel in enumerate(label_set.relations):
            name = check_label_name(rel.name, rules, "relationship label")
            for end in (rel.source, rel.target):
                if end not in entity_names:
                    raise ValidationError(
                        f"relationship {name[:60]!r} refers to entity label {end[:60]!r}, which is not defined")
            relations.append(Relation(name, rel.source, rel.target,
                                      check_color(rel.color, name) if rel.color else default_color(i + 7)))
        _unique([r.name for r in relations], "relationship label")

    classes: list[LabelClass] = []
    if label_set.classes:
        if not rules.classes:
            raise ValidationError("label classes belong to speech paragraph jobs only")
        class_rules = LabelRules(name_pattern="class", max_name=MAX_CLASS_NAME)
        for cls in label_set.classes:
            cname = check_label_name(cls.name, class_rules, "label class")
            if not cls.labels:
                raise ValidationError(f"label class {cname!r} has no labels")
            names = [check_label_name(x, class_rules) for x in cls.labels]
            _unique(names, f"label in class {cname!r}")
            classes.append(LabelClass(cname, names))
        _unique([c.name for c in classes], "label class")
        if labels:
            raise ValidationError("speech paragraph: use either single-label mode (labels) or "
                                  "multi-label mode (classes), not both")

    total = len(labels) + len(entities) + len(relations) + sum(len(c.labels) for c in classes)
    if total > MAX_LABELS:
        raise ValidationError(f"{total} labels: a job has at most {MAX_LABELS:,}")
    return LabelSet(labels, entities, relations, classes, label_set.speech_content)
