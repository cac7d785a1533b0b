"""One module per rule. The list is explicit so the catalogue's order and contents are
reviewed like code, and importing it costs no directory scan."""

MODULES: tuple[str, ...] = (
    "sop001_yaml_syntax",
)
