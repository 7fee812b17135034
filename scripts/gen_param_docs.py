#!/usr/bin/env python3
"""
Regenerate config/rep_coach.yaml and the README parameter table from the parameter tables.

The tables in rep_coach/core/params.py define every parameter; this keeps the
YAML and the README in step with them (test_params.py fails when they drift).
Run: .venv/bin/python scripts/gen_param_docs.py
"""

import json
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rep_coach.core.params import list_type, NODE_PARAMS  # noqa: E402

BEGIN = '<!-- parameters:begin -->'
END = '<!-- parameters:end -->'


def yaml_value(value) -> str:
    """Render a default as YAML (JSON is valid YAML)."""
    return json.dumps(value) if not isinstance(value, float) else repr(value)


def params_yaml() -> str:
    """Return the parameter file text."""
    lines = ['# rep_coach parameters, one section per node, in the ros__parameters layout.',
             '# Keys use the /** wildcard so the file applies in any namespace (one per gym',
             '# station). Generated from rep_coach/core/params.py by scripts/gen_param_docs.py.',
             '']
    for node, specs in NODE_PARAMS.items():
        lines += [f'/**/{node}:', '  ros__parameters:']
        for spec in specs:
            lines += [f'    # {spec.description}', f'    {spec.name}: {yaml_value(spec.default)}']
        lines.append('')
    return '\n'.join(lines)


def params_table() -> str:
    """Return the README's markdown parameter table."""
    rows = ['| node | parameter | type | default | meaning |', '|---|---|---|---|---|']
    for node, specs in NODE_PARAMS.items():
        for spec in specs:
            default = json.dumps(spec.default)
            rows.append(f'| `{node}` | `{spec.name}` | {list_type(spec.default)} | '
                        f'`{default}` | {spec.description} |')
    return '\n'.join(rows)


def main() -> None:
    """Write both files."""
    (ROOT / 'config' / 'rep_coach.yaml').write_text(params_yaml())
    readme = ROOT / 'README.md'
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + '\n' + params_table() + '\n' + text[end:])


if __name__ == '__main__':
    main()
